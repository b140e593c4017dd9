"""Balance on autopilot, spectral normalisation and R1: what each does to D."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan.checkpoint import TrainingCheckpoint
from kgan.config import Config
from kgan.errors import UserError
from kgan.gan import GAN
from kgan.training import build_gan
from tests.conftest import tiny_config


def _gan(gan_class=GAN, **overrides):
    keras.utils.set_random_seed(0)
    return build_gan(tiny_config(**overrides), (28, 28, 1), gan_class=gan_class)


def _images(count=16, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, 28, 28, 1)).astype("float32")


# === The controller's rule ===


def test_the_handicap_moves_one_step_per_step_by_who_won_and_stays_in_zero_one():
    gan = _gan(balance="auto", balance_steps=4, balance_target=0.7)
    for expected in (0.25, 0.5, 0.75, 1.0, 1.0):
        gan.balance.update(tf.constant(0.9))  # D more accurate than the target
        assert float(gan.balance.value) == pytest.approx(expected)
    for expected in (0.75, 0.5, 0.25, 0.0, 0.0):
        gan.balance.update(tf.constant(0.55))
        assert float(gan.balance.value) == pytest.approx(expected)


def test_the_handicap_raises_the_flip_probability_from_label_flip_to_one_half():
    gan = _gan(balance="auto", label_flip=0.1)
    assert float(gan.label_noise.flip_probability(gan.balance.value)) == pytest.approx(0.1)
    gan.balance.value.assign(0.5)
    assert float(gan.label_noise.flip_probability(gan.balance.value)) == pytest.approx(0.3)
    gan.balance.value.assign(1.0)
    assert float(gan.label_noise.flip_probability(gan.balance.value)) == pytest.approx(0.5)
    # The targets D trains on are flipped at that rate (drawn per image).
    gan.balance.value.assign(0.5)
    targets = np.concatenate(
        [np.asarray(gan.real_targets(tf.zeros((1000, 1)))).ravel() for _ in range(4)]
    )
    assert 0.27 < np.mean(targets < 0.5) < 0.33


def test_the_balance_signal_is_ds_accuracy_on_both_batches():
    gan = _gan(balance="auto")
    real = tf.constant([[1.0], [2.0], [-1.0], [3.0]])  # 3 of 4 called real
    fake = tf.constant([[-1.0], [1.0], [1.0], [1.0]])  # 1 of 4 called fake
    assert float(gan.balance_signal(real, fake)) == pytest.approx(0.5)


def test_a_discriminator_that_wins_gets_a_handicap_in_training_and_off_keeps_none():
    # A fast D without dropout or label noise tells 16 noise images from
    # an untrained G's output at once: the handicap climbs.
    images = _images()
    settings = dict(d_lr=0.01, d_dropout=0.0, label_flip=0.0, label_smoothing=0.0)
    gan = _gan(balance="auto", balance_steps=10, **settings)
    history = gan.fit(images, batch_size=8, epochs=4, verbose=0).history
    assert max(history["d_real_acc"]) > 0.7
    assert history["balance"][-1] > 0.2
    assert history["label_flip"][-1] > 0.1  # the logged rate is the one D trained with
    still = _gan(balance="off", **settings)
    history = still.fit(images, batch_size=8, epochs=4, verbose=0).history
    assert history["balance"] == [0.0] * 4 and still.balance is None


def test_a_checkpoint_holds_the_handicap(tmp_path):
    gan = _gan(balance="auto")
    gan.balance.value.assign(0.42)
    TrainingCheckpoint(gan, str(tmp_path)).save(step=3, epoch=1, steps_per_epoch=4)
    fresh = _gan(balance="auto")
    TrainingCheckpoint(fresh, str(tmp_path)).restore_latest()
    assert float(fresh.balance.value) == pytest.approx(0.42)


def test_balance_survives_get_config_and_bad_values_are_refused():
    gan = _gan(balance="auto", balance_target=0.8, balance_steps=50, r1_gamma=2.0)
    clone = GAN.from_config(gan.get_config())
    assert (clone.balance.target, clone.balance.span, clone.balance.interval) == (0.8, 50, 1)
    assert clone.penalty.gamma == 2.0
    with pytest.raises(UserError, match="--balance='sometimes' is not one of off, auto"):
        Config(balance="sometimes")
    with pytest.raises(UserError, match="balance_target"):
        Config(balance_target=0.4)


# === R1 ===


def test_r1_is_half_gamma_times_the_mean_squared_input_gradient_on_real_images():
    gan = _gan(r1_gamma=3.0, augment="off", d_dropout=0.0)
    images = tf.constant(_images(4))
    with tf.GradientTape() as tape:
        tape.watch(images)
        scores = tf.reduce_sum(gan.discriminator(images, training=True))
    grads = tape.gradient(scores, images)
    expected = 1.5 * np.mean(np.sum(np.square(grads.numpy()), axis=(1, 2, 3)))
    penalty = gan.gradient_penalty(images, images * 0)
    assert float(penalty) == pytest.approx(expected, rel=1e-5)
    assert _gan(r1_gamma=0.0).gradient_penalty(images, images) is None


def test_r1_reaches_ds_weights_and_is_taken_per_image_through_a_patchgan_head():
    gan = _gan(r1_gamma=1.0, discriminator="patchgan", patch_layers=2, d_dropout=0.0)
    images = tf.constant(_images(4))
    with tf.GradientTape() as tape:
        penalty = gan.gradient_penalty(images, images)
    grads = tape.gradient(penalty, gan.discriminator.trainable_variables)
    assert float(penalty) > 0
    assert all(g is not None for g in grads[:-1])  # the last bias has no input gradient


def test_r1_trains_and_a_strong_r1_flattens_d_on_the_data():
    images = _images()
    weak = _gan(r1_gamma=0.0, d_lr=0.01, d_dropout=0.0)
    strong = _gan(r1_gamma=100.0, d_lr=0.01, d_dropout=0.0)
    for gan in (weak, strong):
        history = gan.fit(images, batch_size=8, epochs=3, verbose=0).history
        assert np.isfinite(history["d_loss"]).all()
    x = tf.constant(images)

    def input_gradient(gan):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(gan.discriminator(x, training=False))
        return float(tf.norm(tape.gradient(score, x)))

    assert input_gradient(strong) < input_gradient(weak)


# === Spectral normalisation ===


def test_spectral_norm_wraps_every_d_layer_and_holds_each_kernels_norm_near_one():
    gan = _gan(spectral_norm=True, d_dropout=0.0)
    wrapped = [
        layer
        for layer in gan.discriminator.layers
        if isinstance(layer, keras.layers.SpectralNormalization)
    ]
    kinds = {type(layer.layer).__name__ for layer in wrapped}
    assert len(wrapped) == 3 and kinds == {"Conv2D", "Dense"}
    gan.fit(_images(), batch_size=8, epochs=2, verbose=0)
    for layer in wrapped:
        kernel = np.asarray(layer.layer.kernel).reshape(-1, layer.layer.kernel.shape[-1])
        # One power iteration per call: close to 1 after a few steps.
        assert np.linalg.svd(kernel, compute_uv=False)[0] == pytest.approx(1.0, abs=0.15)
    plain = _gan(spectral_norm=False)
    assert not any(
        isinstance(layer, keras.layers.SpectralNormalization)
        for layer in plain.discriminator.layers
    )


def test_spectral_norm_keeps_float32_logits_under_mixed_precision():
    gan = _gan(spectral_norm=True, mixed_precision="mixed_bfloat16")
    assert gan.discriminator.output.dtype == "float32"
    history = gan.fit(_images(8), batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][0])
