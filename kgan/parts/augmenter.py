"""What D sees: DiffAugment at a probability that is fixed or tuned by ADA."""

import keras

from kgan import augment as augmentation
from kgan.config import DEFAULTS
from kgan.parts.controller import SignController


@keras.saving.register_keras_serializable(package="kgan")
class Augmenter(keras.layers.Layer):
    """DiffAugment (Zhao et al. 2020) with probability `p`, fixed or adaptive (ADA).

    The GAN runs every batch D judges, real or fake, in D's update and in
    G's, through `augment(images, seed)`: the transforms are differentiable,
    so G is never taught to produce augmentations (`kgan.augment`). With
    `adaptive=True`, `p` starts at 0 and a `SignController` moves it by ADA's
    rule (Karras et al. 2020): up while D is surer than `target` of the real
    images it trains on, down while less; `p` can go from 0 to 1 after
    `kimg` thousand images. Like keras-io's `gan_ada.AdaptiveAugmenter`, the
    GAN calls `update(real_sign, images)` after each step.

    Args:
        adaptive: tune `p` by ADA's rule (`p` starts at 0); False: fixed `p`.
        p: the fixed probability of each transform per image (1: DiffAugment
            as published); ignored when adaptive.
        policies: DiffAugment's transforms (`kgan.augment.POLICIES`).
        target: adaptive: the `E[sign(D(real))]` to hold.
        kimg: adaptive: thousands of images for `p` to go from 0 to 1.

    Example:

    >>> GAN(generator, discriminator, augmenter=Augmenter(adaptive=False, p=1.0))
    """

    def __init__(
        self,
        adaptive=DEFAULTS.augment == "adaptive",
        p=DEFAULTS.augment_p,
        policies=augmentation.POLICIES,
        target=DEFAULTS.ada_target,
        kimg=DEFAULTS.ada_kimg,
        **kwargs,
    ):
        super().__init__(**kwargs)
        unknown = sorted(set(policies) - set(augmentation.POLICIES))
        if unknown:
            raise ValueError(
                f"unknown augmentation policies {unknown}; known: {augmentation.POLICIES}."
            )
        self.adaptive = bool(adaptive)
        self.fixed_p = float(p)
        self.policies = tuple(policies)
        self.target = float(target)
        self.kimg = float(kimg)
        if self.adaptive:
            self.controller = SignController(
                self.target, self.kimg * 1000.0, augmentation.ADA_INTERVAL, name="ada"
            )
            self.p = self.controller.value
        else:
            self.controller = None
            self.p = self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(self.fixed_p),
                trainable=False,
                dtype="float32",
                name="p",
            )
        self.built = True

    @classmethod
    def from_mode(cls, mode, **kwargs):
        """The augmenter of `--augment`: None for `"off"`, else fixed or adaptive."""
        if mode not in augmentation.MODES:
            raise ValueError(f"augment={mode!r} is not one of {', '.join(augmentation.MODES)}.")
        return None if mode == "off" else cls(adaptive=mode == "adaptive", **kwargs)

    def augment(self, images, seed):
        """`images` as D sees them; `seed`: the model's `SeedGenerator`.

        While `p` is 0 (ADA's start, and a whole run wherever r_t stays
        under the target) the transforms are skipped, not computed and
        masked out, so they cost nothing; no random numbers are drawn either.
        """
        return augmentation.diff_augment(images, self.p, seed, self.policies)

    def update(self, real_sign, images):
        """ADA: adds one step's overfitting signal; a fixed `p` ignores it."""
        if self.controller is not None:
            self.controller.update(real_sign, images)

    def get_config(self):
        return {
            **super().get_config(),
            "adaptive": self.adaptive,
            "p": self.fixed_p,
            "policies": list(self.policies),
            "target": self.target,
            "kimg": self.kimg,
        }
