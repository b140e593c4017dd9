"""Losses are pure functions of logits of any rank."""

import keras
import numpy as np
import pytest

from kgan import losses


def test_bce_matches_keras_binary_crossentropy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(16, 1)).astype("float32") * 4
    targets = rng.uniform(size=(16, 1)).astype("float32")
    expected = keras.losses.BinaryCrossentropy(from_logits=True)(targets, logits)
    got = losses.nonsaturating_discriminator_loss(logits, logits, targets, targets) / 2
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_losses_average_over_a_patch_map():
    rng = np.random.default_rng(1)
    per_image = rng.normal(size=(4, 1, 1, 1)).astype("float32")
    patch_map = np.broadcast_to(per_image, (4, 7, 7, 1))
    for loss in (losses.nonsaturating_generator_loss, losses.least_squares_generator_loss):
        np.testing.assert_allclose(loss(patch_map), loss(per_image.reshape(4, 1)), rtol=1e-6)
    np.testing.assert_allclose(
        losses.nonsaturating_discriminator_loss(patch_map, patch_map, 0.9, 0.1),
        losses.nonsaturating_discriminator_loss(per_image, per_image, 0.9, 0.1),
        rtol=1e-6,
    )


def test_bce_is_stable_for_huge_logits():
    logits = np.array([[1e4], [-1e4]], "float32")
    value = losses.nonsaturating_generator_loss(logits)
    np.testing.assert_allclose(value, 1e4 / 2, rtol=1e-6)


def test_nonsaturating_generator_gradient_survives_a_confident_discriminator():
    # Diminished gradient: D rejects fakes with logit -10. The minimax loss
    # gives G almost no gradient there; the non-saturating one gives ~1.
    import tensorflow as tf

    logits = tf.constant([[-10.0]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        nonsaturating = losses.nonsaturating_generator_loss(logits)
        minimax = losses.minimax_generator_loss(logits)
    assert abs(float(tape.gradient(nonsaturating, logits)[0, 0])) > 0.99
    assert abs(float(tape.gradient(minimax, logits)[0, 0])) < 1e-4


@pytest.mark.parametrize(
    "loss, value",
    [
        (losses.least_squares_discriminator_loss, 0.5 * 1 + 0.5 * 4),
        (losses.wasserstein_discriminator_loss, 2.0 - 0.0),
    ],
)
def test_other_losses_closed_form(loss, value):
    real = np.zeros((2, 1), "float32")
    fake = np.full((2, 1), 2.0, "float32")
    np.testing.assert_allclose(loss(real, fake, 1.0, 0.0), value, rtol=1e-6)


def test_accuracies_count_the_right_side_of_zero():
    logits = np.array([[1.0], [-1.0], [2.0], [-3.0]], "float32")
    assert float(losses.real_accuracy(logits)) == 0.5
    assert float(losses.fake_accuracy(logits)) == 0.5


def test_loss_flag_names_every_loss_and_build_gan_uses_it():
    from kgan import losses
    from kgan.config import LOSSES
    from kgan.gan import GAN
    from kgan.training import build_gan
    from tests.conftest import tiny_config

    assert tuple(losses.BY_NAME) == LOSSES
    assert isinstance(build_gan(tiny_config(loss="hinge"), (28, 28, 1)).loss, losses.HingeLoss)

    class LeastSquaresGAN(GAN):
        LOSS = losses.LeastSquaresLoss

    # The default keeps a subclass's own LOSS.
    gan = build_gan(tiny_config(), (28, 28, 1), gan_class=LeastSquaresGAN)
    assert isinstance(gan.loss, losses.LeastSquaresLoss)
