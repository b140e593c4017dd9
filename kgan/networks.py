"""DCGAN generator and discriminator builders (Radford et al. 2015).

Each builder is a function returning a functional `keras.Model` whose layers
are all named (`generator_block1_conv`, ...), so summaries, checkpoints and
surgery in subclasses can find them. `plan_generator` and `receptive_field`
are pure Python and importable without TensorFlow.
"""

import math

from kgan.errors import UserError

# The generator starts from a small square map and doubles it; starts larger
# than this make the Dense projection huge and the network shallow.
_MIN_START, _MAX_START = 3, 8


def plan_generator(image_size):
    """Returns `(start_size, num_upsamplings)` with `start * 2**n == image_size`.

    The generator projects the latent vector to a `start x start` map and
    doubles it `n` times; the deepest such plan with a start of 3 to 8 pixels
    is chosen (28 -> 7 x 2**2, 32 -> 4 x 2**3, 64 -> 4 x 2**4).

    Raises:
        UserError: if no such plan exists (odd sizes, sizes like 36 or 100).
    """
    size = int(image_size)
    n = 0
    while size % 2 == 0 and size // 2 >= _MIN_START:
        size //= 2
        n += 1
    if n == 0 or size > _MAX_START:
        raise UserError(
            f"--image_size={image_size} cannot be produced: the generator doubles a "
            f"start of {_MIN_START} to {_MAX_START} pixels, so use a size such as "
            "28, 32, 48, 56, 64, 96 or 128."
        )
    return size, n


def receptive_field(layers):
    """Returns the receptive field, in input pixels, of one output of a conv stack.

    Args:
        layers: `(kernel_size, stride)` pairs from input to output.

    Example:

    >>> receptive_field([(5, 2), (5, 2), (5, 1)])  # PatchGAN on 28x28
    29
    """
    field, jump = 1, 1
    for kernel, stride in layers:
        field += (kernel - 1) * jump
        jump *= stride
    return field


def _activation(name, layer_name):
    import keras

    if name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=0.2, name=layer_name)
    return keras.layers.ReLU(name=layer_name)


def build_generator(
    image_shape,
    latent_dim=100,
    filters=256,
    extra_layers=1,
    kernel_size=5,
    activation="leaky_relu",
    output_activation="tanh",
    dropout=0.0,
    batch_norm=True,
    upsample="conv_transpose",
    num_classes=None,
    name="generator",
    synchronized_batch_norm=False,
):
    """Builds the DCGAN generator: Dense -> reshape -> conv stack -> tanh.

    Args:
        image_shape: `(height, width, channels)` of the images to produce;
            height must equal width and be a size `plan_generator` accepts.
        latent_dim: size of the input noise vector.
        filters: channels of the first conv block; each block halves them.
        extra_layers: stride-1 conv blocks before the first upsampling.
        kernel_size: kernel size of every conv.
        activation: `"leaky_relu"` (slope 0.2) or `"relu"`.
        output_activation: `"tanh"` (images in [-1, 1]) or `"sigmoid"` ([0, 1]).
        dropout: dropout rate after each hidden block (DCGAN: 0).
        batch_norm: BatchNorm after the projection and each hidden block.
        upsample: `"conv_transpose"` (learned, strided Conv2DTranspose) or
            `"upsample_conv"` (nearest-neighbour UpSampling2D then Conv2D).
        num_classes: if set, the model takes `[latents, labels]` and embeds
            the integer labels into the latent vector (conditional GAN).
        name: model name and prefix of every layer name.
        synchronized_batch_norm: under a multi-replica strategy, BatchNorm
            takes its statistics over the global batch, not each replica's.

    Returns:
        A `keras.Model` mapping `(B, latent_dim)` to `(B, H, W, C)` float32.
    """
    import keras
    from keras import layers

    height, width, channels = image_shape
    if height != width:
        raise UserError(f"images of {height}x{width} are not square; pass --image_size.")
    start, num_upsamplings = plan_generator(height)
    num_blocks = extra_layers + num_upsamplings

    # === Inputs ===
    latents = keras.Input((latent_dim,), name=f"{name}_latents")
    inputs = latents
    x = latents
    if num_classes:
        labels = keras.Input((), dtype="int32", name=f"{name}_labels")
        inputs = [latents, labels]
        embedded = layers.Embedding(num_classes, latent_dim, name=f"{name}_label_embedding")(labels)
        x = layers.Multiply(name=f"{name}_condition")([latents, embedded])

    # === Projection: (B, latent_dim) -> (B, start, start, filters) ===
    x = layers.Dense(start * start * filters, use_bias=not batch_norm, name=f"{name}_dense")(x)
    if batch_norm:
        x = layers.BatchNormalization(
            synchronized=synchronized_batch_norm, name=f"{name}_dense_bn"
        )(x)
    x = _activation(activation, f"{name}_dense_act")(x)
    x = layers.Reshape((start, start, filters), name=f"{name}_reshape")(x)

    # === Conv blocks: extra stride-1 blocks, then one per doubling ===
    for i in range(num_blocks):
        last = i == num_blocks - 1
        out_channels = channels if last else max(filters >> (i + 1), 8)
        stride = 1 if i < extra_layers else 2
        prefix = f"{name}_block{i + 1}"
        if upsample == "conv_transpose":
            x = layers.Conv2DTranspose(
                out_channels,
                kernel_size,
                strides=stride,
                padding="same",
                use_bias=last or not batch_norm,
                name=f"{prefix}_conv",
            )(x)
        else:
            if stride == 2:
                x = layers.UpSampling2D(2, name=f"{prefix}_upsample")(x)
            x = layers.Conv2D(
                out_channels,
                kernel_size,
                padding="same",
                use_bias=last or not batch_norm,
                name=f"{prefix}_conv",
            )(x)
        if last:
            break
        if batch_norm:
            x = layers.BatchNormalization(
                synchronized=synchronized_batch_norm, name=f"{prefix}_bn"
            )(x)
        x = _activation(activation, f"{prefix}_act")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{prefix}_dropout")(x)

    # float32 output even under a mixed precision policy.
    images = layers.Activation(output_activation, dtype="float32", name=f"{name}_output")(x)
    return keras.Model(inputs, images, name=name)


def build_discriminator(
    image_shape,
    filters=64,
    num_layers=2,
    kernel_size=5,
    activation="leaky_relu",
    dropout=0.3,
    batch_norm=False,
    head="dcgan",
    patch_layers=2,
    num_classes=None,
    name="discriminator",
    synchronized_batch_norm=False,
):
    """Builds the DCGAN discriminator: strided Conv2D stack, then a logit head.

    Args:
        image_shape: `(height, width, channels)` of the input images.
        filters: channels of the first conv; each further conv doubles them.
        num_layers: strided convs before the `"dcgan"` head.
        kernel_size: kernel size of every conv.
        activation: `"leaky_relu"` (slope 0.2) or `"relu"`.
        dropout: dropout rate after each conv block.
        batch_norm: BatchNorm after every conv but the first (DCGAN paper).
        head: `"dcgan"` for one logit per image, or `"patchgan"` for an
            `N x N` map of logits, one per overlapping patch (Isola et al. 2017).
        patch_layers: strided convs before the `"patchgan"` head; the map
            has `N = ceil(size / 2**patch_layers)` rows and columns.
        num_classes: if set, the model takes `[images, labels]` and appends a
            learned per-class map as an extra input channel (conditional GAN).
        name: model name and prefix of every layer name.
        synchronized_batch_norm: under a multi-replica strategy, BatchNorm
            takes its statistics over the global batch, not each replica's.

    Returns:
        A `keras.Model` mapping `(B, H, W, C)` to float32 logits of shape
        `(B, 1)` (dcgan) or `(B, N, N, 1)` (patchgan). Its attribute
        `receptive_field` is the input patch size seen by one logit.
    """
    import keras
    from keras import layers

    height, width, channels = image_shape
    depth = patch_layers if head == "patchgan" else num_layers
    if depth < 1:
        raise UserError(f"the discriminator needs at least one conv layer, got {depth}.")
    if head == "patchgan" and math.ceil(height / 2**depth) < 2:
        raise UserError(
            f"--patch_layers={patch_layers} shrinks {height}x{width} images to a single "
            "patch; use fewer patch layers (or --discriminator=dcgan)."
        )

    # === Inputs ===
    images = keras.Input(image_shape, name=f"{name}_images")
    inputs = images
    x = images
    if num_classes:
        labels = keras.Input((), dtype="int32", name=f"{name}_labels")
        inputs = [images, labels]
        label_map = layers.Embedding(num_classes, height * width, name=f"{name}_label_embedding")(
            labels
        )
        label_map = layers.Reshape((height, width, 1), name=f"{name}_label_map")(label_map)
        x = layers.Concatenate(name=f"{name}_condition")([images, label_map])

    # === Strided conv stack ===
    stack = []
    for i in range(depth):
        prefix = f"{name}_block{i + 1}"
        x = layers.Conv2D(
            filters * 2**i, kernel_size, strides=2, padding="same", name=f"{prefix}_conv"
        )(x)
        stack.append((kernel_size, 2))
        if batch_norm and i > 0:
            x = layers.BatchNormalization(
                synchronized=synchronized_batch_norm, name=f"{prefix}_bn"
            )(x)
        x = _activation(activation, f"{prefix}_act")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"{prefix}_dropout")(x)

    # === Head (float32 logits even under mixed precision) ===
    if head == "patchgan":
        logits = layers.Conv2D(
            1, kernel_size, padding="same", dtype="float32", name=f"{name}_patch_logits"
        )(x)
        stack.append((kernel_size, 1))
        field = receptive_field(stack)
    else:
        x = layers.Flatten(name=f"{name}_flatten")(x)
        logits = layers.Dense(1, dtype="float32", name=f"{name}_logits")(x)
        field = height
    model = keras.Model(inputs, logits, name=name)
    model.receptive_field = field
    return model


def describe_discriminator(discriminator):
    """Returns one line saying what one logit of `discriminator` looks at."""
    shape = discriminator.output_shape
    field = discriminator.receptive_field
    if len(shape) == 4:
        whole = " (as large as the image)" if field >= discriminator.input_shape[1] else ""
        return (
            f"PatchGAN head: {shape[1]}x{shape[2]} logits per image, each judging a "
            f"{field}x{field} pixel patch{whole}."
        )
    return f"DCGAN head: one logit per image, judging all {field}x{field} pixels."


def build_networks(config, image_shape, num_classes=None):
    """Builds `(generator, discriminator)` for a `kgan.config.Config`.

    Call it inside the run's strategy scope: with `config.sync_batch_norm`
    and more than one replica, BatchNorm is synchronized across replicas.
    """
    import tensorflow as tf

    synchronized = config.sync_batch_norm and tf.distribute.get_strategy().num_replicas_in_sync > 1
    generator = build_generator(
        image_shape,
        latent_dim=config.latent_dim,
        filters=config.g_filters,
        extra_layers=config.g_extra_layers,
        kernel_size=config.g_kernel_size,
        activation=config.g_activation,
        output_activation=config.g_output,
        dropout=config.g_dropout,
        batch_norm=config.g_batch_norm,
        upsample=config.upsample,
        num_classes=num_classes,
        synchronized_batch_norm=synchronized,
    )
    discriminator = build_discriminator(
        image_shape,
        filters=config.d_filters,
        num_layers=config.d_layers or plan_generator(image_shape[0])[1],
        kernel_size=config.d_kernel_size,
        activation=config.d_activation,
        dropout=config.d_dropout,
        batch_norm=config.d_batch_norm,
        head=config.discriminator,
        patch_layers=config.patch_layers,
        num_classes=num_classes,
        synchronized_batch_norm=synchronized,
    )
    return generator, discriminator
