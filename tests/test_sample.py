"""`sample.py` and the SavedModel loader behind it: grids, separate files, seeds,
truncation, spherical walks, labels, and the errors of a folder that is not a generator."""

import gc
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kgan.errors import UserError
from kgan.export import export_generator
from kgan.images import to_uint8
from kgan.networks import build_generator
from kgan.sampling import sample_latents, slerp, write_samples
from kgan.saved_generator import SavedGenerator
from tests.conftest import REPO

LATENT_DIM = 8


@pytest.fixture(scope="module")
def generators(tmp_path_factory):
    """Exported tiny generators: `plain` and `conditional` (10 classes)."""
    folder = tmp_path_factory.mktemp("generators")
    paths = {}
    for name, num_classes in (("plain", None), ("conditional", 10)):
        keras.utils.set_random_seed(0)
        generator = build_generator(
            (28, 28, 1),
            latent_dim=LATENT_DIM,
            g_filters=16,
            g_kernel_size=3,
            num_classes=num_classes,
        )
        paths[name] = export_generator(generator, str(folder / name))
    return paths


def _tiles(path, rows, columns, size=28, padding=2):
    """Splits a grid written by `make_grid` back into `(rows, columns, size, size)`."""
    grid = np.asarray(Image.open(path))
    assert grid.shape == (rows * (size + padding) + padding, columns * (size + padding) + padding)
    step = size + padding
    return np.stack(
        [
            [
                grid[padding + r * step :][:size, padding + c * step :][:, :size]
                for c in range(columns)
            ]
            for r in range(rows)
        ]
    )


def test_slerp_walks_a_great_circle_at_constant_speed():
    rng = np.random.default_rng(0)
    start, end = rng.standard_normal((2, 100))
    end *= np.linalg.norm(start) / np.linalg.norm(end)  # same norm: a true great circle
    path = slerp(start, end, np.linspace(0, 1, 9)).astype(np.float64)
    np.testing.assert_allclose(path[0], start, atol=1e-5)
    np.testing.assert_allclose(path[-1], end, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linalg.norm(start), rtol=1e-5)
    unit = path / np.linalg.norm(path, axis=1, keepdims=True)
    angles = np.arccos(np.clip(np.sum(unit[1:] * unit[:-1], axis=1), -1, 1))
    np.testing.assert_allclose(angles, angles[0], rtol=1e-3)
    # A straight line would dip towards the origin halfway.
    assert np.linalg.norm((start + end) / 2) < 0.9 * np.linalg.norm(path[4])


def test_slerp_of_parallel_latents_is_a_line():
    start = np.ones(4)
    np.testing.assert_allclose(slerp(start, 3 * start, [0.5])[0], 2 * start, atol=1e-6)


def test_truncation_redraws_every_component_beyond_the_threshold():
    latents = sample_latents(np.random.default_rng(1), 2000, 16, truncation=0.5)
    assert np.abs(latents).max() <= 0.5
    # Truncated, not clipped: the values spread over the whole interval.
    assert np.mean(np.abs(latents) == 0.5) == 0
    assert np.abs(latents).mean() == pytest.approx(0.245, abs=0.01)
    plain = sample_latents(np.random.default_rng(1), 2000, 16)
    assert np.abs(plain).max() > 3


def test_the_signature_tells_latent_size_and_conditioning(generators):
    plain = SavedGenerator(generators["plain"])
    conditional = SavedGenerator(generators["conditional"])
    assert (plain.latent_dim, plain.conditional) == (LATENT_DIM, False)
    assert (conditional.latent_dim, conditional.conditional) == (LATENT_DIM, True)


def test_grid_is_repeatable_with_a_seed(generators, tmp_path):
    paths = [str(tmp_path / f"{name}.png") for name in ("a", "b", "c")]
    write_samples(generators["plain"], paths[0], num=9, seed=3)
    write_samples(generators["plain"], paths[1], num=9, seed=3)
    write_samples(generators["plain"], paths[2], num=9, seed=4)
    a, b, c = (_tiles(p, 3, 3) for p in paths)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c).max() > 0
    # The tiles are the generator's images of the seeded latents.
    generator = SavedGenerator(generators["plain"])
    expected = to_uint8(generator(sample_latents(np.random.default_rng(3), 9, LATENT_DIM)))
    np.testing.assert_array_equal(a.reshape(9, 28, 28), expected[..., 0])


def test_separate_writes_one_file_per_image(generators, tmp_path):
    paths = write_samples(generators["plain"], str(tmp_path / "s.png"), num=3, separate=True)
    assert [os.path.basename(p) for p in paths] == ["s_000.png", "s_001.png", "s_002.png"]
    assert all(np.asarray(Image.open(p)).shape == (28, 28) for p in paths)


def test_walk_rows_run_between_two_random_latents(generators, tmp_path):
    path = str(tmp_path / "walk.png")
    write_samples(generators["plain"], path, num=2, seed=5, interpolate=6)
    tiles = _tiles(path, rows=2, columns=6)
    generator = SavedGenerator(generators["plain"])
    ends = sample_latents(np.random.default_rng(5), 4, LATENT_DIM)
    expected = to_uint8(generator(ends))[..., 0]
    for walk in range(2):
        np.testing.assert_array_equal(tiles[walk, 0], expected[2 * walk])
        np.testing.assert_array_equal(tiles[walk, -1], expected[2 * walk + 1])
    # Neighbouring steps are closer than the endpoints are to each other.
    step = np.abs(tiles[0, 1].astype(int) - tiles[0, 0]).mean()
    assert step < np.abs(tiles[0, -1].astype(int) - tiles[0, 0]).mean()


def test_walk_gif_plays_forth_and_back(generators, tmp_path):
    path = str(tmp_path / "walk.gif")
    write_samples(generators["plain"], path, num=4, interpolate=5)
    gif = Image.open(path)
    assert gif.n_frames == 5 + 3 and gif.size == (2 * 30 + 2, 2 * 30 + 2)
    frames = []
    for i in range(gif.n_frames):
        gif.seek(i)
        frames.append(np.asarray(gif.convert("L")))
    np.testing.assert_array_equal(frames[3], frames[5])  # ... 3, 4, 3 ...
    assert np.abs(frames[0].astype(int) - frames[4]).max() > 0


def test_label_selects_the_class_of_a_conditional_generator(generators, tmp_path):
    write_samples(generators["conditional"], str(tmp_path / "3.png"), num=4, label=3)
    write_samples(generators["conditional"], str(tmp_path / "4.png"), num=4, label=4)
    threes, fours = _tiles(str(tmp_path / "3.png"), 2, 2), _tiles(str(tmp_path / "4.png"), 2, 2)
    generator = SavedGenerator(generators["conditional"])
    latents = sample_latents(np.random.default_rng(0), 4, LATENT_DIM)
    expected = to_uint8(generator(latents, np.full(4, 3)))[..., 0]
    np.testing.assert_array_equal(threes.reshape(4, 28, 28), expected)
    assert np.abs(threes.astype(int) - fours).max() > 0
    # Without --label, each column is one class.
    write_samples(generators["conditional"], str(tmp_path / "all.png"), num=20)
    tiles = _tiles(str(tmp_path / "all.png"), rows=2, columns=10)
    latents = sample_latents(np.random.default_rng(0), 20, LATENT_DIM)
    expected = to_uint8(generator(latents, np.arange(20) % 10))[..., 0]
    np.testing.assert_array_equal(tiles.reshape(20, 28, 28), expected)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(label=3), "not class-conditional"),
        (dict(out="x.jpg"), ".png or .gif"),
        (dict(interpolate=1), "at least 2"),
        (dict(truncation=-1.0), "--truncation"),
    ],
)
def test_bad_requests_are_user_errors(generators, tmp_path, kwargs, message):
    kwargs = {"out": str(tmp_path / "x.png"), **kwargs}
    with pytest.raises(UserError, match=message):
        write_samples(generators["plain"], **kwargs)


def test_a_label_beyond_the_classes_is_a_user_error(generators, tmp_path):
    with pytest.raises(UserError, match="not all classes"):
        write_samples(generators["conditional"], str(tmp_path / "x.png"), num=2, label=12)


# === Loading ===


def test_the_loader_keeps_a_temporary_loaded_object_alive(generators):
    # Nothing else references the loaded object: without the wrapper's
    # reference its variables would be freed and `serve` would fail.
    generator = SavedGenerator(tf.saved_model.load(generators["plain"]))
    gc.collect()
    latents = sample_latents(np.random.default_rng(0), 3, LATENT_DIM)
    from_path = SavedGenerator(generators["plain"])
    np.testing.assert_array_equal(generator(latents), from_path(latents))
    assert (generator.latent_dim, generator.conditional) == (LATENT_DIM, False)


def test_the_loader_batches_without_changing_the_images(generators):
    latents = sample_latents(np.random.default_rng(0), 7, LATENT_DIM)
    labels = np.arange(7) % 10
    whole = SavedGenerator(generators["conditional"])(latents, labels)
    batched = SavedGenerator(generators["conditional"], batch_size=3)(latents, labels)
    assert whole.shape == (7, 28, 28, 1) and whole.dtype == np.float32
    np.testing.assert_allclose(batched, whole, atol=1e-6)


class _NoServe(tf.Module):
    def __init__(self):
        super().__init__()
        self.v = tf.Variable(1.0)


class _ImageInput(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec((None, 28, 28, 1), tf.float32)])
    def serve(self, images):
        return images


def _bad_folder(tmp_path, kind):
    path = str(tmp_path / kind)
    if kind == "empty":
        os.mkdir(path)
    elif kind == "file":
        with open(path, "w") as f:
            f.write("not a folder")
    elif kind == "damaged":
        os.mkdir(path)
        with open(os.path.join(path, "saved_model.pb"), "wb") as f:
            f.write(b"\x00 not a protocol buffer")
    elif kind == "no_serve":
        tf.saved_model.save(_NoServe(), path)
    elif kind == "image_input":
        tf.saved_model.save(_ImageInput(), path)
    return path


@pytest.mark.parametrize(
    "kind, message",
    [
        ("nowhere", "does not exist"),
        ("empty", "is not a TensorFlow SavedModel \\(no saved_model.pb inside\\)"),
        ("file", "is not a TensorFlow SavedModel"),
        ("damaged", "cannot be loaded as a SavedModel"),
        ("no_serve", "has no `serve` endpoint"),
        ("image_input", "takes \\(None, 28, 28, 1\\), not float32 \\(B, latent_dim\\)"),
    ],
)
def test_a_folder_that_is_not_a_generator_is_a_user_error(tmp_path, kind, message):
    path = _bad_folder(tmp_path, kind)
    with pytest.raises(UserError, match=message) as raised:
        SavedGenerator(path)
    assert str(raised.value).startswith(f"--generator={path}")  # names the folder


def test_labels_must_match_the_generator(generators):
    plain, conditional = (SavedGenerator(generators[k]) for k in ("plain", "conditional"))
    latents = np.zeros((2, LATENT_DIM), np.float32)
    with pytest.raises(UserError, match="is not class-conditional"):
        plain(latents, [1, 2])
    with pytest.raises(UserError, match="is class-conditional"):
        conditional(latents)


@pytest.mark.slow
def test_sample_py_writes_a_grid_and_explains_errors_in_one_line(generators, tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO)

    def run(*args):
        return subprocess.run(
            [sys.executable, os.path.join(REPO, "sample.py"), *args],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=str(tmp_path),
        )

    result = run(f"--generator={generators['plain']}", "--num=16", "--out=grid.png")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _tiles(str(tmp_path / "grid.png"), 4, 4).std() > 0
    result = run(f"--generator={tmp_path}/nowhere")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: --generator={tmp_path}/nowhere does not exist; give the generator/ folder "
        "a kgan run exports (for example runs/kgan/generator)."
    ]
