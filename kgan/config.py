"""The one place every setting of a kgan program lives, with its reason.

`Config` holds every hyperparameter of a training run; `SampleConfig` and
`EvaluateConfig` hold the settings of `sample.py` and `evaluate.py`. Each
field carries its reason and what values it accepts (`choices`, `low` /
`high` bounds): `kgan.flags` turns that into one absl flag per field, and
`validate()` checks every field against it, so a bound is written once.
This module must stay importable without TensorFlow so that a bad flag is
reported in a fraction of a second.
"""

import dataclasses
import json
import math
import types
import typing

from kgan.augment import MODES as AUGMENT_MODES
from kgan.data.local import ON_BAD_IMAGE
from kgan.errors import UserError
from kgan.files import atomic_write
from kgan.networks import ACTIVATIONS, DISCRIMINATOR_HEADS, G_OUTPUTS, NETWORK_DEFAULTS, UPSAMPLINGS
from kgan.precision import PRECISIONS
from kgan.schedules import SCHEDULES

# The adversarial losses `--loss` names (`kgan.losses.BY_NAME`, which imports Keras).
LOSSES = ("nonsaturating", "least_squares", "hinge")

# The limits of a field that `_field` was not given.
_NO_LIMITS = {
    "choices": (),
    "low": None,
    "above": None,
    "high": None,
    "below": None,
    "nonempty": None,
    "required": False,
    "hint": None,
}


def _field(default, reason, **limits):
    """A config field whose reason doubles as its flag's help text.

    Args:
        default: the recommended value.
        reason: why that value, in one sentence; the flag's help text.
        **limits: what values work, checked by `validate()` and shown by
            `--help`: `choices` (the only values allowed; the flag lists
            them), `low` / `high` (inclusive bounds of a number), `above` /
            `below` (exclusive ones), `nonempty` (the value is a non-blank
            string; names what to give), `required` (the flag must be given),
            `hint` (what to do, added to the error for a value out of range).

    Example: `_field(0.3, "Dropout slows D down.", low=0, below=1)` is [0, 1).
    """
    unknown = sorted(set(limits) - set(_NO_LIMITS))
    if unknown:
        raise TypeError(f"unknown field limits {unknown}; known: {sorted(_NO_LIMITS)}.")
    if "choices" in limits:
        limits["choices"] = tuple(limits["choices"])
    return dataclasses.field(default=default, metadata={"help": reason, **limits})


def field_kind(field):
    """Returns `(type, optional)`: `int | None` -> `(int, True)`, `str` -> `(str, False)`."""
    annotation = field.type
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = typing.get_args(annotation)
        return next(a for a in args if a is not type(None)), type(None) in args
    return annotation, False


def field_spec(config_class, name):
    """Returns what `_field` recorded for field `name` of `config_class`.

    A subclass that redefines a field to change its default and reason keeps
    the limits of the base class's field, except those it gives anew.
    """
    spec = {"help": "", **_NO_LIMITS}
    for klass in reversed(config_class.__mro__):
        field = vars(klass).get("__dataclass_fields__", {}).get(name)
        if field is not None:
            spec.update(field.metadata)
    return spec


def requirement(config_class, name):
    """Returns the bounds of field `name` in words ("an integer >= 1"), or None."""
    field = next(f for f in dataclasses.fields(config_class) if f.name == name)
    return _requirement(field_kind(field)[0], field_spec(config_class, name))


def _requirement(kind, spec):
    low = spec["above"] if spec["low"] is None else spec["low"]
    high = spec["below"] if spec["high"] is None else spec["high"]
    noun = "an integer" if kind is int else "a number"
    if low is not None and high is not None:
        opening = "[" if spec["above"] is None else "("
        closing = "]" if spec["below"] is None else ")"
        interval = f"{opening}{low:g}, {high:g}{closing}"
        return f"an integer in {interval}" if kind is int else f"in {interval}"
    if low is not None:
        if kind is float and spec["above"] == 0:
            return "a positive number"
        return f"{noun} {'>=' if spec['above'] is None else '>'} {low:g}"
    if high is not None:
        return f"{noun} {'<=' if spec['below'] is None else '<'} {high:g}"
    return None


def _within(value, spec):
    return not (
        (spec["low"] is not None and value < spec["low"])
        or (spec["above"] is not None and value <= spec["above"])
        or (spec["high"] is not None and value > spec["high"])
        or (spec["below"] is not None and value >= spec["below"])
    )


def _check(name, value, kind, optional, spec):
    """Raises `UserError` if `value` breaks what `spec` allows for field `name`."""
    shown = repr(value) if isinstance(value, str) else value
    if value is None and optional:
        if spec["required"]:
            raise UserError(f"--{name} is missing; give {spec['nonempty'] or 'a value'}.")
        return
    if spec["nonempty"] and (not isinstance(value, str) or not value.strip()):
        raise UserError(f"--{name}={shown} is empty; give {spec['nonempty']}.")
    if spec["choices"] and value not in spec["choices"]:
        raise UserError(f"--{name}={shown} is not one of {', '.join(spec['choices'])}.")
    if kind is int:
        fits = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        fits = isinstance(value, int | float) and not isinstance(value, bool)
        fits = fits and math.isfinite(value)
    else:
        return
    if not fits or not _within(value, spec):
        must = _requirement(kind, spec) or ("an integer" if kind is int else "a finite number")
        hint = f": {spec['hint']}" if spec["hint"] else ""
        raise UserError(f"--{name}={shown} must be {must}{hint}.")


class _Settings:
    """What the config dataclasses share: validation from field metadata, dict I/O."""

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Raises `UserError` for the first field whose value breaks its choices or bounds.

        Subclasses add the checks that involve several fields.
        """
        for field in dataclasses.fields(self):
            kind, optional = field_kind(field)
            spec = field_spec(type(self), field.name)
            _check(field.name, getattr(self, field.name), kind, optional, spec)

    @classmethod
    def help(cls, name):
        """Returns the reason given for field `name` (the flag's help text)."""
        return next(f.metadata["help"] for f in dataclasses.fields(cls) if f.name == name)

    @classmethod
    def choices(cls, name):
        """Returns the values field `name` accepts, or `()` if it is not a choice."""
        return field_spec(cls, name)["choices"]

    def to_dict(self):
        """Returns the fields as a plain dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """Builds a config from a dict; unknown keys are an error, not ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise UserError(f"unknown config keys {unknown}; known keys: {sorted(names)}.")
        return cls(**values)


# === Fields shared by train.py, sample.py and evaluate.py ===
# One definition each, so a flag means (and reads in --help) the same everywhere.
_DATASET = dict(
    default="mnist",
    reason="A TFDS name, or a local IDX folder / .npz file / image folder.",
    nonempty="a TFDS name or a local path",
)
_DATA_DIR = dict(
    default=None,
    reason="Passed to tfds.load; None means TFDS' own default (~/tensorflow_datasets).",
)
_IMAGE_SIZE = dict(
    default=0,
    reason="0 keeps the dataset's own size; the generator must be able to produce it.",
    low=0,
)
_SEED = dict(
    default=0,
    reason="One seed fixes every random draw (weights, latents, label noise, KID's subsets): "
    "same seed, same result.",
    low=0,
)


@dataclasses.dataclass
class Config(_Settings):
    """Every setting of a kgan run; defaults are the recommended recipe.

    Construction validates the values and raises `kgan.errors.UserError`
    naming the bad field and what to do about it.

    Example:

    >>> from kgan.config import Config
    >>> Config(dataset="fashion_mnist", label_flip=0.05).label_flip
    0.05
    >>> Config.choices("discriminator")
    ('dcgan', 'patchgan')
    """

    # === Data ===
    dataset: str = _field(**_DATASET)
    data_dir: str | None = _field(**_DATA_DIR)
    image_size: int = _field(**_IMAGE_SIZE)
    on_bad_image: str = _field(
        "skip",
        "Image folders: skip unreadable files (with a warning) or stop at the first.",
        choices=ON_BAD_IMAGE,
    )
    out_dir: str = _field(
        "runs/kgan",
        "Everything a run writes (samples, generator, config, history) goes here.",
        nonempty="a folder to write the run into",
    )

    # === Training loop ===
    epochs: int = _field(
        20, "MNIST digits are recognisable after ~5 epochs and sharp by ~20.", low=1
    )
    steps_per_epoch: int | None = _field(
        None, "Optional cap on steps per epoch, for smoke runs and wall-clock budgets.", low=1
    )
    batch_size: int = _field(
        32,
        "32: more updates per second of compute; on 2 CPU cores it reached a given FCD "
        "about 2x sooner than 128 (benchmarks/time_to_quality.py). 16 at 64x64 (twice the "
        "steps) ended at FCD 11.0 and 15.2 over two seeds, against 11.1-12.3 for 32.",
        low=1,
    )
    latent_dim: int = _field(
        NETWORK_DEFAULTS["latent_dim"], "The DCGAN paper's 100-d normal noise.", low=1
    )
    seed: int = _field(**_SEED)
    steps_per_execution: int = _field(
        1, "Steps run inside one tf.function call; >1 trims Python overhead per step.", low=1
    )
    d_steps: int = _field(
        1,
        "Discriminator updates per generator update; WGAN critics use 5 (Gulrajani et al.).",
        low=1,
    )
    ema: float = _field(
        0.999,
        "Decay of an exponential moving average of G's weights used for samples, "
        "evaluation and export (0 = off); it averages out the adversarial jitter.",
        low=0,
        below=1,
        hint="it is the decay of the moving average of the generator's weights "
        "(0.999 is usual, 0 turns it off)",
    )
    standing_stats: bool = _field(
        True,
        "Recompute G's BatchNorm statistics for the current weights before sampling "
        "(BigGAN's standing statistics): lagging moving averages make early samples dim.",
    )

    loss: str = _field(
        "nonsaturating",
        "The adversarial loss: nonsaturating cross-entropy (-log D(G(z)) for G: a strong "
        "gradient while D wins), least_squares (LSGAN) or hinge (SAGAN, BigGAN; it takes "
        "no soft or flipped targets, so label noise does not apply). The default keeps "
        "the GAN class's LOSS, which a subclass may change.",
        choices=LOSSES,
    )

    # === Optimisers (Radford et al. 2015: Adam, lr 2e-4, beta_1 0.5) ===
    g_lr: float = _field(
        2e-4,
        "At most 2e-4 keeps either network from racing ahead of the other.",
        above=0,
        hint="DCGAN uses 2e-4",
    )
    d_lr: float = _field(
        2e-4,
        "The same rate as G: neither network should race ahead.",
        above=0,
        hint="DCGAN uses 2e-4",
    )
    beta_1: float = _field(
        0.5,
        "beta_1 = 0.5 damps the momentum that makes the adversarial game oscillate.",
        low=0,
        below=1,
        hint="DCGAN uses beta_1=0.5",
    )
    beta_2: float = _field(
        0.999,
        "Adam's usual second-moment decay; the DCGAN paper leaves it alone.",
        low=0,
        below=1,
        hint="DCGAN keeps Adam's beta_2=0.999",
    )

    # === Label noise (discriminator targets only) ===
    label_flip: float = _field(
        0.1,
        "Swapping 10% of D's targets keeps D from becoming certain too early; with ADA on "
        "emoji64, turning flipping and smoothing off cost FCD 16.1 against 12.3 at 16 minutes.",
        low=0,
        high=0.5,
        hint="it is the fraction of discriminator targets swapped "
        "(0.1 is usual; above 0.5 inverts the labels)",
    )
    label_smoothing: float = _field(
        0.1,
        "Soft targets: real in [1-s, 1], fake in [0, s] (Salimans et al. 2016).",
        low=0,
        below=0.5,
        hint="real targets are drawn from [1-s, 1] and fake ones from [0, s] (0.1 is usual)",
    )
    one_sided_smoothing: bool = _field(
        False, "True keeps fake targets at exactly 0 (the one-sided variant of Salimans)."
    )
    label_noise_schedule: str = _field(
        "constant",
        "How label noise changes over epochs: constant, linear or step decay.",
        choices=SCHEDULES,
    )
    label_noise_decay_epochs: int = _field(
        10, "linear: epochs to reach the final scale; step: epochs between two steps.", low=1
    )
    label_noise_final_scale: float = _field(
        0.0,
        "linear: the fraction of the initial noise left at the end of the decay.",
        low=0,
        high=1,
    )
    label_noise_step_factor: float = _field(
        0.5, "step: the noise is multiplied by this every label_noise_decay_epochs.", low=0, high=1
    )

    # === Augmentation of what D sees (kgan.augment) ===
    augment: str = _field(
        "adaptive",
        "DiffAugment on real and fake images alike, in D's and G's updates: off, fixed "
        "(probability augment_p) or adaptive (ADA tunes p against D's overfitting).",
        choices=AUGMENT_MODES,
    )
    augment_p: float = _field(
        1.0,
        "fixed: the probability of each transform per image (1: DiffAugment as published).",
        low=0,
        high=1,
    )
    augment_policies: str = _field(
        "color,translation,cutout",
        "DiffAugment's transforms, comma-separated: color, translation, cutout.",
        nonempty="some of color, translation, cutout",
    )
    ada_target: float = _field(
        0.3,
        "adaptive: the E[sign(D(real))] to hold; higher lets D overfit more. 0.3, not the "
        "ADA paper's 0.6: label flipping and smoothing keep r_t at 0.1-0.45, so at 0.6 p "
        "stayed 0 on emoji64 while D overfit (FCD 15.8 at epoch 18 -> 20.3 at 16 min); at "
        "0.3 p rose to 0.57 and FCD fell to 14.3, still falling. MNIST: p <= 0.03 either way.",
        above=0,
        below=1,
    )
    ada_kimg: float = _field(
        100,
        "adaptive: thousands of images for p to go from 0 to 1. The ADA paper's 500 suits "
        "runs of millions of images; a 2-core run sees ~300k in 16 minutes.",
        above=0,
    )

    # === Balance on autopilot (kgan.GAN: a feedback loop on D's handicap) ===
    balance: str = _field(
        "off",
        "auto: raise D's label noise while D is more accurate than balance_target, lower "
        "it while less, so both networks learn at a similar pace; off: fixed label noise.",
        choices=("off", "auto"),
    )
    balance_target: float = _field(
        0.7,
        "auto: D's accuracy (real and fake batches alike) to hold; a healthy run sits "
        "near 0.6, a D that wins near 0.8-0.9.",
        above=0.5,
        below=1,
    )
    balance_steps: int = _field(
        250,
        "auto: steps for the handicap to go from none to coin-flip targets while D keeps winning.",
        low=1,
    )

    # === Stabilisers of D ===
    spectral_norm: bool = _field(
        NETWORK_DEFAULTS["spectral_norm"],
        "Spectral normalisation of every D layer (Miyato et al. 2018): D's Lipschitz "
        "constant held near 1.",
    )
    r1_gamma: float = _field(
        0.0,
        "Weight of the R1 penalty on D's gradient at real images (Mescheder et al. 2018; "
        "StyleGAN uses 10 on faces); 0: off.",
        low=0,
    )

    d_reconstruction: float = _field(
        0.0,
        "Weight of FastGAN's self-supervised loss on D (Liu et al. 2021): a small decoder "
        "redraws each real image at half size from D's 8x8 features, so D must describe "
        "the images, not only memorise what tells them from fakes; 0: off.",
        low=0,
    )

    # === Discriminator batches ===
    separate_batches: bool = _field(
        True, "D sees an all-real batch and an all-fake batch, never one mixed batch."
    )

    # === Generator (DCGAN: Dense -> reshape -> Conv2DTranspose stack -> tanh) ===
    g_filters: int | None = _field(
        NETWORK_DEFAULTS["g_filters"],
        "Filters of the first conv block; each upsampling halves them. None: planned from "
        "the image size (kgan.networks.plan_widths: 256).",
        low=1,
    )
    g_extra_layers: int | None = _field(
        NETWORK_DEFAULTS["g_extra_layers"],
        "Stride-1 conv blocks before the first upsampling. None: planned (1 up to 32x32, "
        "as the TF tutorial; 0 from 64x64, as the DCGAN paper).",
        low=0,
    )
    g_kernel_size: int | None = _field(
        NETWORK_DEFAULTS["g_kernel_size"],
        "Kernel size of G's convs. None: planned (5 up to 32x32, as the TF tutorial; 4 "
        "from 64x64, as the DCGAN paper).",
        low=1,
    )
    g_activation: str = _field(
        NETWORK_DEFAULTS["g_activation"],
        "LeakyReLU keeps gradients flowing through negative activations.",
        choices=ACTIVATIONS,
    )
    g_output: str = _field(
        NETWORK_DEFAULTS["g_output"],
        "tanh output matches data scaled to [-1, 1] (sigmoid: data in [0, 1]).",
        choices=G_OUTPUTS,
    )
    g_dropout: float = _field(
        NETWORK_DEFAULTS["g_dropout"],
        "Dropout in G only adds noise the discriminator can exploit; off.",
        low=0,
        below=1,
    )
    g_batch_norm: bool = _field(
        NETWORK_DEFAULTS["g_batch_norm"],
        "BatchNorm in G keeps early generator layers from collapsing.",
    )
    upsample: str = _field(
        NETWORK_DEFAULTS["upsample"],
        "Learned upsampling (Conv2DTranspose) or nearest-neighbour + Conv2D.",
        choices=UPSAMPLINGS,
    )
    g_residual: bool = _field(
        NETWORK_DEFAULTS["g_residual"],
        "Residual hidden blocks in G (a second 3x3 conv, a skip path around both); off: "
        "with d_residual at 64x64 it leads at 8 minutes (FCD 17.1 against 19.8) but makes "
        "half the steps and ends behind at 16 (15.0 against 12.3); benchmarks/README.md.",
    )

    # === Discriminator ===
    discriminator: str = _field(
        NETWORK_DEFAULTS["discriminator"],
        "dcgan: one logit per image; patchgan: an N x N map of patch logits.",
        choices=DISCRIMINATOR_HEADS,
    )
    d_filters: int | None = _field(
        NETWORK_DEFAULTS["d_filters"],
        "Filters of the first strided conv; each further conv doubles them. None: planned "
        "(64 up to 32x32; 32 from 64x64, where 64 was 3x slower and behind at 150 s).",
        low=1,
    )
    d_layers: int = _field(
        NETWORK_DEFAULTS["d_layers"],
        "Strided convs of the dcgan head; 0 mirrors the generator's upsamplings.",
        low=0,
    )
    patch_layers: int = _field(
        NETWORK_DEFAULTS["patch_layers"],
        "patchgan: strided convs before the 1-channel head; N = size / 2**layers.",
        low=1,
    )
    d_kernel_size: int | None = _field(
        NETWORK_DEFAULTS["d_kernel_size"],
        "Kernel size of D's convs. None: planned (5 up to 32x32, 4 from 64x64).",
        low=1,
    )
    d_activation: str = _field(
        NETWORK_DEFAULTS["d_activation"],
        "LeakyReLU(0.2) in D, as in the DCGAN paper.",
        choices=ACTIVATIONS,
    )
    d_dropout: float = _field(
        NETWORK_DEFAULTS["d_dropout"],
        "Dropout 0.3 slows D down so G keeps a useful gradient.",
        low=0,
        below=1,
    )
    d_batch_norm: bool = _field(
        NETWORK_DEFAULTS["d_batch_norm"],
        "Off, as in the TF tutorial; separate real/fake batches matter when on. At 64x64 "
        "(emoji64, 16 minutes) on ended level with off (FCD 11.1 against 11.1-12.3 over three "
        "seeds) with more rejected samples (16% against 8-10%).",
    )
    d_residual: bool = _field(
        NETWORK_DEFAULTS["d_residual"],
        "Residual strided blocks in D (a second 3x3 conv, an average-pooled skip path); "
        "off: see g_residual and benchmarks/README.md, Levers at 64x64.",
    )

    # === Outputs ===
    num_samples: int = _field(
        64, "Images in each epoch's sample grid (a square number fills the grid).", low=1
    )
    tensorboard: bool = _field(
        True, "Write TensorBoard logs (metrics, sample grids, health, config) under out_dir."
    )
    report: bool = _field(
        True, "Rewrite out_dir/report.html (samples, curves, health, config) every epoch."
    )

    # === Devices, precision and compilation ===
    strategy: str = _field(
        "default",
        "default: one device; mirrored: local GPUs; multi_worker: TF_CONFIG's workers; tpu.",
        choices=("default", "mirrored", "multi_worker", "tpu"),
    )
    devices: str = _field(
        "", "mirrored: devices to use, e.g. /gpu:0,/gpu:1 (empty: all GPUs); tpu: its address."
    )
    sync_batch_norm: bool = _field(
        NETWORK_DEFAULTS["sync_batch_norm"],
        "Several replicas: BatchNorm over the global batch, so N devices train as one.",
    )
    mixed_precision: str = _field(
        "auto",
        "auto: 16-bit compute where the hardware does it natively (see kgan.precision); "
        "none: float32; or mixed_float16 / mixed_bfloat16. Weights stay float32.",
        choices=PRECISIONS,
    )
    jit_compile: bool = _field(
        False, "Compile the train step with XLA: faster on accelerators, slow first step."
    )
    deterministic: bool = _field(
        False, "Deterministic TF ops (and no XLA): same seed, bit-identical weights; slower."
    )

    # === Surviving crashes ===
    checkpoint_every: int = _field(
        500,
        "Steps between checkpoints (one is also saved at every epoch end); 0: epochs only.",
        low=0,
        hint="0 saves at epoch ends only",
    )

    # === Quality and health (kgan.quality, GANHealthMonitor) ===
    eval_every: int = _field(
        1,
        "Run the quality probe (FCD, precision/recall, class mix, copies) every N epochs; "
        "the health monitor judges with it and generator/ keeps the best generator; 0: off.",
        low=0,
    )
    eval_samples: int = _field(
        0,
        "Samples per probe; 0: 1000 for images up to 32x32 (they separate a collapsed run "
        "from a healthy one on MNIST), 500 above (each image costs twice as much, and small "
        "colour datasets have short epochs): near 5% of a default run on 2 CPU cores "
        "(docs/health-monitor.md). Else at least 100.",
        low=0,
    )
    eval_budget: float = _field(
        0.0,
        "The probe's largest share of the wall time, e.g. 0.05: epochs are skipped to stay "
        "within it (64x64 colour on 2 CPU cores: 8 s a probe, 80 s an epoch). 0, the default, "
        "skips none: skipping by the clock would make a resumed run differ from an unbroken one.",
        low=0,
        high=1,
    )
    eval_features: str = _field(
        "auto",
        "The probe's feature space: the dataset's classifier where it has labels, else a "
        "label-free extractor trained once on its images (kgan.quality.ssl).",
        choices=("auto", "classifier", "ssl"),
    )
    keep_best: bool = _field(
        True,
        "Export the generator with the best probe FCD as generator/ (the last one goes to "
        "generator_last/): a run that got worse late still gives its best.",
    )
    on_failure: str = _field(
        "warn",
        "When the health monitor names a failure: warn and go on, or stop training.",
        choices=("warn", "stop"),
    )

    def validate(self):
        """Raises `UserError` for the first field, or combination, that cannot work."""
        super().validate()
        # === Checks across fields ===
        if self.devices and self.strategy not in ("mirrored", "tpu"):
            raise UserError(
                f"--devices={self.devices} is read by --strategy=mirrored or tpu only, "
                f"not --strategy={self.strategy}."
            )
        if 0 < self.eval_samples < 100:
            raise UserError(
                f"--eval_samples={self.eval_samples} is too few to score a generator: "
                "give at least 100, or 0 for the default."
            )
        if self.deterministic and self.jit_compile:
            raise UserError(
                "--deterministic needs --nojit_compile: XLA does not promise bit-identical results."
            )
        from kgan.augment import POLICIES  # TensorFlow-free, like this module

        unknown = sorted(set(self.policies()) - set(POLICIES))
        if unknown or not self.policies():
            raise UserError(
                f"--augment_policies={self.augment_policies} names {unknown or 'nothing'}; "
                f"give some of {', '.join(POLICIES)}, comma-separated."
            )
        if self.image_size:
            # Imported here: networks.plan_generator is pure Python.
            from kgan.networks import plan_generator

            plan_generator(self.image_size)

    def policies(self):
        """`augment_policies` as a tuple of names."""
        return tuple(p.strip() for p in self.augment_policies.split(",") if p.strip())

    def to_json(self, path=None):
        """Returns the config as JSON text, and writes it to `path` (atomically) if given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        if path is not None:
            atomic_write(path, text)
        return text

    @classmethod
    def from_json(cls, path):
        """Reads a config written by `to_json`."""
        with open(path) as f:
            return cls.from_dict(json.load(f))


# Config's defaults by attribute (`DEFAULTS.label_flip`): kgan's recipe, the one
# source of its values. The GAN's parts (`kgan.parts`) and `GAN.compile` take
# their defaults from here, so `GAN(generator, discriminator)` in a notebook
# trains the recipe that `train.py` runs and the benchmarks measured.
DEFAULTS = types.SimpleNamespace(**{f.name: f.default for f in dataclasses.fields(Config)})


@dataclasses.dataclass
class SampleConfig(_Settings):
    """The settings of `sample.py`: one call of `kgan.sampling.write_samples`.

    Every field but `generator` is a keyword of `write_samples` of the same name.
    """

    generator: str | None = _field(
        None,
        "The generator SavedModel folder (a run's generator/).",
        required=True,
        nonempty="a generator/ folder",
    )
    num: int = _field(64, "Images to draw; with --interpolate, walks to draw.", low=1)
    out: str = _field(
        "samples.png",
        "A .png or .gif file (a grid unless --separate).",
        nonempty="a .png or .gif file",
    )
    separate: bool = _field(False, "One file per image (or walk): <out stem>_NNN<ext>.")
    seed: int = _field(**_SEED)
    interpolate: int = _field(
        0,
        "Steps of spherical walks between random latents (0 = plain samples).",
        low=0,
        hint="0 draws plain samples, 2 or more the steps of a walk",
    )
    truncation: float = _field(
        0.0,
        "Redraw latent components beyond this magnitude (0 = no truncation).",
        low=0,
        hint="0 turns truncation off",
    )
    label: int | None = _field(None, "Class of every image (conditional generators only).", low=0)
    num_classes: int = _field(
        10, "Conditional generators without --label: one column per class.", low=1
    )


@dataclasses.dataclass
class EvaluateConfig(_Settings):
    """The settings of `evaluate.py`: which generator, against which dataset, how."""

    generator: str | None = _field(
        None,
        "A SavedModel whose `serve` maps noise to images.",
        nonempty="a SavedModel folder, or pass --real",
    )
    dataset: str = _field(**_DATASET)
    data_dir: str | None = _field(**_DATA_DIR)
    image_size: int = _field(**_IMAGE_SIZE)
    num_samples: int = _field(
        5000,
        "Images drawn from the generator and scored.",
        low=100,
        hint="fewer make the scores too noisy to compare",
    )
    seed: int = _field(**_SEED)
    json: bool = _field(False, "Print one JSON object instead of the table.")
    real: bool = _field(False, "Score real held-out images instead: the floor.")
    classifier_epochs: int = _field(
        0,
        "Epochs of the classifier when it is first trained (part of its cache key); "
        "0: the recipe's.",
        low=0,
    )
    cache_dir: str | None = _field(
        None, "Where the dataset's classifier is cached; default $KGAN_CACHE_DIR or ~/.cache/kgan."
    )
    identity_key: str = _field(
        "",
        "An .npz dataset's key holding which particular thing each image draws (emoji64: "
        "emoji); adds recognisable, the share of samples an identity classifier assigns to one "
        "of them with confidence (trained once, about 10 minutes for emoji64 on 2 CPU cores). "
        "The category classifier behind FCD ranked a blurred smear above crisp shapes.",
    )

    def validate(self):
        """Raises `UserError` for a bad field, or for nothing to score."""
        super().validate()
        if not self.real and self.generator is None:
            raise UserError("--generator is missing; give a SavedModel folder, or pass --real.")
