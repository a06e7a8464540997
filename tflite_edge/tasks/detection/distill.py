"""Distillation for detectors: with a `teacher:`, every detection fit (train and each optimize
fine-tune) trains the student against frozen teacher detectors with the same raw output layout.

    loss = alpha * detection_loss(labels)
         + beta * sum_i w_i * [T^2 * cls_kd_i + box_weight * box_kd_i]

ssdlite:   cls_kd = KL(softmax(z_t / T) || softmax(z_s / T)), averaged over anchors;
tiny_yolo: cls_kd = binary KL of the objectness at T averaged over anchors, plus the binary KL of
           the class sigmoids weighted by the teacher's objectness;
box_kd:    smooth L1 between the student's and the teacher's box outputs (YOLO: sigmoid(ty, tx),
           th, tw), weighted per anchor by the teacher's foreground probability.

Teachers are found, trained or loaded by distill.teachers(): a `model:` teacher is built with its
own `detector:` (or the student's) and trained in the run first; a `path:` teacher is a saved
Keras detector. Both are checked against the student's output shapes before the student trains.

>>> cls_kd, box_kd = distill_terms("ssdlite", s_box, s_cls, t_box, t_cls, 4.0)  # doctest: +SKIP
"""
from __future__ import annotations

from ... import compat
from ...errors import UserInputError
from .model import build_detector, detector_for


# ---------------------------------------------------------------- the loss
def _smooth_l1(tf, d):
    d = tf.abs(d)
    return tf.reduce_sum(tf.where(d < 1.0, 0.5 * d * d, d - 0.5), -1)


def _binary_kl(tf, t_logits, s_logits):
    """KL(Bernoulli(sigmoid(t)) || Bernoulli(sigmoid(s))) = BCE(p_t, s) - H(p_t), elementwise."""
    p_t = tf.sigmoid(t_logits)
    bce = tf.nn.sigmoid_cross_entropy_with_logits
    return bce(labels=p_t, logits=s_logits) - bce(labels=p_t, logits=t_logits)


def distill_terms(kind: str, s_box, s_cls, t_box, t_cls, temperature: float):
    """(cls_kd, box_kd) scalars for raw detector outputs (B, N, 4) and (B, N, K) of `kind`."""
    tf = compat.tf()
    T = float(temperature)
    if kind == "ssdlite":
        p_t = tf.nn.softmax(t_cls / T)
        kl = tf.reduce_sum(p_t * (tf.math.log(tf.maximum(p_t, 1e-12)) - tf.nn.log_softmax(s_cls / T)), -1)
        cls_kd = tf.reduce_mean(kl)
        fg = 1.0 - tf.nn.softmax(t_cls)[..., 0]  # column 0 is background
        s_b, t_b = s_box, t_box
    elif kind == "tiny_yolo":
        fg = tf.sigmoid(t_cls[..., 0])  # objectness
        obj_kd = tf.reduce_mean(_binary_kl(tf, t_cls[..., 0] / T, s_cls[..., 0] / T))
        # class sigmoids only mean something where there is an object (as in the YOLO loss)
        per_class = tf.reduce_sum(_binary_kl(tf, t_cls[..., 1:] / T, s_cls[..., 1:] / T), -1)
        cls_kd = obj_kd + tf.reduce_sum(fg * per_class) / tf.maximum(tf.reduce_sum(fg), 1.0)
        s_b = tf.concat([tf.sigmoid(s_box[..., :2]), s_box[..., 2:]], -1)
        t_b = tf.concat([tf.sigmoid(t_box[..., :2]), t_box[..., 2:]], -1)
    else:
        raise UserInputError(f"teacher: distillation does not know detector '{kind}'; "
                             "use ssdlite or tiny_yolo, or remove teacher:")
    # Weighted by the teacher's foreground probability: on background anchors the teacher's box
    # output is an untrained guess (no box loss ever reached it), and those anchors outnumber the
    # objects by hundreds to one, so unweighted they would drown the boxes worth copying.
    fg = tf.stop_gradient(fg)
    box_kd = tf.reduce_sum(fg * _smooth_l1(tf, s_b - t_b)) / tf.maximum(tf.reduce_sum(fg), 1.0)
    return cls_kd, box_kd


def _distiller_class():
    keras, tf = compat.keras(), compat.tf()

    class DetectionDistiller(keras.Model):
        """Trains `student` against frozen teacher detectors; saves as the student (ModelCheckpoint)."""

        def __init__(self, student, teacher_models, teacher_weights, det_losses, kind: str, spec):
            super().__init__()
            self.student, self.teacher_models, self.teacher_weights = student, teacher_models, teacher_weights
            self.det_losses, self.kind, self.spec = det_losses, kind, spec
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.det_tracker = keras.metrics.Mean(name="det_loss")
            self.cls_tracker = keras.metrics.Mean(name="kd_cls_loss")
            self.box_tracker = keras.metrics.Mean(name="kd_box_loss")

        @property
        def metrics(self):
            return [self.loss_tracker, self.det_tracker, self.cls_tracker, self.box_tracker]

        def call(self, x, training=False):
            return self.student(x, training=training)

        def save(self, *args, **kwargs):  # a checkpoint of a distilled fit is the student
            return self.student.save(*args, **kwargs)

        def _det_loss(self, y, outs):
            box_loss, class_loss = self.det_losses
            return box_loss(y[0], outs[0]) + class_loss(y[1], outs[1])

        def train_step(self, data):
            x, y = data
            s, T = self.spec, float(self.spec.temperature)
            t_outs = [[tf.stop_gradient(o) for o in t(x, training=False)] for t in self.teacher_models]
            with tf.GradientTape() as tape:
                outs = self.student(x, training=True)
                det = self._det_loss(y, outs)
                cls_kd, box_kd = 0.0, 0.0
                for (t_box, t_cls), w in zip(t_outs, self.teacher_weights):
                    c, b = distill_terms(self.kind, outs[0], outs[1], t_box, t_cls, T)
                    cls_kd += w * c
                    box_kd += w * b
                total = s.alpha * det + s.beta * (T * T * cls_kd + s.box_weight * box_kd)
                if self.student.losses:
                    total += tf.add_n(self.student.losses)
            variables = self.student.trainable_variables
            grads = tape.gradient(total, variables)
            self.optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables) if g is not None])
            for tracker, value in ((self.loss_tracker, total), (self.det_tracker, det),
                                   (self.cls_tracker, cls_kd), (self.box_tracker, box_kd)):
                tracker.update_state(value)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            # val_loss is the plain detection loss, comparable with a fit without a teacher.
            x, y = data
            self.loss_tracker.update_state(self._det_loss(y, self.student(x, training=False)))
            return {"loss": self.loss_tracker.result()}

    return DetectionDistiller


def make_distiller(ctx, model, recipe):
    """The student `model` wrapped to train against the recipe's teachers (fit.fit_model compiles it)."""
    from ...distill import teachers

    teacher_list = teachers(ctx)
    det = detector_for(recipe, ctx.input_spec, ctx.dataset.num_classes)
    return _distiller_class()(model, [t for t, _ in teacher_list], [w for _, w in teacher_list],
                              det.losses(), recipe.detector.name, recipe.teacher)


# ---------------------------------------------------------------- teachers (called by distill.teachers)
def _expected_outputs(ctx, num_classes: int) -> list:
    n = len(detector_for(ctx.recipe, ctx.input_spec, num_classes).anchors())
    return [(None, n, 4), (None, n, num_classes + 1)]


def check_teacher(model, where: str, ctx, num_classes: int):
    """The teacher's input and raw outputs must be the student's: the loss compares anchor by anchor."""
    from ...models.detection import DETECTORS

    student = ctx.recipe.detector.name
    kind = next((k for k in DETECTORS if model.name.startswith(f"{k}_")), None)  # build_detector's naming
    if kind is not None and kind != student:
        raise UserInputError(f"{where}: a '{kind}' teacher cannot teach a '{student}' student (their outputs "
                             f"mean different things); give a {student} teacher")
    in_shape = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    if in_shape != tuple(ctx.input_spec.shape):
        raise UserInputError(f"{where}: the teacher takes input {in_shape}, the student {tuple(ctx.input_spec.shape)}; "
                             "give a teacher built for the same input size")
    out = [tuple(s) for s in model.output_shape] if isinstance(model.output_shape, list) else [model.output_shape]
    want = _expected_outputs(ctx, num_classes)
    if out != want:
        raise UserInputError(f"{where}: the teacher outputs {out}, the student {want} (box_encodings, "
                             f"class_logits: {want[0][1]} anchors, {num_classes} classes + 1); give a teacher "
                             "with the same detector anchors (feature_maps, scales, aspect ratios), input size "
                             "and classes")


def load_path_teacher(ctx, i: int, source, num_classes: int):
    from ...distill import load_path_teacher as load

    return load(ctx, i, source, num_classes, check=check_teacher)


def teacher_recipe(recipe, source):
    """The recipe a `model:` teacher is built and trained with: its backbone and detector, no teacher."""
    train = recipe.train.model_copy(update={"epochs": recipe.train.epochs if source.epochs is None
                                            else source.epochs})
    return recipe.model_copy(update={"model": source.model, "detector": source.detector or recipe.detector,
                                     "teacher": None, "train": train, "optimize": []})


def train_teacher(ctx, i: int, source, num_classes: int):
    from ...distill import teacher_meta, train_teacher as train

    t_recipe = teacher_recipe(ctx.recipe, source)

    def build():
        model = build_detector(t_recipe, ctx.input_spec, num_classes)
        check_teacher(model, f"teacher.sources[{i}]", ctx, num_classes)
        return model

    return train(ctx, i, {**teacher_meta(ctx, source), "detector": t_recipe.detector.model_dump(mode="json")},
                 t_recipe, build, f"{t_recipe.detector.name} on {source.model.name} (width {source.model.width})")


def summary(ctx) -> dict:
    """What report.json says about the distillation: settings and each teacher's mAP on the test split."""
    from ...distill import teachers
    from .evaluate import keras_detections
    from .metrics import coco_map

    spec, d, r = ctx.recipe.teacher, ctx.dataset, ctx.recipe
    out = []
    for i, (src, (model, weight)) in enumerate(zip(spec.sources, teachers(ctx))):
        t_recipe = teacher_recipe(r, src) if src.model is not None else r
        det = detector_for(t_recipe, ctx.input_spec, d.num_classes)
        scores = coco_map(d.test, keras_detections(model, det, d.test, ctx.input_spec, t_recipe.detector),
                          d.num_classes)
        entry = {"index": i, "weight": weight, "params": int(model.count_params()), **scores}
        if src.model is not None:
            entry.update(source="trained_in_run", model=src.model.name, width=src.model.width,
                         detector=t_recipe.detector.name, epochs=t_recipe.train.epochs,
                         checkpoint=f"checkpoints/teacher_{i}.keras")
        elif src.recipe is not None:
            entry.update(source="recipe", recipe=src.recipe, model=model.name)
        else:
            entry.update(source="path", path=src.path, model=model.name)
        ctx.log(f"  teacher {i}: mAP {scores['map']:.4f}, mAP@.5 {scores['map50']:.4f}")
        out.append(entry)
    return {"temperature": spec.temperature, "alpha": spec.alpha, "beta": spec.beta,
            "box_weight": spec.box_weight, "teachers": out}
