"""Colour input a user may bring is loaded as it would look, or refused in one line.

RGBA and LA are composited on white (as emoji64 was made), 16-bit images are
scaled by 1/257, folders mixing greyscale and colour are loaded as RGB, and
a run folder trained on images of another shape refuses the resume.
"""

import logging
import os
import shutil
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from kgan.data import load_source
from kgan.errors import UserError
from tests.conftest import REPO, tiny_config

EMOJI64 = os.path.join(os.path.dirname(REPO), "shared", "data", "emoji64", "emoji64.npz")
# 16-bit values and their 8-bit images: value/257 rounded (a clip gives 255 for
# all but the first three; the high byte alone gives 163 for 41743, not 162).
DEEP = np.array([0, 128, 129, 257, 1000, 41743, 65535], np.uint16)
DEEP_AS_8_BIT = [0, 0, 1, 1, 4, 162, 255]


def write_png16(path, pixels):
    """Writes uint16 `pixels` `(H, W, C)` as a 16-bit PNG (Pillow cannot write colour ones)."""
    height, width, channels = pixels.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)

    def chunk(kind, body):
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header))
        f.write(chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def emoji_like(count=6, size=16, seed=0):
    """RGBA images: a coloured disc with a soft edge; colour noise where alpha is 0."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, size, size, 4), dtype=np.uint8)
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    alpha = np.clip((size / 2 - 1 - np.hypot(x, y)) * 96, 0, 255)  # 0 outside, ramps to 255
    images[..., 3] = np.rint(alpha).astype(np.uint8)
    return images


def by_hand(images):
    """`rgb*alpha + 255*(1-alpha)`, in float64, rounded: the emoji64 recipe."""
    alpha = images[..., -1:].astype(np.float64) / 255
    return np.rint(images[..., :-1] * alpha + 255 * (1 - alpha)).astype(np.uint8)


def write_folder(folder, images, mode=None):
    os.makedirs(folder, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image, mode).save(os.path.join(folder, f"{i:03d}.png"))
    return str(folder)


def messages(caplog):
    return [record.getMessage() for record in caplog.records]


# === Alpha: composited on white ===


def test_an_rgba_png_folder_composites_on_white_as_by_hand(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    rgba = emoji_like()
    assert 0 < (rgba[..., 3] == 0).sum() and 0 < ((rgba[..., 3] > 0) & (rgba[..., 3] < 255)).sum()
    folder = write_folder(tmp_path / "emoji", rgba, "RGBA")
    source = load_source(folder)
    assert source.image_shape == (16, 16, 3)
    np.testing.assert_array_equal(source.images, by_hand(rgba))
    assert source.images[0, 0, 0].tolist() == [255, 255, 255]  # transparent corner: white
    assert f"composited 6 RGBA/LA images of {folder} on white" in " ".join(messages(caplog))


def test_an_rgba_npz_composites_to_the_same_pixels_as_the_folder(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    rgba = emoji_like()
    folder = load_source(write_folder(tmp_path / "emoji", rgba, "RGBA")).images
    path = tmp_path / "emoji.npz"
    np.savez(path, images=rgba)
    channels_first = tmp_path / "first.npz"
    np.savez(channels_first, images=np.transpose(rgba, (0, 3, 1, 2)))
    for npz in (path, channels_first):
        source = load_source(str(npz))
        assert source.image_shape == (16, 16, 3)
        np.testing.assert_array_equal(source.images, folder)
    assert f"composited the 6 RGBA images of {path}['images'] on white" in messages(caplog)[-2]


def test_float_rgba_in_0_1_composites_like_uint8(tmp_path):
    rgba = emoji_like()
    path = tmp_path / "float.npz"
    np.savez(path, images=rgba.astype(np.float32) / 255)
    np.testing.assert_array_equal(load_source(str(path)).images, by_hand(rgba))


def test_grey_alpha_images_composite_to_one_channel(tmp_path):
    la = emoji_like()[..., 2:]  # (N, H, W, 2): grey and alpha
    expected = by_hand(la)
    folder = write_folder(tmp_path / "la", la, "LA")
    path = tmp_path / "la.npz"
    np.savez(path, images=la)
    for dataset in (folder, str(path)):
        source = load_source(dataset)
        assert source.image_shape == (16, 16, 1)
        np.testing.assert_array_equal(source.images, expected)


# === 16 bits: scaled by 1/257 ===


def test_a_16_bit_grey_png_is_scaled_by_257_not_clipped(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    pixels = np.tile(DEEP, (7, 1))  # (7, 7): each row the seven values
    folder = tmp_path / "deep"
    folder.mkdir()
    Image.fromarray(pixels).save(folder / "a.png")
    with Image.open(folder / "a.png") as image:
        assert image.mode == "I;16"  # what Pillow makes of a 16-bit grey PNG
    source = load_source(str(folder))
    assert source.image_shape == (7, 7, 1)
    assert source.images[0, 0, :, 0].tolist() == DEEP_AS_8_BIT
    assert f"scaled 1 16-bit images of {folder} to 8 bits as value/257" in messages(caplog)


def test_a_16_bit_grey_png_with_a_transparent_value_shows_white_there(tmp_path):
    folder = tmp_path / "deep"
    folder.mkdir()
    Image.fromarray(np.tile(DEEP, (7, 1))).save(folder / "a.png", transparency=1000)
    with Image.open(folder / "a.png") as image:
        assert image.mode == "I;16" and image.info["transparency"] == 1000
    source = load_source(str(folder))
    assert source.images[0, 0, :, 0].tolist() == [0, 0, 1, 1, 255, 162, 255]


@pytest.mark.parametrize("channels", [3, 4, 2], ids=["rgb", "rgba", "grey_alpha"])
def test_16_bit_colour_pngs_keep_every_bit(tmp_path, channels):
    pixels = np.zeros((7, 7, channels), np.uint16)
    pixels[..., : 1 if channels == 2 else 3] = DEEP[:, None, None]  # row y: DEEP[y]
    if channels in (2, 4):
        pixels[..., -1] = 65535  # opaque: the colour is what is scaled
        pixels[6, 6, -1] = 0  # one transparent pixel: white
    folder = tmp_path / "deep"
    folder.mkdir()
    write_png16(str(folder / "a.png"), pixels)
    with Image.open(folder / "a.png") as image:
        image.load()  # Pillow alone: 8 bits, the low byte dropped (41743 -> 163)
        assert np.asarray(image)[5, 0, 0] == 163
    source = load_source(str(folder))
    expected_channels = 1 if channels == 2 else 3
    assert source.image_shape == (7, 7, expected_channels)
    assert source.images[0, :, 0, 0].tolist() == DEEP_AS_8_BIT
    assert source.images[0, 5, 3].tolist() == [162] * expected_channels
    if channels in (2, 4):
        assert source.images[0, 6, 6].tolist() == [255] * expected_channels


def test_a_uint16_npz_is_scaled_by_257_and_says_so(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    path = tmp_path / "deep.npz"
    np.savez(path, images=np.tile(DEEP, (2, 7, 1)))  # (2, 7, 7)
    source = load_source(str(path))
    assert source.images[1, 3, :, 0].tolist() == DEEP_AS_8_BIT
    assert (
        f"{path}['images'] holds 16-bit values (up to 65535): scaled to 8 bits as value/257"
        in messages(caplog)
    )


def test_uint16_holding_8_bit_values_is_not_scaled(tmp_path):
    path = tmp_path / "wide.npz"
    np.savez(path, images=np.full((2, 4, 4, 3), 200, np.uint16))
    assert load_source(str(path)).images.max() == 200


def test_integers_beyond_16_bits_are_refused_in_one_line(tmp_path):
    path = tmp_path / "deeper.npz"
    images = np.zeros((2, 4, 4), np.int32)
    images[1, 2, 3] = 70000
    np.savez(path, images=images)
    with pytest.raises(UserError) as error:
        load_source(str(path))
    message = str(error.value)
    assert "\n" not in message
    assert f"{path}['images'] holds integers up to 70000, beyond 16 bits" in message
    assert "save 8-bit (0..255) or 16-bit (0..65535) images" in message


# === One channel count per folder ===


def test_a_folder_mixing_grey_and_colour_loads_all_as_rgb_and_counts_them(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(np.full((4, 4), 90, np.uint8)).save(folder / "0_grey.png")
    Image.fromarray(np.full((4, 4), 255, np.uint8)).convert("1").save(folder / "1_bits.png")
    Image.fromarray(np.full((4, 4, 3), (10, 20, 30), np.uint8)).save(folder / "2_rgb.png")
    Image.fromarray(np.tile(DEEP[:4], (4, 1))).save(folder / "3_deep.png")
    source = load_source(str(folder))
    assert source.images.shape == (4, 4, 4, 3)
    assert source.images[:, 0, 0].tolist() == [[90] * 3, [255] * 3, [10, 20, 30], [0] * 3]
    assert source.images[3, 0, :, 0].tolist() == DEEP_AS_8_BIT[:4]
    assert (
        f"{folder} mixes greyscale and colour images: loaded its 3 greyscale images as RGB "
        "(grey copied to 3 channels) beside its 1 colour ones" in messages(caplog)
    )


def test_a_grey_folder_with_a_grey_palette_image_stays_one_channel(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    folder = tmp_path / "grey"
    folder.mkdir()
    ramp = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    Image.fromarray(ramp).save(folder / "a.png")
    palette = Image.fromarray(ramp).convert("P")  # a palette of greys
    palette.save(folder / "b.png")
    palette.save(folder / "c.png", transparency=palette.getpixel((0, 0)))
    with Image.open(folder / "c.png") as image:
        assert image.mode == "P" and "transparency" in image.info
    source = load_source(str(folder))
    assert source.images.shape == (3, 4, 4, 1)
    np.testing.assert_array_equal(source.images[1, ..., 0], ramp)
    assert source.images[2, 0, :2, 0].tolist() == [255, 16]  # transparent 0: white
    assert not any("mixes greyscale" in m for m in messages(caplog))


def test_palette_images_take_their_colours_and_transparency_composites(tmp_path):
    folder = tmp_path / "palette"
    folder.mkdir()
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 0, 255, 0, 255, 0])
    image.putpixel((1, 0), 1)
    image.putpixel((2, 0), 2)
    image.save(folder / "a.png")
    image.save(folder / "b.png", transparency=0)  # index 0 (red) transparent
    image.save(folder / "c.gif", transparency=0)
    source = load_source(str(folder))
    assert source.images.shape == (3, 4, 4, 3)
    assert source.images[0, 0, :3].tolist() == [[255, 0, 0], [0, 0, 255], [0, 255, 0]]
    for i in (1, 2):
        assert source.images[i, 0, :3].tolist() == [[255, 255, 255], [0, 0, 255], [0, 255, 0]]


# === The folder loader and the .npz give the same images ===


def test_an_emoji64_folder_gives_the_npzs_images_and_labels(tmp_path):
    if not os.path.exists(EMOJI64):
        pytest.skip(f"emoji64 not found at {EMOJI64}")
    with np.load(EMOJI64) as archive:
        images, labels = archive["images"], archive["labels"]
        categories = [str(c) for c in archive["categories"]]
    # Class subfolders are labelled in sorted order: the categories already are.
    assert categories == sorted(categories) and len(categories) == 10
    chosen = np.concatenate([np.flatnonzero(labels == k)[:5] for k in range(10)])  # 50
    folder = tmp_path / "emoji"
    for i, index in enumerate(chosen):
        os.makedirs(folder / categories[labels[index]], exist_ok=True)
        Image.fromarray(images[index]).save(folder / categories[labels[index]] / f"{i:03d}.png")
    path = tmp_path / "emoji.npz"
    np.savez(path, images=images[chosen], labels=labels[chosen])
    from_folder, from_npz = load_source(str(folder)), load_source(str(path))
    assert from_folder.image_shape == from_npz.image_shape == (64, 64, 3)
    assert from_folder.num_classes == from_npz.num_classes == 10
    np.testing.assert_array_equal(from_folder.images, from_npz.images)
    np.testing.assert_array_equal(from_folder.labels, from_npz.labels)
    assert from_folder.labels.tolist() == np.repeat(np.arange(10), 5).tolist()


# === A resume on images of another shape is refused ===


def _train(dataset, out_dir):
    from kgan.training import train

    return train(tiny_config(dataset=dataset, out_dir=out_dir, report=False), verbose=0)


def _files(folder):
    return {
        os.path.join(root, name): os.stat(os.path.join(root, name)).st_mtime_ns
        for root, _, names in os.walk(folder)
        for name in names
    }


@pytest.fixture(scope="module")
def grey_and_colour_runs(tmp_path_factory):
    """Tiny finished runs on 28x28x1 and 28x28x3 .npz data: {channels: (dataset, out_dir)}."""
    folder = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(0)
    runs = {}
    for channels in (1, 3):
        dataset = str(folder / f"c{channels}.npz")
        np.savez(dataset, images=rng.integers(0, 256, (16, 28, 28, channels), dtype=np.uint8))
        runs[channels] = (dataset, str(folder / f"run{channels}"))
        _train(*runs[channels])
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("saved, now", [(1, 3), (3, 1)])
def test_a_checkpoint_of_another_channel_count_is_refused_naming_both(
    grey_and_colour_runs, saved, now
):
    from kgan.checkpoint import check_compatible, list_checkpoints, read_state

    dataset, out_dir = grey_and_colour_runs[saved]
    other = grey_and_colour_runs[now][0]
    path = list_checkpoints(os.path.join(out_dir, "checkpoints"))[0]
    state = read_state(path)
    config = dict(state["config"], dataset=other)
    with pytest.raises(UserError) as error:
        check_compatible(path, state, config, image_shape=(28, 28, now))
    assert str(error.value) == (
        f"{out_dir} holds a checkpoint of a generator for 28x28x{saved} images but "
        f"--dataset={other} holds 28x28x{now} images; use another --out_dir or the same data."
    )
    check_compatible(path, state, state["config"], image_shape=(28, 28, saved))  # same: fine


@pytest.mark.slow
def test_train_refuses_a_resume_on_other_data_before_writing_anything(grey_and_colour_runs):
    grey_run = grey_and_colour_runs[1][1]
    colour = grey_and_colour_runs[3][0]
    before = _files(grey_run)
    with pytest.raises(UserError) as error:
        _train(colour, grey_run)
    message = str(error.value)
    assert "\n" not in message
    assert colour in message and "--out_dir" in message
    assert _files(grey_run) == before


@pytest.mark.slow
def test_train_refuses_a_resume_when_the_same_path_now_holds_colour_images(
    grey_and_colour_runs, tmp_path
):
    grey, grey_run = grey_and_colour_runs[1]
    run = shutil.copytree(grey_run, tmp_path / "run")
    kept = tmp_path / "grey.npz"
    shutil.copy(grey, kept)
    shutil.copy(grey_and_colour_runs[3][0], grey)  # same path, colour images now
    before = _files(run)
    try:
        with pytest.raises(UserError) as error:
            _train(grey, str(run))
    finally:
        shutil.copy(kept, grey)
    assert _files(run) == before
    assert "holds a checkpoint of a generator for 28x28x1 images" in str(error.value)
