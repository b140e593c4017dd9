"""Least-squares GAN (Mao et al. 2017) as a kgan subclass.

The whole method change is two overridden losses: D regresses real scores to
its targets (1, with kgan's label noise) and fake scores to 0; G pulls fake
scores to 1. Squared error keeps a gradient for fakes far on the right side
of the decision boundary, where the sigmoid cross-entropy saturates.

    python -m examples.lsgan --dataset=../shared/data/mnist --epochs=5

takes every flag of `train.py`.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402
from keras import ops  # noqa: E402

from kgan import losses  # noqa: E402
from kgan.config import Config  # noqa: E402
from kgan.errors import UserError  # noqa: E402
from kgan.flags import config_from_flags, define_config_flags  # noqa: E402
from kgan.gan import GAN  # noqa: E402


class LSGAN(GAN):
    """A GAN trained with least-squares losses instead of cross-entropy."""

    def discriminator_loss(self, real_logits, fake_logits, real_targets, fake_targets):
        return losses.least_squares_discriminator_loss(
            real_logits, fake_logits, real_targets, fake_targets
        )

    def generator_loss(self, fake_logits):
        return losses.least_squares_generator_loss(fake_logits)

    def overfitting_signal(self, real_logits):
        # D regresses real images to 1 and fakes to 0: its boundary is 0.5.
        return ops.mean(ops.sign(ops.cast(real_logits, "float32") - 0.5))

    def balance_signal(self, real_logits, fake_logits):
        # D's accuracy for --balance=auto, at the same 0.5 boundary.
        real = ops.mean(ops.cast(ops.cast(real_logits, "float32") > 0.5, "float32"))
        fake = ops.mean(ops.cast(ops.cast(fake_logits, "float32") < 0.5, "float32"))
        return 0.5 * (real + fake)


def main(argv):
    del argv
    from kgan.training import train

    try:
        train(config_from_flags(Config, flags.FLAGS), gan_class=LSGAN)
    except UserError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    define_config_flags(Config, flags.FLAGS)
    app.run(main)
