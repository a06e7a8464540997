"""The detection versions of the build, train (fit), convert, evaluate and report stages."""
from __future__ import annotations

import tempfile

import numpy as np

from .. import atomic, compat
from ..errors import UserInputError
from ..models.classifier import InputSpec
from .model import build_detector, detector_for

POSTPROCESS_OP = "TFLite_Detection_PostProcess"
# Signature outputs of each variant, in the order `save_serving` returns them.
OUTPUTS = {"postprocess": ["detection_boxes", "detection_classes", "detection_scores", "num_detections"],
           "raw": ["box_encodings", "class_logits"]}


def build(ctx) -> dict:
    r, d = ctx.recipe, ctx.dataset  # the dataset first: bad annotations fail before TensorFlow starts
    size = r.model.input_size or d.image_size
    if size is None:
        raise UserInputError(f"model.input_size: required for dataset '{r.data.dataset}' (its images vary "
                             "in size); set e.g. model.input_size: 320")
    if not any(len(b) for b in d.test.boxes):
        raise UserInputError(f"data: the test split ({len(d.test)} image(s)) has no objects, so mAP is "
                             "undefined; annotate more images or give a larger test set")
    if r.model.channels == 1:
        raise UserInputError("model.channels: detectors take RGB images; remove channels or set 3")
    spec = InputSpec(height=size, width=size, channels=3)
    compat.keras().utils.set_random_seed(r.seed)
    model = build_detector(r, spec, d.num_classes)
    atomic.write_text(ctx.path("input_spec.json"), spec.to_json())
    atomic.write_text(ctx.path("labels.txt"), "\n".join(d.class_names) + "\n")
    rel = ctx.save_model(model, "checkpoints/built.keras")
    if d.counts:
        ctx.log("  annotations repaired or skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(d.counts.items())))
    return {"model": rel, "params": int(model.count_params()), "num_classes": d.num_classes,
            "input_shape": list(spec.shape), "anchors": int(model.outputs[0].shape[1]),
            "train_images": len(d.train), "test_images": len(d.test), "data_counts": dict(d.counts)}


def _train_val(ctx):
    from ..data.detection import seeded_split

    split, frac = ctx.dataset.train, ctx.recipe.data.validation_fraction
    if frac <= 0 or len(split) < 10:
        return split, None
    return seeded_split(split, frac, ctx.recipe.seed)


def fit(ctx, model, epochs: int, learning_rate: float, label: str, extra_callbacks=(), recipe=None) -> dict:
    """train.fit_model for detectors: the detector's losses on box-aware augmented batches, distilled
    when the recipe has a teacher. `recipe` (default: the run's) is how teachers are trained."""
    from ..progress import epoch_progress
    from ..train import _optimizer
    from .pipeline import batches

    keras, r = compat.keras(), recipe or ctx.recipe
    t = r.train
    if epochs <= 0:
        return {}
    det = detector_for(r, ctx.input_spec, ctx.dataset.num_classes)
    train_split, val_split = _train_val(ctx)
    train_seq = batches(train_split, det, ctx.input_spec, r.data.batch_size, True, r.data.augment, r.seed,
                        t.steps_per_epoch)
    val_seq = batches(val_split, det, ctx.input_spec, r.data.batch_size, False) if val_split else None
    callbacks = [epoch_progress(epochs, label), *extra_callbacks]
    if t.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(ctx.path(f"logs/{label}")),
                                                     write_graph=False, profile_batch=0))
    if t.early_stopping and val_seq is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=t.early_stopping.patience,
                                                       restore_best_weights=True))
    optimizer = _optimizer(t.optimizer, learning_rate, t.schedule, epochs * len(train_seq))
    if r.teacher is not None:
        from .distill import fit_distilled
        return fit_distilled(ctx, model, det, train_seq, val_seq, epochs, optimizer, callbacks)
    model.compile(optimizer=optimizer, loss=det.losses())
    hist = model.fit(train_seq, validation_data=val_seq, epochs=epochs, callbacks=callbacks, verbose=0)
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def _calibration(ctx) -> np.ndarray:
    from ..data.detection import load_images
    from .pipeline import normalise

    d, n, spec = ctx.dataset, ctx.recipe.convert.calibration_samples, ctx.input_spec
    idx = np.arange(min(n, len(d.train)))
    return normalise(load_images(d.train, idx, spec.height, spec.width), spec)


def _ops(path) -> list:
    from ..compat import interpreter_module

    mod = interpreter_module()
    it = mod.Interpreter(model_path=str(path),
                         experimental_op_resolver_type=mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    return sorted({op["op_name"] for op in it._get_ops_details()})


def _output_order(path, variant: str) -> list:
    """Names of the model's outputs in the order apps see them (the converter reorders them)."""
    from ..bench.host_worker import make_interpreter

    it, _ = make_interpreter(str(path), 1)
    # no public call maps signature output names to tensor indices
    sig = it._get_full_signature_list()["serving_default"]["outputs"]
    by_index = {v: OUTPUTS[variant][int(k.split("_")[-1])] for k, v in sig.items()}
    return [by_index[o["index"]] for o in it.get_output_details()]


def convert(ctx) -> dict:
    """Every format twice: with the postprocess op (4 outputs) and raw (cut before it)."""
    from ..convert import NEEDS_CALIBRATION, edgetpu_extras, write_artifact
    from .export import convert_saved, save_serving

    r, d, spec = ctx.recipe, ctx.dataset, ctx.input_spec
    model = ctx.load_model(ctx.outputs("optimize")["model"])
    det = detector_for(r, spec, d.num_classes)
    calibration = _calibration(ctx) if NEEDS_CALIBRATION & set(r.convert.formats) else None
    artifacts = []
    for variant, with_pp in (("postprocess", True), ("raw", False)):
        with tempfile.TemporaryDirectory() as folder:
            save_serving(model, det, r.detector, spec, d.num_classes, with_pp, folder)
            for fmt in r.convert.formats:
                name = f"{r.name}_{fmt}" + ("" if with_pp else "_raw")
                rel = f"artifacts/{name}.tflite"
                info = write_artifact(convert_saved(folder, fmt, calibration, with_pp), ctx.path(rel), fmt)
                art = {"name": name, "path": rel, **info, "detection_outputs": variant,
                       "ops": _ops(ctx.path(rel)), "output_order": _output_order(ctx.path(rel), variant)}
                artifacts.append(art)
                ctx.log(f"  {rel}: {info['size_bytes']:,} bytes; ops {', '.join(art['ops'])}")
                if fmt == "edgetpu" and not with_pp:  # the TPU graph is the raw one; the op runs on the CPU
                    artifacts += edgetpu_extras(ctx, art)
    return {"artifacts": artifacts}


def steps_per_epoch(ctx) -> int:
    """optimize.py's fine-tune length for detectors (schedules for pruning need it)."""
    import math

    n = math.ceil(len(_train_val(ctx)[0]) / ctx.recipe.data.batch_size)
    return max(1, min(n, ctx.recipe.train.steps_per_epoch or n))


def measure(ctx, model, name: str) -> dict:
    """optimize.py's per-step measurement for detectors: COCO mAP instead of accuracy."""
    from ..convert import gzip_size
    from ..optimize import measure_weights
    from .evaluate import keras_detections
    from .export import convert_detector
    from .metrics import coco_map

    r, d, spec = ctx.recipe, ctx.dataset, ctx.input_spec
    det = detector_for(r, spec, d.num_classes)
    m = coco_map(d.test, keras_detections(model, det, d.test, spec, r.detector), d.num_classes)
    data = convert_detector(model, det, r.detector, spec, d.num_classes, "float32", None, False)
    return {"name": name, "accuracy": None, **m, **measure_weights(model), "size_bytes": len(data),
            "gzip_bytes": gzip_size(data)}


def score_text(m: dict) -> str:
    return f"mAP@.5 {m['map50']:.4f}" if m.get("accuracy") is None and "map50" in m else \
        f"accuracy {m['accuracy']:.4f}"
