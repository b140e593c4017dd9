"""Mixed precision and XLA: low-precision compute, float32 where it matters."""

import keras
import numpy as np
import pytest

from kgan.gan import GAN
from kgan.networks import build_discriminator, build_generator
from kgan.parts import LabelNoise
from kgan.training import dtype_policy, train
from tests.conftest import tiny_config


@pytest.mark.parametrize(
    "policy, compute", [("mixed_bfloat16", "bfloat16"), ("mixed_float16", "float16")]
)
def test_mixed_precision_steps_have_finite_losses_and_float32_state(
    idx_folder, tmp_path, policy, compute
):
    config = tiny_config(
        dataset=idx_folder, out_dir=str(tmp_path / "run"), mixed_precision=policy, epochs=2
    )
    result = train(config, verbose=0)
    gan = result.gan
    for values in result.history.values():
        assert np.isfinite(values).all()
    assert gan.generator.get_layer("generator_block1_conv").compute_dtype == compute
    assert gan.discriminator.get_layer("discriminator_block1_conv").compute_dtype == compute
    assert all(v.dtype == "float32" for v in gan.trainable_variables)
    # D's logits (so the losses) and G's images stay float32.
    images = gan.generate(np.zeros((2, 8), "float32"))
    assert images.dtype == "float32"
    assert gan.discriminate(images).dtype == "float32"
    float16 = compute == "float16"
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == float16
    # The policy was set for building the model only.
    assert keras.config.dtype_policy().name == "float32"


def _gan(policy, optimizer):
    with dtype_policy(policy):
        keras.utils.set_random_seed(0)
        generator = build_generator((28, 28, 1), latent_dim=8, g_filters=16, g_kernel_size=3)
        discriminator = build_discriminator(
            (28, 28, 1), d_filters=8, d_kernel_size=3, d_dropout=0.0
        )
        gan = GAN(
            generator,
            discriminator,
            label_noise=LabelNoise(flip=0.0, smoothing=0.0),
            augmenter=None,
            ema=0,
            seed=0,
        )
    gan.compile(d_optimizer=optimizer(), g_optimizer=optimizer())
    return gan


def test_float16_losses_are_scaled_and_gradients_unscaled():
    # Plain SGD moves weights in proportion to the gradient: a gradient left
    # scaled by the loss scale (32768) would move them 32768 times too far.
    def sgd():
        return keras.optimizers.SGD(0.5)

    reference, mixed = _gan("none", sgd), _gan("mixed_float16", sgd)
    assert float(mixed.g_optimizer.dynamic_scale.numpy()) == 32768.0
    before = np.concatenate([np.ravel(w) for w in reference.generator.trainable_weights])
    real = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
    norms, steps = [], []
    for gan in (reference, mixed):
        norms.append(float(gan.train_step(real)["g_grad_norm"]))
        after = np.concatenate([np.ravel(w) for w in gan.generator.trainable_weights])
        steps.append(after - before)
    float32_step, float16_step = steps
    # The same update, up to float16 rounding: same direction, same length.
    cosine = (
        float16_step @ float32_step / np.linalg.norm(float16_step) / np.linalg.norm(float32_step)
    )
    assert cosine > 0.95
    assert np.linalg.norm(float16_step) / np.linalg.norm(float32_step) == pytest.approx(1, rel=0.2)
    # The logged norm is the unscaled one, too.
    assert norms[1] == pytest.approx(norms[0], rel=0.2)


@pytest.mark.slow
def test_xla_compiled_steps_train(idx_folder, tmp_path):
    config = tiny_config(
        dataset=idx_folder, out_dir=str(tmp_path / "run"), jit_compile=True, steps_per_epoch=3
    )
    result = train(config, verbose=0)
    # The model train() built, compiled and trained, not one built aside.
    assert result.gan.jit_compile
    assert int(result.gan.g_optimizer.iterations) == 3
    assert len(result.history["d_loss"]) == 1
    assert all(np.isfinite(v).all() for v in result.history.values())


@pytest.mark.parametrize(
    "gpus, capability, flags, expected",
    [
        (0, None, {"avx2", "amx_bf16", "avx512_bf16"}, "mixed_bfloat16"),
        (0, None, {"avx2", "avx512f"}, "none"),
        (0, None, {"avx2", "avx512f", "avx512_bf16"}, "mixed_bfloat16"),  # native bf16 dot products
        (0, None, {"avx2", "fma"}, "none"),  # no native bf16 dot products
        (2, (8, 0), set(), "mixed_bfloat16"),
        (1, (7, 5), {"amx_bf16"}, "mixed_float16"),  # the GPU decides, not the host CPU
        (1, (6, 1), set(), "none"),
    ],
)
def test_auto_precision_follows_the_hardware(monkeypatch, gpus, capability, flags, expected):
    import tensorflow as tf

    from kgan import precision

    monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
    monkeypatch.setattr(
        tf.config, "list_physical_devices", lambda kind=None: [f"gpu{i}" for i in range(gpus)]
    )
    monkeypatch.setattr(
        tf.config.experimental,
        "get_device_details",
        lambda gpu: {"compute_capability": capability},
    )
    assert precision.auto_precision() == expected
    assert precision.resolve_precision("auto") == expected
    assert precision.resolve_precision("mixed_float16") == "mixed_float16"


def test_auto_is_recorded_resolved_in_config_json(idx_folder, tmp_path):
    import json

    from kgan.precision import auto_precision
    from kgan.training import train

    config = tiny_config(dataset=idx_folder, out_dir=str(tmp_path / "run"), mixed_precision="auto")
    result = train(config, verbose=0)
    with open(tmp_path / "run" / "config.json") as f:
        assert json.load(f)["mixed_precision"] == auto_precision()
    assert result.gan.generator.dtype_policy.name == (
        "float32" if auto_precision() == "none" else auto_precision()
    )
