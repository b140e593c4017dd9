"""DiffAugment's transforms and ADA's rule: what D sees, and how p moves."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan import augment
from kgan.checkpoint import TrainingCheckpoint
from kgan.gan import GAN
from kgan.parts import Augmenter
from kgan.training import build_gan
from tests.conftest import tiny_config


def _images(count=8, size=16, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-1, 1, (count, size, size, channels)).astype("float32"))


@pytest.mark.parametrize("policies", [("color",), ("translation",), ("cutout",), augment.POLICIES])
def test_probability_zero_leaves_the_images_as_they_are(policies):
    images = _images()
    seen = augment.diff_augment(images, 0.0, keras.random.SeedGenerator(0), policies)
    np.testing.assert_allclose(seen, images, atol=1e-6)


def test_translation_shifts_each_image_by_at_most_an_eighth_zero_padded():
    ones = tf.ones((64, 32, 32, 1))
    seen = augment.diff_augment(ones, 1.0, keras.random.SeedGenerator(1), ("translation",)).numpy()
    limit = int(32 * augment.TRANSLATION)  # 4 pixels
    for image in seen[..., 0]:
        empty_rows = int((image.sum(axis=1) == 0).sum())
        empty_columns = int((image.sum(axis=0) == 0).sum())
        assert empty_rows <= limit and empty_columns <= limit
        assert set(np.unique(image)) <= {0.0, 1.0}
    # Shifts vary from image to image, both ways.
    assert len({float(image.sum()) for image in seen[..., 0]}) > 5


def test_a_shift_moves_the_content_and_zero_fills_the_edge():
    ramp = tf.reshape(tf.range(1, 9, dtype=tf.float32), (1, 8, 1, 1)) * tf.ones((1, 8, 8, 1))
    moved = augment._shift(ramp, tf.constant([2]), axis=1).numpy()[0, :, 0, 0]
    np.testing.assert_array_equal(moved, [0, 0, 1, 2, 3, 4, 5, 6])
    back = augment._shift(ramp, tf.constant([-3]), axis=1).numpy()[0, :, 0, 0]
    np.testing.assert_array_equal(back, [4, 5, 6, 7, 8, 0, 0, 0])


def test_cutout_zeroes_one_square_of_half_the_side_clipped_at_the_border():
    ones = tf.ones((200, 32, 32, 1))
    seen = augment.diff_augment(ones, 1.0, keras.random.SeedGenerator(2), ("cutout",)).numpy()
    zeroed = (seen[..., 0] == 0).mean(axis=(1, 2))
    # A 16x16 square: a quarter of the image when inside, a sixteenth at a corner.
    assert zeroed.max() == pytest.approx(0.25)
    assert zeroed.min() >= 1 / 16 - 1e-6
    assert (zeroed < 0.25).any()


def test_each_transform_is_applied_to_each_image_with_probability_p():
    ones = tf.ones((4000, 8, 8, 1))
    seen = augment.diff_augment(ones, 0.3, keras.random.SeedGenerator(3), ("cutout",)).numpy()
    cut = (seen == 0).any(axis=(1, 2, 3)).mean()
    assert abs(cut - 0.3) < 0.03  # binomial sd 0.007


def test_colour_changes_are_per_image_and_keep_grey_images_grey():
    grey = tf.ones((16, 8, 8, 3)) * tf.reshape(tf.linspace(-0.5, 0.5, 16), (16, 1, 1, 1))
    seen = augment.diff_augment(grey, 1.0, keras.random.SeedGenerator(4), ("color",)).numpy()
    np.testing.assert_allclose(seen[..., 0], seen[..., 2], atol=1e-6)  # saturation of grey: none
    assert not np.allclose(seen, grey.numpy())


def test_gradients_flow_through_every_transform_to_the_images():
    images = _images()
    with tf.GradientTape() as tape:
        tape.watch(images)
        seen = augment.diff_augment(images, 1.0, keras.random.SeedGenerator(5))
        total = tf.reduce_sum(seen * seen)
    gradient = tape.gradient(total, images).numpy()
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0
    # Without the colour means (which mix every pixel), cut-out and
    # shifted-out pixels get no gradient: D never sees them.
    with tf.GradientTape() as tape:
        tape.watch(images)
        seen = augment.diff_augment(
            images, 1.0, keras.random.SeedGenerator(5), ("translation", "cutout")
        )
        total = tf.reduce_sum(seen * seen)
    gradient = tape.gradient(total, images).numpy()
    assert 0.05 < (gradient == 0).mean() < 0.5


def test_the_same_seed_gives_the_same_augmentation():
    images = _images()
    first = augment.diff_augment(images, 0.5, keras.random.SeedGenerator(6))
    second = augment.diff_augment(images, 0.5, keras.random.SeedGenerator(6))
    np.testing.assert_array_equal(first, second)


def test_unknown_policies_are_refused():
    with pytest.raises(ValueError, match="zoom"):
        augment.diff_augment(_images(), 1.0, keras.random.SeedGenerator(0), ("zoom",))


def test_ada_moves_p_by_the_images_shown_over_ada_kimg():
    # 128 images past a target of 0.6 with r_t = 0.9: up by 128 / 100k.
    assert float(augment.ada_adjustment(0.9, 0.6, 128, 100)) == pytest.approx(0.00128)
    assert float(augment.ada_adjustment(0.2, 0.6, 128, 100)) == pytest.approx(-0.00128)
    # From 0 to 1 after ada_kimg thousand images of overfitting.
    steps = 500_000 // 256
    assert steps * float(augment.ada_adjustment(1.0, 0.6, 256, 500)) == pytest.approx(1.0, 0.01)


def _gan(**overrides):
    keras.utils.set_random_seed(0)
    return build_gan(tiny_config(**overrides), (28, 28, 1))


def test_the_gan_adjusts_p_every_fourth_step_and_keeps_it_in_zero_one():
    gan = _gan(augment="adaptive", ada_kimg=0.1)
    for step in range(1, 9):
        gan.augmenter.update(tf.constant(1.0), 8)
        expected = 0.0 if step < 4 else (0.32 if step < 8 else 0.64)
        assert float(gan.augmenter.p) == pytest.approx(expected), step
    for _ in range(40):
        gan.augmenter.update(tf.constant(1.0), 8)
    assert float(gan.augmenter.p) == 1.0
    for _ in range(80):
        gan.augmenter.update(tf.constant(-1.0), 8)
    assert float(gan.augmenter.p) == 0.0


def test_an_overfitting_discriminator_raises_p_in_training():
    # A fast D on 16 images becomes sure of them: r_t passes the target and p rises.
    gan = _gan(augment="adaptive", ada_kimg=0.05, d_lr=0.05, d_dropout=0.0)
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    history = gan.fit(images, batch_size=8, epochs=6, verbose=0).history
    assert history["augment_p"][0] == 0.0
    assert max(history["d_real_sign"]) > gan.augmenter.target
    assert max(history["augment_p"]) > 0.3


class _Counting(GAN):
    """Records the batches `augment` sees, to check who sees augmented images."""

    def augment(self, images):
        self.augmented = getattr(self, "augmented", 0) + 1
        return super().augment(images)


def test_real_and_fake_are_augmented_in_both_updates():
    keras.utils.set_random_seed(0)
    gan = build_gan(tiny_config(augment="fixed"), (28, 28, 1), gan_class=_Counting)
    gan.run_eagerly = True
    images = np.zeros((8, 28, 28, 1), "float32")
    gan.fit(images, batch_size=8, epochs=1, verbose=0)
    # D's update: the real and the fake batch; G's update: the fake batch.
    assert gan.augmented == 3


def test_fixed_p_is_held_and_adaptive_starts_at_zero():
    assert float(_gan(augment="fixed", augment_p=0.4).augmenter.p) == pytest.approx(0.4)
    assert float(_gan(augment="adaptive").augmenter.p) == 0.0
    assert _gan(augment="off").augmenter is None


def test_a_checkpoint_holds_p_and_the_interval_so_a_resumed_run_continues_them(tmp_path):
    gan = _gan(augment="adaptive")
    ada = gan.augmenter.controller
    ada.value.assign(0.37)
    ada.signal_sum.assign(1.5)
    ada.updates.assign(2.0)
    TrainingCheckpoint(gan, str(tmp_path)).save(step=3, epoch=1, steps_per_epoch=4)
    fresh = _gan(augment="adaptive")
    TrainingCheckpoint(fresh, str(tmp_path)).restore_latest()
    ada = fresh.augmenter.controller
    assert float(fresh.augmenter.p) == pytest.approx(0.37)
    assert (float(ada.signal_sum), float(ada.updates)) == (1.5, 2.0)


def test_augmentation_trains_under_mixed_precision():
    gan = _gan(augment="fixed", mixed_precision="mixed_bfloat16")
    images = np.zeros((8, 28, 28, 1), "float32")
    history = gan.fit(images, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(history["d_loss"][0]) and gan.augmenter.p.dtype == "float32"


@pytest.mark.parametrize("jit_compile", [False, True])
def test_at_p_zero_the_augmenter_draws_nothing_and_returns_the_images(jit_compile):
    # Skipped, not computed and masked: the seed generator's state does not move.
    augmenter = Augmenter(adaptive=True)
    seed = keras.random.SeedGenerator(0)
    images = _images()
    run = tf.function(lambda x: augmenter.augment(x, seed), jit_compile=jit_compile)
    state = seed.state.numpy().copy()
    np.testing.assert_array_equal(run(images), images)
    np.testing.assert_array_equal(seed.state.numpy(), state)
    augmenter.p.assign(1.0)
    assert not np.allclose(run(images), images)
    assert not np.array_equal(seed.state.numpy(), state)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_transform_no_image_drew_is_skipped_and_the_gradient_still_flows(jit_compile):
    # At p = 1e-6 no image of the batch draws any transform: every one is
    # skipped (a cond on the batch's mask), the images pass exactly and
    # D's gradient reaches them unchanged; at p = 1 every transform runs.
    images = _images()
    seed = keras.random.SeedGenerator(6)

    @tf.function(jit_compile=jit_compile)
    def seen_and_gradient(x, p):
        with tf.GradientTape() as tape:
            tape.watch(x)
            seen = augment.diff_augment(x, p, seed)
            total = tf.reduce_sum(seen * seen)
        return seen, tape.gradient(total, x)

    def draws(p):
        # Random numbers drawn in one call: the seed generator's counter.
        before = seed.state.numpy().copy()
        result = seen_and_gradient(images, tf.constant(p))
        return result, int(np.abs(seed.state.numpy() - before).sum())

    (seen, gradient), skipped_draws = draws(1e-6)
    np.testing.assert_array_equal(seen, images)
    np.testing.assert_allclose(gradient, 2 * images.numpy(), rtol=1e-6)
    (seen, gradient), all_draws = draws(1.0)
    assert not np.allclose(seen, images) and np.isfinite(gradient.numpy()).all()
    # Skipped transforms draw only their masks, not their parameters.
    assert 0 < skipped_draws < all_draws
