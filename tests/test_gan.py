"""The adversarial step: who updates when, what D sees, label noise, logs."""

import keras
import numpy as np
import pytest

from kgan import losses
from kgan.callbacks import LabelNoiseSchedule
from kgan.gan import GAN
from kgan.networks import build_discriminator, build_generator
from kgan.parts import Augmenter, LabelNoise, R1Penalty, Reconstruction, balance_controller
from tests.conftest import tiny_config


def _networks(seed=0, head="dcgan"):
    keras.utils.set_random_seed(seed)
    generator = build_generator((28, 28, 1), latent_dim=8, g_filters=16, g_kernel_size=3)
    discriminator = build_discriminator(
        (28, 28, 1), d_filters=8, d_kernel_size=3, discriminator=head, patch_layers=2
    )
    return generator, discriminator


def _weights(model):
    return [np.array(w) for w in model.trainable_weights]


def _changed(before, after):
    return any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def _real_images(count=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (count, 28, 28, 1)).astype("float32")


class RecordingGAN(GAN):
    """Records, eagerly, every D input and the weights when G's loss is taken."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.d_inputs, self.generate_calls, self.at_g_loss = [], 0, None

    def generate(self, latents, conditions=None, training=False):
        self.generate_calls += 1
        return super().generate(latents, conditions, training)

    def discriminate(self, images, conditions=None, training=False):
        self.d_inputs.append(np.array(images))
        return super().discriminate(images, conditions, training)

    def generator_loss(self, fake_logits):
        self.at_g_loss = (_weights(self.generator), _weights(self.discriminator))
        return super().generator_loss(fake_logits)


def _recording_gan(**kwargs):
    # No augmentation: the recorded inputs are compared with the real images byte for byte.
    gan = RecordingGAN(*_networks(), seed=0, augmenter=None, **kwargs)
    gan.compile(run_eagerly=True)
    return gan


def test_d_weights_change_only_in_its_update_and_g_only_in_its_own():
    gan = _recording_gan()
    g_start, d_start = _weights(gan.generator), _weights(gan.discriminator)
    gan.train_step(_real_images(8))
    g_mid, d_mid = gan.at_g_loss
    assert not _changed(g_start, g_mid), "G changed during D's update"
    assert _changed(d_start, d_mid), "D's update did not change D"
    assert not _changed(d_mid, _weights(gan.discriminator)), "D changed during G's update"
    assert _changed(g_mid, _weights(gan.generator)), "G's update did not change G"


def test_discriminator_never_sees_a_mixed_batch():
    gan = _recording_gan()
    real = _real_images(8)
    real_rows = {row.tobytes() for row in real}
    gan.train_step(real)
    # One all-real and one all-fake pass for D's update, one fake pass for G's.
    assert [len(batch) for batch in gan.d_inputs] == [8, 8, 8]
    kinds = []
    for batch in gan.d_inputs:
        is_real = [image.tobytes() in real_rows for image in batch]
        assert all(is_real) or not any(is_real), "a batch mixed real and fake images"
        kinds.append("real" if all(is_real) else "fake")
    assert kinds == ["real", "fake", "fake"]
    # The generator runs forward once: G's update reuses D's fake batch.
    assert gan.generate_calls == 1
    np.testing.assert_array_equal(gan.d_inputs[1], gan.d_inputs[2])


def test_mixed_batches_option_concatenates_for_ablations():
    gan = _recording_gan(separate_batches=False)
    real = _real_images(8)
    gan.train_step(real)
    # One D pass on real then fake, concatenated; then G's pass on the fakes.
    assert [len(batch) for batch in gan.d_inputs] == [16, 8]
    np.testing.assert_array_equal(gan.d_inputs[0][:8], real)
    np.testing.assert_array_equal(gan.d_inputs[0][8:], gan.d_inputs[1])


def test_extra_critic_steps_use_fresh_fake_batches():
    gan = _recording_gan(d_steps=3)
    gan.train_step(_real_images(8))
    assert gan.generate_calls == 3
    assert len(gan.d_inputs) == 3 * 2 + 1
    # D's inputs: (real, fake) per critic step, then G's pass on the last fakes.
    fakes = [gan.d_inputs[i] for i in (1, 3, 5)]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.allclose(fakes[i], fakes[j]), f"critic steps {i} and {j} shared fakes"
    np.testing.assert_array_equal(gan.d_inputs[6], fakes[-1])


def _targets(gan, real, batch=20000, logits_shape=(1,)):
    logits = keras.ops.zeros((batch, *logits_shape))
    fn = gan.real_targets if real else gan.fake_targets
    return np.array(fn(logits))


def test_observed_flip_rate_matches_label_flip():
    gan = GAN(*_networks(), label_noise=LabelNoise(flip=0.1, smoothing=0.0), seed=3)
    real = _targets(gan, real=True)
    fake = _targets(gan, real=False)
    sigma = np.sqrt(0.1 * 0.9 / len(real))
    assert set(np.unique(real)) == {0.0, 1.0}
    assert abs(np.mean(real == 0.0) - 0.1) < 4 * sigma
    assert abs(np.mean(fake == 1.0) - 0.1) < 4 * sigma


def test_smoothing_draws_uniform_soft_targets_in_range():
    gan = GAN(*_networks(), label_noise=LabelNoise(flip=0.0, smoothing=0.2), seed=4)
    real = _targets(gan, real=True)
    fake = _targets(gan, real=False)
    assert real.min() >= 0.8 and real.max() <= 1.0
    assert fake.min() >= 0.0 and fake.max() <= 0.2
    # Uniform: each tenth of the interval holds ~10% of the draws.
    counts, _ = np.histogram(real, bins=10, range=(0.8, 1.0))
    assert np.all(np.abs(counts / len(real) - 0.1) < 0.01)
    assert abs(fake.mean() - 0.1) < 0.003


def test_one_sided_smoothing_keeps_fake_targets_at_zero():
    gan = GAN(*_networks(), label_noise=LabelNoise(flip=0.0, smoothing=0.2, one_sided=True))
    assert np.all(_targets(gan, real=False) == 0.0)
    assert _targets(gan, real=True).min() >= 0.8


def test_flipped_targets_take_the_other_side_soft_value():
    gan = GAN(*_networks(), label_noise=LabelNoise(flip=0.5, smoothing=0.1), seed=5)
    real = _targets(gan, real=True)
    flipped = real[real <= 0.1]
    assert 0.45 < len(flipped) / len(real) < 0.55
    assert flipped.max() <= 0.1 and real[real > 0.1].min() >= 0.9


def test_patchgan_targets_are_per_image_shared_by_its_patches():
    gan = GAN(*_networks(head="patchgan"), label_noise=LabelNoise(flip=0.3, smoothing=0.1), seed=6)
    targets = _targets(gan, real=True, batch=64, logits_shape=(7, 7, 1))
    assert targets.shape == (64, 1, 1, 1)
    broadcast = np.broadcast_to(targets, (64, 7, 7, 1))
    assert np.all(broadcast == broadcast[:, :1, :1, :])


def test_step_logs_every_metric_of_the_mission():
    gan = GAN(*_networks(), seed=0)
    gan.compile()
    history = gan.fit(_real_images(32), batch_size=8, epochs=1, verbose=0).history
    expected = {
        "d_loss",
        "g_loss",
        "d_real_acc",
        "d_fake_acc",
        "d_grad_norm",
        "g_grad_norm",
        "label_flip",
        "label_smoothing",
        "d_real_sign",
        "augment_p",
        "balance",
    }
    assert set(history) == expected
    for name, values in history.items():
        assert np.isfinite(values[0]), name
    assert 0 <= history["d_real_acc"][0] <= 1
    assert history["d_grad_norm"][0] > 0 and history["g_grad_norm"][0] > 0
    assert history["label_flip"][0] == pytest.approx(0.1)


def test_a_schedule_changes_label_noise_without_retracing():
    traces = []

    class CountingGAN(GAN):
        def train_step(self, data):
            traces.append(1)  # runs once per trace, not per step
            return super().train_step(data)

    gan = CountingGAN(*_networks(), label_noise=LabelNoise(flip=0.2, smoothing=0.1), seed=0)
    gan.compile()
    schedule = LabelNoiseSchedule(schedule="linear", decay_epochs=2)
    history = gan.fit(
        _real_images(16), batch_size=8, epochs=3, callbacks=[schedule], verbose=0
    ).history
    np.testing.assert_allclose(history["label_flip"], [0.2, 0.1, 0.0], atol=1e-6)
    np.testing.assert_allclose(history["label_smoothing"], [0.1, 0.05, 0.0], atol=1e-6)
    assert len(traces) == 1


def test_same_seed_same_weights():
    def run(seed=7):
        gan = GAN(*_networks(seed=7), seed=seed)
        gan.compile()
        gan.fit(_real_images(16), batch_size=8, epochs=1, shuffle=False, verbose=0)
        return _weights(gan.generator)

    first = run()
    for a, b in zip(first, run(), strict=True):
        np.testing.assert_array_equal(a, b)
    # Equal because seeded, not because nothing moved: training changed the
    # weights, and another model seed (other latents) changes them otherwise.
    assert _changed(_weights(_networks(seed=7)[0]), first)
    assert _changed(first, run(seed=8))


def test_call_generates_images_from_latents():
    gan = GAN(*_networks())
    z = np.random.default_rng(0).standard_normal((5, 8)).astype("float32")
    images = np.asarray(gan(z))
    assert images.shape == (5, 28, 28, 1)
    # The generator's images, in inference mode, one per latent.
    np.testing.assert_allclose(images, gan.generator(z, training=False), atol=1e-6)
    assert np.abs(images[0] - images[1]).max() > 1e-4


def test_get_config_round_trips_every_part():
    gan = GAN(
        *_networks(),
        label_noise=LabelNoise(flip=0.05, smoothing=0.2, one_sided=True),
        augmenter=Augmenter(adaptive=False, p=0.3, policies=("color",)),
        balance=balance_controller(0.8, 50),
        penalty=R1Penalty(2.0),
        reconstruction=Reconstruction(0.5),
        loss=losses.LeastSquaresLoss(),
        ema=0.9,
        d_steps=2,
        seed=9,
    )
    clone = GAN.from_config(gan.get_config())
    assert type(clone) is GAN
    assert clone.latent_dim == 8 and clone.seed == 9 and clone.d_steps == 2
    assert clone.ema.decay == 0.9 and type(clone.loss) is losses.LeastSquaresLoss
    for name in ("label_noise", "augmenter", "balance", "penalty", "reconstruction"):
        assert getattr(clone, name).get_config() == getattr(gan, name).get_config(), name
    assert float(clone.label_noise.flip.numpy()) == pytest.approx(0.05)
    assert [w.shape for w in clone.generator.weights] == [w.shape for w in gan.generator.weights]
    assert clone.discriminator.output_shape == gan.discriminator.output_shape


def test_parts_turned_off_stay_off_through_the_config():
    gan = GAN(*_networks(), label_noise=None, augmenter=None, balance=None, penalty=None, ema=0)
    clone = GAN.from_config(gan.get_config())
    assert (clone.label_noise, clone.augmenter, clone.balance, clone.penalty, clone.ema) == (
        None,
        None,
        None,
        None,
        None,
    )
    history = clone_fit(clone)
    assert history["label_flip"] == [0.0] and history["augment_p"] == [0.0]


def clone_fit(gan):
    gan.compile()
    return gan.fit(_real_images(8), batch_size=8, epochs=1, verbose=0).history


def _settings(part):
    # A part's config less what Keras adds (its unique name, the dtype policy).
    return {k: v for k, v in part.get_config().items() if k not in ("name", "dtype", "trainable")}


def test_a_notebook_gan_is_the_recipe_train_py_runs():
    # One source of defaults: GAN(g, d) + compile() against build_gan(Config()).
    from kgan.config import Config
    from kgan.training import build_gan

    notebook = GAN(*_networks())
    notebook.compile()
    cli = build_gan(Config(), (28, 28, 1), networks=_networks)
    for name in ("label_noise", "augmenter", "balance", "penalty"):
        mine, theirs = getattr(notebook, name), getattr(cli, name)
        assert (mine is None) == (theirs is None), name
        if mine is not None:
            assert _settings(mine) == _settings(theirs), name
    assert type(notebook.loss) is type(cli.loss)
    assert notebook.ema.decay == cli.ema.decay == 0.999
    for setting in ("separate_batches", "d_steps", "output_range"):
        assert getattr(notebook, setting) == getattr(cli, setting), setting
    assert (notebook.standing_statistics is None) == (cli.standing_statistics is None)
    for mine, theirs in (
        (notebook.d_optimizer, cli.d_optimizer),
        (notebook.g_optimizer, cli.g_optimizer),
    ):
        for key in ("learning_rate", "beta_1", "beta_2", "epsilon"):
            assert mine.get_config()[key] == pytest.approx(theirs.get_config()[key]), key
    # And the recipe is what Config documents, not a second copy of it.
    assert notebook.label_noise.get_config()["flip"] == pytest.approx(Config().label_flip)
    assert notebook.augmenter.adaptive == (Config().augment == "adaptive")


def test_an_unbounded_critic_refuses_adaptive_augmentation_and_balance():
    from kgan.errors import UserError

    critic = losses.WassersteinLoss()
    with pytest.raises(UserError, match="--augment=fixed"):
        GAN(*_networks(), loss=critic, augmenter=Augmenter(adaptive=True))
    with pytest.raises(UserError, match="--balance=off"):
        GAN(*_networks(), loss=critic, augmenter=None, balance=balance_controller(0.7, 10))
    GAN(*_networks(), loss=critic, augmenter=Augmenter(adaptive=False))  # fixed is fine


def test_subclass_override_points_are_used():
    class UniformLatentGAN(GAN):
        def sample_latents(self, batch_size):
            self.sampled = keras.random.uniform(
                (batch_size, self.latent_dim), -1, 1, seed=self.seed_generator
            )
            return self.sampled

        def generate(self, latents, conditions=None, training=False, generator=None):
            self.generated_from = latents
            return super().generate(latents, conditions, training, generator)

    gan = UniformLatentGAN(*_networks())
    gan.compile(run_eagerly=True)
    gan.train_step(_real_images(8))
    # The step's fake batch came from the overridden latents: uniform in [-1, 1].
    sampled = np.asarray(gan.sampled)
    assert sampled.shape == (8, 8) and np.abs(sampled).max() <= 1.0
    np.testing.assert_array_equal(np.asarray(gan.generated_from), sampled)


def test_lsgan_example_trains_a_few_steps():
    from examples.lsgan import LSGAN
    from kgan.training import build_gan

    gan = build_gan(tiny_config(), (28, 28, 1), gan_class=LSGAN)
    history = gan.fit(_real_images(32), batch_size=8, epochs=2, verbose=0).history
    assert isinstance(gan, LSGAN)
    assert all(np.isfinite(v).all() for v in history.values())
    # The overridden losses are the least-squares ones, not BCE.
    logits = np.array([[0.0], [2.0]], "float32")
    assert float(gan.generator_loss(logits)) == pytest.approx(0.5 * (1 + 1) / 2)
    assert float(gan.discriminator_loss(logits, logits, 1.0, 0.0)) == pytest.approx(
        0.5 * (1 + 1) / 2 + 0.5 * (0 + 4) / 2
    )


def test_a_notebook_builds_the_networks_train_py_builds():
    # The builders hold the network defaults; Config reads them from there.
    from kgan.config import Config
    from kgan.networks import build_discriminator, build_generator, build_networks

    keras.utils.set_random_seed(0)
    cli = build_networks(Config(), (28, 28, 1))
    keras.utils.set_random_seed(0)
    notebook = build_generator((28, 28, 1)), build_discriminator((28, 28, 1))
    for mine, theirs in zip(notebook, cli, strict=True):
        assert [layer.get_config() for layer in mine.layers] == [
            layer.get_config() for layer in theirs.layers
        ]


def test_train_step_hands_over_each_steps_own_values(tiny_gan):
    seen = []

    class Collect(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(self.model.step_values())

    assert tiny_gan.step_values() == {}  # no step yet
    images = _real_images(32)
    history = tiny_gan.fit(images, batch_size=8, epochs=1, verbose=0, callbacks=[Collect()])
    assert len(seen) == 4 and set(seen[0]) == set(tiny_gan.LOGGED)
    # Each step's own: their mean is the epoch's logged running mean.
    for name in ("d_loss", "g_loss", "d_grad_norm"):
        own = [values[name] for values in seen]
        assert len(set(own)) > 1
        np.testing.assert_allclose(np.mean(own), history.history[name][-1], rtol=1e-5)
