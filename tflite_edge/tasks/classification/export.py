"""Classification `convert`: every format of the classifier, traced once per batch layout."""
from __future__ import annotations

from ...export import convert_formats, edgetpu_extras, model_info, write_artifact
from ...formats import NEEDS_CALIBRATION
from ...metadata import add_metadata
from .data import calibration_images


def export(ctx, model) -> list:
    """Every format, each with the run's TFLite Model Metadata (labels, normalisation) inside."""
    from .adaptive.exits import final_model

    formats = ctx.recipe.convert.formats
    mixed = ctx.recipe.convert.mixed
    calibration = calibration_images(ctx) if NEEDS_CALIBRATION & set(formats) or mixed else None
    described = model_info(ctx)
    artifacts, float_bytes = [], None
    for fmt, data in convert_formats(final_model(model), formats, calibration):
        if fmt == "float32":
            float_bytes = data
        name = f"{ctx.recipe.name}_{fmt}"
        rel = f"artifacts/{name}.tflite"
        info = write_artifact(add_metadata(data, described), ctx.path(rel), fmt)
        artifacts.append({"name": name, "path": rel, **info})
        ctx.log(f"  {rel}: {info['size_bytes']:,} bytes ({info['gzip_bytes']:,} gzipped)")
        if fmt == "edgetpu":
            artifacts += edgetpu_extras(ctx, artifacts[-1])
    if mixed is not None:  # per-layer precision chosen on the target, from the float32 graph
        from ...mixed.stage import export_mixed

        artifacts.append(export_mixed(ctx, float_bytes, calibration, described))
    return artifacts


def export_segments(ctx, model) -> list:
    """adaptive: every format's cascade (adaptive/export.py); [] for a plain classifier."""
    if ctx.recipe.adaptive is None:
        return []
    from .adaptive.export import export_cascades

    formats = ctx.recipe.convert.formats
    calibration = calibration_images(ctx) if NEEDS_CALIBRATION & set(formats) else None
    return export_cascades(ctx, model, formats, calibration)
