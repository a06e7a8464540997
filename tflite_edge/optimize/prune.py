"""`prune`: magnitude pruning with tfmot (a schedule to the target sparsity over the fine-tune,
or m-by-n blocks, or XNNPACK's sparse-inference policy); the wrappers are stripped after it, so
the model keeps its layers with zeros in their kernels. Fine-tune epochs 0: one-shot pruning."""
from __future__ import annotations

from .. import compat
from ..errors import UserInputError
from ..fit import fit_model
from ..tasks import task_for
from ..weights import is_depthwise, weighted_types
from .common import check_patterns, selected
from .registry import TECHNIQUES


def _steps_per_epoch(ctx) -> int:
    return task_for(ctx.recipe).fit_data(ctx, ctx.recipe).steps_per_epoch


def _prune_schedule(spec, total_steps: int, where: str):
    sparsity = compat.tfmot().sparsity.keras
    if spec.initial_sparsity > spec.sparsity:
        raise UserInputError(f"{where}.initial_sparsity: {spec.initial_sparsity} is above the target "
                             f"sparsity {spec.sparsity}; make it lower (e.g. 0.0)")
    freq = max(1, min(100, total_steps // 10))
    if spec.schedule == "polynomial" and total_steps > 1:
        # reach the target at ~3/4 of the fine-tune, so the last quarter recovers at full sparsity
        end = max(freq, (int(total_steps * 0.75) // freq) * freq)
        return sparsity.PolynomialDecay(initial_sparsity=spec.initial_sparsity, final_sparsity=spec.sparsity,
                                        begin_step=0, end_step=end, frequency=freq)
    return sparsity.ConstantSparsity(spec.sparsity, begin_step=0, frequency=freq)


def wrap_prune(ctx, model, spec, where: str, total_steps: int):
    """Wrap `model` (consumed) with pruning; returns the wrapped model."""
    keras, tfmot = compat.keras(), compat.tfmot()
    ks = tfmot.sparsity.keras
    params = {"pruning_schedule": _prune_schedule(spec, total_steps, where)}
    if spec.m_by_n:
        params["sparsity_m_by_n"] = tuple(spec.m_by_n)
    if spec.xnnpack_policy:
        if spec.layers or spec.layer_types:
            raise UserInputError(f"{where}.xnnpack_policy: the policy picks the layers itself (1x1 Conv2D); "
                                 "remove layers/layer_types or set xnnpack_policy: false")
        try:
            return ks.prune_low_magnitude(model, pruning_policy=ks.PruneForLatencyOnXNNPack(), **params)
        except ValueError as e:
            first = str(e).strip().splitlines()[0][:200]
            raise UserInputError(f"{where}.xnnpack_policy: the model does not suit XNNPACK sparse inference "
                                 f"({first}); set xnnpack_policy: false") from None
    check_patterns(where, spec.layers, model)
    chosen = []

    def wrap(layer):
        if isinstance(layer, weighted_types()) and selected(layer, spec.layers, spec.layer_types):
            if spec.m_by_n and is_depthwise(layer):
                return layer  # m-by-n sparsity is defined for Conv2D and Dense only
            chosen.append(layer.name)
            return ks.prune_low_magnitude(layer, **params)
        return layer

    try:
        wrapped = keras.models.clone_model(model, clone_function=wrap)
    except ValueError as e:
        first = str(e).strip().splitlines()[0][:200]
        raise UserInputError(f"{where}: tfmot refused to prune this model ({first})") from None
    if not chosen:
        raise UserInputError(f"{where}: no prunable layer (Conv/Dense) matches layers={spec.layers} "
                             f"layer_types={spec.layer_types}; layers are e.g. "
                             f"{[l.name for l in model.layers if isinstance(l, weighted_types())][:6]}")
    return wrapped


def _prune_wrappers(model):
    from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

    return pruning_wrapper.collect_prunable_layers(model)


def _apply_masks_now(wrapped, spec):
    """One-shot magnitude pruning (fine-tune epochs 0): update the masks once and apply them."""
    for layer in _prune_wrappers(wrapped):
        layer.pruning_step.assign(1 if spec.m_by_n else 0)
        layer.pruning_obj.conditional_mask_update()
        layer.pruning_obj.weight_mask_op()


@TECHNIQUES.register("prune")
def prune(ctx, model, spec, where, index, history):
    tfmot = compat.tfmot()
    steps = spec.epochs * _steps_per_epoch(ctx)
    if spec.epochs == 0:
        spec_now = spec.model_copy(update={"schedule": "constant"})
        wrapped = wrap_prune(ctx, model, spec_now, where, 1)
        _apply_masks_now(wrapped, spec)
    else:
        wrapped = wrap_prune(ctx, model, spec, where, steps)
        fit_model(ctx, wrapped, spec.epochs, spec.learning_rate or ctx.recipe.train.learning_rate,
                  f"optimize_{index}_prune", [tfmot.sparsity.keras.UpdatePruningStep()])
    for layer in _prune_wrappers(wrapped):  # the last optimizer step may have moved masked weights
        layer.pruning_obj.weight_mask_op()
    return tfmot.sparsity.keras.strip_pruning(wrapped), {}
