"""Stage `train`: the built model fitted with the one fit (fit.py), distilled when a teacher is given."""
from __future__ import annotations

from . import compat
from .fit import fit_model
from .model_io import fresh_copy


def head_start(model, side_head=lambda layer: False) -> int:
    """Index of the first head layer: the global pooling before the classes (ours: "pool"), else
    the last Dense layer; everything before it is the backbone that transfer learning freezes.
    `side_head` tells the layers of other heads (the task's `is_side_head_layer`), never counted."""
    keras = compat.keras()
    L = keras.layers
    layers = [(i, layer) for i, layer in enumerate(model.layers) if not side_head(layer)]
    pools = [i for i, layer in layers if isinstance(layer, (L.GlobalAveragePooling2D, L.GlobalMaxPooling2D))]
    if pools:
        return pools[-1]
    dense = [i for i, layer in layers if isinstance(layer, L.Dense)]
    return dense[-1] if dense else len(model.layers)


def fit_transfer(ctx, model, label: str, callbacks) -> dict:
    """The Keras transfer-learning recipe: the head alone first (backbone frozen; a frozen BatchNorm
    runs in inference mode, so its statistics stay the pretrained ones), then everything at the
    lower fine-tune rate. The frozen epochs count in train.epochs."""
    from .tasks import task_for

    t = ctx.recipe.train
    side_head = task_for(ctx.recipe).is_side_head_layer
    backbone = [layer for layer in model.layers[:head_start(model, side_head)] if not side_head(layer)]
    for layer in backbone:
        layer.trainable = False
    ctx.log(f"  transfer: {len(backbone)} backbone layers frozen for {t.freeze_backbone_epochs} epoch(s)")
    head = fit_model(ctx, model, t.freeze_backbone_epochs, t.learning_rate, f"{label}_head", callbacks)
    for layer in backbone:
        layer.trainable = True
    rest = t.epochs - t.freeze_backbone_epochs
    rate = t.fine_tune_learning_rate or t.learning_rate / 10
    tail = fit_model(ctx, model, rest, rate, f"{label}_fine_tune", callbacks)
    return {k: head.get(k, []) + tail.get(k, []) for k in {**head, **tail}}


def _fit(ctx, model, callbacks) -> dict:
    t = ctx.recipe.train
    if t.freeze_backbone_epochs:
        return fit_transfer(ctx, model, "train", callbacks)
    return fit_model(ctx, model, t.epochs, t.learning_rate, "train", callbacks)


def train(ctx) -> dict:
    from .tasks import task_for

    keras = compat.keras()
    keras.utils.set_random_seed(ctx.recipe.seed)
    model = ctx.load_model(ctx.outputs("build")["model"])
    ckpt = keras.callbacks.ModelCheckpoint(str(ctx.path("checkpoints/train_last_epoch.keras")))
    strategy = getattr(ctx, "strategy", None)
    if strategy is None:
        history = _fit(ctx, model, [ckpt])
    else:
        with strategy.scope():  # variables made here are mirrored; compile and fit follow the model
            model = fresh_copy(model)
            history = _fit(ctx, model, [ckpt])
        model = fresh_copy(model)  # plain variables again: optimize wraps and clones this model
    rel = ctx.save_model(model, "checkpoints/trained.keras")
    out = {"model": rel, "epochs_run": len(history.get("loss", [])), "history": history}
    if ctx.recipe.teacher is not None:  # teachers and their accuracy / mAP, for the report
        out["distillation"] = task_for(ctx.recipe).distillation_summary(ctx)
    if strategy is not None:
        out["replicas"] = int(strategy.num_replicas_in_sync)
    return out
