"""Every data source yields the right shapes and range; bad data fails clearly."""

import gzip
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

import kgan.data.tfds_source as tfds_source
from kgan.data import load_source, make_dataset
from kgan.data.idx import read_idx
from kgan.errors import UserError
from tests.conftest import write_idx


def _first_batch(source, batch_size=8, **kwargs):
    dataset, steps = make_dataset(source, batch_size, seed=0, **kwargs)
    return next(iter(dataset)), steps


def _check_batch(images, shape, low=-1.0):
    images = np.asarray(images)
    assert images.shape == shape
    assert images.dtype == np.float32
    assert images.min() >= low and images.max() <= 1.0


def test_idx_folder_prefers_the_train_split(idx_folder):
    source = load_source(idx_folder)
    assert source.num_examples == 96 and source.image_shape == (28, 28, 1)
    assert source.num_classes == 10
    images, steps = _first_batch(source)
    _check_batch(images, (8, 28, 28, 1))
    assert steps == 12
    assert load_source(idx_folder, split="test").num_examples == 32


def test_idx_scaling_maps_0_and_255_to_the_ends(tmp_path):
    write_idx(str(tmp_path / "t10k-images-idx3-ubyte"), np.tile([[0, 255]], (8, 28, 14)))
    images, _ = _first_batch(load_source(str(tmp_path)))
    assert set(np.unique(np.asarray(images))) == {-1.0, 1.0}
    sigmoid, _ = _first_batch(load_source(str(tmp_path)), output="sigmoid")
    assert set(np.unique(np.asarray(sigmoid))) == {0.0, 1.0}


def test_real_mnist_t10k_files(mnist_dir):
    source = load_source(mnist_dir)
    assert source.num_examples == 10000 and source.num_classes == 10
    images, steps = _first_batch(source, batch_size=128)
    _check_batch(images, (128, 28, 28, 1))
    assert steps == 10000 // 128  # drop_remainder
    assert np.asarray(images).mean() < -0.5  # mostly black background


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b[:-100], "truncated or corrupt"),
        (lambda b: b"\x12\x34" + b[2:], "not an IDX file"),
        (lambda b: b[:6], "truncated inside its header"),
    ],
)
def test_corrupt_idx_files_are_named(tmp_path, damage, message):
    path = str(tmp_path / "train-images-idx3-ubyte")
    write_idx(path, np.zeros((4, 28, 28)))
    with open(path, "rb") as f:
        raw = f.read()
    with open(path, "wb") as f:
        f.write(damage(raw))
    with pytest.raises(UserError, match=message) as error:
        load_source(str(tmp_path))
    assert path in str(error.value)


def test_broken_gzip_is_named(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 20)[:-12])
    with pytest.raises(UserError, match="cannot be read"):
        read_idx(str(path))


@pytest.mark.parametrize(
    "array, key",
    [
        (np.random.default_rng(0).integers(0, 256, (20, 32, 32, 3)).astype(np.uint8), "x_train"),
        (np.random.default_rng(0).uniform(-1, 1, (20, 28, 28)).astype(np.float32), "images"),
        (np.random.default_rng(0).uniform(0, 1, (20, 1, 28, 28)).astype(np.float32), "arr_0"),
    ],
)
def test_npz_arrays_of_usual_layouts(tmp_path, array, key):
    path = str(tmp_path / "images.npz")
    np.savez(path, **{key: array, "labels": np.arange(20) % 4})
    source = load_source(path)
    size = 32 if array.ndim == 4 and array.shape[-1] == 3 else 28
    channels = 3 if array.shape[-1] == 3 else 1
    assert source.image_shape == (size, size, channels)
    assert source.num_classes == 4
    images, _ = _first_batch(source)
    _check_batch(images, (8, size, size, channels))


def test_npz_without_images_is_rejected(tmp_path):
    path = str(tmp_path / "bad.npz")
    np.savez(path, weights=np.zeros(5))
    with pytest.raises(UserError, match="holds no image array"):
        load_source(path)


def _write_images(folder, count, size=(40, 30), mode="RGB"):
    rng = np.random.default_rng(1)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
        Image.fromarray(rng.integers(0, 256, shape).astype(np.uint8), mode).save(
            os.path.join(folder, f"{i:03d}.png")
        )


def test_image_folder_is_cropped_resized_and_labelled_by_subfolder(tmp_path):
    _write_images(str(tmp_path / "cats"), 6)
    _write_images(str(tmp_path / "dogs"), 6)
    source = load_source(str(tmp_path), image_size=32)
    assert source.image_shape == (32, 32, 3) and source.num_examples == 12
    assert source.num_classes == 2 and sorted(set(source.labels)) == [0, 1]
    images, _ = _first_batch(source, batch_size=4)
    _check_batch(images, (4, 32, 32, 3))


def test_grayscale_folder_gives_one_channel(tmp_path):
    _write_images(str(tmp_path), 8, size=(28, 28), mode="L")
    source = load_source(str(tmp_path))
    assert source.image_shape == (28, 28, 1) and source.labels is None


def test_truncated_image_files_are_skipped_with_a_count_or_stop(tmp_path, caplog):
    _write_images(str(tmp_path), 8, size=(28, 28), mode="L")
    broken = tmp_path / "007.png"
    broken.write_bytes(broken.read_bytes()[:60])
    source = load_source(str(tmp_path), on_bad_image="skip")
    assert source.num_examples == 7
    assert "skipped 1 unreadable" in caplog.text
    with pytest.raises(UserError, match="007.png is not a readable image"):
        load_source(str(tmp_path), on_bad_image="stop")


def test_folder_without_images_is_rejected(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(UserError, match="holds no image files"):
        load_source(str(tmp_path))


def test_missing_path_is_rejected():
    with pytest.raises(UserError, match="does not exist"):
        load_source("./no/such/folder")


def test_fewer_images_than_a_batch_is_rejected(idx_folder):
    with pytest.raises(UserError, match="--batch_size=500"):
        make_dataset(load_source(idx_folder), 500)


def test_resize_option_on_idx_data(idx_folder):
    source = load_source(idx_folder, image_size=32)
    images, _ = _first_batch(source)
    _check_batch(images, (8, 32, 32, 1))


def test_labels_are_yielded_for_conditional_training(idx_folder):
    (images, labels), _ = _first_batch(load_source(idx_folder), with_labels=True)
    assert images.shape == (8, 28, 28, 1) and labels.shape == (8,)
    assert set(np.asarray(labels)) <= set(range(10))


@pytest.fixture
def mock_tfds(monkeypatch):
    """TFDS generating random examples; the download probe answers 'online'."""
    monkeypatch.setattr(tfds_source, "network_available", lambda *a, **k: True)
    return tfds.testing.mock_data


def test_tfds_mnist_through_tfds_load(mock_tfds):
    with mock_tfds(num_examples=40):
        source = load_source("mnist")
        assert source.image_shape == (28, 28, 1) and source.num_classes == 10
        images, steps = _first_batch(source)
    _check_batch(images, (8, 28, 28, 1))
    assert steps == 5


def test_tfds_cifar10_has_three_channels(mock_tfds):
    with mock_tfds(num_examples=16):
        images, _ = _first_batch(load_source("cifar10"))
    _check_batch(images, (8, 32, 32, 3))


def test_tfds_celeb_a_needs_and_takes_an_image_size(mock_tfds):
    with mock_tfds(num_examples=16):
        with pytest.raises(UserError, match="--image_size"):
            load_source("celeb_a")
        images, _ = _first_batch(load_source("celeb_a", image_size=64))
    _check_batch(images, (8, 64, 64, 3))


def test_unknown_tfds_name_suggests_close_names():
    with pytest.raises(UserError, match="Did you mean .*mnist") as error:
        load_source("mnistt")
    assert "--dataset=mnistt" in str(error.value)


def test_offline_tfds_download_points_to_local_paths(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_source, "network_available", lambda *a, **k: False)
    with pytest.raises(UserError, match="cannot download 'mnist'") as error:
        load_source("mnist", data_dir=str(tmp_path))
    assert "--dataset=/path/to/folder" in str(error.value)


def test_download_failure_is_reported_not_raised(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(tfds_source, "network_available", lambda *a, **k: True)
    monkeypatch.setattr(tfds, "load", fail)
    with pytest.raises(UserError, match="ConnectionError: Name or service not known"):
        load_source("mnist", data_dir=str(tmp_path))


def _stream(source, count, start_step=0):
    dataset, _ = make_dataset(source, 8, seed=3, start_step=start_step, with_labels=True)
    return [tuple(np.asarray(x) for x in batch) for batch in dataset.take(count)]


def _assert_same_batches(actual, expected):
    assert len(actual) == len(expected)
    for (images, labels), (want_images, want_labels) in zip(actual, expected, strict=True):
        np.testing.assert_array_equal(images, want_images)
        np.testing.assert_array_equal(labels, want_labels)


def test_a_stream_started_at_step_k_is_the_full_stream_from_k(idx_folder):
    source = load_source(idx_folder)  # 96 images: 12 batches of 8 per pass
    full = _stream(source, 30)
    for start in (5, 12, 27):  # inside pass 1, at pass 2's start, inside pass 3
        _assert_same_batches(_stream(source, 3, start), full[start : start + 3])
    # Each pass is a new order of the same images.
    first, second = (np.concatenate([b[1] for b in full[p * 12 : p * 12 + 12]]) for p in (0, 1))
    assert sorted(first) == sorted(second) and not np.array_equal(first, second)


def test_a_tfds_stream_started_at_step_k_is_the_full_stream_from_k(mock_tfds):
    with mock_tfds(num_examples=40):  # 5 batches of 8 per pass
        source = load_source("mnist")
        full = _stream(source, 14)
        for start in (3, 11):
            _assert_same_batches(_stream(source, 3, start), full[start : start + 3])
