"""Generators and checks shared by tests/test_fuzz.py and benchmarks/fuzz_counts.py.

Every check returns an outcome name ("ok" or "user_error") and lets anything else propagate: an
exception other than UserInputError is a traceback a user would have seen.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import random
import zipfile
from pathlib import Path

import yaml
from hypothesis import strategies as st

from tflite_edge.errors import UserInputError

CORPUS = Path(__file__).parent / "corpus"
SEEDS = CORPUS / "seeds"

BASE = {
    "name": "fuzz",
    "seed": 0,
    "data": {"dataset": "shapes", "image_size": 16, "train_samples": 96, "test_samples": 48, "batch_size": 16,
             "augment": {"flip": False, "translate": 0.1}},
    "model": {"name": "plain_cnn", "width": 0.25},
    "train": {"epochs": 1, "steps_per_epoch": 3, "tensorboard": False, "early_stopping": {"patience": 2}},
    "optimize": [{"prune": {"sparsity": 0.5}}, {"cluster": {"clusters": 8}}, {"qat": {}}],
    "convert": {"formats": ["float32", "int8"], "calibration_samples": 16},
    "evaluate": {"min_keras_accuracy": 0.5, "max_accuracy_drop_by_format": {"int8": 0.02}},
    "benchmark": {"targets": ["host"], "threads": [1, 2], "runs": 5, "warmup": 1, "warmup_min_s": 0.0, "processes": 1},
}

# Values a YAML file can hold, plus the float corners and the strings that look like something else.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["", "0", "1e999", "nan", "shapes", "int8", "prune", "qat", "edgetpu", "host", "ssh:",
                     "android:x", "coral", "../../etc/passwd", "/tmp", "!!python/object:os.system", "{{x}}",
                     "mobilenet_v2", "plain_cnn", "[1, 4]", "\x00", "é" * 3]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=8), st.integers(-3, 3)), inner,
                                                 max_size=4)), max_leaves=12)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


@st.composite
def recipes(draw):
    """A recipe dict: the valid BASE with a few random edits (replace, delete, add a key), or junk."""
    if draw(st.integers(0, 9)) == 0:
        return draw(values)
    raw = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(raw) if p]
        if not paths or not isinstance(raw, dict):
            break
        path = draw(st.sampled_from(paths))
        parent = raw
        for p in path[:-1]:
            parent = parent[p]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add", "typo"]))
        last = path[-1]
        if action == "replace":
            parent[last] = draw(values)
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(values)
        elif action == "typo" and isinstance(parent, dict) and isinstance(last, str) and last:
            i = draw(st.integers(0, len(last) - 1))
            parent[last[:i] + last[i + 1:] + draw(st.text(max_size=1))] = parent.pop(last)
    return raw


overrides = st.lists(st.one_of(
    st.text(max_size=30),
    st.builds(lambda k, v: f"{k}={v}",
              st.sampled_from(["train.epochs", "data.batch_size", "optimize[0].prune.sparsity", "optimize[9].x",
                               "convert.formats", "model", "name.x", "a.b[0].c", "[0]", "train..epochs",
                               "benchmark.threads[0]", "evaluate.max_accuracy_drop_by_format.int8"]),
              st.text(max_size=12))), max_size=3)


def check_recipe_dict(raw) -> str:
    from tflite_edge.recipe import validate_dict

    try:
        validate_dict(raw)
        return "ok"
    except UserInputError:
        return "user_error"


def check_recipe_text(text, path: Path, sets=()) -> str:
    """Through the CLI exactly as a user runs it: exit 0 or 2, one line on stderr, no traceback."""
    from tflite_edge.cli import main

    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            # --set=VALUE binds a value that starts with '-' (argparse would read it as an option)
            rc = main(["validate", str(path), *[f"--set={s}" for s in sets]])
        except SystemExit as e:  # argparse on an unparseable argument list
            rc = e.code
    msg = err.getvalue()
    if rc not in (0, 2) or "Traceback" in msg or "internal error" in msg:
        raise AssertionError(f"validate exited {rc}: {msg[-500:]}")
    if rc == 2 and (len(msg.strip().splitlines()) != 1 or len(msg) > 8000):
        raise AssertionError(f"validate error is not one short line ({len(msg)} chars): {msg[:300]!r}")
    return "ok" if rc == 0 else "user_error"


def to_yaml(raw) -> str:
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


# ---------------------------------------------------------------- model files
def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """Truncate, flip bits, overwrite a span or splice: the damage files suffer in transit."""
    b = bytearray(data)
    kind = rng.choice(["truncate", "flip", "flip", "span", "splice", "header"])
    if kind == "truncate":
        return bytes(b[:rng.randrange(0, len(b))])
    if kind == "flip":
        for _ in range(rng.randint(1, 24)):
            p = rng.randrange(len(b))
            b[p] ^= 1 << rng.randrange(8)
    elif kind == "span":
        p, n = rng.randrange(len(b)), rng.randint(1, 256)
        b[p:p + n] = rng.choice([bytes(n), b"\xff" * n, bytes(rng.randrange(256) for _ in range(n))])
    elif kind == "splice":
        p, q = sorted(rng.randrange(len(b)) for _ in range(2))
        b = b[:p] + b[q:] if rng.random() < 0.5 else b[:q] + b[p:]
    else:
        p = rng.randrange(min(64, len(b)))
        b[p:p + 4] = bytes(rng.randrange(256) for _ in range(4))
    return bytes(b)


def mutate_keras_zip(data: bytes, rng: random.Random) -> bytes:
    """A .keras archive whose config.json (or weights) is damaged but which still unzips."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "config.json":
                body = _mutate_config(body, rng)
            elif info.filename.endswith(".h5") and rng.random() < 0.3:
                body = mutate_bytes(body, rng)
            if rng.random() > 0.05:  # now and then a member goes missing
                dst.writestr(info.filename, body)
    return out.getvalue()


def _mutate_config(body: bytes, rng: random.Random) -> bytes:
    try:
        cfg = json.loads(body)
    except ValueError:
        return body
    kind = rng.choice(["json", "class", "lambda", "value", "drop"])
    if kind == "json":
        text = body.decode("utf-8", "replace")
        return text[:rng.randrange(len(text))].encode()
    layers = cfg.get("config", {}).get("layers", [])
    if not layers:
        return body
    layer = rng.choice(layers)
    if kind == "class":
        layer["class_name"] = rng.choice(["Lambda", "NoSuchLayer", "", "os.system", "Functional", 7])
    elif kind == "lambda":
        layer["class_name"] = "Lambda"
        layer["config"] = {"name": "evil", "function": ["4wEAAAAAAAAA", None, None], "function_type": "lambda",
                           "module": "builtins"}
    elif kind == "value":
        conf = layer.get("config", {})
        if conf:
            key = rng.choice(sorted(conf))
            conf[key] = rng.choice([None, -1, 1e308, "x", [], {}, [[[]]], True])
    else:
        layers.remove(layer)
    return json.dumps(cfg).encode()


def mutate_h5_config(path: Path, rng: random.Random) -> None:
    """Rewrite the model_config attribute of an .h5 in place (structure intact, content wrong)."""
    import h5py

    with h5py.File(path, "r+") as f:
        cfg = f.attrs.get("model_config")
        text = cfg.decode() if isinstance(cfg, bytes) else str(cfg)
        new = _mutate_config(text.encode(), rng).decode("utf-8", "replace")
        f.attrs["model_config"] = new


def check_tflite(path: Path) -> str:
    """The checks every .tflite passes before an interpreter sees it, then the Edge TPU checker."""
    from tflite_edge.bench.host import check_tflite_file
    from tflite_edge.edgetpu import check_model

    try:
        check_tflite_file(path)
        check_model(path)
        return "ok"
    except UserInputError:
        return "user_error"


def check_keras(path: Path) -> str:
    from tflite_edge.model_io import load_keras_model

    try:
        load_keras_model(path)
        return "ok"
    except UserInputError:
        return "user_error"


def make_model_files(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """`n` malformed model files (tflite, keras, h5 in turn), reproducible from `seed`."""
    import shutil

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tflites = [(SEEDS / n_).read_bytes() for n_ in ("tiny_int8.tflite", "tiny_float32.tflite")]
    keras_zip = (SEEDS / "tiny.keras").read_bytes()
    h5 = (SEEDS / "tiny.h5").read_bytes()
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            p = folder / f"m{i:05d}.tflite"
            p.write_bytes(mutate_bytes(rng.choice(tflites), rng))
        elif kind == 1:
            p = folder / f"m{i:05d}.keras"
            p.write_bytes(mutate_keras_zip(keras_zip, rng) if rng.random() < 0.6 else mutate_bytes(keras_zip, rng))
        else:
            p = folder / f"m{i:05d}.h5"
            if rng.random() < 0.5:
                shutil.copyfile(SEEDS / "tiny.h5", p)
                mutate_h5_config(p, rng)
            else:
                p.write_bytes(mutate_bytes(h5, rng))
        out.append(p)
    return out


def check_model_file(path: Path) -> str:
    return check_tflite(path) if path.suffix == ".tflite" else check_keras(path)


INTERPRETER_LOOP = """
import json, sys
from tflite_edge.runtime import make_interpreter
for p in sys.argv[1:]:
    print(json.dumps({"path": p}), flush=True)
    try:
        make_interpreter(p)
        print(json.dumps({"path": p, "outcome": "ok"}), flush=True)
    except (RuntimeError, ValueError, OSError) as e:  # what host_worker turns into exit 2
        print(json.dumps({"path": p, "outcome": "user_error"}), flush=True)
"""


def check_interpreter(paths: list[Path], timeout_s: float = 600) -> dict:
    """Load each .tflite in the LiteRT interpreter as host_worker does, in one child process.

    Returns outcome counts; "crash" names a file that killed the process (a signal, not an error).
    """
    import subprocess
    import sys

    counts: dict = {}
    todo = [str(p) for p in paths]
    while todo:
        proc = subprocess.run([sys.executable, "-c", INTERPRETER_LOOP, *todo], capture_output=True, text=True,
                              timeout=timeout_s)
        lines = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
        done = [l for l in lines if "outcome" in l]
        for l in done:
            counts[l["outcome"]] = counts.get(l["outcome"], 0) + 1
        if proc.returncode == 0:
            break
        started = [l["path"] for l in lines if "outcome" not in l]
        culprit = started[-1] if started else todo[0]
        counts.setdefault("crash", []).append(f"{culprit} (exit {proc.returncode}: "
                                              f"{(proc.stderr.strip().splitlines() or [''])[-1][:120]})")
        todo = todo[todo.index(culprit) + 1:]
    return counts
