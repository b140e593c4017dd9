"""Differentiable augmentation, and the rule that tunes its strength (ADA).

A discriminator trained on a few thousand images memorises them within a few
thousand steps: it becomes certain on every real image, its gradient to the
generator fades, and the generator collapses. Augmenting what D sees makes
the training set effectively larger. Two things make that safe:

- the same random transforms are applied to real AND generated images, in
  the discriminator's update and in the generator's, and they are
  differentiable, so G gets its gradient through them and is never taught
  to produce augmented-looking images (Zhao et al. 2020, "Differentiable
  Augmentation for Data-Efficient GAN Training", DiffAugment);
- each transform is applied to each image with probability `p`, which the
  adaptive rule raises while D overfits and lowers when it does not
  (Karras et al. 2020, "Training Generative Adversarial Networks with
  Limited Data", ADA).

`diff_augment` is DiffAugment's three policies on images in [-1, 1]:
`color` (brightness, saturation and contrast), `translation` (shift by up to
1/8 of the side, zero-padded) and `cutout` (a square of half the side set to
0). With `p = 1` every image gets every transform: DiffAugment as published.

`ada_adjustment` is ADA's rule: every `ADA_INTERVAL` steps, with the
overfitting signal `r_t = E[sign(D(real))]` over those steps,
`p <- clip(p + sign(r_t - target) * images / (ada_kimg * 1000), 0, 1)`,
where `images` were shown in the interval: `p` can move from 0 to 1 after
`ada_kimg` thousand images.

The constants import without TensorFlow (`kgan.config` checks policy names
against them); the functions import it when called.
"""

MODES = ("off", "fixed", "adaptive")  # the values of --augment
POLICIES = ("color", "translation", "cutout")
TRANSLATION = 1 / 8  # largest shift, as a fraction of the side (DiffAugment)
CUTOUT = 1 / 2  # side of the cut-out square, as a fraction of the side (DiffAugment)
ADA_INTERVAL = 4  # steps between two adjustments of p (StyleGAN2-ADA)


def diff_augment(images, p, seed, policies=POLICIES):
    """Applies DiffAugment's transforms, each to each image with probability `p`.

    Args:
        images: `(B, H, W, C)` float images in [-1, 1].
        p: probability, per image and per transform, that it is applied (a
            float or a scalar tensor / variable; 0 returns `images` exactly).
        seed: a `keras.random.SeedGenerator` (the model's).
        policies: any of `"color"`, `"translation"`, `"cutout"`, in that order.

    Returns:
        Augmented images, same shape and dtype; gradients flow through every
        transform to `images`.

    Example:

    >>> seed = keras.random.SeedGenerator(0)
    >>> diff_augment(images, 1.0, seed)  # DiffAugment as published
    """
    import keras
    from keras import ops

    unknown = sorted(set(policies) - set(POLICIES))
    if unknown:
        raise ValueError(f"unknown augmentation policies {unknown}; known: {POLICIES}.")
    p = ops.cast(p, "float32")
    batch_size = ops.shape(images)[0]

    def chosen():
        # (B, 1, 1, 1): 1.0 where this transform applies to the image, else 0.0.
        draw = keras.random.uniform((batch_size, 1, 1, 1), seed=seed)
        return ops.cast(draw < p, "float32")

    def uniform(low, high):
        return keras.random.uniform((batch_size, 1, 1, 1), low, high, seed=seed)

    def apply(transform, x):
        # A transform no image of the batch drew is skipped, not computed and
        # masked out: at ADA's small p most batches skip most transforms.
        mask = chosen()
        return ops.cond(ops.any(mask > 0), lambda: transform(x, mask), lambda: x)

    def brightness(x, mask):
        return x + mask * uniform(-0.5, 0.5)

    def saturation(x, mask):
        gray = ops.mean(x, axis=3, keepdims=True)
        return gray + (x - gray) * (1.0 + mask * (uniform(0.0, 2.0) - 1.0))

    def contrast(x, mask):
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        return mean + (x - mean) * (1.0 + mask * (uniform(0.5, 1.5) - 1.0))

    transforms = {
        "color": (brightness, saturation, contrast),
        "translation": (lambda x, mask: _translate(x, mask, seed),),
        "cutout": (lambda x, mask: x * _cutout_mask(x, mask, seed),),
    }

    def augmented():
        x = ops.cast(images, "float32")
        for policy in POLICIES:  # DiffAugment's order, whatever the order asked
            if policy in policies:
                for transform in transforms[policy]:
                    x = apply(transform, x)
        return ops.cast(x, images.dtype)

    # At p = 0 (ADA's start) nothing is computed and no random number drawn.
    return ops.cond(p > 0, augmented, lambda: images)


def _shift(x, shifts, axis):
    """Shifts each image of `x` by `shifts[b]` pixels along `axis` (1 or 2), zero-padded."""
    import tensorflow as tf
    from keras import ops

    size = ops.shape(x)[axis]
    positions = ops.arange(size, dtype="int32")  # (S,)
    source = positions[None, :] - shifts[:, None]  # (B, S): where each output pixel comes from
    inside = ops.cast((source >= 0) & (source < size), x.dtype)
    source = ops.clip(source, 0, size - 1)
    shifted = tf.gather(x, source, axis=axis, batch_dims=1)
    shape = (-1, size, 1, 1) if axis == 1 else (-1, 1, size, 1)
    return shifted * ops.reshape(inside, shape)


def _translate(x, chosen, seed):
    """Shifts the chosen images by up to `TRANSLATION` of their side, both ways."""
    import keras
    from keras import ops

    height, width = x.shape[1], x.shape[2]
    batch_size = ops.shape(x)[0]
    chosen = ops.cast(ops.reshape(chosen, (-1,)), "int32")
    for axis, size in ((1, height), (2, width)):
        limit = int(size * TRANSLATION)
        shifts = keras.random.randint((batch_size,), -limit, limit + 1, seed=seed)
        x = _shift(x, ops.cast(shifts, "int32") * chosen, axis)
    return x


def _cutout_mask(x, chosen, seed):
    """`(B, H, W, 1)`: 0 inside a random square of half the side (chosen images), else 1."""
    import keras
    from keras import ops

    height, width = x.shape[1], x.shape[2]
    batch_size = ops.shape(x)[0]
    masks = []
    for size in (height, width):
        half = int(size * CUTOUT) // 2
        centre = keras.random.randint((batch_size, 1), 0, size, seed=seed)
        positions = ops.arange(size, dtype="int32")[None, :]  # (1, S)
        offset = positions - ops.cast(centre, "int32")
        masks.append(ops.cast((offset >= -half) & (offset < half), "float32"))  # (B, S)
    inside = masks[0][:, :, None, None] * masks[1][:, None, :, None]  # (B, H, W, 1)
    return 1.0 - inside * chosen


def ada_adjustment(r_t, target, images, ada_kimg):
    """Returns ADA's change of `p` after an interval with overfitting signal `r_t`.

    Args:
        r_t: `E[sign(D(real))]` over the interval: 0 when D cannot tell, 1
            when it is sure of every real image.
        target: the `r_t` to hold (0.6 in Karras et al. 2020).
        images: images shown in the interval (all replicas together).
        ada_kimg: thousands of images over which `p` may go from 0 to 1.

    Returns:
        `sign(r_t - target) * images / (ada_kimg * 1000)`.
    """
    from keras import ops

    rate = ops.cast(images, "float32") / (float(ada_kimg) * 1000.0)
    return ops.sign(ops.cast(r_t, "float32") - target) * rate
