"""Bad data is refused before training, in one line naming the file and the fix."""

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from kgan.data import load_source, resize_images
from kgan.errors import UserError
from tests.conftest import REPO, assert_one_line_error, tiny_config


def _refused(path):
    with pytest.raises(UserError) as error:
        load_source(str(path))
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_images_holding_nan_or_inf_are_refused_with_their_count(tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    images[0, 0, 0, 0] = np.nan
    images[3, 1, 1, 0] = np.inf
    path = tmp_path / "bad.npz"
    np.savez(path, images=images)
    message = _refused(path)
    assert "['images'] holds 2 NaN or infinite values" in message
    assert "nan_to_num" in message


def test_a_file_named_npz_that_is_not_an_archive_is_refused(tmp_path):
    path = tmp_path / "photos.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip archive" * 4)
    message = _refused(path)
    assert "is not a readable .npz archive" in message
    assert "numpy.savez" in message


def test_a_truncated_npz_is_refused(tmp_path):
    good = tmp_path / "good.npz"
    np.savez_compressed(good, images=np.zeros((16, 8, 8), np.uint8))
    path = tmp_path / "cut.npz"
    path.write_bytes(good.read_bytes()[:-40])
    assert "is not a readable .npz archive" in _refused(path)


def test_an_empty_npz_is_refused(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    assert "is not a readable .npz archive (it is empty)" in _refused(path)


def test_a_npy_array_named_npz_is_refused_as_no_archive(tmp_path):
    path = tmp_path / "images.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((4, 8, 8), np.uint8))
    message = _refused(path)
    assert "is not a readable .npz archive (it is a single .npy array)" in message
    assert "numpy.savez" in message


def test_a_zip_of_other_files_named_npz_is_refused(tmp_path):
    path = tmp_path / "photos.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("cat.png", b"not an array")
    message = _refused(path)
    assert "its member cat.png is not a .npy array" in message
    assert "numpy.savez" in message


def test_a_text_file_named_npz_is_refused_without_pickle_advice(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("pixel values\n1 2 3\n")
    message = _refused(path)
    assert "(it is not a zip archive)" in message
    assert "pickle" not in message


def test_images_that_are_not_real_numbers_are_refused(tmp_path):
    path = tmp_path / "waves.npz"
    np.savez(path, images=np.zeros((4, 8, 8), np.complex64))
    message = _refused(path)
    assert "['images'] holds complex64 values, not real numbers" in message
    assert "save the images as uint8" in message


def test_huge_finite_values_are_not_counted_as_infinite(tmp_path):
    path = tmp_path / "loud.npz"
    images = np.zeros((4, 8, 8))
    images[0, 0, 0], images[1, 1, 1] = 1e300, np.nan  # 1e300 overflows float32, is finite
    np.savez(path, images=images)
    assert "holds 1 NaN or infinite values" in _refused(path)


@pytest.mark.parametrize(
    "labels", [np.array(["cat", "dog", "cat", "dog"]), np.array([0.0, 1.0, np.nan, 1.0])]
)
def test_labels_that_are_not_whole_numbers_are_refused(tmp_path, labels):
    path = tmp_path / "labelled.npz"
    np.savez(path, images=np.zeros((4, 8, 8), np.uint8), labels=labels)
    message = _refused(path)
    assert "['labels'] holds" in message and "not all whole numbers" in message
    assert "save integer class labels 0..K-1 under 'labels'" in message


def test_whole_float_labels_still_load_as_classes(tmp_path):
    path = tmp_path / "labelled.npz"
    np.savez(path, images=np.zeros((4, 8, 8), np.uint8), labels=np.array([0.0, 1.0, 2.0, 1.0]))
    source = load_source(str(path))
    assert source.labels.tolist() == [0, 1, 2, 1] and source.num_classes == 3


def test_several_arrays_without_a_known_key_are_refused_listing_them(tmp_path):
    path = tmp_path / "mine.npz"
    np.savez(path, faces=np.zeros((4, 8, 8, 3), np.uint8), masks=np.zeros((4, 8, 8), np.uint8))
    message = _refused(path)
    assert "faces (4, 8, 8, 3)" in message and "masks (4, 8, 8)" in message
    assert "under the key 'images'" in message


def test_a_single_array_under_any_name_still_loads(tmp_path):
    path = tmp_path / "one.npz"
    np.savez(path, faces=np.full((4, 8, 8, 3), 7, np.uint8))
    source = load_source(str(path))
    assert source.image_shape == (8, 8, 3) and int(source.images.max()) == 7


def test_images_of_another_channel_count_are_refused_naming_the_counts(tmp_path):
    path = tmp_path / "bands.npz"
    np.savez(path, images=np.zeros((4, 8, 8, 5), np.uint8))
    message = _refused(path)
    assert "['images']: images of shape (8, 8, 5) must have 1 (grey), 2 (grey + alpha)" in message
    assert "3 (RGB) or 4 (RGBA) channels" in message


def test_train_refuses_integers_beyond_16_bits_before_writing_anything(tmp_path):
    from kgan.training import train

    path = tmp_path / "deeper.npz"
    np.savez(path, images=np.full((16, 8, 8, 3), 1 << 20, np.int32))
    out_dir = tmp_path / "run"
    with pytest.raises(UserError, match="holds integers up to 1048576, beyond 16 bits"):
        train(tiny_config(dataset=str(path), out_dir=str(out_dir)), verbose=0)
    assert not out_dir.exists()


def test_resize_images_squares_and_keeps_the_value_range():
    images = np.zeros((2, 10, 20, 3), np.uint8)
    images[:, :, 5:15] = 255  # a white centre square; the crop keeps it
    resized = np.asarray(resize_images(images, 4))
    assert resized.shape == (2, 4, 4, 3) and resized.dtype == np.uint8
    assert resized.min() == 255


@pytest.mark.slow
def test_train_py_refuses_nan_images_before_writing_anything(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, images=np.full((32, 8, 8), np.nan, np.float32))
    out_dir = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "train.py"),
            f"--dataset={path}",
            f"--out_dir={out_dir}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO),
        cwd=REPO,
    )
    assert_one_line_error(result, str(path), "2048 NaN or infinite values", "nan_to_num")
    assert not out_dir.exists()


@pytest.mark.parametrize(
    "labels, problem",
    [
        (np.arange(7) % 3, "['labels'] holds 7 labels for 8 images"),
        (np.array([0, 1, 2, -1, -3, 0, 1, 2]), "['labels'] holds the label -3"),
        (np.array([0, 1, 2, -1, 2, 0, -1, 2]), "2 of 8 images have no label (-1)"),
    ],
)
def test_labels_that_do_not_fit_the_images_refuse_a_conditional_run(tmp_path, labels, problem):
    from kgan.training import train

    images = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 1), dtype=np.uint8)
    path = tmp_path / "digits.npz"
    np.savez(path, images=images, labels=labels)
    source = load_source(str(path))
    if source.labels is None:
        # Unconditional: trains unlabelled, but knows why.
        assert source.num_classes is None
        assert problem in source.label_problem
    config = tiny_config(dataset=str(path), out_dir=str(tmp_path / "run"))
    with pytest.raises(UserError) as error:
        train(config, conditional=True, verbose=0)
    message = str(error.value)
    assert "\n" not in message
    assert "cannot be trained conditionally" in message and problem in message
    assert not os.path.exists(tmp_path / "run")  # refused before anything is written


def test_labels_with_minus_one_for_no_label_are_kept(tmp_path):
    images = np.zeros((6, 8, 8, 1), np.uint8)
    path = tmp_path / "digits.npz"
    np.savez(path, images=images, labels=np.array([0, 1, -1, 2, 1, 0]))
    source = load_source(str(path))
    assert source.num_classes == 3 and source.label_problem is None
