"""The one fit: training, every optimize fine-tune, channel pruning, teachers, for every task.

The task supplies data, loss and (in distillation mode) the distiller; this module supplies what
every fit shares: the optimizer and its schedule, progress, TensorBoard and early stopping. With a
`teacher:` in the recipe every fit distils; `teacher=` distils from a model the caller gives.

>>> history = fit_model(ctx, model, epochs=2, learning_rate=1e-3, label="train")   # doctest: +SKIP
"""
from __future__ import annotations

import numpy as np

from . import compat


def make_optimizer(name: str, learning_rate, schedule: str = "constant", total_steps: int = 0):
    """A fresh Keras optimizer; `schedule: cosine` decays to zero over `total_steps`."""
    keras = compat.keras()
    opt = keras.optimizers
    lr = learning_rate
    if schedule == "cosine" and total_steps > 0:
        lr = opt.schedules.CosineDecay(learning_rate, decay_steps=total_steps)
    return {"adam": lambda: opt.Adam(lr), "sgd": lambda: opt.SGD(lr, momentum=0.9),
            "rmsprop": lambda: opt.RMSprop(lr)}[name]()


def history_dict(hist) -> dict:
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}


def fit_model(ctx, model, epochs: int, learning_rate: float, label: str, extra_callbacks=(), recipe=None,
              teacher=None, validate: bool = True) -> dict:
    """Fit `model` in place on the run's data; returns the Keras history dict.

    `recipe` (default: the run's) sets data, optimizer and teachers: a teacher is trained with its
    own. `teacher` is a (model, settings) pair to distil from instead of the recipe's teachers.
    `validate=False`: no validation pass nor early stopping (a search trial scores the model itself)."""
    from .progress import epoch_progress
    from .tasks import task_for

    recipe = recipe or ctx.recipe
    if epochs <= 0:
        return {}
    keras, t, task = compat.keras(), recipe.train, task_for(recipe)
    data = task.fit_data(ctx, recipe)
    val = data.val if validate else None
    callbacks = [epoch_progress(epochs, label), *extra_callbacks]
    if t.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(ctx.path(f"logs/{label}")),
                                                     write_graph=False, profile_batch=0))
    if t.early_stopping and val is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=task.early_stopping_monitor(recipe),
                                                       patience=t.early_stopping.patience,
                                                       restore_best_weights=True))
    optimizer = make_optimizer(t.optimizer, learning_rate, t.schedule, epochs * max(data.steps_per_epoch, 0))
    trainer = task.trainer(ctx, model, recipe, optimizer, teacher)
    hist = trainer.fit(data.train, validation_data=val, epochs=epochs, callbacks=callbacks, verbose=0)
    return history_dict(hist)


def training_passes(model, images: np.ndarray, steps: int, batch_size: int, seed: int = 0):
    """`steps` forward passes of `model` in training mode on batches drawn from `images` (no weight
    update: what moves are the EMA statistics); returns the traced forward function."""
    forward = compat.tf().function(lambda x: model(x, training=True))
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        forward(images[rng.permutation(len(images))[:batch_size]])
    return forward
