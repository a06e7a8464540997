"""Fuzz at scale: generated recipes and malformed model files; count tracebacks (must be 0).

    python benchmarks/fuzz_counts.py [--recipes 5000] [--models 500] [--seed 0]

Recipes go through `validate_dict` and through `tflite-edge validate` (YAML file, `--set` values);
model files (.tflite truncated/bit-flipped, .keras/.h5 with damaged bytes or configs) through
check_tflite_file + the Edge TPU checker + the LiteRT interpreter load, or load_keras_model.
A traceback is any exception other than UserInputError, or a validate exit other than 0/2.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import fuzzlib  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings, strategies as st  # noqa: E402


def fuzz_recipes(n: int, seed: int, work: Path) -> Counter:
    counts: Counter = Counter()
    failures = []

    @settings(max_examples=n, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(raw=fuzzlib.recipes(), sets=fuzzlib.overrides, via_cli=st.integers(0, 3))
    def one(raw, sets, via_cli):
        try:
            counts[fuzzlib.check_recipe_dict(raw)] += 1
            if via_cli == 0:  # a quarter also through the CLI, as YAML with --set overrides
                counts["cli_" + fuzzlib.check_recipe_text(fuzzlib.to_yaml(raw), work / "r.yaml", sets)] += 1
        except Exception:
            counts["traceback"] += 1
            failures.append(traceback.format_exc(limit=3))

    import random

    random.seed(seed)
    one()
    for f in failures[:3]:
        print(f)
    return counts


def fuzz_models(n: int, seed: int, work: Path) -> Counter:
    counts: Counter = Counter()
    files = fuzzlib.make_model_files(work / "models", n, seed)
    for p in files:
        try:
            counts[f"{p.suffix}_{fuzzlib.check_model_file(p)}"] += 1
        except Exception as e:
            counts["traceback"] += 1
            print(f"{p}: {type(e).__name__}: {str(e)[:200]}")
    interp = fuzzlib.check_interpreter([p for p in files if p.suffix == ".tflite"])
    for k, v in interp.items():
        counts[f".tflite_interpreter_{k}"] = v if isinstance(v, int) else len(v)
        if k == "crash":
            counts["traceback"] += len(v)
            print("\n".join(v))
    return counts


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipes", type=int, default=5000)
    ap.add_argument("--models", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        rc = fuzz_recipes(a.recipes, a.seed, Path(tmp))
        t1 = time.monotonic()
        mc = fuzz_models(a.models, a.seed, Path(tmp))
        t2 = time.monotonic()
    print(f"recipes: {sum(v for k, v in rc.items() if not k.startswith('cli_') and k != 'traceback') + rc['traceback']}"
          f" generated in {t1 - t0:.0f} s: {dict(sorted(rc.items()))}")
    print(f"model files: {a.models} malformed in {t2 - t1:.0f} s: {dict(sorted(mc.items()))}")
    print(f"tracebacks: recipes {rc['traceback']}, model files {mc['traceback']}")
    return 0 if rc["traceback"] == 0 and mc["traceback"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
