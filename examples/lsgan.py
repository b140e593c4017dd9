"""Least-squares GAN (Mao et al. 2017) as a kgan subclass.

The whole method change is one loss object: D regresses real scores to its
targets (1, with kgan's label noise) and fake scores to 0; G pulls fake
scores to 1. Squared error keeps a gradient for fakes far on the right side
of the decision boundary, where the sigmoid cross-entropy saturates.

    python -m examples.lsgan --dataset=../shared/data/mnist --epochs=5

takes every flag of `train.py`.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from kgan import losses  # noqa: E402
from kgan.config import Config  # noqa: E402
from kgan.errors import UserError  # noqa: E402
from kgan.flags import config_from_flags, define_config_flags  # noqa: E402
from kgan.gan import GAN  # noqa: E402


class LSGAN(GAN):
    """A GAN trained with least-squares losses instead of cross-entropy.

    `LeastSquaresLoss` holds both losses and D's decision boundary (0.5:
    real regresses to 1, fake to 0), from which the logged accuracies,
    ADA's signal and the balance loop all read, so nothing else changes.
    """

    LOSS = losses.LeastSquaresLoss


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
