"""Stage `train`, and `fit_model`, the one fit used by training and every fine-tune.

With a `teacher:` in the recipe, every fit distils (distill.py); otherwise plain cross-entropy.
"""
from __future__ import annotations

from . import compat
from .data.pipeline import make_dataset, split_validation


def _optimizer(name: str, lr, schedule: str = "constant", total_steps: int = 0):
    keras = compat.keras()
    opt = keras.optimizers
    if schedule == "cosine" and total_steps > 0:
        lr = keras.optimizers.schedules.CosineDecay(lr, decay_steps=total_steps)
    return {"adam": lambda: opt.Adam(lr), "sgd": lambda: opt.SGD(lr, momentum=0.9),
            "rmsprop": lambda: opt.RMSprop(lr)}[name]()


def datasets(ctx):
    """(train_ds, val_ds or None) for the recipe's data, at the model's input spec."""
    r, d = ctx.recipe, ctx.dataset
    (tx, ty), val = split_validation(d.train_x, d.train_y, r.data.validation_fraction, r.seed)
    train_ds = make_dataset(tx, ty, d, ctx.input_spec, r.data.batch_size, training=True,
                            augment=r.data.augment, seed=r.seed)
    val_ds = make_dataset(*val, d, ctx.input_spec, r.data.batch_size, training=False) if val else None
    if r.train.steps_per_epoch:
        train_ds = train_ds.take(r.train.steps_per_epoch)
    if r.train.label_smoothing > 0:
        tf, n = compat.tf(), d.num_classes
        train_ds = train_ds.map(lambda x, y: (x, tf.one_hot(y, n)))
        val_ds = val_ds.map(lambda x, y: (x, tf.one_hot(y, n))) if val_ds is not None else None
    return train_ds, val_ds


def compile_model(ctx, model, learning_rate: float, total_steps: int = 0):
    keras, t = compat.keras(), ctx.recipe.train
    if t.label_smoothing > 0:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=t.label_smoothing)
        metric = keras.metrics.CategoricalAccuracy(name="accuracy")
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(optimizer=_optimizer(t.optimizer, learning_rate, t.schedule, total_steps), loss=loss,
                  metrics=[metric])


def fit_model(ctx, model, epochs: int, learning_rate: float, label: str, extra_callbacks=()):
    """Fit `model` in place on the recipe's data; returns the Keras history dict."""
    from .progress import epoch_progress

    if ctx.recipe.task == "detection":
        from .detect.stages import fit
        return fit(ctx, model, epochs, learning_rate, label, extra_callbacks)
    keras, t = compat.keras(), ctx.recipe.train
    if epochs <= 0:
        return {}
    train_ds, val_ds = datasets(ctx)
    callbacks = [epoch_progress(epochs, label), *extra_callbacks]
    if t.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(ctx.path(f"logs/{label}")),
                                                     write_graph=False, profile_batch=0))
    if t.early_stopping and val_ds is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=t.early_stopping.monitor,
                                                       patience=t.early_stopping.patience,
                                                       restore_best_weights=True))
    if ctx.recipe.teacher is not None:
        from .distill import fit_distilled

        return fit_distilled(ctx, model, train_ds, val_ds, epochs, learning_rate, callbacks)
    steps = int(train_ds.cardinality().numpy())
    compile_model(ctx, model, learning_rate, total_steps=epochs * max(steps, 0))
    hist = model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=0)
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def train(ctx) -> dict:
    keras = compat.keras()
    keras.utils.set_random_seed(ctx.recipe.seed)
    model = ctx.load_model(ctx.outputs("build")["model"])
    ckpt = keras.callbacks.ModelCheckpoint(str(ctx.path("checkpoints/train_last_epoch.keras")))
    strategy = getattr(ctx, "strategy", None)
    if strategy is None:
        history = fit_model(ctx, model, ctx.recipe.train.epochs, ctx.recipe.train.learning_rate, "train", [ckpt])
    else:
        from .optimize import fresh_copy

        with strategy.scope():  # variables made here are mirrored; compile and fit follow the model
            model = fresh_copy(model)
            history = fit_model(ctx, model, ctx.recipe.train.epochs, ctx.recipe.train.learning_rate,
                                "train", [ckpt])
        model = fresh_copy(model)  # plain variables again: optimize wraps and clones this model
    rel = ctx.save_model(model, "checkpoints/trained.keras")
    out = {"model": rel, "epochs_run": len(history.get("loss", [])), "history": history}
    if ctx.recipe.teacher is not None:  # teachers and their accuracy / mAP, for the report
        if ctx.recipe.task == "detection":
            from .detect.distill import summary
        else:
            from .distill import summary
        out["distillation"] = summary(ctx)
    if strategy is not None:
        out["replicas"] = int(strategy.num_replicas_in_sync)
    return out
