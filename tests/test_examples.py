"""The variants in examples/: a conditional GAN and WGAN-GP, trained a few steps each."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from PIL import Image

from examples.cgan import ConditionalGAN
from examples.wgan_gp import WGANGP, WGANGPConfig, gan_class
from kgan.callbacks import SampleSnapshot
from kgan.config import Config
from kgan.errors import UserError
from kgan.gan import GAN
from kgan.images import to_uint8
from kgan.networks import build_discriminator, build_generator
from kgan.sampling import sample_latents, write_samples
from kgan.saved_generator import SavedGenerator
from tests.conftest import REPO, run_python, tiny_config


def _tiles(path, count, size=28, padding=2):
    """The first `count` images of a square grid written by `make_grid`, `(count, size, size)`."""
    grid = np.asarray(Image.open(path))
    columns = (grid.shape[1] - padding) // (size + padding)
    step = size + padding
    return np.stack(
        [
            grid[padding + r * step :][:size, padding + c * step :][:, :size]
            for r, c in (divmod(i, columns) for i in range(count))
        ]
    )


def _tiny_wgan_config(**overrides):
    """The recipe's defaults with the tiny sizes of `tiny_config`."""
    tiny = {k: v for k, v in tiny_config().to_dict().items() if getattr(Config(), k) != v}
    return WGANGPConfig(**{**tiny, **overrides})


# === Running them ===


@pytest.mark.slow
@pytest.mark.parametrize(
    "example, flag",
    [("cgan", "--num_samples"), ("lsgan", "--d_lr"), ("wgan_gp", "--gp_weight")],
)
def test_examples_run_as_modules_from_the_repository_root(example, flag):
    # `python -m examples.NAME`, as the README says: no sys.path edits, no PYTHONPATH.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-m", f"examples.{example}", "--helpshort"],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(env, TF_CPP_MIN_LOG_LEVEL="3"),
        cwd=REPO,
    )
    # absl's --helpshort exits with status 1 after listing the program's flags.
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"{flag}:" in result.stdout  # its flags were defined and listed


# === Conditional GAN ===


@pytest.mark.slow
def test_conditional_gan_trains_and_samples_the_asked_class(idx_folder, tmp_path):
    from kgan.training import train

    config = tiny_config(dataset=idx_folder, out_dir=str(tmp_path / "run"), num_samples=10)
    result = train(config, gan_class=ConditionalGAN, conditional=True, verbose=0)
    assert isinstance(result.gan, ConditionalGAN)
    assert [len(x.shape) for x in result.gan.discriminator.inputs] == [4, 1]  # images, labels
    assert all(np.isfinite(v).all() for v in result.history.values())
    generator = SavedGenerator(result.generator_path)
    assert generator.conditional
    out = str(tmp_path / "threes.png")
    write_samples(result.generator_path, out, num=4, label=3, seed=1)
    latents = sample_latents(np.random.default_rng(1), 4, generator.latent_dim)
    threes = generator(latents, np.full(4, 3))
    np.testing.assert_array_equal(_tiles(out, 4), to_uint8(threes)[..., 0])  # the file holds them
    np.testing.assert_allclose(
        threes, result.gan.generator([latents, np.full(4, 3)], training=False), atol=1e-5
    )
    assert np.abs(threes - generator(latents, np.full(4, 4))).max() > 1e-4

    # The snapshot went through the labels: one image per class. Tile i is the
    # image of the snapshot's fixed latent i with label i, not with label 0.
    # (Last: sampling with other labels may recalibrate the BatchNorm statistics.)
    snapshot = SampleSnapshot(str(tmp_path / "unused"), num_samples=10)
    snapshot.set_model(result.gan)
    snapshot.on_train_begin()
    tiles = _tiles(str(tmp_path / "run" / "samples" / "epoch_001.png"), 10)

    def snapshot_of(labels):
        images = result.gan.sample(snapshot.latents, keras.ops.convert_to_tensor(labels))
        return to_uint8(np.asarray(images))[..., 0]

    np.testing.assert_array_equal(tiles, snapshot_of(np.arange(10)))
    all_zeros = snapshot_of(np.zeros(10, "int32"))
    assert all(np.any(tiles[i] != all_zeros[i]) for i in range(1, 10))


def test_conditional_unpack_returns_the_labels():
    from kgan.training import build_gan

    gan = build_gan(tiny_config(), (28, 28, 1), num_classes=10, gan_class=ConditionalGAN)
    images, labels = np.zeros((2, 28, 28, 1)), np.array([3, 4])
    got_images, got_labels = gan.unpack((images, labels))
    assert got_images is images and got_labels is labels


# === WGAN-GP ===


def _quadratic_critic_gan(gp_weight=10.0, seed=0):
    """A WGAN-GP whose critic is D(x) = sum(x^2) / 2 on 1-pixel images: grad D(x) = x."""
    generator = build_generator((28, 28, 1), latent_dim=4, g_filters=8, g_kernel_size=3)
    images = keras.Input((1, 1, 1))
    scores = keras.layers.Lambda(lambda x: 0.5 * keras.ops.sum(x * x, axis=[1, 2, 3]))(images)
    critic = keras.Model(images, scores)
    return WGANGP(generator, critic, gp_weight=gp_weight, seed=seed)


def test_penalty_draws_the_interpolation_weight_uniformly():
    gan = _quadratic_critic_gan(gp_weight=10.0)
    n = 40000
    real, fake = np.ones((n, 1, 1, 1), "float32"), np.zeros((n, 1, 1, 1), "float32")
    # |grad D(alpha)| = alpha, so the penalty is 10 * mean((alpha - 1)^2): 10/3 for U(0, 1).
    first = float(gan.gradient_penalty(real, fake))
    second = float(gan.gradient_penalty(real, fake))
    assert first == pytest.approx(10 / 3, rel=0.02)
    assert first != second  # a fresh draw from the model's seed generator each call


def test_penalty_of_a_linear_critic_is_exact():
    generator = build_generator((28, 28, 1), latent_dim=4, g_filters=8, g_kernel_size=3)
    images = keras.Input((28, 28, 1))
    scores = keras.layers.Dense(1, use_bias=False)(keras.layers.Flatten()(images))
    critic = keras.Model(images, scores)
    gan = WGANGP(generator, critic, gp_weight=10.0)
    w = critic.trainable_weights[0].numpy()
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(2, 8, 28, 28, 1)).astype("float32")
    expected = 10.0 * (np.linalg.norm(w) - 1.0) ** 2  # grad D = w everywhere
    assert float(gan.gradient_penalty(real, fake)) == pytest.approx(expected, rel=1e-4)


def test_wgan_gp_trains_with_five_critic_steps_per_generator_step():
    config = _tiny_wgan_config()
    from kgan.training import build_gan

    keras.utils.set_random_seed(0)
    gan = build_gan(config, (28, 28, 1), gan_class=gan_class(config))
    assert isinstance(gan, WGANGP) and gan.gp_weight == 10.0 and gan.d_steps == 5
    images = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    history = gan.fit(images, batch_size=8, epochs=1, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    assert int(gan.d_optimizer.iterations) == 5 * int(gan.g_optimizer.iterations) == 5 * 4
    assert history["label_flip"] == [0.0]


def test_wgan_gp_recipe_is_the_papers_and_validated():
    config = WGANGPConfig()
    assert (config.d_steps, config.g_lr, config.beta_1, config.beta_2) == (5, 1e-4, 0.0, 0.9)
    assert (config.label_flip, config.label_smoothing, config.gp_weight) == (0.0, 0.0, 10.0)
    assert config.augment == "off"  # ADA's sign(D(real)) means nothing for a critic
    assert "lambda" in WGANGPConfig.help("gp_weight")
    with pytest.raises(UserError, match="--augment='sometimes' is not one of off, fixed, adaptive"):
        WGANGPConfig(augment="sometimes")  # the base field's choices still hold
    with pytest.raises(UserError, match="--gp_weight=-1"):
        WGANGPConfig(gp_weight=-1.0)


_MIRRORED = textwrap.dedent(
    """
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from examples.wgan_gp import WGANGP

    def critic_after_one_step(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            z = keras.Input((4,))
            # G ignores z at first (zero kernel): every replica sees the same fakes.
            flat = keras.layers.Dense(16, kernel_initializer="zeros", bias_initializer="ones")(z)
            generator = keras.Model(z, keras.layers.Reshape((4, 4, 1))(flat))
            images = keras.Input((4, 4, 1))
            scores = keras.layers.Dense(1, use_bias=False)(keras.layers.Flatten()(images))
            critic = keras.Model(images, scores)
            gan = WGANGP(generator, critic, gp_weight=10.0, seed=0)
            # SGD: its step is proportional to the gradient (Adam's first step is not).
            gan.compile(d_optimizer=keras.optimizers.SGD(0.1),
                        g_optimizer=keras.optimizers.SGD(0.1))
        real = np.random.default_rng(0).normal(size=(8, 4, 4, 1)).astype("float32")
        gan.fit(real, batch_size=8, epochs=1, shuffle=False, verbose=0)
        return critic.trainable_weights[0].numpy()

    one = critic_after_one_step(tf.distribute.get_strategy())
    two = critic_after_one_step(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    print("difference", float(np.abs(one - two).max()), "moved", float(np.abs(one).max()))
    """
)


@pytest.mark.slow
def test_penalty_is_scaled_correctly_under_a_mirrored_strategy():
    # A linear critic has the same penalty gradient on every replica; if the
    # penalty escaped the 1/replicas scaling, two replicas would step twice as far.
    result = run_python(_MIRRORED)
    assert result.returncode == 0, result.stderr[-3000:]
    difference, moved = (float(x) for x in result.stdout.split()[1::2])
    assert difference < 1e-5, f"one device and two replicas differ by {difference}"
    assert moved > 0


def test_exported_wgan_generator_keeps_the_contract(tmp_path):
    from kgan.export import export_generator

    config = _tiny_wgan_config()
    from kgan.training import build_gan

    gan = build_gan(config, (28, 28, 1), gan_class=gan_class(config))
    path = export_generator(gan.inference_generator(), str(tmp_path / "g"))
    # The contract: float32 (B, latent_dim) latents -> (B, H, W, C) images in [-1, 1].
    generator = SavedGenerator(path)
    assert (generator.latent_dim, generator.conditional) == (config.latent_dim, False)
    latents = sample_latents(np.random.default_rng(0), 4, config.latent_dim)
    images = generator(latents)
    assert images.shape == (4, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    network = gan.inference_generator()
    np.testing.assert_allclose(images, network(latents, training=False), atol=1e-5)


def test_lsgan_measures_overfitting_against_its_own_decision_boundary():
    from examples.lsgan import LSGAN

    # LSGAN's D regresses reals to 1 and fakes to 0: 0.3 is a "fake" verdict.
    unsure = np.full((8, 1), 0.3, "float32")
    sure = np.full((8, 1), 0.9, "float32")
    generator = build_generator((28, 28, 1), latent_dim=4, g_filters=8, g_kernel_size=3)
    discriminator = build_discriminator((28, 28, 1), d_filters=4, d_kernel_size=3)
    lsgan, plain = LSGAN(generator, discriminator), GAN(generator, discriminator)
    assert float(lsgan.overfitting_signal(unsure)) == -1.0
    assert float(lsgan.overfitting_signal(sure)) == 1.0
    assert float(plain.overfitting_signal(unsure)) == 1.0  # logits: boundary at 0
    # The balance controller's accuracy too: 0.3 on both batches is "fake".
    assert float(lsgan.balance_signal(unsure, unsure)) == 0.5
    assert float(lsgan.balance_signal(sure, unsure)) == 1.0
    assert float(plain.balance_signal(sure, unsure)) == 0.5
    # And the logged accuracies (the health monitor judges them): the same boundary.
    assert float(lsgan.loss.real_accuracy(unsure)) == 0.0
    assert float(lsgan.loss.fake_accuracy(unsure)) == 1.0
    assert float(plain.loss.fake_accuracy(unsure)) == 0.0
