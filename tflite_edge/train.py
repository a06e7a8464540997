"""Stage `train`: the built model fitted with the one fit (fit.py), distilled when a teacher is given."""
from __future__ import annotations

from . import compat
from .fit import fit_model
from .model_io import fresh_copy


def train(ctx) -> dict:
    from .tasks import task_for

    keras = compat.keras()
    keras.utils.set_random_seed(ctx.recipe.seed)
    model = ctx.load_model(ctx.outputs("build")["model"])
    ckpt = keras.callbacks.ModelCheckpoint(str(ctx.path("checkpoints/train_last_epoch.keras")))
    strategy = getattr(ctx, "strategy", None)
    if strategy is None:
        history = fit_model(ctx, model, ctx.recipe.train.epochs, ctx.recipe.train.learning_rate, "train", [ckpt])
    else:
        with strategy.scope():  # variables made here are mirrored; compile and fit follow the model
            model = fresh_copy(model)
            history = fit_model(ctx, model, ctx.recipe.train.epochs, ctx.recipe.train.learning_rate,
                                "train", [ckpt])
        model = fresh_copy(model)  # plain variables again: optimize wraps and clones this model
    rel = ctx.save_model(model, "checkpoints/trained.keras")
    out = {"model": rel, "epochs_run": len(history.get("loss", [])), "history": history}
    if ctx.recipe.teacher is not None:  # teachers and their accuracy / mAP, for the report
        out["distillation"] = task_for(ctx.recipe).distillation_summary(ctx)
    if strategy is not None:
        out["replicas"] = int(strategy.num_replicas_in_sync)
    return out
