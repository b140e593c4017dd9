"""Standing statistics: inference mode normalises like training mode on a big batch."""

import keras
import numpy as np
import pytest

from kgan.gan import GAN
from kgan.networks import build_discriminator, build_generator
from kgan.standing_stats import batch_norm_layers, recalibrate_batch_norm


def _generator(**kwargs):
    keras.utils.set_random_seed(0)
    return build_generator((28, 28, 1), latent_dim=8, filters=16, kernel_size=3, **kwargs)


def test_recalibrated_inference_matches_training_mode_on_the_same_batch():
    generator = _generator()
    latents = np.random.default_rng(0).standard_normal((2048, 8)).astype("float32")
    # Weights that moved far from the moving averages (which start at 0 / 1).
    for weight in generator.trainable_weights:
        weight.assign(weight * 3.0 + 0.1)
    before = np.asarray(generator(latents[:64], training=False))
    assert recalibrate_batch_norm(generator, latents) == 3
    after = np.asarray(generator(latents[:64], training=False))
    # Training mode normalises with the statistics of the batch it is given:
    # on all 2048 latents, the same statistics the recalibration measured.
    training = np.asarray(generator(latents, training=True))[:64]
    np.testing.assert_allclose(after, training, atol=2e-3)
    assert np.abs(before - training).max() > 10 * np.abs(after - training).max()


def test_each_layer_gets_the_mean_and_variance_of_its_input():
    generator = _generator()
    latents = np.random.default_rng(1).standard_normal((512, 8)).astype("float32")
    recalibrate_batch_norm(generator, latents, batch_size=100)
    first = batch_norm_layers(generator)[0]
    inputs = np.asarray(keras.Model(generator.input, first.input)(latents))
    np.testing.assert_allclose(first.moving_mean, inputs.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(first.moving_variance, inputs.var(0), rtol=1e-3, atol=1e-5)


def test_gan_samples_with_standing_stats_once_per_generator_update():
    generator = _generator()
    discriminator = build_discriminator((28, 28, 1), filters=8, kernel_size=3)
    gan = GAN(generator, discriminator, seed=0)
    gan.compile()
    gan.fit(np.zeros((16, 28, 28, 1), "float32"), batch_size=8, epochs=1, verbose=0)
    calls = []

    import kgan.gan as gan_module

    real = gan_module.recalibrate_batch_norm

    def spy(model, inputs, batch_size=512):
        calls.append(len(inputs))
        return real(model, inputs, batch_size)

    gan_module.recalibrate_batch_norm = spy
    try:
        z = np.zeros((4, 8), "float32")
        first = np.asarray(gan.sample(z))
        second = np.asarray(gan.sample(z))
    finally:
        gan_module.recalibrate_batch_norm = real
    assert calls == [1024]  # cached until the generator updates again
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("standing_stats", [True, False])
def test_switch_turns_recalibration_off(standing_stats):
    generator = _generator()
    gan = GAN(generator, build_discriminator((28, 28, 1), filters=8), standing_stats=standing_stats)
    moving = np.array(batch_norm_layers(generator)[0].moving_variance)
    gan.sample(np.zeros((2, 8), "float32"))
    changed = not np.array_equal(moving, batch_norm_layers(generator)[0].moving_variance)
    assert changed == standing_stats


def test_conditional_generators_are_recalibrated_over_their_classes():
    generator = _generator(num_classes=10)
    gan = GAN(generator, build_discriminator((28, 28, 1), filters=8, num_classes=10))
    images = gan.sample(np.zeros((3, 8), "float32"), np.array([1, 2, 3], "int32"))
    assert images.shape == (3, 28, 28, 1)
