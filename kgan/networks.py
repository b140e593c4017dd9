"""DCGAN generator and discriminator builders (Radford et al. 2015).

Each builder is a function returning a functional `keras.Model` whose layers
are all named (`generator_block1_conv`, ...), so summaries, checkpoints and
surgery in subclasses can find them. `plan_generator` and `receptive_field`
are pure Python and importable without TensorFlow.
"""

import inspect
import math

from kgan.errors import UserError

# The values of the flags that pick layers (kgan.config offers these).
ACTIVATIONS = ("leaky_relu", "relu")  # hidden layers of G and D
G_OUTPUTS = ("tanh", "sigmoid")  # G's last layer: images in [-1, 1] or [0, 1]
UPSAMPLINGS = ("conv_transpose", "upsample_conv")  # learned, or nearest-neighbour + conv
DISCRIMINATOR_HEADS = ("dcgan", "patchgan")  # one logit per image, or a map of patch logits

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


# The widths and kernels planned for an image size, chosen by measurement on
# 2 CPU cores (README "Results"): 28x28 digits keep the TF DCGAN tutorial's
# networks; from 64x64 on, the DCGAN paper's 4x4-kernel pair, narrowed so a
# 64x64 step runs at 9 steps/s on 2 cores (a 64-filter D at 64x64 ran at a
# third of the speed and scored worse after 150 s: benchmarks/widths.py).
_SMALL_PLAN = {
    "g_filters": 256,
    "g_extra_layers": 1,
    "g_kernel_size": 5,
    "d_filters": 64,
    "d_kernel_size": 5,
}
_LARGE_PLAN = {
    "g_filters": 256,
    "g_extra_layers": 0,
    "g_kernel_size": 4,
    "d_filters": 32,
    "d_kernel_size": 4,
}
PLANNED_FIELDS = tuple(_SMALL_PLAN)


def plan_widths(image_size):
    """Returns the planned `{field: value}` of `PLANNED_FIELDS` for an image size.

    Images up to 32 pixels get the TF DCGAN tutorial's networks (256 filters
    from a 7x7 start with one stride-1 block, 5x5 kernels; D 64-128); larger
    ones the DCGAN paper's 64x64 layout (4x4 kernels, a 4x4 start and one
    upsampling per doubling, D mirroring it) at the widths measured to pay
    on 2 CPU cores: G 256-128-64-32, D 32-64-128-256.

    Example:

    >>> plan_widths(64)["d_kernel_size"]
    4
    """
    return dict(_SMALL_PLAN if int(image_size) <= 32 else _LARGE_PLAN)


def planned(values, image_size):
    """`values` (a dict of `PLANNED_FIELDS`) with each None replaced by the plan's value."""
    plan = plan_widths(image_size)
    return {name: plan[name] if value is None else value for name, value in values.items()}


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


def _synchronized(sync_batch_norm):
    """Whether BatchNorm layers built now should synchronize across replicas."""
    import tensorflow as tf

    return sync_batch_norm and tf.distribute.get_strategy().num_replicas_in_sync > 1


def build_generator(
    image_shape,
    latent_dim=100,
    g_filters=None,
    g_extra_layers=None,
    g_kernel_size=None,
    g_activation="leaky_relu",
    g_output="tanh",
    g_dropout=0.0,
    g_batch_norm=True,
    upsample="conv_transpose",
    g_residual=False,
    sync_batch_norm=True,
    num_classes=None,
    name="generator",
):
    """Builds the DCGAN generator: Dense -> reshape -> conv stack -> tanh.

    Keywords are the `kgan.config.Config` fields of the same name, with the
    same defaults; None means the value `plan_widths` gives the image size.

    Args:
        image_shape: `(height, width, channels)` of the images to produce;
            height must equal width and be a size `plan_generator` accepts.
        latent_dim: size of the input noise vector.
        g_filters: channels of the first conv block; each block halves them.
        g_extra_layers: stride-1 conv blocks before the first upsampling.
        g_kernel_size: kernel size of every conv.
        g_activation: `"leaky_relu"` (slope 0.2) or `"relu"`.
        g_output: `"tanh"` (images in [-1, 1]) or `"sigmoid"` ([0, 1]).
        g_dropout: dropout rate after each hidden block (DCGAN: 0).
        g_batch_norm: BatchNorm after the projection and each hidden block.
        upsample: `"conv_transpose"` (learned, strided Conv2DTranspose) or
            `"upsample_conv"` (nearest-neighbour UpSampling2D then Conv2D).
        g_residual: every hidden block (all but the last, which draws the
            image) gains a second, 3x3 stride-1 conv and a skip path around
            both: nearest-neighbour upsampling (on strided blocks) and a 1x1
            conv where the width changes, added before the activation (He
            et al. 2016; BigGAN's G is built of such blocks).
        sync_batch_norm: built under a strategy with several replicas,
            BatchNorm takes its statistics over the global batch, not each
            replica's (one replica: no effect).
        num_classes: if set, the model takes `[latents, labels]` and embeds
            the integer labels into the latent vector (conditional GAN).
        name: model name and prefix of every layer name.

    Returns:
        A `keras.Model` mapping `(B, latent_dim)` to `(B, H, W, C)` float32.
    """
    import keras
    from keras import layers

    height, width, channels = image_shape
    if height != width:
        raise UserError(f"images of {height}x{width} are not square; pass --image_size.")
    start, num_upsamplings = plan_generator(height)
    plan = planned(
        dict(g_filters=g_filters, g_extra_layers=g_extra_layers, g_kernel_size=g_kernel_size),
        height,
    )
    g_filters, g_extra_layers, g_kernel_size = (
        plan["g_filters"],
        plan["g_extra_layers"],
        plan["g_kernel_size"],
    )
    num_blocks = g_extra_layers + num_upsamplings
    synchronized = _synchronized(sync_batch_norm)

    # === Inputs ===
    latents = keras.Input((latent_dim,), name=f"{name}_latents")
    inputs = latents
    x = latents
    if num_classes:
        labels = keras.Input((), dtype="int32", name=f"{name}_labels")
        inputs = [latents, labels]
        embedded = layers.Embedding(num_classes, latent_dim, name=f"{name}_label_embedding")(labels)
        x = layers.Multiply(name=f"{name}_condition")([latents, embedded])

    # === Projection: (B, latent_dim) -> (B, start, start, g_filters) ===
    x = layers.Dense(start * start * g_filters, use_bias=not g_batch_norm, name=f"{name}_dense")(x)
    if g_batch_norm:
        x = layers.BatchNormalization(synchronized=synchronized, name=f"{name}_dense_bn")(x)
    x = _activation(g_activation, f"{name}_dense_act")(x)
    x = layers.Reshape((start, start, g_filters), name=f"{name}_reshape")(x)

    # === Conv blocks: extra stride-1 blocks, then one per doubling ===
    for i in range(num_blocks):
        last = i == num_blocks - 1
        out_channels = channels if last else max(g_filters >> (i + 1), 8)
        stride = 1 if i < g_extra_layers else 2
        prefix = f"{name}_block{i + 1}"
        block_input = x
        if upsample == "conv_transpose":
            x = layers.Conv2DTranspose(
                out_channels,
                g_kernel_size,
                strides=stride,
                padding="same",
                use_bias=last or not g_batch_norm,
                name=f"{prefix}_conv",
            )(x)
        else:
            if stride == 2:
                x = layers.UpSampling2D(2, name=f"{prefix}_upsample")(x)
            x = layers.Conv2D(
                out_channels,
                g_kernel_size,
                padding="same",
                use_bias=last or not g_batch_norm,
                name=f"{prefix}_conv",
            )(x)
        if last:
            break
        if g_batch_norm:
            x = layers.BatchNormalization(synchronized=synchronized, name=f"{prefix}_bn")(x)
        if g_residual:
            x = _activation(g_activation, f"{prefix}_act_inner")(x)
            x = layers.Conv2D(
                out_channels, 3, padding="same", use_bias=not g_batch_norm, name=f"{prefix}_conv2"
            )(x)
            if g_batch_norm:
                x = layers.BatchNormalization(synchronized=synchronized, name=f"{prefix}_bn2")(x)
            skip = block_input
            if stride == 2:
                skip = layers.UpSampling2D(2, name=f"{prefix}_skip_upsample")(skip)
            if skip.shape[-1] != out_channels:
                skip = layers.Conv2D(out_channels, 1, name=f"{prefix}_skip_conv")(skip)
            x = layers.Add(name=f"{prefix}_add")([x, skip])
        x = _activation(g_activation, f"{prefix}_act")(x)
        if g_dropout:
            x = layers.Dropout(g_dropout, name=f"{prefix}_dropout")(x)

    # float32 output even under a mixed precision policy.
    images = layers.Activation(g_output, dtype="float32", name=f"{name}_output")(x)
    return keras.Model(inputs, images, name=name)


def build_discriminator(
    image_shape,
    d_filters=None,
    d_layers=0,
    d_kernel_size=None,
    d_activation="leaky_relu",
    d_dropout=0.3,
    d_batch_norm=False,
    discriminator="dcgan",
    patch_layers=2,
    spectral_norm=False,
    d_residual=False,
    sync_batch_norm=True,
    num_classes=None,
    name="discriminator",
):
    """Builds the DCGAN discriminator: strided Conv2D stack, then a logit head.

    Keywords are the `kgan.config.Config` fields of the same name, with the
    same defaults; None means the value `plan_widths` gives the image size.

    Args:
        image_shape: `(height, width, channels)` of the input images.
        d_filters: channels of the first conv; each further conv doubles them.
        d_layers: strided convs before the `"dcgan"` head; 0 mirrors the
            generator's upsamplings for this image size (`plan_generator`).
        d_kernel_size: kernel size of every conv.
        d_activation: `"leaky_relu"` (slope 0.2) or `"relu"`.
        d_dropout: dropout rate after each conv block.
        d_batch_norm: BatchNorm after every conv but the first (DCGAN paper).
        discriminator: the head: `"dcgan"` for one logit per image, or
            `"patchgan"` for an `N x N` map of logits, one per overlapping
            patch (Isola et al. 2017).
        patch_layers: strided convs before the `"patchgan"` head; the map
            has `N = ceil(size / 2**patch_layers)` rows and columns.
        spectral_norm: wrap every conv and the logit layer in
            `keras.layers.SpectralNormalization` (Miyato et al. 2018): one
            power iteration per training call divides each kernel by its
            largest singular value, so D is close to 1-Lipschitz.
        d_residual: every strided block gains a second, 3x3 stride-1 conv
            and a skip path around both (2x2 average pooling, then a 1x1
            conv), added before the activation.
        sync_batch_norm: built under a strategy with several replicas,
            BatchNorm takes its statistics over the global batch, not each
            replica's (one replica: no effect).
        num_classes: if set, the model takes `[images, labels]` and appends a
            learned per-class map as an extra input channel (conditional GAN).
        name: model name and prefix of every layer name.

    Returns:
        A `keras.Model` mapping `(B, H, W, C)` to float32 logits of shape
        `(B, 1)` (dcgan) or `(B, N, N, 1)` (patchgan). Its attribute
        `receptive_field` is the input patch size seen by one logit.
    """
    import keras
    from keras import layers

    height, width, channels = image_shape
    plan = planned(dict(d_filters=d_filters, d_kernel_size=d_kernel_size), height)
    d_filters, d_kernel_size = plan["d_filters"], plan["d_kernel_size"]
    if discriminator == "patchgan":
        depth = patch_layers
    else:
        depth = d_layers or plan_generator(height)[1]
    synchronized = _synchronized(sync_batch_norm)
    if depth < 1:
        raise UserError(f"the discriminator needs at least one conv layer, got {depth}.")
    if discriminator == "patchgan" and math.ceil(height / 2**depth) < 2:
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

    def normalized(layer):
        if not spectral_norm:
            return layer
        return layers.SpectralNormalization(
            layer, name=f"{layer.name}_sn", dtype=layer.dtype_policy
        )

    # === Strided conv stack ===
    stack = []
    for i in range(depth):
        prefix = f"{name}_block{i + 1}"
        width = d_filters * 2**i
        block_input = x
        x = normalized(
            layers.Conv2D(width, d_kernel_size, strides=2, padding="same", name=f"{prefix}_conv")
        )(x)
        stack.append((d_kernel_size, 2))
        if d_batch_norm and i > 0:
            x = layers.BatchNormalization(synchronized=synchronized, name=f"{prefix}_bn")(x)
        if d_residual:
            x = _activation(d_activation, f"{prefix}_act_inner")(x)
            x = normalized(layers.Conv2D(width, 3, padding="same", name=f"{prefix}_conv2"))(x)
            stack.append((3, 1))
            if d_batch_norm and i > 0:
                x = layers.BatchNormalization(synchronized=synchronized, name=f"{prefix}_bn2")(x)
            skip = layers.AveragePooling2D(2, padding="same", name=f"{prefix}_skip_pool")(
                block_input
            )
            skip = normalized(layers.Conv2D(width, 1, name=f"{prefix}_skip_conv"))(skip)
            x = layers.Add(name=f"{prefix}_add")([x, skip])
        x = _activation(d_activation, f"{prefix}_act")(x)
        if d_dropout:
            x = layers.Dropout(d_dropout, name=f"{prefix}_dropout")(x)

    # === Head (float32 logits even under mixed precision) ===
    if discriminator == "patchgan":
        logits = normalized(
            layers.Conv2D(
                1, d_kernel_size, padding="same", dtype="float32", name=f"{name}_patch_logits"
            )
        )(x)
        stack.append((d_kernel_size, 1))
        field = receptive_field(stack)
    else:
        x = layers.Flatten(name=f"{name}_flatten")(x)
        logits = normalized(layers.Dense(1, dtype="float32", name=f"{name}_logits"))(x)
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


def condition_classes(generator, default=10):
    """Classes of a class-conditional generator (from its label embedding), or None.

    Args:
        generator: a Keras model; one input means unconditional.
        default: the count when a second input has no `Embedding` to read it from.
    """
    import keras

    if len(generator.inputs) < 2:
        return None
    for layer in generator.layers:
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
    return default


# The `Config` fields each builder takes, under the same names.
GENERATOR_FIELDS = (
    "latent_dim",
    "g_filters",
    "g_extra_layers",
    "g_kernel_size",
    "g_activation",
    "g_output",
    "g_dropout",
    "g_batch_norm",
    "upsample",
    "g_residual",
    "sync_batch_norm",
)
DISCRIMINATOR_FIELDS = (
    "d_filters",
    "d_layers",
    "d_kernel_size",
    "d_activation",
    "d_dropout",
    "d_batch_norm",
    "discriminator",
    "patch_layers",
    "spectral_norm",
    "d_residual",
    "sync_batch_norm",
)


# The builders' keyword defaults, by name: `kgan.config.Config` reads its
# network fields' defaults from here, so each is written once, in the builder.
NETWORK_DEFAULTS = {
    name: parameter.default
    for builder in (build_generator, build_discriminator)
    for name, parameter in inspect.signature(builder).parameters.items()
    if name in GENERATOR_FIELDS + DISCRIMINATOR_FIELDS
}


def build_networks(config, image_shape, num_classes=None):
    """Builds `(generator, discriminator)` for a `kgan.config.Config`.

    Each builder gets the config fields named in `GENERATOR_FIELDS` /
    `DISCRIMINATOR_FIELDS`, one-to-one. Call it inside the run's strategy
    scope: with `config.sync_batch_norm` and more than one replica,
    BatchNorm is synchronized across replicas.
    """

    def fields(names):
        return {name: getattr(config, name) for name in names}

    generator = build_generator(image_shape, num_classes=num_classes, **fields(GENERATOR_FIELDS))
    discriminator = build_discriminator(
        image_shape, num_classes=num_classes, **fields(DISCRIMINATOR_FIELDS)
    )
    return generator, discriminator
