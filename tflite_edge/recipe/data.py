"""`data:`: one section per dataset, chosen by its `dataset` key."""
from __future__ import annotations

from typing import Annotated, List, Literal, Optional, Union

from pydantic import Field

from .base import Spec


class Augment(Spec):
    flip: bool = Field(False, description="random left-right flip (off: digits and letters flip meaning)")
    translate: float = Field(0.1, ge=0.0, le=0.5, description="random shift, fraction of the side")


class _DataCommon(Spec):
    batch_size: int = Field(32, ge=1, le=4096)
    validation_fraction: float = Field(0.1, ge=0.0, lt=0.9)
    augment: Augment = Augment()


class _ImageFiles(_DataCommon):
    """Datasets read from the user's image files: each is decoded once before training (data/check.py)."""

    bad_images: Literal["error", "skip"] = Field("error", description="an image file that cannot be decoded "
                                                 "(text, truncated, empty, corrupt, over 89 Mpixels): stop naming "
                                                 "the files, or skip them (counted in report.json)")


class ShapesData(_DataCommon):
    """Synthetic coloured shapes (circle, square, triangle, cross); deterministic from the seed."""

    dataset: Literal["shapes"]
    image_size: int = Field(32, ge=8, le=512)
    train_samples: int = Field(2000, ge=8)
    test_samples: int = Field(500, ge=4)
    noise: float = Field(0.08, ge=0.0, le=1.0)


class DigitsData(_DataCommon):
    """scikit-learn's 1,797 real 8x8 handwritten digits."""

    dataset: Literal["digits"]
    test_fraction: float = Field(0.25, gt=0.0, lt=1.0)


class FashionMnistData(_DataCommon):
    """Fashion-MNIST from the four standard IDX .gz files."""

    dataset: Literal["fashion_mnist"]
    path: str = "/usr/share/datasets/fashion-mnist"
    train_samples: Optional[int] = Field(None, ge=1, description="first N training images (all: null)")
    test_samples: Optional[int] = Field(None, ge=1, description="first N test images (all: null)")


class ImageFolderData(_ImageFiles):
    """One sub-folder per class with jpg/png images; `test_path` or a split by `test_fraction`."""

    dataset: Literal["image_folder"]
    path: str
    test_path: Optional[str] = None
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)


class _DetectionData(_DataCommon):
    """Base of the detection datasets (boxes + labels per image); `task: detection` needs one."""

    augment: Augment = Augment(flip=True, translate=0.1)


class ShapesDetectionData(_DetectionData):
    """Synthetic scenes of 1..max_objects coloured shapes with boxes; deterministic from the seed."""

    dataset: Literal["shapes_detection"]
    image_size: int = Field(96, ge=32, le=512)
    train_samples: int = Field(2000, ge=8)
    test_samples: int = Field(300, ge=4)
    max_objects: int = Field(3, ge=1, le=10)
    noise: float = Field(0.05, ge=0.0, le=1.0)


class _AnnotatedFiles(_DetectionData, _ImageFiles):
    classes: Optional[List[str]] = Field(None, min_length=1, description="class names in label order; "
                                         "null: every name found in the training annotations, sorted")
    unknown_classes: Literal["error", "skip"] = Field("error", description="a name not in `classes`: "
                                                      "stop naming file and line, or skip it (counted)")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="seeded split when no test set is given")


class VocData(_AnnotatedFiles):
    """Pascal VOC layout: `path`/Annotations/*.xml and the images they name in `path`/JPEGImages."""

    dataset: Literal["voc"]
    path: str
    test_path: Optional[str] = Field(None, description="a second VOC folder used as the test split")
    skip_difficult: bool = True


class CocoData(_AnnotatedFiles):
    """COCO JSON: `annotations` (instances_*.json) and the `images` folder its file_names are in."""

    dataset: Literal["coco"]
    annotations: str
    images: str
    test_annotations: Optional[str] = None
    test_images: Optional[str] = None


DETECTION_DATASETS = ("shapes_detection", "voc", "coco")
DataSpec = Annotated[Union[ShapesData, DigitsData, FashionMnistData, ImageFolderData,
                           ShapesDetectionData, VocData, CocoData],
                     Field(discriminator="dataset")]
