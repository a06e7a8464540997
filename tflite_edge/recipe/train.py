"""`train:` and `teacher:` (distillation is a training mode, not a stage)."""
from __future__ import annotations

from typing import List, Literal, Optional

from pydantic import Field, model_validator

from .base import Spec
from .model import DetectorSpec, ModelSpec


class EarlyStopping(Spec):
    patience: int = Field(3, ge=1)
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"


class TrainSpec(Spec):
    epochs: int = Field(10, ge=0)
    learning_rate: float = Field(1e-3, gt=0.0, lt=10.0)
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    schedule: Literal["constant", "cosine"] = Field("constant", description="cosine: decay to 0 over the fit")
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    steps_per_epoch: Optional[int] = Field(None, ge=1, description="cap steps (tests, smoke runs)")
    early_stopping: Optional[EarlyStopping] = None
    freeze_backbone_epochs: int = Field(0, ge=0, description="transfer learning: the first N of `epochs` "
                                        "train the head only (backbone frozen, BatchNorm in inference "
                                        "mode), the rest fine-tune everything at fine_tune_learning_rate")
    fine_tune_learning_rate: Optional[float] = Field(None, gt=0.0, lt=10.0, description="after the frozen "
                                                     "epochs; null: learning_rate / 10")
    tensorboard: bool = True
    strategy: Optional[Literal["mirrored", "multi_worker"]] = Field(
        None, description="tf.distribute: mirrored (GPUs of this host), multi_worker (hosts in "
        "TF_CONFIG); null: one device. data.batch_size is the global batch")
    deterministic: bool = Field(True, description="bit-identical reruns on CPU for a seed; turn off "
                                "on GPUs whose kernels lack a deterministic version")


class HintSpec(Spec):
    student_layer: str
    teacher_layer: str
    weight: float = Field(1.0, gt=0.0)


class TeacherSource(Spec):
    """A teacher: a model spec trained in the run first, a saved Keras model (safe mode), or the
    trained model of another recipe (run or resumed in its own run directory)."""

    model: Optional[ModelSpec] = None
    path: Optional[str] = None
    recipe: Optional[str] = Field(None, description="a recipe file: it runs (or resumes) up to its train "
                                  "stage in runs/NAME beside this run, and its trained model teaches")
    detector: Optional[DetectorSpec] = Field(None, description="task: detection, with `model`: the "
                                             "teacher's head (same anchors as the student's); null: the "
                                             "student's detector")
    epochs: Optional[int] = Field(None, ge=0, description="for `model`: null uses train.epochs")
    weight: float = Field(1.0, gt=0.0)
    trust_lambda: bool = Field(False, description="allow Lambda layers (they run arbitrary code)")

    @model_validator(mode="after")
    def _one_source(self):
        if sum(x is not None for x in (self.model, self.path, self.recipe)) != 1:
            raise ValueError("give exactly one of `model` (trained in the run), `path` (a saved model) or "
                             "`recipe` (another recipe's trained model)")
        if self.model is not None and self.model.path is not None:
            raise ValueError("model.path: a saved teacher is given as `path` beside `model`; write "
                             "path: FILE instead of model: {path: FILE}")
        return self


class TeacherSpec(Spec):
    sources: List[TeacherSource] = Field(min_length=1)
    temperature: float = Field(4.0, gt=0.0)
    alpha: float = Field(0.1, ge=0.0, description="weight of the hard-label loss")
    beta: float = Field(0.9, ge=0.0, description="weight of the soft-target loss (times T^2)")
    hints: List[HintSpec] = []
    box_weight: float = Field(1.0, ge=0.0, le=100.0, description="task: detection: weight of the box "
                              "regression term (smooth L1 to the teacher's boxes, where it sees objects)")
