"""Generator and discriminator shapes, ranges, layers and receptive fields."""

import dataclasses
import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan.config import Config
from kgan.errors import UserError
from kgan.networks import (
    DISCRIMINATOR_FIELDS,
    GENERATOR_FIELDS,
    build_discriminator,
    build_generator,
    build_networks,
    condition_classes,
    describe_discriminator,
    receptive_field,
)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3)])
def test_generator_produces_the_image_shape_in_tanh_range(shape):
    generator = build_generator(shape, latent_dim=8, g_filters=32, g_kernel_size=3)
    images = generator(np.random.normal(size=(3, 8)) * 10, training=False)
    assert images.shape == (3, *shape)
    assert images.dtype == "float32"
    assert np.all(np.abs(images) <= 1.0)


def test_generator_follows_dcgan_layers():
    generator = build_generator((28, 28, 1), latent_dim=8, g_filters=32)
    kinds = [type(layer).__name__ for layer in generator.layers]
    assert kinds.count("Conv2DTranspose") == 3  # one stride-1 block, two doublings
    assert "Dropout" not in kinds
    assert "UpSampling2D" not in kinds
    assert kinds.count("LeakyReLU") == 3
    assert generator.layers[-1].activation.__name__ == "tanh"
    assert all(layer.name.startswith("generator") for layer in generator.layers)


def test_upsample_conv_option_replaces_transposed_convolutions():
    generator = build_generator((28, 28, 1), latent_dim=8, g_filters=32, upsample="upsample_conv")
    kinds = [type(layer).__name__ for layer in generator.layers]
    assert kinds.count("UpSampling2D") == 2
    assert "Conv2DTranspose" not in kinds
    assert generator.output_shape == (None, 28, 28, 1)


def test_generator_options_relu_sigmoid_dropout():
    generator = build_generator(
        (28, 28, 1),
        latent_dim=8,
        g_filters=32,
        g_activation="relu",
        g_output="sigmoid",
        g_dropout=0.2,
    )
    kinds = [type(layer).__name__ for layer in generator.layers]
    assert "ReLU" in kinds and "LeakyReLU" not in kinds
    assert kinds.count("Dropout") == 2
    images = generator(np.random.normal(size=(2, 8)), training=False)
    assert np.all((images >= 0) & (images <= 1))


def test_generator_rejects_sizes_it_cannot_produce():
    with pytest.raises(UserError, match="--image_size=30"):
        build_generator((30, 30, 1))


def test_condition_classes_reads_the_label_embedding_of_a_conditional_generator():
    small = dict(latent_dim=8, g_filters=16, g_kernel_size=3)
    assert condition_classes(build_generator((28, 28, 1), **small)) is None
    assert condition_classes(build_generator((28, 28, 1), num_classes=7, **small)) == 7
    latents, labels = keras.Input((8,)), keras.Input((), dtype="int32")
    no_embedding = keras.Model([latents, labels], keras.layers.Dense(4)(latents))
    assert condition_classes(no_embedding) == 10  # the default
    assert condition_classes(no_embedding, default=3) == 3


def test_dcgan_discriminator_has_dropout_leaky_relu_and_one_logit():
    discriminator = build_discriminator((28, 28, 1), d_filters=8)
    kinds = [type(layer).__name__ for layer in discriminator.layers]
    assert kinds.count("Conv2D") == 2 and kinds.count("Dropout") == 2
    assert kinds.count("LeakyReLU") == 2
    assert discriminator.output_shape == (None, 1)
    assert "one logit" in describe_discriminator(discriminator)


@pytest.mark.parametrize("patch_layers, size", [(1, 14), (2, 7)])
def test_patchgan_outputs_a_map_of_logits(patch_layers, size):
    discriminator = build_discriminator(
        (28, 28, 1), d_filters=8, discriminator="patchgan", patch_layers=patch_layers
    )
    assert discriminator(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, size, size, 1)
    assert f"{size}x{size} logits" in describe_discriminator(discriminator)


def test_patchgan_rejects_a_single_patch():
    with pytest.raises(UserError, match="--patch_layers=5"):
        build_discriminator((28, 28, 1), discriminator="patchgan", patch_layers=5)


def test_receptive_field_formula():
    assert receptive_field([(3, 1)]) == 3
    assert receptive_field([(4, 2), (4, 2), (4, 1)]) == 22
    assert receptive_field([(5, 2), (5, 2), (5, 1)]) == 29


@pytest.mark.parametrize("d_residual", [False, True])
def test_reported_receptive_field_matches_the_gradient_support(d_residual):
    # The input pixels that can move one central logit are its receptive field.
    keras.utils.set_random_seed(0)
    discriminator = build_discriminator(
        (64, 64, 1),
        d_filters=4,
        d_kernel_size=3,
        d_dropout=0.0,
        discriminator="patchgan",
        patch_layers=2,
        d_residual=d_residual,
    )
    images = tf.random.normal((1, 64, 64, 1))
    with tf.GradientTape() as tape:
        tape.watch(images)
        logits = discriminator(images)
        centre = logits[0, 8, 8, 0]
    grad = tape.gradient(centre, images)[0, :, :, 0].numpy()
    rows = np.nonzero(np.any(grad != 0, axis=1))[0]
    cols = np.nonzero(np.any(grad != 0, axis=0))[0]
    assert rows.max() - rows.min() + 1 == discriminator.receptive_field
    assert cols.max() - cols.min() + 1 == discriminator.receptive_field


def test_discriminator_logits_are_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        discriminator = build_discriminator((28, 28, 1), d_filters=8)
        generator = build_generator((28, 28, 1), latent_dim=8, g_filters=16)
        assert discriminator(np.zeros((1, 28, 28, 1), np.float32)).dtype == "float32"
        assert generator(np.zeros((1, 8), np.float32)).dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize(
    "builder, names",
    [(build_generator, GENERATOR_FIELDS), (build_discriminator, DISCRIMINATOR_FIELDS)],
)
def test_builders_take_config_fields_by_name_with_their_defaults(builder, names):
    parameters = inspect.signature(builder).parameters
    config = Config()
    fields = {f.name for f in dataclasses.fields(Config)}
    taken = [name for name in parameters if name in fields]
    assert taken == list(names)
    for name in names:
        assert parameters[name].default == getattr(config, name), name


def test_build_networks_passes_the_config_one_to_one():
    config = Config(
        latent_dim=8,
        g_filters=16,
        g_kernel_size=3,
        g_output="sigmoid",
        d_filters=4,
        d_kernel_size=3,
        discriminator="patchgan",
        patch_layers=1,
    )
    generator, discriminator = build_networks(config, (28, 28, 1))
    assert generator.input_shape == (None, 8)
    assert generator.get_layer("generator_dense").units == 7 * 7 * 16
    assert generator.get_layer("generator_block1_conv").kernel_size == (3, 3)
    assert generator.layers[-1].activation.__name__ == "sigmoid"
    assert discriminator.output_shape == (None, 14, 14, 1)
    assert discriminator.get_layer("discriminator_block1_conv").filters == 4


@pytest.mark.parametrize("size, convs", [(28, 2), (32, 3), (64, 4)])
def test_zero_d_layers_mirror_the_generator_upsamplings(size, convs):
    discriminator = build_discriminator((size, size, 1), d_filters=4, d_layers=0)
    kinds = [type(layer).__name__ for layer in discriminator.layers]
    assert kinds.count("Conv2D") == convs
    explicit = build_discriminator((size, size, 1), d_filters=4, d_layers=1)
    assert [type(layer).__name__ for layer in explicit.layers].count("Conv2D") == 1


@pytest.mark.parametrize("shape, extra", [((28, 28, 1), 1), ((64, 64, 3), 0)])
def test_residual_generator_adds_a_skip_path_to_every_hidden_block(shape, extra):
    generator = build_generator(
        shape, latent_dim=8, g_filters=32, g_kernel_size=3, g_extra_layers=extra, g_residual=True
    )
    plain = build_generator(
        shape, latent_dim=8, g_filters=32, g_kernel_size=3, g_extra_layers=extra
    )
    hidden = sum(1 for layer in plain.layers if layer.name.endswith("_bn")) - 1  # less the dense BN
    kinds = [type(layer).__name__ for layer in generator.layers]
    assert kinds.count("Add") == hidden
    # Upsampled skips on the strided blocks only; the block drawing the image stays plain.
    assert kinds.count("UpSampling2D") == hidden - extra
    assert f"generator_block{hidden + 1}_conv2" not in [layer.name for layer in generator.layers]
    images = generator(np.random.normal(size=(2, 8)), training=False)
    assert images.shape == (2, *shape) and np.all(np.abs(images) <= 1.0)


def test_residual_generator_skip_carries_the_block_input():
    # Zero the main path's second conv: the block's output is act(skip), the block input upsampled.
    generator = build_generator(
        (28, 28, 1),
        latent_dim=4,
        g_filters=16,
        g_extra_layers=0,
        g_batch_norm=False,
        g_residual=True,
    )
    conv2 = generator.get_layer("generator_block1_conv2")
    conv2.set_weights([np.zeros_like(w) for w in conv2.get_weights()])
    skip = generator.get_layer("generator_block1_skip_conv")
    kernel, bias = skip.get_weights()
    skip.set_weights([np.ones_like(kernel), np.zeros_like(bias)])
    probe = keras.Model(generator.inputs, generator.get_layer("generator_block1_add").output)
    reshaped = keras.Model(generator.inputs, generator.get_layer("generator_reshape").output)
    latents = np.random.default_rng(0).normal(size=(1, 4)).astype("float32")
    source = np.asarray(reshaped(latents))[0]
    summed = np.asarray(probe(latents))[0]
    expected = np.repeat(np.repeat(source.sum(axis=-1), 2, 0), 2, 1)
    np.testing.assert_allclose(summed[..., 0], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("head, shape", [("dcgan", (1,)), ("patchgan", (7, 7, 1))])
def test_residual_discriminator_shapes_and_skip_paths(head, shape):
    discriminator = build_discriminator(
        (28, 28, 1),
        d_filters=4,
        d_residual=True,
        discriminator=head,
        patch_layers=2,
        spectral_norm=True,
        d_batch_norm=True,
    )
    assert discriminator.output_shape == (None, *shape)
    kinds = [type(layer).__name__ for layer in discriminator.layers]
    assert kinds.count("Add") == kinds.count("AveragePooling2D") == 2
    logits = discriminator(np.zeros((3, 28, 28, 1), np.float32), training=True)
    assert logits.shape == (3, *shape)
