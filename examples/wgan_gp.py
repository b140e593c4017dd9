"""WGAN-GP (Gulrajani et al. 2017) as a kgan subclass.

A critic instead of a classifier: D scores images, the Wasserstein losses of
`kgan.losses` replace the cross-entropy, the critic takes `d_steps` updates
per generator update, and a gradient penalty keeps it 1-Lipschitz: on
random points between real and fake images, `lambda * (|grad D| - 1)^2`.
It swaps two parts (the loss, `kgan.losses.WassersteinLoss`, and the penalty,
`kgan.parts.GradientPenalty`) and sets the config recipe below; the GAN adds
the penalty to the critic's loss before the 1/replicas scaling, so it is
right under a `tf.distribute` strategy too. An unbounded critic has no
decision boundary, so the GAN refuses `--augment=adaptive` and
`--balance=auto` with it.

    python -m examples.wgan_gp --dataset=../shared/data/mnist --epochs=10 --out_dir=runs/wgan

takes every flag of `train.py`, with the recipe's defaults, plus `--gp_weight`.
"""

import dataclasses
import functools
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kgan.quiet import import_tensorflow  # noqa: E402

import_tensorflow()  # loads TensorFlow without its start-up notices

from absl import app, flags  # noqa: E402

from kgan import losses  # noqa: E402
from kgan.config import Config  # noqa: E402
from kgan.errors import UserError  # noqa: E402
from kgan.flags import config_from_flags, define_config_flags  # noqa: E402
from kgan.gan import GAN  # noqa: E402
from kgan.parts import GradientPenalty  # noqa: E402


def _field(default, reason):
    return dataclasses.field(default=default, metadata={"help": reason})


@dataclasses.dataclass
class WGANGPConfig(Config):
    """`Config` with the WGAN-GP paper's recipe as defaults, and the penalty weight."""

    d_steps: int = _field(5, "Five critic updates per generator update (Gulrajani et al.).")
    g_lr: float = _field(1e-4, "The WGAN-GP paper's Adam rate.")
    d_lr: float = _field(1e-4, "The WGAN-GP paper's Adam rate.")
    beta_1: float = _field(0.0, "No momentum: the paper's Adam(1e-4, 0, 0.9).")
    beta_2: float = _field(0.9, "The paper's Adam(1e-4, 0, 0.9).")
    label_flip: float = _field(0.0, "Off: a critic has no labels to flip.")
    label_smoothing: float = _field(0.0, "Off: a critic has no labels to smooth.")
    d_dropout: float = _field(0.0, "Off: the penalty, not dropout, keeps the critic in check.")
    gp_weight: float = _field(10.0, "lambda of the gradient penalty; the paper uses 10.")
    augment: str = _field(
        "off",
        "Off: ADA's signal sign(D(real)) means nothing for an unbounded critic (the GAN "
        "refuses adaptive); --augment=fixed (DiffAugment) works.",
    )

    def validate(self):
        super().validate()
        if not self.gp_weight >= 0:
            raise UserError(f"--gp_weight={self.gp_weight} must be >= 0; the paper uses 10.")


class WGANGP(GAN):
    """A Wasserstein GAN whose critic is kept 1-Lipschitz by a gradient penalty.

    Args:
        *args: as `GAN`.
        gp_weight: lambda, the weight of the penalty.
        augmenter: none by default (the recipe's adaptive one needs a bounded D).
        **kwargs: as `GAN` (a `penalty` given is replaced by the gradient penalty).
    """

    LOSS = losses.WassersteinLoss

    def __init__(self, *args, gp_weight=10.0, augmenter=None, **kwargs):
        kwargs["penalty"] = GradientPenalty(gp_weight)
        super().__init__(*args, augmenter=augmenter, **kwargs)
        self.gp_weight = float(gp_weight)

    def get_config(self):
        return {**super().get_config(), "gp_weight": self.gp_weight}


def gan_class(config):
    """The `gan_class` for `kgan.train`: `WGANGP` with the config's penalty weight."""
    return functools.partial(WGANGP, gp_weight=config.gp_weight)


def main(argv):
    del argv
    from kgan.training import train

    try:
        config = config_from_flags(WGANGPConfig, flags.FLAGS)
        train(config, gan_class=gan_class(config))
    except UserError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    define_config_flags(WGANGPConfig, flags.FLAGS)
    app.run(main)
