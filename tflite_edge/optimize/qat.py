"""`qat`: quantization-aware training with tfmot, last in the list and not stripped (conversion
makes the int8 model from the QAT graph). What came before picks the scheme: prune ->
prune-preserving, cluster -> cluster-preserving, both -> PCQAT. Ranges start measured
(`warm_up_ranges`), not at tfmot's [-6, 6] guess."""
from __future__ import annotations

import re

import numpy as np

from .. import compat
from ..errors import UserInputError
from ..fit import fit_model, training_passes
from ..tasks import task_for
from .common import check_patterns
from .registry import TECHNIQUES


def qat_scheme(history):
    """(scheme name, scheme object or None for the default) from the techniques that came before."""
    from tensorflow_model_optimization.python.core.api.experimental import combine

    pruned, clustered = "prune" in history, "cluster" in history
    if pruned and clustered:
        return "pcqat", combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)
    if clustered:
        return "cqat", combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=False)
    if pruned:
        return "pqat", combine.Default8BitPrunePreserveQuantizeScheme()
    return "default", None


def wrap_qat(model, spec, where: str, history):
    keras, tfmot = compat.keras(), compat.tfmot()
    qk = tfmot.quantization.keras
    name, scheme = qat_scheme(history)
    check_patterns(where, spec.skip_layers, model, "skip_layers")
    skipped = []

    def annotate(layer):
        if any(re.search(p, layer.name) for p in spec.skip_layers):
            skipped.append(layer.name)
            return layer
        return qk.quantize_annotate_layer(layer)

    try:
        annotated = keras.models.clone_model(model, clone_function=annotate)
        with qk.quantize_scope():
            q = qk.quantize_apply(annotated, scheme) if scheme is not None else qk.quantize_apply(annotated)
    except (ValueError, RuntimeError, TypeError) as e:
        first = str(e).strip().splitlines()[0][:200]
        raise UserInputError(f"{where}: tfmot could not quantize this model ({first}); list the layer in "
                             f"{where}.skip_layers") from None
    return q, {"scheme": name, "skipped_layers": skipped}


def _range_vars(model):
    return [v for v in model.variables if re.search(r"_(min|max):0$", v.name)]


def warm_up_ranges(q, images: np.ndarray, steps: int, batch_size: int, seed: int = 0) -> int:
    """Start QAT from measured quantization ranges instead of tfmot's [-6, 6] guess.

    tfmot's activation ranges follow the batches by an EMA with decay 0.999 that starts at [-6, 6]:
    after a 2-epoch fine-tune (a few hundred steps) they are still mostly the guess, and the model
    trains against ranges that are far too wide or clip (Fashion-MNIST: QAT wrapped and not trained
    10% accuracy; 2 epochs -2.3 points). So: `steps` forward passes in training mode (no weight
    update) on calibration images, then the EMA's bias towards its start is removed, as Adam does:
    range = (ema - 0.999^steps * start) / (1 - 0.999^steps). One more pass resets the weight ranges
    (last-value, not EMA, which the correction would have spoilt); the BatchNorm statistics the
    passes moved are put back. Returns the number of range variables set."""
    ranges = _range_vars(q)
    if steps <= 0 or not ranges or len(images) == 0:
        return 0
    rest = [(v, v.numpy()) for v in q.variables if not any(v is r for r in ranges)]
    start = [v.numpy() for v in ranges]
    forward = training_passes(q, images, steps, batch_size, seed)
    kept = 0.999 ** steps
    for v, s0 in zip(ranges, start):
        v.assign((v.numpy() - kept * s0) / (1.0 - kept))
    forward(images[:min(batch_size, len(images))])  # weight (last-value) ranges: exact again
    for v, value in rest:
        v.assign(value)
    return len(ranges)


def rewrap(model, spec: dict, where: str, history):
    """A saved QAT step's graph again: `model` (the step's input) wrapped as the step wrapped it."""
    from ..recipe import QatSpec

    return wrap_qat(model, QatSpec.model_validate(spec), where, history)[0]


@TECHNIQUES.register("qat", rewrap=rewrap)
def qat(ctx, model, spec, where, index, history):
    q, info = wrap_qat(model, spec, where, history)
    if spec.range_warmup_steps:
        images = task_for(ctx.recipe).calibration_images(ctx)
        info["range_warmup"] = {"steps": spec.range_warmup_steps,
                                "ranges": warm_up_ranges(q, images, spec.range_warmup_steps,
                                                         ctx.recipe.data.batch_size, ctx.recipe.seed)}
    fit_model(ctx, q, spec.epochs, spec.learning_rate or ctx.recipe.train.learning_rate, f"optimize_{index}_qat")
    return q, info
