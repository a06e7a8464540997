"""Classification data for a fit (tf.data, augmented, at the run's input spec), its loss and
metric, and calibration images for full-integer conversion."""
from __future__ import annotations

import numpy as np

from ... import compat
from ...data.pipeline import make_dataset, numpy_batches, split_validation
from ..base import FitData


def fit_data(ctx, recipe) -> FitData:
    """Training and validation batches; one-hot labels when the recipe smooths them."""
    d = ctx.dataset
    (tx, ty), val = split_validation(d.train_x, d.train_y, recipe.data.validation_fraction, recipe.seed)
    train_ds = make_dataset(tx, ty, d, ctx.input_spec, recipe.data.batch_size, training=True,
                            augment=recipe.data.augment, seed=recipe.seed)
    val_ds = make_dataset(*val, d, ctx.input_spec, recipe.data.batch_size, training=False) if val else None
    if recipe.train.steps_per_epoch:
        train_ds = train_ds.take(recipe.train.steps_per_epoch)
    if recipe.train.label_smoothing > 0:
        tf, n = compat.tf(), d.num_classes
        train_ds = train_ds.map(lambda x, y: (x, tf.one_hot(y, n)))
        val_ds = val_ds.map(lambda x, y: (x, tf.one_hot(y, n))) if val_ds is not None else None
    return FitData(train_ds, val_ds, max(1, int(train_ds.cardinality().numpy())))


def compile_classifier(model, recipe, optimizer) -> None:
    """Cross-entropy (label-smoothed when asked) and top-1 accuracy."""
    keras, t = compat.keras(), recipe.train
    if t.label_smoothing > 0:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=t.label_smoothing)
        metric = keras.metrics.CategoricalAccuracy(name="accuracy")
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric])


def calibration_images(ctx) -> np.ndarray:
    """The first `convert.calibration_samples` training images, preprocessed like evaluation."""
    d, n = ctx.dataset, ctx.recipe.convert.calibration_samples
    return np.concatenate(list(numpy_batches(d.train_x[:n], d, ctx.input_spec)))
