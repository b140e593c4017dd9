"""The generator's exponential moving average: formula, sampling, export, checkpoints."""

import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan.checkpoint import TrainingCheckpoint
from kgan.gan import GAN
from kgan.networks import build_discriminator, build_generator
from tests.conftest import run_python, tiny_config


def _gan(ema, seed=0):
    keras.utils.set_random_seed(seed)
    # BatchNorm synchronizes across replicas when built under a strategy with several.
    generator = build_generator((28, 28, 1), latent_dim=8, g_filters=16, g_kernel_size=3)
    discriminator = build_discriminator((28, 28, 1), d_filters=8, d_kernel_size=3)
    gan = GAN(generator, discriminator, ema=ema, seed=seed)
    gan.compile()
    return gan


def _values(weights):
    return [np.array(w.numpy()) for w in weights]


def _images(count=32):
    return np.random.default_rng(0).uniform(-1, 1, (count, 28, 28, 1)).astype("float32")


class _RecordGenerator(keras.callbacks.Callback):
    """The generator's weights after every step (steps_per_execution=1)."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append(_values(self.model.generator.weights))


def _expected_average(initial, steps, ema):
    average = initial
    for n, weights in enumerate(steps, start=1):
        decay = min(ema, (1 + n) / (10 + n))
        average = [decay * a + (1 - decay) * w for a, w in zip(average, weights, strict=True)]
    return average


def test_ema_weights_follow_the_formula_after_each_step():
    # 0.3 < (1 + 3) / (10 + 3): steps 1-2 use the warm-up decay, 3-4 the cap.
    gan = _gan(ema=0.3)
    initial = _values(gan.generator.weights)
    np.testing.assert_array_equal(initial[0], gan.ema.generator.weights[0].numpy())
    recorder = _RecordGenerator()
    gan.fit(_images(32), batch_size=8, epochs=1, callbacks=[recorder], verbose=0)
    assert len(recorder.steps) == 4
    expected = _expected_average(initial, recorder.steps, 0.3)
    names = [w.path for w in gan.generator.weights]
    assert any("moving_mean" in name for name in names)  # BN statistics are averaged too
    for name, want, got in zip(names, expected, _values(gan.ema.generator.weights), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)
    # The average is neither the start nor the current generator.
    assert not np.allclose(expected[0], initial[0])
    assert not np.allclose(expected[0], recorder.steps[-1][0])


def test_ema_weights_are_not_trainable_and_off_means_none():
    gan = _gan(ema=0.999)
    assert gan.ema.generator.trainable_weights == []
    trainable = {id(w) for w in gan.trainable_weights}
    assert not any(id(w) in trainable for w in gan.ema.generator.weights)
    assert _gan(ema=0.0).ema is None


def test_sample_runs_the_averaged_generator():
    gan = _gan(ema=0.9)
    gan.fit(_images(16), batch_size=8, epochs=1, verbose=0)
    z = tf.random.normal((4, 8), seed=1)
    sampled = np.array(gan.sample(z))
    np.testing.assert_allclose(sampled, gan.ema.generator(z, training=False), atol=1e-6)
    assert np.abs(sampled - np.array(gan.generator(z, training=False))).max() > 1e-4
    assert gan.inference_generator() is gan.ema.generator

    plain = _gan(ema=0.0)
    np.testing.assert_allclose(plain.sample(z), plain.generator(z, training=False), atol=1e-6)
    assert plain.inference_generator() is plain.generator


def test_a_run_checkpoint_restores_the_averaged_weights_into_a_fresh_gan(tmp_path):
    gan = _gan(ema=0.9)
    gan.fit(_images(16), batch_size=8, epochs=1, verbose=0)
    saved = _values(gan.ema.generator.weights)
    # The average is state of its own: not the generator's current weights.
    assert any(
        not np.array_equal(a, b) for a, b in zip(saved, _values(gan.generator.weights), strict=True)
    )
    TrainingCheckpoint(gan, str(tmp_path)).save(step=2, epoch=1, steps_per_epoch=2)

    fresh = _gan(ema=0.9, seed=1)  # other initial weights, so other averages
    assert not np.array_equal(_values(fresh.ema.generator.weights)[0], saved[0])
    point = TrainingCheckpoint(fresh, str(tmp_path)).restore_latest()
    assert point.step == 2
    names = [w.path for w in fresh.ema.generator.weights]
    for name, want, got in zip(names, saved, _values(fresh.ema.generator.weights), strict=True):
        np.testing.assert_array_equal(got, want, err_msg=name)
    # So the restored GAN samples what the saved one does.
    z = tf.random.normal((4, 8), seed=3)
    np.testing.assert_allclose(fresh.sample(z), gan.sample(z), atol=1e-6)


def test_ema_round_trips_through_get_config():
    clone = GAN.from_config(_gan(ema=0.99).get_config())
    assert clone.ema.decay == 0.99 and clone.ema.generator is not None


@pytest.mark.slow
def test_training_exports_the_averaged_generator(idx_folder, tmp_path):
    from kgan.training import train

    config = tiny_config(dataset=idx_folder, out_dir=str(tmp_path / "run"), ema=0.5)
    result = train(config, verbose=0)
    loaded = tf.saved_model.load(result.generator_path)
    z = tf.random.normal((3, 8), seed=2)
    served = loaded.serve(z).numpy()
    np.testing.assert_allclose(served, result.gan.ema.generator(z, training=False), atol=1e-5)
    assert np.abs(served - np.array(result.gan.generator(z, training=False))).max() > 1e-4


_MIRRORED = textwrap.dedent(
    """
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tests.test_ema import _expected_average, _gan, _images, _RecordGenerator, _values
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        # As kgan.training builds it: replicas draw different latents, so
        # only synchronized BatchNorm (the default) keeps their moving statistics equal.
        gan = _gan(ema=0.3)
    initial = _values(gan.generator.weights)
    recorder = _RecordGenerator()
    gan.fit(_images(32), batch_size=8, epochs=1, callbacks=[recorder], verbose=0)
    expected = _expected_average(initial, recorder.steps, 0.3)
    error = 0.0
    for want, weight in zip(expected, gan.ema.generator.weights, strict=True):
        for copy in weight.value.values:  # every replica's copy
            error = max(error, float(np.abs(copy.numpy() - want).max()))
    print("steps", len(recorder.steps), "error", error)
    """
)


@pytest.mark.slow
def test_ema_is_identical_on_every_replica_of_a_mirrored_strategy():
    result = run_python(_MIRRORED)
    assert result.returncode == 0, result.stderr[-3000:]
    steps, error = result.stdout.split()[1::2]
    assert int(steps) == 4
    assert float(error) < 1e-5
