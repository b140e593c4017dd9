"""Adversarial losses as pure functions of logits (TF-GAN's convention).

Every function accepts logits of any rank: `(B, 1)` from a DCGAN head or
`(B, N, N, 1)` from a PatchGAN head, averaging over every logit, so the same
loss serves both heads. Targets, where taken, have the logits' shape (or
broadcast to it). Each returns the mean over this replica's batch; the GAN
model scales it for `tf.distribute` before taking gradients.

The loss classes at the end pair a discriminator loss with its generator
loss and know where D's logits are undecided (`boundary`): the GAN reads
D's accuracies, ADA's overfitting signal and the balance signal from
`is_real` / `is_fake`, so a loss with another boundary (LSGAN's 0.5) is
judged right everywhere by swapping one object.
"""

import keras
from keras import ops


def _bce(targets, logits):
    """Mean sigmoid cross-entropy, computed stably from logits."""
    targets = ops.cast(ops.broadcast_to(targets, ops.shape(logits)), logits.dtype)
    # max(x, 0) - x * t + log(1 + exp(-|x|)): the stable form of BCE on logits.
    per_logit = ops.relu(logits) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits)))
    return ops.mean(per_logit)


def nonsaturating_discriminator_loss(real_logits, fake_logits, real_targets=1.0, fake_targets=0.0):
    """The standard GAN discriminator loss: BCE on real plus BCE on fake.

    Args:
        real_logits: D's logits on a batch of real images.
        fake_logits: D's logits on a batch of generated images.
        real_targets: targets for real logits (1, or soft/flipped labels).
        fake_targets: targets for fake logits (0, or soft/flipped labels).

    Returns:
        A scalar: `mean BCE(real) + mean BCE(fake)` (Goodfellow et al. 2014).
    """
    return _bce(real_targets, real_logits) + _bce(fake_targets, fake_logits)


def nonsaturating_generator_loss(fake_logits):
    """The non-saturating generator loss `-log D(G(z))` (Goodfellow et al. 2014).

    Unlike the minimax `log(1 - D(G(z)))`, its gradient is large exactly when
    D confidently rejects the fakes, which is what beats diminished gradients.
    """
    return _bce(1.0, fake_logits)


def minimax_generator_loss(fake_logits):
    """The original (saturating) minimax generator loss `log(1 - D(G(z)))`.

    Kept for comparison: its gradient vanishes when D wins, the very failure
    the non-saturating loss avoids.
    """
    return -_bce(0.0, fake_logits)


def least_squares_discriminator_loss(real_logits, fake_logits, real_targets=1.0, fake_targets=0.0):
    """LSGAN discriminator loss (Mao et al. 2017): squared distance to targets."""
    real_targets = ops.cast(real_targets, real_logits.dtype)
    fake_targets = ops.cast(fake_targets, fake_logits.dtype)
    return 0.5 * ops.mean(ops.square(real_logits - real_targets)) + 0.5 * ops.mean(
        ops.square(fake_logits - fake_targets)
    )


def least_squares_generator_loss(fake_logits):
    """LSGAN generator loss (Mao et al. 2017): pull fake scores towards 1."""
    return 0.5 * ops.mean(ops.square(fake_logits - 1.0))


def hinge_discriminator_loss(real_logits, fake_logits, real_targets=None, fake_targets=None):
    """Hinge loss of D (Lim and Ye 2017): `E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]`.

    Targets are ignored: the margin, not a soft label, bounds D's confidence.
    """
    del real_targets, fake_targets
    return ops.mean(ops.relu(1.0 - real_logits)) + ops.mean(ops.relu(1.0 + fake_logits))


def hinge_generator_loss(fake_logits):
    """Hinge loss of G: `-E[D(G(z))]` (as in SAGAN and BigGAN)."""
    return -ops.mean(fake_logits)


def wasserstein_discriminator_loss(real_logits, fake_logits, real_targets=None, fake_targets=None):
    """WGAN critic loss (Arjovsky et al. 2017): `mean D(fake) - mean D(real)`.

    Label noise has no meaning for a critic, so targets are ignored.
    """
    del real_targets, fake_targets
    return ops.mean(fake_logits) - ops.mean(real_logits)


def wasserstein_generator_loss(fake_logits):
    """WGAN generator loss (Arjovsky et al. 2017): `-mean D(fake)`."""
    return -ops.mean(fake_logits)


def real_accuracy(real_logits, boundary=0.0):
    """Fraction of real logits that D classifies as real (logit > `boundary`)."""
    return ops.mean(ops.cast(ops.cast(real_logits, "float32") > boundary, "float32"))


def fake_accuracy(fake_logits, boundary=0.0):
    """Fraction of fake logits that D classifies as fake (logit < `boundary`)."""
    return ops.mean(ops.cast(ops.cast(fake_logits, "float32") < boundary, "float32"))


# === Loss objects: a pair of losses and D's decision boundary ===


class AdversarialLoss:
    """A discriminator loss, its generator loss, and where D is undecided.

    Subclasses set `boundary` (the logit at which D cannot tell real from
    fake) and `bounded` (False for a critic whose scores have no such
    meaning, e.g. Wasserstein: ADA's signal and the balance loop refuse it)
    and implement the two losses. Stateless and serialisable.
    """

    boundary = 0.0
    bounded = True

    def discriminator_loss(self, real_logits, fake_logits, real_targets, fake_targets):
        raise NotImplementedError

    def generator_loss(self, fake_logits):
        raise NotImplementedError

    def is_real(self, logits):
        """True where D scores an image as real."""
        return ops.cast(logits, "float32") > self.boundary

    def is_fake(self, logits):
        """True where D scores an image as fake."""
        return ops.cast(logits, "float32") < self.boundary

    def real_accuracy(self, real_logits):
        return ops.mean(ops.cast(self.is_real(real_logits), "float32"))

    def fake_accuracy(self, fake_logits):
        return ops.mean(ops.cast(self.is_fake(fake_logits), "float32"))

    def sign(self, logits):
        """-1, 0 or 1 per logit: which side of the boundary (ADA's `sign(D(x))`)."""
        return ops.sign(ops.cast(logits, "float32") - self.boundary)

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}()"


@keras.saving.register_keras_serializable(package="kgan")
class NonSaturatingLoss(AdversarialLoss):
    """Cross-entropy for D, `-log D(G(z))` for G (Goodfellow et al. 2014); boundary 0."""

    def discriminator_loss(self, real_logits, fake_logits, real_targets, fake_targets):
        return nonsaturating_discriminator_loss(
            real_logits, fake_logits, real_targets, fake_targets
        )

    def generator_loss(self, fake_logits):
        return nonsaturating_generator_loss(fake_logits)


@keras.saving.register_keras_serializable(package="kgan")
class LeastSquaresLoss(AdversarialLoss):
    """LSGAN (Mao et al. 2017): D regresses real to 1 and fake to 0, so its boundary is 0.5."""

    boundary = 0.5

    def discriminator_loss(self, real_logits, fake_logits, real_targets, fake_targets):
        return least_squares_discriminator_loss(
            real_logits, fake_logits, real_targets, fake_targets
        )

    def generator_loss(self, fake_logits):
        return least_squares_generator_loss(fake_logits)


@keras.saving.register_keras_serializable(package="kgan")
class HingeLoss(AdversarialLoss):
    """The hinge loss of SAGAN and BigGAN (usually with spectral norm); boundary 0."""

    def discriminator_loss(self, real_logits, fake_logits, real_targets, fake_targets):
        return hinge_discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return hinge_generator_loss(fake_logits)


@keras.saving.register_keras_serializable(package="kgan")
class WassersteinLoss(AdversarialLoss):
    """WGAN (Arjovsky et al. 2017): an unbounded critic, no decision boundary."""

    bounded = False

    def discriminator_loss(self, real_logits, fake_logits, real_targets, fake_targets):
        return wasserstein_discriminator_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits):
        return wasserstein_generator_loss(fake_logits)


# `--loss` (`kgan.config.LOSSES`) to its loss class.
BY_NAME = {
    "nonsaturating": NonSaturatingLoss,
    "least_squares": LeastSquaresLoss,
    "hinge": HingeLoss,
}
