"""tf.data pipelines driven by the model's InputSpec: one preprocessing for train, calibration, eval."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .. import compat
from ..errors import UserInputError


def _decode_file(path, channels: int):
    tf = compat.tf()
    img = tf.io.decode_image(tf.io.read_file(path), channels=channels, expand_animations=False)
    img.set_shape([None, None, channels])
    return img


def preprocess(images, input_spec, native_channels: int):
    """uint8 images (N,H,W,C) -> float32 normalised at the model's size and channel count."""
    tf = compat.tf()
    x = tf.cast(images, tf.float32)
    if native_channels == 1 and input_spec.channels == 3:
        x = tf.image.grayscale_to_rgb(x)
    elif native_channels == 3 and input_spec.channels == 1:
        x = tf.image.rgb_to_grayscale(x)
    if x.shape[1] != input_spec.height or x.shape[2] != input_spec.width:
        x = tf.image.resize(x, (input_spec.height, input_spec.width), method="bilinear")
    return (x - input_spec.mean) / input_spec.std


def _augment(x, augment, seed):
    """Light, label-preserving augmentation on a normalised batch."""
    tf = compat.tf()
    if augment.flip:
        x = tf.image.random_flip_left_right(x, seed=seed)
    if augment.translate > 0:
        h, w = x.shape[1], x.shape[2]
        pad_h, pad_w = int(round(h * augment.translate)), int(round(w * augment.translate))
        if pad_h or pad_w:
            # Pad with the edge pixels (REFLECT keeps the background), then crop back at random.
            padded = tf.pad(x, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]], mode="REFLECT") \
                if pad_h < h and pad_w < w else x
            x = tf.image.random_crop(padded, tf.shape(x), seed=seed)
    return x


def make_dataset(x, y, dataset, input_spec, batch_size: int, training: bool, augment=None, seed: int = 0):
    """A batched tf.data.Dataset of (normalised images, labels)."""
    tf = compat.tf()
    # Plain Python on static shapes: no AutoGraph conversion needed (it only warns about compat).
    plain = tf.autograph.experimental.do_not_convert
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        ds = ds.shuffle(min(len(y), 10000), seed=seed, reshuffle_each_iteration=True)
    if dataset.from_files:
        ch = dataset.channels
        size = (input_spec.height, input_spec.width)
        # Resize per image (images differ in size) before batching.
        ds = ds.map(plain(lambda p, l: (tf.image.resize(tf.cast(_decode_file(p, ch), tf.float32), size), l)),
                    num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size)
    native = dataset.channels
    ds = ds.map(plain(lambda im, l: (preprocess(im, input_spec, native), l)), num_parallel_calls=tf.data.AUTOTUNE)
    if training and augment is not None:
        ds = ds.map(plain(lambda im, l: (_augment(im, augment, seed), l)), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def numpy_batches(x, dataset, input_spec, batch_size: int = 64) -> Iterator[np.ndarray]:
    """Preprocessed float32 batches as numpy, in order (for calibration and TFLite evaluation)."""
    ds = make_dataset(x, np.zeros(len(x), np.int64), dataset, input_spec, batch_size, training=False)
    try:
        for images, _ in ds:
            yield images.numpy()
    except compat.tf().errors.InvalidArgumentError as e:
        raise UserInputError(f"an image could not be decoded ({e.message.splitlines()[0]}); "
                             "remove or re-save the file") from None


def split_validation(x, y, fraction: float, seed: int):
    """Hold out a seeded random `fraction` of the training split for validation."""
    if fraction <= 0 or len(y) < 10:
        return (x, y), None
    order = np.random.default_rng([seed, 3]).permutation(len(y))
    n_val = max(1, int(round(len(y) * fraction)))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def held_out(dataset, recipe):
    """(images, labels) the fits hold out for validation (`split_validation`), or None."""
    return split_validation(dataset.train_x, dataset.train_y, recipe.data.validation_fraction, recipe.seed)[1]
