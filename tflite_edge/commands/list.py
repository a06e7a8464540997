"""`tflite-edge list`: the registered models, detectors, datasets, formats and targets."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("list", help="registered models, datasets, formats and targets")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..bench import TARGETS
    from ..data import DATASETS
    from ..formats import FORMATS
    from ..models import MODELS
    from ..models.detection import DETECTORS

    for title, reg in (("models", MODELS), ("detectors", DETECTORS), ("datasets", DATASETS),
                       ("formats", FORMATS), ("targets", TARGETS)):
        print(f"{title}:")
        for name in reg.names():
            print(f"  {name:<20} {reg.meta(name).get('summary', '')}")
    return 0
