"""Detector losses as plain functions of (y_true, y_pred) (no custom layers: models save in safe mode).

Each output has its own loss (a list in output order: QAT renames output layers); both normalise by the number of positive anchors in the batch,
which each can count from its own target.
"""
from __future__ import annotations

from ... import compat


def _num_pos(tf, mask):
    return tf.maximum(tf.reduce_sum(mask), 1.0)


def multibox_losses(neg_pos_ratio: float):
    tf = compat.tf()  # here, not in the traced functions: compat touches os.environ

    def box_loss(y_true, y_pred):
        pos = y_true[..., 4]
        d = tf.abs(y_true[..., :4] - y_pred)
        per_anchor = tf.reduce_sum(tf.where(d < 1.0, 0.5 * d * d, d - 0.5), -1)  # smooth L1
        return tf.reduce_sum(per_anchor * pos) / _num_pos(tf, pos)

    def class_loss(y_true, y_pred):
        labels = tf.cast(y_true[..., 0], tf.int32)
        pos = tf.cast(labels > 0, tf.float32)
        neg = tf.cast(labels == 0, tf.float32)
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.maximum(labels, 0), logits=y_pred)
        # Hard negative mining: per image keep the `ratio * positives` most confident mistakes,
        # otherwise the thousands of easy background anchors drown the objects.
        n_neg = tf.minimum(tf.maximum(neg_pos_ratio * tf.reduce_sum(pos, 1), 4.0), tf.reduce_sum(neg, 1))
        neg_ce = ce * neg
        rank = tf.argsort(tf.argsort(neg_ce, axis=1, direction="DESCENDING"), axis=1)
        hard = tf.cast(tf.cast(rank, tf.float32) < n_neg[:, None], tf.float32) * neg
        return tf.reduce_sum(ce * (pos + hard)) / _num_pos(tf, pos)

    return [box_loss, class_loss]


def yolo_losses():
    tf = compat.tf()
    bce = tf.nn.sigmoid_cross_entropy_with_logits

    def box_loss(y_true, y_pred):
        # y_true: [ty, tx in 0..1 of the cell, th, tw as log(size / anchor), responsible flag]
        pos = y_true[..., 4]
        xy = tf.reduce_sum(bce(labels=y_true[..., :2], logits=y_pred[..., :2]), -1)
        wh = tf.reduce_sum(tf.square(y_true[..., 2:4] - y_pred[..., 2:4]), -1)
        return tf.reduce_sum((xy + wh) * pos) / _num_pos(tf, pos)

    def class_loss(y_true, y_pred):
        # y_true: [objectness, weight (0 = ignored: a near miss is not a negative), one-hot classes]
        obj, weight, cls = y_true[..., 0], y_true[..., 1], y_true[..., 2:]
        obj_loss = bce(labels=obj, logits=y_pred[..., 0]) * weight
        cls_loss = tf.reduce_sum(bce(labels=cls, logits=y_pred[..., 1:]), -1) * obj
        return (tf.reduce_sum(obj_loss) + tf.reduce_sum(cls_loss)) / _num_pos(tf, obj)

    return [box_loss, class_loss]
