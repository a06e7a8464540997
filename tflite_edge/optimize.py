"""Stage `optimize`: the recipe's techniques in the order written (prune_channels, prune, cluster, qat).

`prune_channels` (channel_prune/) removes whole filters and returns a new, smaller model.

Each technique wraps a fresh copy of the model (tfmot wrappers reuse layer objects, so a model
that was wrapped once cannot be cloned for the next technique), fine-tunes it with the run's
fit (distilled when a teacher is given), and strips the wrappers. QAT is last and not stripped:
conversion makes the int8 model from the QAT graph. What came before picks the QAT scheme:
prune -> prune-preserving, cluster -> cluster-preserving, both -> sparsity- and
cluster-preserving (PCQAT); clustering after pruning preserves the zeros.

Every step is measured: Keras accuracy on the test split, sparsity of the kernels, distinct values
per kernel, and size / gzip size of a float32 TFLite made from it.

>>> outputs = optimize(ctx)          # doctest: +SKIP
>>> [s["name"] for s in outputs["steps"]]   # doctest: +SKIP
['prune', 'cluster', 'qat']
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from . import atomic, compat
from .errors import UserInputError
from .fit import fit_model, training_passes
from .model_io import fresh_copy, load_keras_model
from .recipe import step_tag
from .tasks import task_for
from .weights import is_depthwise, weighted_types

_INIT = {"kmeans_plus_plus": "KMEANS_PLUS_PLUS", "linear": "LINEAR", "density_based": "DENSITY_BASED",
         "random": "RANDOM"}


# ---------------------------------------------------------------- loading QAT checkpoints
def _rebuild_path(path: Path) -> Path:
    return Path(path).with_suffix(".rebuild.json")


def load_checkpoint(ctx, rel: str):
    """Load a checkpoint this stage wrote. A QAT graph saved as .keras does not load back (tfmot's
    quantize layers expect variables the file lacks, even under quantize_scope), so a QAT step also
    writes its weights and how to rebuild it: the model before QAT, wrapped again the same way."""
    side = _rebuild_path(ctx.path(rel))
    if not side.exists():
        return load_keras_model(ctx.path(rel))
    from .recipe import QatSpec

    info = json.loads(side.read_text())
    base = load_checkpoint(ctx, info["base"])
    q, _ = wrap_qat(fresh_copy(base), QatSpec.model_validate(info["spec"]), info["where"], info["history"])
    q.load_weights(str(ctx.path(info["weights"])))
    return q


# ---------------------------------------------------------------- helpers
def _selected(layer, patterns, types) -> bool:
    if patterns and not any(re.search(p, layer.name) for p in patterns):
        return False
    if types and type(layer).__name__ not in types:
        return False
    return True


def _check_patterns(where: str, patterns, model, key: str = "layers"):
    for k, p in enumerate(patterns or []):
        try:
            re.compile(p)
        except re.error as e:
            raise UserInputError(f"{where}.{key}[{k}]: '{p}' is not a valid regular expression ({e})") from None


def _steps_per_epoch(ctx) -> int:
    return task_for(ctx.recipe).fit_data(ctx, ctx.recipe).steps_per_epoch


# ---------------------------------------------------------------- prune
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
    _check_patterns(where, spec.layers, model)
    chosen = []

    def wrap(layer):
        if isinstance(layer, weighted_types()) and _selected(layer, spec.layers, spec.layer_types):
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


def _prune(ctx, model, spec, where, index, history):
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


# ---------------------------------------------------------------- cluster
def _cluster(ctx, model, spec, where, index, history):
    keras, tfmot = compat.keras(), compat.tfmot()
    ck = tfmot.clustering.keras
    params = {"number_of_clusters": spec.clusters,
              "cluster_centroids_init": getattr(ck.CentroidInitialization, _INIT[spec.init])}
    preserve = "prune" in history
    if preserve:
        params["preserve_sparsity"] = True
    _check_patterns(where, spec.layers, model)
    L = keras.layers
    chosen = []

    def wrap(layer):
        # tfmot does not cluster DepthwiseConv2D; those stay as they are.
        if isinstance(layer, (L.Conv1D, L.Conv2D, L.Dense)) and not is_depthwise(layer) \
                and _selected(layer, spec.layers, None):
            chosen.append(layer.name)
            return ck.cluster_weights(layer, **params)
        return layer

    wrapped = keras.models.clone_model(model, clone_function=wrap)
    if not chosen:
        raise UserInputError(f"{where}.layers: no clusterable layer (Conv2D/Dense) matches {spec.layers}")
    fit_model(ctx, wrapped, spec.epochs, spec.learning_rate or ctx.recipe.train.learning_rate,
              f"optimize_{index}_cluster")
    return ck.strip_clustering(wrapped), {"preserve_sparsity": preserve, "clustered_layers": len(chosen)}


# ---------------------------------------------------------------- qat
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
    _check_patterns(where, spec.skip_layers, model, "skip_layers")
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


def _qat(ctx, model, spec, where, index, history):
    q, info = wrap_qat(model, spec, where, history)
    if spec.range_warmup_steps:
        images = task_for(ctx.recipe).calibration_images(ctx)
        info["range_warmup"] = {"steps": spec.range_warmup_steps,
                                "ranges": warm_up_ranges(q, images, spec.range_warmup_steps,
                                                         ctx.recipe.data.batch_size, ctx.recipe.seed)}
    fit_model(ctx, q, spec.epochs, spec.learning_rate or ctx.recipe.train.learning_rate, f"optimize_{index}_qat")
    return q, info


def _prune_channels(ctx, model, spec, where, index, history):
    from .channel_prune import optimize_step

    return optimize_step(ctx, model, spec, where, index, history)


TECHNIQUES = {"prune": _prune, "prune_channels": _prune_channels, "cluster": _cluster, "qat": _qat}


# ---------------------------------------------------------------- the stage
def optimize(ctx) -> dict:
    """Stage `optimize`; returns {"model": final checkpoint, "baseline": ..., "steps": [...]}."""
    keras = compat.keras() if ctx.recipe.optimize else None
    model_rel = ctx.outputs("train")["model"]
    if not ctx.recipe.optimize:
        return {"model": model_rel, "steps": []}
    if ctx.recipe.teacher is not None:
        from .distill import teachers

        teachers(ctx)  # bad teacher files fail here, before any fine-tune
    keras.utils.set_random_seed(ctx.recipe.seed + 1)
    model = ctx.load_model(model_rel)
    task = task_for(ctx.recipe)
    score_text = task.score_text  # accuracy, or mAP@.5 for detectors
    baseline = task.measure(ctx, model, "trained")

    ctx.log(f"  trained: {score_text(baseline)}, sparsity {baseline['sparsity']:.3f}, "
            f"float32 tflite {baseline['gzip_bytes']:,} B gzipped")
    history, steps, base_rel = [], [], model_rel
    for i, step in enumerate(ctx.recipe.optimize):
        name = step_tag(step)
        spec = getattr(step, name)
        where = f"optimize[{i}].{name}"
        t0 = time.monotonic()
        model, info = TECHNIQUES[name](ctx, fresh_copy(model), spec, where, i, history)
        rel = f"checkpoints/optimize_{i}_{name}.keras"
        if name == "qat":
            weights = f"checkpoints/optimize_{i}_qat_weights.h5"
            with atomic.atomic_path(ctx.path(weights)) as tmp:
                model.save_weights(str(tmp))
            atomic.write_json(_rebuild_path(ctx.path(rel)), {
                "base": base_rel, "spec": spec.model_dump(mode="json"), "where": where,
                "history": list(history), "weights": weights})
        else:
            _rebuild_path(ctx.path(rel)).unlink(missing_ok=True)
        history.append(name)
        ctx.save_model(model, rel)
        base_rel = rel
        m = task.measure(ctx, model, name)
        m.update({"index": i, **info, "checkpoint": rel, "seconds": round(time.monotonic() - t0, 3)})
        steps.append(m)
        ctx.log(f"  {name}: {score_text(m)}, sparsity {m['sparsity']:.3f}, unique/kernel "
                f"max {m['unique_values_per_kernel']['max']}, float32 tflite {m['gzip_bytes']:,} B gzipped")
    return {"model": steps[-1]["checkpoint"], "baseline": baseline, "steps": steps}

