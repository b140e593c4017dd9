"""kgan.quality end to end: real data scores at the floor, bad generators far above it."""

import gc
import math
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan.errors import UserError
from kgan.export import export_generator
from kgan.networks import build_generator
from kgan.quality import (
    KEYS,
    LABELLED_KEYS,
    Evaluator,
    as_generator,
    generate,
    load_eval_data,
)
from kgan.quality.classifier import cache_key, load_or_train_classifier
from kgan.quality.data import to_float
from tests.conftest import TEST_CLASSIFIER_EPOCHS


def _constant_generator(image, latent_dim=8):
    """A Keras 'generator' that ignores its input and returns `image` every time."""
    latents = keras.Input((latent_dim,))
    constant = keras.ops.convert_to_tensor(image[None], "float32")
    images = keras.layers.Lambda(lambda z: keras.ops.zeros_like(z[:, :1, None, None]) + constant)(
        latents
    )
    return keras.Model(latents, images)


@pytest.fixture(scope="module")
def floor(mnist_evaluator):
    return mnist_evaluator.floor()


def test_mnist_split_is_fixed_and_disjoint(mnist_evaluator):
    data = mnist_evaluator.data
    assert len(data.train_images) == 6000
    assert len(data.reference_images) == len(data.floor_images) == 2000
    seen = {image.tobytes() for image in data.train_images}
    held_out = [image.tobytes() for image in data.held_out_images]
    # MNIST t10k holds no exact duplicate that could straddle the split.
    assert not seen.intersection(held_out)
    again = load_eval_data(data.name)
    assert np.array_equal(again.reference_images, data.reference_images)
    assert mnist_evaluator.classifier.accuracy > 0.9


def test_real_data_scores_at_the_floor(floor):
    assert set(KEYS) <= set(floor)
    assert floor["num_samples"] == 2000 and floor["reference_size"] == 2000
    assert floor["fcd"] < 1.0
    assert abs(floor["kid"]) < 0.02
    assert floor["classes_covered"] == 10
    assert floor["class_kl"] < 0.01
    assert floor["precision"] > 0.8 and floor["recall"] > 0.8
    assert 0.9 < floor["diversity"] < 1.1
    assert floor["duplicates"] < 0.05
    assert floor["classifier_score"] > 8.0


def test_an_untrained_generator_scores_far_worse(mnist_evaluator, floor):
    keras.utils.set_random_seed(0)
    untrained = build_generator((28, 28, 1), latent_dim=16, g_filters=32, g_kernel_size=3)
    scores = mnist_evaluator.evaluate(untrained, num_samples=1000)
    assert scores["fcd"] > 20 * floor["fcd"] and scores["fcd"] > 5.0
    assert scores["kid"] > 0.1
    assert scores["classifier_score"] < floor["classifier_score"] / 2
    assert scores["recall"] < 0.1
    assert scores["diversity"] < 0.2


def test_a_constant_image_covers_one_class_with_no_recall(mnist_evaluator):
    image = to_float(mnist_evaluator.data.floor_images[0])
    scores = mnist_evaluator.evaluate(_constant_generator(image), num_samples=1000)
    assert scores["classes_covered"] == 1
    assert scores["class_kl"] > 1.5  # log(10) = 2.3 for one of ten balanced classes
    assert scores["recall"] < 0.01
    assert scores["duplicates"] == 1.0
    assert scores["diversity"] < 1e-3


def test_scores_are_deterministic_for_a_seed(mnist_evaluator):
    keras.utils.set_random_seed(1)
    generator = build_generator((28, 28, 1), latent_dim=8, g_filters=16, g_kernel_size=3)
    first = mnist_evaluator.evaluate(generator, num_samples=300, seed=3)
    second = mnist_evaluator.evaluate(generator, num_samples=300, seed=3)
    other = mnist_evaluator.evaluate(generator, num_samples=300, seed=4)
    assert first == second
    assert first["fcd"] != other["fcd"]


class _ForeignGenerator(tf.Module):
    """A SavedModel made without kgan: only the `serve` contract is shared."""

    def __init__(self, latent_dim=7):
        super().__init__()
        self.kernel = tf.Variable(tf.random.stateless_normal((latent_dim, 784), (1, 2)))

    @tf.function(input_signature=[tf.TensorSpec((None, 7), tf.float32)])
    def serve(self, latents):
        return tf.reshape(tf.tanh(latents @ self.kernel), (-1, 28, 28, 1))


def test_any_saved_model_with_a_serve_endpoint(mnist_evaluator, tmp_path):
    path = str(tmp_path / "foreign")
    tf.saved_model.save(_ForeignGenerator(), path)
    generator = as_generator(path)
    assert generator.latent_dim == 7 and not generator.conditional
    # An object `tf.saved_model.load` returned serves the same images, even
    # once nothing but the wrapper references it.
    from_loaded = as_generator(tf.saved_model.load(path))
    gc.collect()
    np.testing.assert_array_equal(generate(from_loaded, 10), generate(generator, 10))
    scores = mnist_evaluator.evaluate(path, num_samples=200)
    assert math.isfinite(scores["fcd"]) and scores["fcd"] > 1.0


def test_kgan_exports_evaluate_like_the_keras_model(mnist_evaluator, tmp_path):
    keras.utils.set_random_seed(2)
    generator = build_generator((28, 28, 1), latent_dim=8, g_filters=16, g_kernel_size=3)
    path = export_generator(generator, str(tmp_path / "generator"))
    from_export = mnist_evaluator.evaluate(path, num_samples=200)
    from_model = mnist_evaluator.evaluate(generator, num_samples=200)
    assert from_export["fcd"] == pytest.approx(from_model["fcd"], rel=1e-4)


def test_unusable_generators_are_named(mnist_evaluator, tmp_path):
    def named(folder, problem):
        return f"--generator={re.escape(str(tmp_path / folder))}:? .*{problem}"

    with pytest.raises(UserError, match=named("nowhere", "does not exist")):
        as_generator(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=named("empty", "not a TensorFlow SavedModel")):
        as_generator(str(tmp_path / "empty"))
    module = tf.Module()
    module.v = tf.Variable(1.0)
    tf.saved_model.save(module, str(tmp_path / "no_serve"))
    with pytest.raises(UserError, match=named("no_serve", "no `serve` endpoint")):
        as_generator(str(tmp_path / "no_serve"))
    rgb = build_generator((32, 32, 3), latent_dim=8, g_filters=16, g_kernel_size=3)
    with pytest.raises(UserError, match="makes 32x32x3 images but .* holds 28x28x1"):
        mnist_evaluator.evaluate(rgb, num_samples=200)


def test_nan_images_give_nan_scores_not_a_crash(mnist_evaluator):
    images = np.full((200, 28, 28, 1), np.nan, np.float32)
    scores = mnist_evaluator.score_images(images)
    assert math.isnan(scores["fcd"]) and scores["classes_covered"] == 0


def test_the_classifier_is_cached_per_dataset(mnist_evaluator, evaluation_cache, monkeypatch):
    import kgan.quality.classifier as classifier_module

    def no_training(*args, **kwargs):
        raise AssertionError("the cached classifier should have been used")

    monkeypatch.setattr(classifier_module, "train_classifier", no_training)
    data = mnist_evaluator.data
    cached = load_or_train_classifier(data, evaluation_cache, TEST_CLASSIFIER_EPOCHS)
    assert cached.accuracy == mnist_evaluator.classifier.accuracy
    assert os.path.basename(cached.info["path"]) == cache_key(data, TEST_CLASSIFIER_EPOCHS)
    assert cache_key(data, TEST_CLASSIFIER_EPOCHS).startswith("mnist-")
    # Another recipe or other images: another key.
    assert cache_key(data, TEST_CLASSIFIER_EPOCHS + 1) != cache_key(data, TEST_CLASSIFIER_EPOCHS)
    changed = load_eval_data(data.name)
    changed.train_images = changed.train_images.copy()
    changed.train_images[0, 0, 0, 0] ^= 1
    assert cache_key(changed, TEST_CLASSIFIER_EPOCHS) != cache_key(data, TEST_CLASSIFIER_EPOCHS)


def test_two_split_idx_folders_train_on_train_and_halve_the_test_split(idx_folder):
    data = load_eval_data(idx_folder)
    assert len(data.train_images) == 96
    assert len(data.reference_images) == len(data.floor_images) == 16
    assert data.num_classes == 10 and "test split halved" in data.split


def test_unlabelled_datasets_get_the_label_free_checks(tmp_path):
    rng = np.random.default_rng(0)
    path = str(tmp_path / "faces.npz")
    np.savez(path, images=rng.integers(0, 256, (400, 32, 32, 3)).astype(np.uint8))
    # The classifier's features only (the default, "auto", trains kgan.quality.ssl's).
    evaluator = Evaluator.from_dataset(path, features="classifier")
    assert evaluator.classifier is None and not evaluator.data.labelled
    floor = evaluator.floor()
    assert all(floor[key] is None for key in LABELLED_KEYS)
    assert 0.9 < floor["diversity"] < 1.1
    repeated = np.repeat(to_float(evaluator.data.floor_images[:1]), 200, axis=0)
    scores = evaluator.score_images(repeated)
    assert scores["duplicates"] == 1.0 and scores["diversity"] < 1e-3


def test_tfds_datasets_split_train_and_test(monkeypatch):
    import tensorflow_datasets as tfds

    from kgan.data import tfds_source

    monkeypatch.setattr(tfds_source, "network_available", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=60):
        data = load_eval_data("mnist")
    assert data.image_shape == (28, 28, 1) and data.num_classes == 10
    assert len(data.train_images) == 60
    assert len(data.reference_images) == len(data.floor_images) == 30
