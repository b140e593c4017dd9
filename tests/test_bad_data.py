"""Bad data is refused before training, in one line naming the file and the fix."""

import numpy as np
import pytest

from kgan.data import load_source, resize_images
from kgan.errors import UserError


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


def test_resize_images_squares_and_keeps_the_value_range():
    images = np.zeros((2, 10, 20, 3), np.uint8)
    images[:, :, 5:15] = 255  # a white centre square; the crop keeps it
    resized = np.asarray(resize_images(images, 4))
    assert resized.shape == (2, 4, 4, 3) and resized.dtype == np.uint8
    assert resized.min() == 255
