"""FastGAN's reconstruction loss on D: which features, what loss, what it trains."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan.checkpoint import TrainingCheckpoint
from kgan.networks import build_discriminator
from kgan.parts import Reconstruction, parts_from_config
from kgan.parts.reconstruction import feature_layer
from kgan.training import build_gan
from tests.conftest import tiny_config


@pytest.mark.parametrize(
    "size, residual, layer, width",
    [
        (64, False, "discriminator_block3_act", 8),
        (64, True, "discriminator_block3_act", 8),
        (32, False, "discriminator_block2_act", 8),
        (28, False, "discriminator_block2_act", 7),
    ],
)
def test_the_decoded_features_are_the_deepest_at_least_8_wide(size, residual, layer, width):
    discriminator = build_discriminator((size, size, 3), d_filters=4, d_residual=residual)
    assert feature_layer(discriminator) == layer
    assert discriminator.get_layer(layer).output.shape[1:3] == (width, width)
    part = Reconstruction(1.0).attach(discriminator)
    assert part.size == 4 * width
    assert part.decoder.output_shape == (None, 4 * width, 4 * width, 3)


def test_the_loss_is_the_weighted_error_against_the_area_resized_image():
    keras.utils.set_random_seed(0)
    discriminator = build_discriminator((64, 64, 3), d_filters=4, d_dropout=0.0)
    part = Reconstruction(0.25).attach(discriminator)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
    logits, loss = part.discriminate(images)
    np.testing.assert_allclose(logits, discriminator(images, training=True), atol=1e-5)
    features = keras.Model(
        discriminator.inputs, discriminator.get_layer(feature_layer(discriminator)).output
    )
    redrawn = np.asarray(part.decoder(features(images)))
    target = images.reshape(2, 32, 2, 32, 2, 3).mean(axis=(2, 4))  # area resize = 2x2 means
    expected = 0.25 * np.mean((redrawn - target) ** 2)
    assert float(loss) == pytest.approx(expected, rel=1e-4)


def test_the_loss_reaches_ds_first_layer_and_the_decoder():
    keras.utils.set_random_seed(0)
    discriminator = build_discriminator((28, 28, 1), d_filters=4, d_dropout=0.0)
    part = Reconstruction(1.0).attach(discriminator)
    images = np.random.default_rng(1).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    with tf.GradientTape() as tape:
        _, loss = part.discriminate(images)
    first = discriminator.get_layer("discriminator_block1_conv").kernel
    grads = tape.gradient(loss, [first, *part.trainable_variables])
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_config_turns_it_on_and_the_gan_trains_and_checkpoints_the_decoder(tmp_path):
    assert parts_from_config(tiny_config())["reconstruction"] is None
    keras.utils.set_random_seed(0)
    gan = build_gan(tiny_config(d_reconstruction=1.0), (28, 28, 1))
    assert isinstance(gan.reconstruction, Reconstruction)
    decoder = gan.reconstruction.trainable_variables
    assert decoder and all(any(v is w for w in gan.variables) for v in decoder)
    before = [v.numpy().copy() for v in decoder]
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    gan.fit(images, batch_size=8, epochs=1, verbose=0)
    assert all(not np.allclose(a, v.numpy()) for a, v in zip(before, decoder, strict=True))
    checkpoint = TrainingCheckpoint(gan, str(tmp_path))
    checkpoint.save(step=2, epoch=1, steps_per_epoch=2)
    saved = [v.numpy().copy() for v in decoder]
    gan.fit(images, batch_size=8, epochs=1, verbose=0)
    checkpoint.restore_latest()
    for a, v in zip(saved, decoder, strict=True):
        np.testing.assert_array_equal(a, v.numpy())
