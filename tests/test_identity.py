"""The identity yardstick: its split, its reject set, its scores and its place in an evaluation."""

import dataclasses
import json
import os

import numpy as np
import pytest

from kgan.errors import UserError
from kgan.quality import identity
from kgan.quality.identity import (
    blur,
    load_identity_data,
    score_probabilities,
    split_by_identity,
    unrecognisable,
)


def shapes_npz(path, per_identity=4, size=16):
    """Four identities a small CNN tells apart at once: a bar in each corner, on white."""
    images, ids = [], []
    rng = np.random.default_rng(0)
    for identity_index in range(4):
        for _ in range(per_identity):
            image = np.full((size, size, 3), 255, np.uint8)
            row, col = divmod(identity_index, 2)
            half = size // 2
            colour = rng.integers(0, 120, 3)
            image[row * half : row * half + half, col * half : col * half + half] = colour
            images.append(image)
            ids.append(identity_index)
    ids = np.array(ids, np.int32)
    np.savez(path, images=np.stack(images), labels=ids, emoji=ids)
    return str(path)


def test_every_identity_is_trained_on_and_half_of_each_is_held_out():
    ids = np.array([0] * 5 + [1] * 2 + [2] * 1 + [3] * 4)
    images = np.arange(len(ids))[:, None, None, None].astype(np.uint8) * np.ones((1, 2, 2, 1), int)
    data = split_by_identity("d", "k", images.astype(np.uint8), ids)
    assert set(data.train_ids) == {0, 1, 2, 3}
    counts = {i: int(np.sum(data.held_out_ids == i)) for i in range(4)}
    assert counts == {0: 2, 1: 1, 2: 0, 3: 2}
    assert len(data.train_ids) + len(data.held_out_ids) == len(ids)
    seen = np.concatenate([data.train_images[:, 0, 0, 0], data.held_out_images[:, 0, 0, 0]])
    assert sorted(seen) == list(range(len(ids)))  # disjoint halves, nothing lost
    again = split_by_identity("d", "k", images.astype(np.uint8), ids)
    np.testing.assert_array_equal(again.held_out_ids, data.held_out_ids)


def test_blur_keeps_a_flat_image_and_spreads_a_point_as_a_gaussian():
    flat = np.full((9, 9, 3), 7.0)
    np.testing.assert_allclose(blur(flat, 2.0, 3.0), flat)
    point = np.zeros((21, 21, 1))
    point[10, 10] = 1.0
    spread = blur(point, 2.0, 2.0)[:, :, 0]
    assert spread.sum() == pytest.approx(1.0, abs=1e-6)
    assert spread[10, 10] == spread.max()
    # A Gaussian of sigma 2: the value one sigma away is exp(-1/2) of the peak.
    assert spread[10, 12] / spread[10, 10] == pytest.approx(np.exp(-0.5), rel=1e-6)


def test_unrecognisable_images_keep_their_shape_and_differ_from_the_originals():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (12, 16, 16, 3)).astype(np.uint8)
    made = unrecognisable(images, np.random.default_rng(1))
    assert made.shape == images.shape and made.dtype == np.uint8
    assert all(np.abs(a.astype(int) - b).mean() > 5 for a, b in zip(made, images, strict=True))
    np.testing.assert_array_equal(made, unrecognisable(images, np.random.default_rng(1)))


def test_scores_count_confident_identities_and_the_reject_class():
    probabilities = np.array(
        [
            [0.9, 0.05, 0.05, 0.0],  # identity 0, confident
            [0.1, 0.6, 0.1, 0.2],  # identity 1, confident
            [0.7, 0.1, 0.1, 0.1],  # identity 0 again
            [0.3, 0.3, 0.3, 0.1],  # unsure
            [0.1, 0.1, 0.1, 0.7],  # rejected
        ]
    )
    scores = score_probabilities(probabilities, confidence=0.5)
    assert scores == {"recognisable": 0.6, "identities": 2, "rejected": 0.2}


def test_identities_that_do_not_fit_the_images_are_refused(tmp_path):
    path = tmp_path / "d.npz"
    images = np.zeros((6, 8, 8, 3), np.uint8)
    np.savez(path, images=images, emoji=np.arange(5))
    with pytest.raises(UserError, match="one integer 0..N-1 per image"):
        load_identity_data(str(path), "emoji")
    np.savez(path, images=images, emoji=np.array([0, 1, -2, 0, 1, 2]))
    with pytest.raises(UserError, match="one integer 0..N-1 per image"):
        load_identity_data(str(path), "emoji")
    with pytest.raises(UserError, match="has no array 'who'"):
        load_identity_data(str(path), "who")
    with pytest.raises(UserError, match="is not an .npz file"):
        load_identity_data(str(tmp_path), "emoji")


@pytest.mark.slow
def test_a_trained_judge_is_cached_and_joins_an_evaluation(tmp_path):
    from kgan.quality import Evaluator

    path = shapes_npz(tmp_path / "shapes.npz", per_identity=16)
    data = load_identity_data(path, "emoji")
    judge = identity.load_or_train(data, str(tmp_path / "cache"), epochs=3)
    assert judge.info["identities"] == 4
    assert judge.info["reject_images"] == int(len(data.train_images) * identity.REJECT_FRACTION)
    folder = os.path.join(tmp_path, "cache", "identity", identity.cache_key(data, 3))
    with open(os.path.join(folder, "info.json")) as f:
        assert json.load(f)["train_images"] == len(data.train_images)
    again = identity.load_or_train(data, str(tmp_path / "cache"), epochs=3)
    images = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(again.probabilities(images), judge.probabilities(images))

    evaluator = Evaluator.from_dataset(path, cache_dir=str(tmp_path / "cache"))
    assert evaluator.identity is None
    assert evaluator.floor()["recognisable"] is None
    evaluator.identity = judge
    floor = evaluator.floor()
    assert floor == {**floor, **judge.floor()}
    scores = evaluator.score_images(images)
    assert set(identity.KEYS) <= set(scores) and scores["recognisable"] is not None


@pytest.mark.slow
def test_evaluate_reports_recognisable_beside_the_real_ceiling(tmp_path):
    from kgan.config import EvaluateConfig
    from kgan.evaluate_program import evaluate_from_config

    path = shapes_npz(tmp_path / "shapes.npz", per_identity=16)
    config = EvaluateConfig(
        dataset=path, real=True, identity_key="emoji", cache_dir=str(tmp_path / "cache")
    )
    text = evaluate_from_config(config)
    assert "identities: 4 in" in text
    row = next(line for line in text.splitlines() if line.startswith("recognisable"))
    assert float(row.split()[1]) >= 0.0
    scores = json.loads(evaluate_from_config(dataclasses.replace(config, json=True)))
    assert 0.0 <= scores["recognisable"] <= 1.0 and scores["identities"] <= 4
    with pytest.raises(UserError, match="has no array 'who'"):
        evaluate_from_config(dataclasses.replace(config, identity_key="who"))
