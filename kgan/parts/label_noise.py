"""Label flipping and smoothing of the discriminator's targets."""

import keras
from keras import ops

from kgan.config import DEFAULTS


@keras.saving.register_keras_serializable(package="kgan")
class LabelNoise(keras.layers.Layer):
    """Soft, sometimes swapped, targets for D: it must not become certain too early.

    Real targets are drawn from `[1 - smoothing, 1]` and fake ones from
    `[0, smoothing]` (0 with `one_sided`; Salimans et al. 2016); then each
    image's target is swapped for the other side's with probability
    `flip_probability(handicap)`: `flip` raised towards 0.5 (coin-flip
    targets, no information) by D's handicap when `balance="auto"`. One
    target per image, shared by all the logits of a PatchGAN map.

    `flip` and `smoothing` are non-trainable variables: callbacks (e.g.
    `LabelNoiseSchedule`) assign them without retracing `train_step`.

    Args:
        flip: fraction of D's targets swapped, per image.
        smoothing: `s` of the soft targets.
        one_sided: keep fake targets at exactly 0.

    Example:

    >>> GAN(generator, discriminator, label_noise=LabelNoise(flip=0.05, smoothing=0.0))
    """

    def __init__(
        self,
        flip=DEFAULTS.label_flip,
        smoothing=DEFAULTS.label_smoothing,
        one_sided=DEFAULTS.one_sided_smoothing,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.one_sided = bool(one_sided)
        state = dict(shape=(), trainable=False, dtype="float32")
        self.flip = self.add_weight(
            initializer=keras.initializers.Constant(flip), name="flip", **state
        )
        self.smoothing = self.add_weight(
            initializer=keras.initializers.Constant(smoothing), name="smoothing", **state
        )
        self.built = True

    def flip_probability(self, handicap=0.0):
        """The flip rate this step: `flip + handicap * (0.5 - flip)`."""
        return self.flip + handicap * (0.5 - self.flip)

    def targets(self, logits, real, seed, handicap=0.0):
        """Per-image targets for `logits` (real or fake images), broadcast to their shape.

        Args:
            logits: D's logits `(B, 1)` or `(B, N, N, 1)`.
            real: True for a batch of real images.
            seed: the model's `SeedGenerator`.
            handicap: D's handicap in [0, 1] (`balance="auto"`), raising the flip rate.
        """
        batch_size = ops.shape(logits)[0]
        s = self.smoothing
        high = 1.0 - s * keras.random.uniform((batch_size,), seed=seed)
        if self.one_sided:
            low = ops.zeros((batch_size,))
        else:
            low = s * keras.random.uniform((batch_size,), seed=seed)
        own, other = (high, low) if real else (low, high)
        flip = keras.random.uniform((batch_size,), seed=seed) < self.flip_probability(handicap)
        targets = ops.where(flip, other, own)
        # (B,) -> (B, 1, ..., 1): one target per image, shared by its patches.
        broadcast_shape = [batch_size] + [1] * (len(logits.shape) - 1)
        return ops.cast(ops.reshape(targets, broadcast_shape), logits.dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "flip": float(ops.convert_to_numpy(self.flip)),
            "smoothing": float(ops.convert_to_numpy(self.smoothing)),
            "one_sided": self.one_sided,
        }
