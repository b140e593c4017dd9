"""Adversarial losses as pure functions of logits (TF-GAN's convention).

Every function accepts logits of any rank: `(B, 1)` from a DCGAN head or
`(B, N, N, 1)` from a PatchGAN head, averaging over every logit, so the same
loss serves both heads. Targets, where taken, have the logits' shape (or
broadcast to it). Each returns the mean over this replica's batch; the GAN
model scales it for `tf.distribute` before taking gradients.
"""

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


def wasserstein_discriminator_loss(real_logits, fake_logits, real_targets=None, fake_targets=None):
    """WGAN critic loss (Arjovsky et al. 2017): `mean D(fake) - mean D(real)`.

    Label noise has no meaning for a critic, so targets are ignored.
    """
    del real_targets, fake_targets
    return ops.mean(fake_logits) - ops.mean(real_logits)


def wasserstein_generator_loss(fake_logits):
    """WGAN generator loss (Arjovsky et al. 2017): `-mean D(fake)`."""
    return -ops.mean(fake_logits)


def real_accuracy(real_logits):
    """Fraction of real logits that D classifies as real (logit > 0)."""
    return ops.mean(ops.cast(real_logits > 0, "float32"))


def fake_accuracy(fake_logits):
    """Fraction of fake logits that D classifies as fake (logit < 0)."""
    return ops.mean(ops.cast(fake_logits < 0, "float32"))
