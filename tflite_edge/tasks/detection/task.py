"""The detection task: SSD-Lite / Tiny-YOLO heads on a backbone's named feature maps, box-aware
augmented batches, COCO mAP, the four-output TFLite model with the postprocess op and a raw one."""
from __future__ import annotations

import numpy as np

from ... import atomic, compat
from ...errors import UserInputError
from ...models.classifier import InputSpec
from ...runtime import op_names
from ..base import FitData, Task
from .model import build_detector, detector_for


def _train_val(ctx):
    from ...data.detection import seeded_split

    split, frac = ctx.dataset.train, ctx.recipe.data.validation_fraction
    if frac <= 0 or len(split) < 10:
        return split, None
    return seeded_split(split, frac, ctx.recipe.seed)


def _output_order(path) -> list:
    """Names of the model's outputs in the order apps see them (the converter reorders them)."""
    from ...runtime import make_interpreter, signature_outputs

    it, _ = make_interpreter(str(path), 1)
    by_index = {index: name for name, index in signature_outputs(it).items()}
    return [by_index[o["index"]] for o in it.get_output_details()]


class DetectionTask(Task):
    name = "detection"
    quality_keys = ("map", "map50")

    def build(self, ctx) -> dict:
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

    # ---- fit
    def fit_data(self, ctx, recipe) -> FitData:
        from .pipeline import batches

        det = detector_for(recipe, ctx.input_spec, ctx.dataset.num_classes)
        train_split, val_split = _train_val(ctx)
        b = recipe.data.batch_size
        train_seq = batches(train_split, det, ctx.input_spec, b, True, recipe.data.augment, recipe.seed,
                            recipe.train.steps_per_epoch)
        val_seq = batches(val_split, det, ctx.input_spec, b, False) if val_split else None
        return FitData(train_seq, val_seq, len(train_seq))

    def compile(self, ctx, model, recipe, optimizer) -> None:
        model.compile(optimizer=optimizer, loss=detector_for(recipe, ctx.input_spec, ctx.dataset.num_classes).losses())

    def early_stopping_monitor(self, recipe) -> str:
        return "val_loss"

    def distiller(self, ctx, model, recipe, teacher=None):
        from .distill import make_distiller

        if teacher is not None:
            raise UserInputError("distilling a detector from a given model is not supported; use teacher: "
                                 "in the recipe")
        return make_distiller(ctx, model, recipe)

    def load_teacher(self, ctx, index, source, num_classes):
        from .distill import load_path_teacher
        return load_path_teacher(ctx, index, source, num_classes)

    def train_teacher(self, ctx, index, source, num_classes):
        from .distill import train_teacher
        return train_teacher(ctx, index, source, num_classes)

    def distillation_summary(self, ctx) -> dict:
        from .distill import summary
        return summary(ctx)

    # ---- optimize
    def measure(self, ctx, model, name: str) -> dict:
        """COCO mAP instead of accuracy."""
        from ...export import gzip_size
        from ...weights import measure_weights
        from .evaluate import keras_detections
        from .export import convert_detector
        from .metrics import coco_map

        r, d, spec = ctx.recipe, ctx.dataset, ctx.input_spec
        det = detector_for(r, spec, d.num_classes)
        m = coco_map(d.test, keras_detections(model, det, d.test, spec, r.detector), d.num_classes)
        data = convert_detector(model, det, r.detector, spec, d.num_classes, "float32", None, False)
        return {"name": name, "accuracy": None, **m, **measure_weights(model), "size_bytes": len(data),
                "gzip_bytes": gzip_size(data)}

    def score_text(self, m: dict) -> str:
        return f"mAP@.5 {m['map50']:.4f}"

    def artifact_score_text(self, artifact: dict) -> str:
        return f"mAP@.5 {artifact['map50']:.4f}"

    # ---- convert
    def calibration_images(self, ctx) -> np.ndarray:
        from ...data.detection import load_images
        from .pipeline import normalise

        d, n, spec = ctx.dataset, ctx.recipe.convert.calibration_samples, ctx.input_spec
        idx = np.arange(min(n, len(d.train)))
        return normalise(load_images(d.train, idx, spec.height, spec.width), spec)

    def export(self, ctx, model) -> list:
        """Every format twice: with the postprocess op (4 outputs, with TFLite Model Metadata) and raw
        (cut before it; two bare outputs the metadata schema has no detector layout for)."""
        from ...export import edgetpu_extras, model_info, write_artifact
        from ...formats import NEEDS_CALIBRATION
        from ...metadata import add_metadata
        from .export import postprocess_converter, serving_export

        r, d, spec = ctx.recipe, ctx.dataset, ctx.input_spec
        det = detector_for(r, spec, d.num_classes)
        calibration = self.calibration_images(ctx) if NEEDS_CALIBRATION & set(r.convert.formats) else None
        described = model_info(ctx)  # the four-output models only: metadata describes that layout
        artifacts = []
        for variant, with_pp in (("postprocess", True), ("raw", False)):
            with serving_export(model, det, r.detector, spec, d.num_classes, with_pp) as exported:
                for fmt in r.convert.formats:
                    name = f"{r.name}_{fmt}" + ("" if with_pp else "_raw")
                    rel = f"artifacts/{name}.tflite"
                    data = exported.convert(fmt, calibration, postprocess_converter if with_pp else None)
                    data = add_metadata(data, described) if with_pp else data
                    info = write_artifact(data, ctx.path(rel), fmt)
                    art = {"name": name, "path": rel, **info, "detection_outputs": variant,
                           "ops": op_names(ctx.path(rel)), "output_order": _output_order(ctx.path(rel))}
                    artifacts.append(art)
                    ctx.log(f"  {rel}: {info['size_bytes']:,} bytes; ops {', '.join(art['ops'])}")
                    if fmt == "edgetpu" and not with_pp:  # the TPU graph is the raw one; the op runs on the CPU
                        artifacts += edgetpu_extras(ctx, art)
        return artifacts

    # ---- evaluate and report
    def evaluate(self, ctx) -> dict:
        from .evaluate import evaluate
        return evaluate(ctx)

    def build_report(self, ctx) -> dict:
        from .report import build_report
        return build_report(ctx)

    def render_markdown(self, report: dict) -> str:
        from .report import render_markdown
        return render_markdown(report)
