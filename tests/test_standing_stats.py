"""Standing statistics: inference mode normalises like training mode on a big batch."""

import keras
import numpy as np
import pytest

from kgan.gan import GAN
from kgan.networks import build_discriminator, build_generator
from kgan.standing_stats import batch_norm_layers, recalibrate_batch_norm


def _generator(**kwargs):
    keras.utils.set_random_seed(0)
    return build_generator((28, 28, 1), latent_dim=8, g_filters=16, g_kernel_size=3, **kwargs)


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
    layers = batch_norm_layers(generator)
    assert recalibrate_batch_norm(generator, latents, batch_size=100) == len(layers) == 3
    # Every layer, the later ones measured behind the already recalibrated earlier ones.
    for layer in layers:
        inputs = np.asarray(keras.Model(generator.input, layer.input)(latents, training=False))
        axes = tuple(range(inputs.ndim - 1))  # all but the channels
        np.testing.assert_allclose(
            layer.moving_mean, inputs.mean(axes), rtol=1e-4, atol=1e-5, err_msg=layer.name
        )
        np.testing.assert_allclose(
            layer.moving_variance, inputs.var(axes), rtol=1e-3, atol=1e-5, err_msg=layer.name
        )


def test_gan_recalibrates_once_per_generator_update():
    generator = _generator()
    discriminator = build_discriminator((28, 28, 1), d_filters=8, d_kernel_size=3)
    gan = GAN(generator, discriminator, ema=0, seed=0)
    gan.compile()
    images = np.zeros((8, 28, 28, 1), "float32")
    gan.fit(images, batch_size=8, epochs=1, verbose=0)
    z = np.zeros((4, 8), "float32")
    first = np.asarray(gan.sample(z))
    np.testing.assert_array_equal(first, np.asarray(gan.sample(z)))
    # Statistics planted after the calibration survive sampling at the same step ...
    layer = batch_norm_layers(gan.inference_generator())[0]
    layer.moving_variance.assign(np.full(layer.moving_variance.shape, 1e3, "float32"))
    gan.sample(z)
    np.testing.assert_array_equal(layer.moving_variance, 1e3)
    # ... and are measured afresh after the generator's next update.
    gan.fit(images, batch_size=8, epochs=1, verbose=0)
    gan.sample(z)
    probe = keras.Model(generator.input, layer.input)
    latents = np.random.default_rng(2).standard_normal((1024, 8)).astype("float32")
    measured = np.asarray(probe(latents, training=False)).var(0)
    assert np.asarray(layer.moving_variance).max() < 100
    np.testing.assert_allclose(layer.moving_variance, measured, rtol=0.3, atol=1e-4)


@pytest.mark.parametrize("standing_stats", [True, False])
def test_switch_turns_recalibration_off(standing_stats):
    generator = _generator()
    gan = GAN(
        generator,
        build_discriminator((28, 28, 1), d_filters=8),
        standing_stats=standing_stats,
        ema=0,  # the generator itself is the sampled network
    )
    moving = np.array(batch_norm_layers(generator)[0].moving_variance)
    gan.sample(np.zeros((2, 8), "float32"))
    changed = not np.array_equal(moving, batch_norm_layers(generator)[0].moving_variance)
    assert changed == standing_stats


def _one_channel_per_class_generator():
    """A conditional generator whose first BatchNorm sees class k in channel k only.

    Labels embed as one-hot vectors that mask the latents, and the projection
    copies latent k to channel k: channel k's input is `z[k]` for class k and
    0 for every other class.
    """
    keras.utils.set_random_seed(0)
    generator = build_generator(
        (28, 28, 1), latent_dim=10, g_filters=16, g_kernel_size=3, num_classes=10
    )
    generator.get_layer("generator_label_embedding").set_weights([np.eye(10, dtype="float32")])
    dense = generator.get_layer("generator_dense")
    kernel = np.zeros(dense.kernel.shape, "float32")
    kernel[:, :10] = np.eye(10)
    dense.kernel.assign(kernel)
    return generator


def _calibrated_variances(generator, conditions=None):
    """The first BatchNorm's moving variance once a fresh GAN has calibrated it."""
    discriminator = build_discriminator((28, 28, 1), d_filters=8, d_kernel_size=3, num_classes=10)
    gan = GAN(generator, discriminator, ema=0)
    network = gan.inference_generator(conditions)
    assert network is generator
    return np.asarray(batch_norm_layers(network)[0].moving_variance)[:10]


def test_conditional_generators_are_recalibrated_over_every_class():
    generator = _one_channel_per_class_generator()
    # By default the calibration batch is class-balanced: each class holds a
    # tenth of it, so each channel's variance is about E[z^2] / 10.
    balanced = _calibrated_variances(generator)
    assert np.all((balanced > 0.06) & (balanced < 0.15)), balanced
    # Given conditions, the batch draws its labels from them and only them.
    three = _calibrated_variances(generator, np.array([3], "int32"))
    np.testing.assert_array_equal(np.delete(three, 3), 0.0)
    assert 0.85 < three[3] < 1.15
    some = _calibrated_variances(generator, np.array([1, 2, 3], "int32"))
    np.testing.assert_array_equal(np.delete(some, [1, 2, 3]), 0.0)
    assert np.all((some[[1, 2, 3]] > 0.25) & (some[[1, 2, 3]] < 0.45)), some
    # The images come from the calibrated network.
    gan = GAN(generator, build_discriminator((28, 28, 1), d_filters=8, num_classes=10), ema=0)
    z = np.random.default_rng(0).standard_normal((3, 10)).astype("float32")
    labels = np.array([1, 2, 3], "int32")
    images = np.asarray(gan.sample(z, labels))
    assert images.shape == (3, 28, 28, 1)
    np.testing.assert_allclose(images, generator([z, labels], training=False), atol=1e-6)


def test_other_labels_at_the_same_step_recalibrate_again():
    generator = _one_channel_per_class_generator()
    gan = GAN(generator, build_discriminator((28, 28, 1), d_filters=8, num_classes=10), ema=0)
    gan.inference_generator(np.array([3], "int32"))
    gan.inference_generator(np.array([5], "int32"))  # same weights, other labels
    variances = np.asarray(batch_norm_layers(generator)[0].moving_variance)[:10]
    np.testing.assert_array_equal(np.delete(variances, 5), 0.0)
    assert 0.85 < variances[5] < 1.15
