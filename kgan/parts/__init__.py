"""The GAN's parts: small objects, each owning its state, config and tests.

- `LabelNoise`: soft and flipped targets for D;
- `Augmenter`: DiffAugment at a fixed or ADA-tuned probability;
- `SignController`: the feedback rule behind ADA and D's handicap (`balance`);
- `R1Penalty`, `GradientPenalty`: regularisers of D with one interface;
- `GeneratorEMA`: the generator's weight average, owning its copy.

`parts_from_config(config)` maps a `kgan.config.Config` onto them, the
one mapping from settings to parts; `parts_from_config()` is kgan's recipe,
what `GAN(generator, discriminator)` gets for every part left out.
"""

from kgan.config import Config
from kgan.parts.augmenter import Augmenter
from kgan.parts.controller import SignController
from kgan.parts.ema import GeneratorEMA
from kgan.parts.label_noise import LabelNoise
from kgan.parts.penalties import GradientPenalty, R1Penalty

# The default of a part argument of `GAN`: the part as kgan's recipe sets it.
RECIPE = "recipe"

__all__ = [
    "RECIPE",
    "Augmenter",
    "GeneratorEMA",
    "GradientPenalty",
    "LabelNoise",
    "R1Penalty",
    "SignController",
    "balance_controller",
    "parts_from_config",
]


def balance_controller(target, steps):
    """D's handicap for `balance="auto"`: a `SignController` on D's accuracy.

    The handicap `h` in [0, 1] moves up by `1 / steps` each step D was more
    accurate than `target` (on real and fake alike) and down by as much when
    it was less, so it settles where D's median accuracy is the target; it
    raises D's flip rate from `label_flip` (h = 0) to 0.5 (h = 1).
    """
    return SignController(target, span=steps, interval=1, name="balance")


def parts_from_config(config=None):
    """The parts `config` describes (default: `Config()`, kgan's recipe), by `GAN` argument."""
    config = Config() if config is None else config
    return dict(
        label_noise=LabelNoise(
            config.label_flip, config.label_smoothing, config.one_sided_smoothing
        ),
        augmenter=Augmenter.from_mode(
            config.augment,
            p=config.augment_p,
            policies=config.policies(),
            target=config.ada_target,
            kimg=config.ada_kimg,
        ),
        balance=(
            balance_controller(config.balance_target, config.balance_steps)
            if config.balance == "auto"
            else None
        ),
        penalty=R1Penalty(config.r1_gamma) if config.r1_gamma else None,
    )
