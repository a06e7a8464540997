"""The public Python API, re-exported by `tflite_edge` (see the README's "Python" section).

Every function does what its CLI command does and raises what the CLI reports in one line:
`UserInputError` (the CLI's exit 2), `GateFailed` (3), `EdgeError` (1). Results are plain dicts
that also read as attributes and show themselves as the CLI's text in a notebook.

>>> import tflite_edge as te                                                   # doctest: +SKIP
>>> result = te.run("recipes/quickstart.yaml", overrides={"train.epochs": 1})  # doctest: +SKIP
>>> te.predict(result.artifacts[1].path, "photo.jpg").results[0].top_k[0].label  # doctest: +SKIP
'circle'
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Union

from .errors import UserInputError
from .result import Result

PathLike = Union[str, Path]


def _overrides(overrides) -> list:
    """`{"train.epochs": 1}` or `["train.epochs=1"]` as the CLI's `--set` items (values as YAML)."""
    import json

    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{k}={json.dumps(v)}" for k, v in overrides.items()]  # JSON is YAML: parsed back as given
    if isinstance(overrides, str):
        return [overrides]
    return list(overrides)


def load_recipe(recipe: Union[PathLike, Mapping], overrides=None):
    """A validated Recipe from a YAML file or a dict (as `tflite-edge validate` checks it)."""
    from .recipe import load_recipe as load_file
    from .recipe.loading import apply_overrides, validate_dict

    if isinstance(recipe, Mapping):
        return validate_dict(apply_overrides(dict(recipe), _overrides(overrides)), source="recipe")
    if not isinstance(recipe, (str, Path)):
        raise UserInputError(f"recipe: a {type(recipe).__name__}; give a path to a .yaml recipe or a dict")
    return load_file(recipe, _overrides(overrides))


def run(recipe: Union[PathLike, Mapping], out: Optional[PathLike] = None, overrides=None,
        from_stage: Optional[str] = None, log: Optional[Callable] = print) -> Result:
    """Run (or resume) a recipe; returns {run_dir, report, artifacts, passed, report_json, ...}.

    A failed quality gate raises GateFailed after the report is written, as `run` exits 3."""
    from .recipe.preflight import check_paths
    from .run import run_recipe

    r = load_recipe(recipe, overrides)
    check_paths(r, str(recipe) if isinstance(recipe, (str, Path)) else "recipe")
    run_dir = Path(out) if out is not None else Path("runs") / r.name
    report = run_recipe(r, run_dir, from_stage=from_stage, log=log or (lambda *a: None))
    artifacts = [{**a, "path": str(run_dir / a["path"])} for a in report["artifacts"]]
    lines = [f"run {run_dir}: {'passed' if report.get('passed', True) else 'gate failed'}"]
    lines += [f"  {a['name']:<32} {a['size_bytes']:>10,} B  {a['path']}" for a in artifacts]
    return Result({"run_dir": str(run_dir), "report": report, "artifacts": artifacts,
                   "passed": bool(report.get("passed", True)), "report_json": str(run_dir / "report.json"),
                   "report_md": str(run_dir / "report.md"), "report_html": str(run_dir / "report.html")},
                  "\n".join(lines))


def convert(model, formats: Union[str, Sequence[str]] = "float32", out: PathLike = ".", calibration=None,
            labels=None, mean: Optional[float] = None, std: Optional[float] = None,
            calibration_samples: int = 200, name: Optional[str] = None, trust_lambda: bool = False,
            log: Optional[Callable] = print) -> list:
    """A Keras classifier (in memory, or a .keras/.h5/SavedModel path) to TFLite files in `out`,
    each with TFLite Model Metadata (labels, normalisation), as `tflite-edge convert` writes them.

    `calibration`: a folder, image paths, PIL images or an (N, H, W, C) array of 0..255 pixels
    (integer formats); `labels`: a labels file or a list; `mean`/`std`: the model's input
    normalisation from 0..255 (default: read from a Rescaling layer, else 127.5 / 127.5)."""
    from .model_convert import convert_model

    made = convert_model(model, formats, out, calibration=calibration, labels=labels, mean=mean, std=std,
                         calibration_samples=calibration_samples, name=name, trust_lambda=trust_lambda,
                         log=log or (lambda *a: None))
    return [Result(a, f"{a['path']} ({a['format']}, {a['size_bytes']:,} B)") for a in made]


def predict(model: PathLike, images, top_k: int = 5, threshold: float = 0.5, labels: Optional[PathLike] = None,
            mean=None, std=None, raw: bool = False, out: Optional[PathLike] = None) -> Result:
    """Top-k labels (or boxes) per image, with the labels and normalisation of the model's metadata.

    `images`: a path, a folder, a PIL image, an (H, W, C) or (N, H, W, C) array of 0..255 pixels,
    or a list of these."""
    from .images import image_list
    from .predict import format_text, predict as predict_files

    mean = [mean] if isinstance(mean, (int, float)) else mean
    std = [std] if isinstance(std, (int, float)) else std
    items = image_list(images, "images")
    result = predict_files(Path(model), items, top_k=top_k, threshold=threshold,
                           out=Path(out) if out is not None else None,
                           labels=Path(labels) if labels is not None else None, mean=mean, std=std, raw=raw)
    return Result(result, format_text(result))


def bench(models: Union[PathLike, Sequence[PathLike]], target: Union[str, Sequence[str]] = "host",
          threads: Union[int, Sequence[int]] = 1, runs: int = 50, warmup: int = 5, **options) -> list:
    """Latency (p50, p90, mean), init time and peak memory per model, target and thread count, as
    `tflite-edge bench --json`; `options` are BenchOptions fields (processes, engine, ...).
    A target that fails is a record with `error`, as in the CLI."""
    from .bench import BenchOptions, run_targets
    from .bench.text import bench_line
    from .errors import EdgeError
    from .model_file import check_model_file

    models = [models] if isinstance(models, (str, Path)) else list(models)
    targets = [target] if isinstance(target, str) else list(target)
    threads = (threads,) if isinstance(threads, int) else tuple(threads)
    try:
        opts = BenchOptions(threads=threads, runs=runs, warmup=warmup, **options)
    except TypeError as e:
        raise UserInputError(f"bench: {e}") from None
    for m in models:
        check_model_file(Path(m))
    records = []
    for m in models:
        for t, found in run_targets(targets, Path(m), opts).items():
            if isinstance(found, EdgeError):
                records.append(Result({"model": str(m), "target": t, "error": str(found)}, f"{m} [{t}]: {found}"))
                continue
            records += [Result({"model": str(m), **rec}, bench_line({"model": str(m), **rec})) for rec in found]
    return records


__all__ = ["Result", "bench", "convert", "load_recipe", "predict", "run"]
