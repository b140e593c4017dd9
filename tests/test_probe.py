"""The quality probe: its label-free features, its bad inputs, what a run keeps."""

import json
import logging
import os

import numpy as np
import pytest

import kgan.training
from tests.conftest import tiny_config


def _npz(path, count, labels=False, seed=0):
    """An .npz of `count` 28x28 grayscale images: bright squares at random places."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28, 1), np.uint8)
    for image in images:
        y, x = rng.integers(0, 20, 2)
        image[y : y + 8, x : x + 8] = 255
    arrays = {"images": images}
    if labels:
        arrays["labels"] = np.arange(count) % 4
    np.savez(path, **arrays)
    return str(path)


def test_kmeans_finds_separate_blobs():
    from kgan.quality.ssl import kmeans

    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.concatenate([c + rng.normal(0, 0.5, (50, 2)) for c in centres])
    found = kmeans(points, 3)
    nearest = np.sort([np.argmin(np.linalg.norm(found - c, axis=1)) for c in centres])
    assert nearest.tolist() == [0, 1, 2]
    assert np.abs(np.sort(found[:, 0]) - np.sort(centres[:, 0])).max() < 0.5


def test_nt_xent_is_low_for_matching_views_and_high_for_shuffled_ones():
    import keras

    from kgan.quality.ssl import nt_xent

    z = keras.random.normal((16, 64), seed=1)
    matched = float(nt_xent(z, z))
    shuffled = float(nt_xent(z, keras.ops.flip(z, axis=0)))
    assert matched < 0.5 and shuffled > matched + 2.0


def test_the_label_free_extractor_gives_features_clusters_and_a_fcd(tmp_path):
    from kgan.quality import Evaluator
    from kgan.quality.ssl import SelfSupervisedExtractor, default_steps

    assert default_steps(6000) == 600 and default_steps(10) == 50
    path = _npz(tmp_path / "squares.npz", 80)
    evaluator = Evaluator.from_dataset(path, cache_dir=str(tmp_path / "cache"))
    assert evaluator.features == "self-supervised"
    assert isinstance(evaluator.classifier, SelfSupervisedExtractor)
    assert "feature extractor 48, reference 16, floor 16" in evaluator.data.split
    floor = evaluator.floor()
    assert floor["fcd"] >= 0 and floor["classes_counted"] >= 1 and floor["kid"] is not None
    # Cached: a second evaluator loads it, same features.
    again = Evaluator.from_dataset(path, cache_dir=str(tmp_path / "cache"))
    images = np.asarray(evaluator.data.floor_images, np.float32) / 127.5 - 1
    np.testing.assert_allclose(
        again.classifier.features(images), evaluator.classifier.features(images), atol=1e-5
    )
    assert not again.score_images(images, kid=False)["kid"]


def test_a_dataset_too_small_to_hold_out_a_probe_trains_without_one(tmp_path, caplog):
    path = _npz(tmp_path / "few.npz", 20)
    out = tmp_path / "run"
    config = tiny_config(dataset=path, out_dir=str(out), eval_every=1, eval_samples=100)
    with caplog.at_level(logging.WARNING):
        result = kgan.training.train(config, verbose=0)
    lines = [r.getMessage() for r in caplog.records if "quality probe off" in r.getMessage()]
    assert len(lines) == 1 and "too few images" in lines[0]
    assert os.path.exists(os.path.join(result.generator_path, "saved_model.pb"))
    assert not os.path.exists(out / "generator_last")


@pytest.mark.slow
def test_a_64_image_dataset_gets_a_probe_and_says_how_it_was_built(tmp_path, caplog):
    path = _npz(tmp_path / "small.npz", 64, labels=True)
    out = tmp_path / "run"
    config = tiny_config(
        dataset=path, out_dir=str(out), eval_every=1, eval_samples=100, epochs=2, report=True
    )
    os.environ["KGAN_CACHE_DIR"] = str(tmp_path / "cache")
    try:
        with caplog.at_level(logging.INFO):
            kgan.training.train(config, verbose=0)
    finally:
        del os.environ["KGAN_CACHE_DIR"]
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "classifier 38, reference 13, floor 13 images" in said
    with open(out / "generator.json") as f:
        best = json.load(f)
    assert best["epoch"] in (1, 2) and best["features"] == "classifier"
    assert os.path.exists(out / "generator" / "saved_model.pb")
    assert os.path.exists(out / "generator_last" / "saved_model.pb")
    page = (out / "report.html").read_text()
    assert f"is the generator of epoch {best['epoch']}" in page
