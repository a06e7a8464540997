import gzip
import struct

import numpy as np
import pytest

from tflite_edge.data import DATASETS, load_dataset
from tflite_edge.errors import UserInputError
from tflite_edge.recipe import validate_dict


def _spec(tiny_dict, **data):
    tiny_dict["data"] = {**data}
    return validate_dict(tiny_dict).data


def test_shapes_is_deterministic_per_seed(tiny_dict):
    spec = _spec(tiny_dict, dataset="shapes", image_size=16, train_samples=20, test_samples=8)
    a, b, c = load_dataset(spec, 0), load_dataset(spec, 0), load_dataset(spec, 1)
    assert a.train_x.shape == (20, 16, 16, 3) and a.train_x.dtype == np.uint8
    assert np.array_equal(a.train_x, b.train_x) and np.array_equal(a.test_y, b.test_y)
    assert not np.array_equal(a.train_x, c.train_x)


def test_digits_are_real_and_split(tiny_dict):
    d = load_dataset(_spec(tiny_dict, dataset="digits", test_fraction=0.25), 0)
    assert d.train_x.shape[1:] == (8, 8, 1) and len(d.train_y) + len(d.test_y) == 1797
    assert d.train_x.max() == 255 and d.num_classes == 10


def _write_idx(path, array):
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _fake_fashion(root, n_train=12, n_test=6):
    rng = np.random.default_rng(0)
    _write_idx(root / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28)))
    _write_idx(root / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, n_train))
    _write_idx(root / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28)))
    _write_idx(root / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, n_test))


def test_fashion_mnist_reads_idx_files(tiny_dict, tmp_path):
    _fake_fashion(tmp_path)
    d = load_dataset(_spec(tiny_dict, dataset="fashion_mnist", path=str(tmp_path), train_samples=10), 0)
    assert d.train_x.shape == (10, 28, 28, 1) and d.test_x.shape == (6, 28, 28, 1)


def test_fashion_mnist_missing_path_tells_how_to_get_it(tiny_dict, tmp_path):
    with pytest.raises(UserInputError, match="apt-get install dataset-fashion-mnist"):
        load_dataset(_spec(tiny_dict, dataset="fashion_mnist", path=str(tmp_path / "nope")), 0)


def test_fashion_mnist_truncated_file(tiny_dict, tmp_path):
    _fake_fashion(tmp_path)
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(p.read_bytes())
    p.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(UserInputError, match="truncated"):
        load_dataset(_spec(tiny_dict, dataset="fashion_mnist", path=str(tmp_path)), 0)


def _image_folder(root, per_class=4):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            size = (20 + i, 24)
            Image.fromarray(rng.integers(0, 256, size + (3,), dtype=np.uint8)).save(root / cls / f"{i}.png")


def test_image_folder_split_and_pipeline(tiny_dict, tmp_path):
    from tflite_edge.data.pipeline import numpy_batches
    from tflite_edge.models.classifier import InputSpec

    _image_folder(tmp_path)
    d = load_dataset(_spec(tiny_dict, dataset="image_folder", path=str(tmp_path), test_fraction=0.25), 0)
    assert d.class_names == ["cat", "dog"] and len(d.train_y) == 6 and len(d.test_y) == 2
    batch = np.concatenate(list(numpy_batches(d.test_x, d, InputSpec(16, 16, 3))))
    assert batch.shape == (2, 16, 16, 3) and -1.0 <= batch.min() and batch.max() <= 1.0


def test_image_folder_errors(tiny_dict, tmp_path):
    with pytest.raises(UserInputError, match="folder not found"):
        load_dataset(_spec(tiny_dict, dataset="image_folder", path=str(tmp_path / "x")), 0)
    (tmp_path / "only").mkdir()
    with pytest.raises(UserInputError, match="need at least 2"):
        load_dataset(_spec(tiny_dict, dataset="image_folder", path=str(tmp_path)), 0)


def test_corrupt_image_is_one_clear_error(tiny_dict, tmp_path):
    from tflite_edge.data.pipeline import numpy_batches
    from tflite_edge.models.classifier import InputSpec

    _image_folder(tmp_path)
    (tmp_path / "cat" / "0.png").write_bytes(b"not a png")
    d = load_dataset(_spec(tiny_dict, dataset="image_folder", path=str(tmp_path), test_fraction=0.5), 0)
    with pytest.raises(UserInputError, match="could not be decoded"):
        for x in (d.train_x, d.test_x):
            list(numpy_batches(x, d, InputSpec(16, 16, 3)))


def test_preprocess_converts_channels_and_normalises():
    from tflite_edge.data.pipeline import preprocess
    from tflite_edge.models.classifier import InputSpec

    gray = np.full((2, 8, 8, 1), 255, np.uint8)
    out = preprocess(gray, InputSpec(12, 12, 3), native_channels=1).numpy()
    assert out.shape == (2, 12, 12, 3) and np.allclose(out, 1.0)


def test_registry_lists_all_datasets():
    assert {"shapes", "digits", "fashion_mnist", "image_folder"} <= set(DATASETS.names())
