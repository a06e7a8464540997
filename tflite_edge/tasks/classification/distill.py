"""Knowledge distillation: a training mode used by every fit when the recipe has a `teacher:`.

    loss = alpha * CE(labels, softmax(z_s))
         + beta * T^2 * sum_i w_i * KL(softmax(z_t_i / T) || softmax(z_s / T))
         + sum_h weight_h * MSE(adapter_h(student_h), teacher_h)          (FitNets hints)

z_s is the student's "logits" layer (before the "probs" softmax; tfmot wrappers around it are
looked through), z_t the teacher's logits (its "logits" layer, the input of a final Softmax, or
log(probabilities) when the softmax is fused into the last layer: softmax(log p / T) equals
softmax(z / T) for any logits z of p). Teacher weights w_i are normalised to sum to 1. Hints read
`teacher.sources[0]` and pass the student's feature map through a fresh 1x1 adapter per fit.

Teachers given as `model:` are trained in the run first (plain cross-entropy) and saved as
checkpoints/teacher_N.keras with a .json beside it; a rerun reuses them while that JSON matches.
Teachers given as `path:` are loaded in safe mode (Lambda layers refused unless `trust_lambda`).
Every teacher is checked before any training starts. Detectors: tasks/detection/distill.py.

>>> history = fit_distilled(ctx, student, train_ds, val_ds, epochs=2, learning_rate=1e-3,
...                         callbacks=[])                           # doctest: +SKIP
"""
from __future__ import annotations

from ... import compat
from ...errors import UserInputError


def find_layer(model, name: str):
    """Layer `name`, or the tfmot wrapper around it (prune_low_magnitude_X, cluster_X, quant_X)."""
    for layer in model.layers:
        if layer.name == name or getattr(getattr(layer, "layer", None), "name", None) == name:
            return layer
    return None


def output_in(model, layer):
    """`layer`'s output in `model`'s own graph (model_io.node_index says why that matters)."""
    from ...model_io import node_index

    i = node_index(model, layer)
    return layer.output if i is None else layer.get_output_at(i)


def logits_tensor(model):
    """(symbolic logits tensor, from_probs): see the module docstring for the rules."""
    keras = compat.keras()
    layer = find_layer(model, "logits")
    if layer is not None:
        return output_in(model, layer), False
    last = model.layers[-1]
    inner = getattr(last, "layer", last)
    if isinstance(inner, keras.layers.Softmax):
        nodes = getattr(model, "_network_nodes", None)
        i = next((i for i in range(len(last.inbound_nodes)) if nodes and f"{last.name}_ib-{i}" in nodes), 0)
        return last.get_input_at(i), False
    act = getattr(inner, "activation", None)
    if act is not None and getattr(act, "__name__", "") == "softmax":
        return model.output, True
    return model.output, False


def check_teacher(model, where: str, ctx, num_classes: int):
    student_shape = tuple(ctx.input_spec.shape)
    in_shape = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    if in_shape != student_shape:
        raise UserInputError(f"{where}: the teacher takes input {in_shape}, the student {student_shape}; "
                             "give a teacher built for the same input size and channels")
    out = model.output_shape
    if isinstance(out, list) or out[-1] != num_classes or len(out) != 2:
        raise UserInputError(f"{where}: the teacher outputs shape {out}, the student (None, {num_classes}); "
                             "give a teacher trained on the same classes")


def teacher_recipe(recipe, source):
    """The recipe a `model:` teacher is trained with: the run's data and training, no teacher."""
    epochs = recipe.train.epochs if source.epochs is None else source.epochs
    return recipe.model_copy(update={"model": source.model, "teacher": None, "optimize": [], "adaptive": None,
                                     "train": recipe.train.model_copy(update={"epochs": epochs})})


def train_teacher(ctx, i: int, source, num_classes: int):
    from ...distill import teacher_meta, train_teacher as train
    from ...models import build_classifier

    return train(ctx, i, teacher_meta(ctx, source), teacher_recipe(ctx.recipe, source),
                 lambda: build_classifier(source.model, ctx.input_spec, num_classes),
                 f"{source.model.name} (width {source.model.width})")


def summary(ctx) -> dict:
    """What report.json says about the distillation: settings and each teacher's test accuracy (a
    student can only be judged against what its teacher knew)."""
    from ...distill import teacher_meta, teachers
    from .evaluate import test_accuracy

    spec = ctx.recipe.teacher
    out = []
    for i, (src, (model, weight)) in enumerate(zip(spec.sources, teachers(ctx))):
        entry = {"index": i, "weight": weight, "params": int(model.count_params()),
                 "accuracy": test_accuracy(ctx, model)}
        if src.model is not None:
            entry.update(source="trained_in_run", model=src.model.name, width=src.model.width,
                         epochs=teacher_meta(ctx, src)["epochs"], checkpoint=f"checkpoints/teacher_{i}.keras")
        elif src.recipe is not None:
            entry.update(source="recipe", recipe=src.recipe, model=model.name)
        else:
            entry.update(source="path", path=src.path, model=model.name)
        ctx.log(f"  teacher {i}: accuracy {entry['accuracy']:.4f}")
        out.append(entry)
    return {"temperature": spec.temperature, "alpha": spec.alpha, "beta": spec.beta,
            "hints": len(spec.hints), "teachers": out}


def check_hints(ctx, loaded: dict):
    """Hint layers must exist; checked on the teachers available so far (path ones before training)."""
    hints = ctx.recipe.teacher.hints
    if not hints or 0 not in loaded:
        return
    t0 = loaded[0]
    for j, h in enumerate(hints):
        if find_layer(t0, h.teacher_layer) is None:
            raise UserInputError(f"teacher.hints[{j}].teacher_layer: no layer '{h.teacher_layer}' in "
                                 f"teacher.sources[0]; layers include {[l.name for l in t0.layers[-6:]]}")


def distiller_class():
    keras, tf = compat.keras(), compat.tf()

    class Distiller(keras.Model):
        """Trains `student` against frozen teachers; saves as the student (for ModelCheckpoint)."""

        def __init__(self, student, student_view, teacher_views, teacher_weights, adapters, spec,
                     one_hot: bool, label_smoothing: float, exits=None, student_from_probs=False):
            super().__init__()
            self.student_from_probs = student_from_probs  # a user model whose last layer is the softmax
            # exits: (weights, temperature) of an adaptive model's early exits, whose logits the
            # student view returns last; None for a plain classifier
            self.exit_weights, self.exit_temperature = exits if exits else ((), 1.0)
            self.student, self.student_view = student, student_view
            self.teacher_views, self.teacher_weights = teacher_views, teacher_weights
            self.adapters, self.spec = adapters, spec
            self.one_hot, self.label_smoothing = one_hot, label_smoothing
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.kd_tracker = keras.metrics.Mean(name="kd_loss")
            self.ce_tracker = keras.metrics.Mean(name="ce_loss")
            accuracy = keras.metrics.CategoricalAccuracy if one_hot else keras.metrics.SparseCategoricalAccuracy
            self.acc = accuracy(name="accuracy")
            self.exit_accs = [accuracy(name=f"exit{i}_accuracy") for i in range(len(self.exit_weights))]

        @property
        def metrics(self):
            return [self.loss_tracker, self.ce_tracker, self.kd_tracker, self.acc, *self.exit_accs]

        def call(self, x, training=False):
            return self.student(x, training=training)

        def save(self, *args, **kwargs):  # a checkpoint of a distilled fit is the student
            return self.student.save(*args, **kwargs)

        def _logits(self, z):
            # softmax(log p) = p: log-probabilities stand in for logits the model does not expose
            return tf.math.log(tf.maximum(z, 1e-12)) if self.student_from_probs else z

        def _ce(self, y, logits):
            if self.one_hot:
                return tf.reduce_mean(keras.losses.categorical_crossentropy(
                    y, logits, from_logits=True, label_smoothing=self.label_smoothing))
            return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))

        def _teacher_outputs(self, x):
            outs = []
            for view, from_probs in self.teacher_views:
                o = view(x, training=False)
                o = o if isinstance(o, (list, tuple)) else [o]
                logits = tf.math.log(tf.maximum(o[0], 1e-12)) if from_probs else o[0]
                outs.append([tf.stop_gradient(logits)] + [tf.stop_gradient(t) for t in o[1:]])
            return outs

        def _loss(self, x, y, training: bool):
            s = self.spec
            t_outs = self._teacher_outputs(x)
            s_out = self.student_view(x, training=training)
            s_out = s_out if isinstance(s_out, (list, tuple)) else [s_out]
            z_s = self._logits(s_out[0])
            ce = self._ce(y, z_s)
            T = float(s.temperature) if s is not None else 1.0
            log_p_s = tf.nn.log_softmax(z_s / T)
            kd = 0.0
            for (t, w) in zip(t_outs, self.teacher_weights):
                p_t = tf.nn.softmax(t[0] / T)
                kl = tf.reduce_sum(p_t * (tf.math.log(tf.maximum(p_t, 1e-12)) - log_p_s), axis=-1)
                kd += w * tf.reduce_mean(kl)
            hint = 0.0
            for j, (h, adapter) in enumerate(zip(s.hints if s is not None else (), self.adapters)):
                hint += h.weight * tf.reduce_mean(tf.square(adapter(s_out[1 + j]) - t_outs[0][1 + j]))
            total = (s.alpha * ce + s.beta * T * T * kd + hint) if s is not None else ce
            z_exits = s_out[len(s_out) - len(self.exit_weights):] if self.exit_weights else []
            total += self._exits_loss(y, z_s, z_exits)
            return total, ce, kd, z_s, z_exits

        def _exits_loss(self, y, z_s, z_exits):
            """Each exit: its weight times cross-entropy; with teachers, mixed like the final head's
            loss with the final head's soft targets (the exits learn from the head above them)."""
            s, loss = self.spec, 0.0
            Te = float(self.exit_temperature)
            p_final = tf.stop_gradient(tf.nn.softmax(z_s / Te))
            for w, z in zip(self.exit_weights, z_exits):
                ce = self._ce(y, z)
                if s is None:
                    loss += w * ce
                    continue
                kl = tf.reduce_sum(p_final * (tf.math.log(tf.maximum(p_final, 1e-12)) -
                                              tf.nn.log_softmax(z / Te)), axis=-1)
                loss += w * (s.alpha * ce + s.beta * Te * Te * tf.reduce_mean(kl))
            return loss

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                total, ce, kd, z_s, z_exits = self._loss(x, y, True)
                reg = tf.add_n(self.student.losses) if self.student.losses else 0.0
                total = total + reg
            variables = self.student.trainable_variables + [v for a in self.adapters
                                                            for v in a.trainable_variables]
            grads = tape.gradient(total, variables)
            self.optimizer.apply_gradients(
                [(g, v) for g, v in zip(grads, variables) if g is not None])
            self.loss_tracker.update_state(total)
            self.ce_tracker.update_state(ce)
            self.kd_tracker.update_state(kd)
            self.acc.update_state(y, tf.nn.softmax(z_s))
            for acc, z in zip(self.exit_accs, z_exits):
                acc.update_state(y, tf.nn.softmax(z))
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            # val_loss is the plain cross-entropy, comparable with a fit without a teacher.
            x, y = data
            out = self.student_view(x, training=False)
            out = out if isinstance(out, (list, tuple)) else [out]
            z_s = self._logits(out[0])
            ce = self._ce(y, z_s)
            self.loss_tracker.update_state(ce)
            self.acc.update_state(y, tf.nn.softmax(z_s))
            for acc, z in zip(self.exit_accs, out[len(out) - len(self.exit_accs):] if self.exit_accs else []):
                acc.update_state(y, tf.nn.softmax(z))
            return {"loss": self.loss_tracker.result(), "accuracy": self.acc.result(),
                    **{a.name: a.result() for a in self.exit_accs}}

    return Distiller


def _adapter(student_shape, teacher_shape, j: int):
    keras = compat.keras()
    if len(student_shape) != len(teacher_shape) or tuple(student_shape[1:-1]) != tuple(teacher_shape[1:-1]):
        raise UserInputError(f"teacher.hints[{j}]: student feature map {tuple(student_shape)} and teacher "
                             f"{tuple(teacher_shape)} differ in spatial size; pick layers at the same stride")
    if len(student_shape) == 4:
        return keras.layers.Conv2D(teacher_shape[-1], 1, name=f"hint_adapter_{j}")
    return keras.layers.Dense(teacher_shape[-1], name=f"hint_adapter_{j}")


def make_distiller(ctx, model, recipe, teacher=None):
    """The student `model` wrapped to train against teachers (fit.fit_model compiles and fits it).

    `teacher` None: the recipe's teachers and settings (with hints); else a (model, settings) pair
    with settings.temperature/alpha/beta and no hints (channel pruning's unpruned model)."""
    from .adaptive.exits import exit_logits, final_model
    from ...distill import teachers

    keras = compat.keras()
    if teacher is not None:
        spec, teacher_list = teacher[1], [(teacher[0], 1.0)]
        teacher[0].trainable = False
    elif recipe.teacher is not None:
        spec, teacher_list = recipe.teacher, teachers(ctx)
    else:  # adaptive without a teacher: the joint loss of the final head and the exits only
        spec, teacher_list = None, []
    z_s, student_from_probs = logits_tensor(final_model(model))
    if find_layer(model, "logits") is None and teacher is None and recipe.teacher is not None:
        raise UserInputError("teacher: the student has no layer named 'logits'; distillation needs the "
                             "classifier built by tflite-edge (models/classifier.py)")
    s_feats, t_feats = [], []
    for j, h in enumerate(spec.hints if spec is not None else ()):
        sl = find_layer(model, h.student_layer)
        if sl is None:
            raise UserInputError(f"teacher.hints[{j}].student_layer: no layer '{h.student_layer}' in the "
                                 f"student; e.g. {[l.name for l in model.layers[1:6]]}")
        s_feats.append(output_in(model, sl))
        t0 = teacher_list[0][0]
        t_feats.append(output_in(t0, find_layer(t0, h.teacher_layer)))
    z_exits = exit_logits(model, lambda layer: output_in(model, layer)) if recipe.adaptive is not None else []
    outs = [z_s, *s_feats, *z_exits]
    student_view = keras.Model(model.inputs, outs if len(outs) > 1 else z_s)
    views = []
    for k, (t, _) in enumerate(teacher_list):
        z_t, from_probs = logits_tensor(t)
        outs = [z_t, *t_feats] if k == 0 and t_feats else [z_t]
        views.append((keras.Model(t.inputs, outs if len(outs) > 1 else outs[0]), from_probs))
    adapters = [_adapter(s.shape, t.shape, j) for j, (s, t) in enumerate(zip(s_feats, t_feats))]
    for a, s in zip(adapters, s_feats):
        a.build(s.shape)  # variables made here, not inside the traced train step
    smoothing = recipe.train.label_smoothing
    exits = None
    if recipe.adaptive is not None:
        exits = ([e.loss_weight for e in recipe.adaptive.exits], recipe.adaptive.temperature)
    return distiller_class()(model, student_view, views, [w for _, w in teacher_list], adapters,
                             spec, smoothing > 0, smoothing, exits, student_from_probs)
