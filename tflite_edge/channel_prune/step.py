"""The `prune_channels` optimize step: recipe checks at build, then plan, rebuild, fine-tune."""
from __future__ import annotations

import time

from ..errors import UserInputError
from .batchnorm import recalibrate_batchnorm
from .graph import analyse
from .latency import int8_latency_ms, ratio_for_latency, ratios_by_latency
from .plan import count_macs, group_ratios, plan_channels, planned_macs, ratio_for_macs
from .rebuild import apply_plan, size_report


def check_model(model, spec, where: str = "prune_channels", distil_allowed: bool = True) -> None:
    """Fail fast (at build, before training) on what the pruner will refuse later; `distil_allowed`:
    whether the task distils from a model it is given (Task.distils_from_given_model)."""
    g = analyse(model)
    if spec.distill_from_unpruned and not distil_allowed:
        raise UserInputError(f"{where}.distill_from_unpruned: classification only; set it to false")
    if spec.ratio is not None or spec.ratios is not None:
        plan_channels(model, g, group_ratios(g, spec.ratio, spec.ratios, where), spec.criterion, spec.round_to)
        return
    if not g.prunable():
        raise UserInputError(f"{where}: no prunable channel in this model (every channel feeds an input, "
                             "output or reshape)")
    if spec.target_macs_ratio is None:
        return
    if spec.allocation == "latency":  # the MACs side of the allocation is analytic: check it now
        plan = plan_channels(model, g, {root: min(spec.max_ratio, 1.0 - 1.0 / grp["size"])
                                        for root, grp in g.prunable().items()}, spec.criterion, spec.round_to)
        left = planned_macs(model, g, plan) / count_macs(model)
        if left > spec.target_macs_ratio:
            raise UserInputError(f"{where}.target_macs_ratio: {spec.target_macs_ratio} is out of reach with "
                                 f"max_ratio {spec.max_ratio} (it leaves {left:.3f} of the MACs); raise max_ratio "
                                 "or the target")
    else:
        ratio_for_macs(model, g, spec.target_macs_ratio, spec.criterion, spec.round_to, where)


def check_recipe(recipe, model) -> None:
    """Run `check_model` for every prune_channels step of the recipe (build stage calls this)."""
    from ..tasks import task_for

    for i, step in enumerate(recipe.optimize):
        spec = getattr(step, "prune_channels", None)
        if spec is not None:
            check_model(model, spec, f"optimize[{i}].prune_channels", task_for(recipe).distils_from_given_model)


def _fit_from_teacher(ctx, student, teacher, epochs: int, learning_rate: float, label: str) -> dict:
    """Distil `student` from `teacher` (the unpruned model) with the recipe's teacher settings, or
    Hinton's defaults (T 4, alpha 0.1, beta 0.9) when the recipe has no teacher."""
    from types import SimpleNamespace

    from ..fit import fit_model

    ts = ctx.recipe.teacher
    settings = SimpleNamespace(temperature=ts.temperature if ts else 4.0, alpha=ts.alpha if ts else 0.1,
                               beta=ts.beta if ts else 0.9, hints=[])
    return fit_model(ctx, student, epochs, learning_rate, label, teacher=(teacher, settings))


def optimize_step(ctx, model, spec, where: str, index: int, history):
    """The `prune_channels` technique for optimize/: plan, rebuild, fine-tune; returns (model, info)."""
    from ..fit import fit_model
    from ..tasks import task_for

    task = task_for(ctx.recipe)
    t0 = time.monotonic()
    g = analyse(model)
    info: dict = {"criterion": spec.criterion}
    measure = spec.target_latency_ratio is not None or spec.allocation == "latency" or spec.measure_latency
    calibration = None
    if measure:
        calibration = task.calibration_images(ctx)[:32]  # latency does not depend on calibration quality
    b = ctx.recipe.benchmark
    bench = {"threads": 1, "runs": b.runs, "warmup": b.warmup, "warmup_min_s": b.warmup_min_s}
    if spec.ratios is not None:
        by_group = group_ratios(g, None, spec.ratios, where)
    else:
        ratio = spec.ratio
        if spec.target_macs_ratio is not None and spec.allocation == "latency":
            by_group, search = ratios_by_latency(model, g, spec.target_macs_ratio, calibration, spec.criterion,
                                                 spec.round_to, spec.max_ratio, where=where, log=ctx.log,
                                                 **bench)
            info.update({"allocation": "latency", "latency_search": search})
        elif spec.target_macs_ratio is not None:
            ratio = ratio_for_macs(model, g, spec.target_macs_ratio, spec.criterion, spec.round_to, where)
            info["chosen_ratio"] = ratio
        elif spec.target_latency_ratio is not None:
            ratio, search = ratio_for_latency(model, g, spec.target_latency_ratio, calibration, spec.criterion,
                                              spec.round_to, where=where, log=ctx.log, **bench)
            info.update({"chosen_ratio": ratio, "latency_search": search})
        if "allocation" not in info:
            by_group = group_ratios(g, ratio, None, where, clamp=ratio != spec.ratio)
    plan = plan_channels(model, g, by_group, spec.criterion, spec.round_to)
    pruned = apply_plan(model, g, plan)
    info.update(size_report(model, pruned, plan))
    info["macs_ratio"] = info["macs_after"] / max(1, info["macs_before"])
    info["accuracy_before"] = task.test_accuracy(ctx, model)
    info["accuracy_pruned_as_cut"] = task.test_accuracy(ctx, pruned)
    if spec.bn_recalibration_steps:
        info["bn_recalibrated_layers"] = recalibrate_batchnorm(
            pruned, task.calibration_images(ctx), spec.bn_recalibration_steps, ctx.recipe.data.batch_size,
            ctx.recipe.seed)
    info["accuracy_pruned_before_fine_tune"] = task.test_accuracy(ctx, pruned)
    if measure:
        before = (info.get("latency_search") or {}).get("baseline_latency_ms_p50") or \
            int8_latency_ms(model, calibration, **bench)
        after = int8_latency_ms(pruned, calibration, **bench)
        info.update({"int8_latency_ms_p50_before": before, "int8_latency_ms_p50_after": after,
                     "latency_speedup": before / after if after else None,
                     "latency_note": "host int8, 1 thread, fresh process each; a shared host adds noise"})
    ctx.log(f"  prune_channels: MACs {info['macs_before']:,} -> {info['macs_after']:,} "
            f"({info['macs_ratio']:.3f}), params {info['params_before']:,} -> {info['params_after']:,}")
    lr = spec.learning_rate or ctx.recipe.train.learning_rate
    if spec.epochs > 0:
        if spec.distill_from_unpruned:
            _fit_from_teacher(ctx, pruned, model, spec.epochs, lr, f"optimize_{index}_prune_channels")
        else:
            fit_model(ctx, pruned, spec.epochs, lr, f"optimize_{index}_prune_channels")
    info["distilled_from_unpruned"] = bool(spec.distill_from_unpruned and spec.epochs > 0)
    info["plan_seconds"] = round(time.monotonic() - t0, 3)
    return pruned, info
