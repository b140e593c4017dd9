"""The GAN's parts: small objects, each owning its state, config and tests.

- `LabelNoise`: soft and flipped targets for D;
- `Augmenter`: DiffAugment at a fixed or ADA-tuned probability;
- `SignController`: the feedback rule behind ADA and D's handicap (`balance`);
- `R1Penalty`, `GradientPenalty`: regularisers of D with one interface;
- `Reconstruction`: FastGAN's decoder, D's features redraw the real image;
- `GeneratorEMA`: the generator's weight average, owning its copy.

`parts_from_config(config)` maps a `kgan.config.Config` onto them, the
one mapping from settings to parts; `parts_from_config()` is kgan's recipe,
what `GAN(generator, discriminator)` gets for every part left out.
"""

from kgan.config import Config
from kgan.errors import UserError
from kgan.parts.augmenter import Augmenter
from kgan.parts.controller import SignController
from kgan.parts.ema import GeneratorEMA
from kgan.parts.label_noise import LabelNoise
from kgan.parts.penalties import GradientPenalty, R1Penalty
from kgan.parts.reconstruction import Reconstruction

# The default of a part argument of `GAN`: the part as kgan's recipe sets it.
RECIPE = "recipe"

__all__ = [
    "RECIPE",
    "Augmenter",
    "GeneratorEMA",
    "GradientPenalty",
    "LabelNoise",
    "R1Penalty",
    "Reconstruction",
    "SignController",
    "balance_controller",
    "check_bounded",
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
        reconstruction=(
            Reconstruction(config.d_reconstruction) if config.d_reconstruction else None
        ),
    )


def check_bounded(loss, augmenter, balance):
    """Refuses ADA and the balance loop for an unbounded critic (`loss.bounded` False).

    Both read D's decision boundary (`sign(D(real))`, D's accuracy), which a
    Wasserstein critic's scores do not have.

    Raises:
        UserError: naming the flag to change.
    """
    if loss.bounded:
        return
    name = type(loss).__name__
    if augmenter is not None and augmenter.adaptive:
        raise UserError(
            f"adaptive augmentation reads sign(D(real)), which the unbounded critic of {name} "
            "does not have: use --augment=fixed (Augmenter(adaptive=False)) or --augment=off."
        )
    if balance is not None:
        raise UserError(
            f"--balance=auto reads D's accuracy, which the unbounded critic of {name} does "
            "not have: use --balance=off."
        )
