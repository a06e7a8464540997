"""The recipe schema: YAML in, frozen typed specs out. Imports no TensorFlow.

>>> r = Recipe.model_validate({"name": "demo", "data": {"dataset": "shapes"},
...                            "model": {"name": "plain_cnn"}})
>>> r.train.epochs
10

One module per responsibility: `base` (Spec, shared validators), one per section (`data`, `model`,
`train`, `optimize`, `artifacts`, `search`), `root` (Recipe and its cross-section rules), `loading`
(YAML, --set, dump) and `error_messages` (ValidationError -> one line). Submodules import each
other, never this file, so the package can be imported in any order without a cycle.
"""
from .artifacts import FORMATS, BenchmarkSpec, ConvertSpec, EvaluateSpec
from .base import Spec
from .data import (DETECTION_DATASETS, Augment, CocoData, DataSpec, DigitsData, FashionMnistData,
                   ImageFolderData, ShapesData, ShapesDetectionData, VocData)
from .error_messages import format_validation_error
from .loading import RecipeLoader, apply_overrides, load_recipe, recipe_to_yaml, validate_dict
from .model import SSD_DEFAULT_MAPS, YOLO_DEFAULT_MAPS, DetectorSpec, ModelSpec
from .optimize import (OPTIMIZATIONS, ClusterSpec, ClusterStep, OptimizeStep, PruneChannelsSpec,
                       PruneChannelsStep, PruneSpec, PruneStep, QatSpec, QatStep, step_tag)
from .root import STAGES, Recipe, stages_for
from .search import SearchSpace, SearchSpec
from .train import EarlyStopping, HintSpec, TeacherSource, TeacherSpec, TrainSpec

__all__ = [
    "FORMATS", "STAGES", "DETECTION_DATASETS", "OPTIMIZATIONS", "SSD_DEFAULT_MAPS", "YOLO_DEFAULT_MAPS",
    "Spec", "Recipe",
    "Augment", "DataSpec", "ShapesData", "DigitsData", "FashionMnistData", "ImageFolderData",
    "ShapesDetectionData", "VocData", "CocoData",
    "ModelSpec", "DetectorSpec",
    "TrainSpec", "EarlyStopping", "TeacherSpec", "TeacherSource", "HintSpec",
    "OptimizeStep", "PruneSpec", "PruneStep", "PruneChannelsSpec", "PruneChannelsStep",
    "ClusterSpec", "ClusterStep", "QatSpec", "QatStep", "step_tag",
    "ConvertSpec", "EvaluateSpec", "BenchmarkSpec",
    "SearchSpace", "SearchSpec",
    "RecipeLoader", "load_recipe", "validate_dict", "apply_overrides", "recipe_to_yaml", "stages_for",
    "format_validation_error",
]
