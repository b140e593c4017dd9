"""The one place every hyperparameter of a kgan run lives, with its reason.

`train.py` maps its absl flags one-to-one onto the fields of `Config`; tests
and library users build a `Config` directly. This module must stay importable
without TensorFlow so that a bad flag is reported in a fraction of a second.
"""

import dataclasses
import json
import math

from kgan.errors import UserError

DISCRIMINATORS = ("dcgan", "patchgan")
ACTIVATIONS = ("leaky_relu", "relu")
OUTPUTS = ("tanh", "sigmoid")
UPSAMPLES = ("conv_transpose", "upsample_conv")
SCHEDULES = ("constant", "linear", "step")
BAD_IMAGE_ACTIONS = ("skip", "stop")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("auto", "none", "mixed_float16", "mixed_bfloat16")
FAILURE_ACTIONS = ("warn", "stop")


def _field(default, reason):
    """A config field whose reason doubles as its flag's help text."""
    return dataclasses.field(default=default, metadata={"help": reason})


@dataclasses.dataclass
class Config:
    """Every setting of a kgan run; defaults are the recommended recipe.

    Construction validates the values and raises `kgan.errors.UserError`
    naming the bad field and what to do about it.

    Example:

    >>> from kgan.config import Config
    >>> Config(dataset="fashion_mnist", label_flip=0.05).label_flip
    0.05
    """

    # === Data ===
    dataset: str = _field("mnist", "A TFDS name, or a local IDX folder / .npz file / image folder.")
    data_dir: str | None = _field(
        None, "Passed to tfds.load; None means TFDS' own default (~/tensorflow_datasets)."
    )
    image_size: int = _field(
        0, "0 keeps the dataset's own size; the generator must be able to produce it."
    )
    on_bad_image: str = _field(
        "skip", "Image folders: skip unreadable files (with a warning) or stop at the first."
    )
    out_dir: str = _field(
        "runs/kgan", "Everything a run writes (samples, generator, config, history) goes here."
    )

    # === Training loop ===
    epochs: int = _field(20, "MNIST digits are recognisable after ~5 epochs and sharp by ~20.")
    steps_per_epoch: int | None = _field(
        None, "Optional cap on steps per epoch, for smoke runs and wall-clock budgets."
    )
    batch_size: int = _field(
        32,
        "32: more updates per second of compute; on 2 CPU cores it reached a given FCD "
        "about 2x sooner than 128 (benchmarks/time_to_quality.py).",
    )
    latent_dim: int = _field(100, "The DCGAN paper's 100-d normal noise.")
    seed: int = _field(
        0, "One seed fixes weights, latents, label noise and dropout: same seed, same run."
    )
    steps_per_execution: int = _field(
        1, "Steps run inside one tf.function call; >1 trims Python overhead per step."
    )
    d_steps: int = _field(
        1, "Discriminator updates per generator update; WGAN critics use 5 (Gulrajani et al.)."
    )
    ema: float = _field(
        0.999,
        "Decay of an exponential moving average of G's weights used for samples, "
        "evaluation and export (0 = off); it averages out the adversarial jitter.",
    )
    standing_stats: bool = _field(
        True,
        "Recompute G's BatchNorm statistics for the current weights before sampling "
        "(BigGAN's standing statistics): lagging moving averages make early samples dim.",
    )

    # === Optimisers (Radford et al. 2015: Adam, lr 2e-4, beta_1 0.5) ===
    g_lr: float = _field(2e-4, "At most 2e-4 keeps either network from racing ahead of the other.")
    d_lr: float = _field(2e-4, "The same rate as G: neither network should race ahead.")
    beta_1: float = _field(
        0.5, "beta_1 = 0.5 damps the momentum that makes the adversarial game oscillate."
    )
    beta_2: float = _field(
        0.999, "Adam's usual second-moment decay; the DCGAN paper leaves it alone."
    )

    # === Label noise (discriminator targets only) ===
    label_flip: float = _field(
        0.1, "Swapping 10% of D's targets keeps D from becoming certain too early."
    )
    label_smoothing: float = _field(
        0.1, "Soft targets: real in [1-s, 1], fake in [0, s] (Salimans et al. 2016)."
    )
    one_sided_smoothing: bool = _field(
        False, "True keeps fake targets at exactly 0 (the one-sided variant of Salimans)."
    )
    label_noise_schedule: str = _field(
        "constant", "How label noise changes over epochs: constant, linear or step decay."
    )
    label_noise_decay_epochs: int = _field(
        10, "linear: epochs to reach the final scale; step: epochs between two steps."
    )
    label_noise_final_scale: float = _field(
        0.0, "linear: the fraction of the initial noise left at the end of the decay."
    )
    label_noise_step_factor: float = _field(
        0.5, "step: the noise is multiplied by this every label_noise_decay_epochs."
    )

    # === Discriminator batches ===
    separate_batches: bool = _field(
        True, "D sees an all-real batch and an all-fake batch, never one mixed batch."
    )

    # === Generator (DCGAN: Dense -> reshape -> Conv2DTranspose stack -> tanh) ===
    g_filters: int = _field(256, "Filters of the first conv block; each upsampling halves them.")
    g_extra_layers: int = _field(
        1, "Stride-1 conv blocks before the first upsampling (the TF tutorial uses 1)."
    )
    g_kernel_size: int = _field(5, "5x5 kernels, as in the TF DCGAN tutorial.")
    g_activation: str = _field(
        "leaky_relu", "LeakyReLU keeps gradients flowing through negative activations."
    )
    g_output: str = _field(
        "tanh", "tanh output matches data scaled to [-1, 1] (sigmoid: data in [0, 1])."
    )
    g_dropout: float = _field(
        0.0, "Dropout in G only adds noise the discriminator can exploit; off."
    )
    g_batch_norm: bool = _field(
        True, "BatchNorm in G keeps early generator layers from collapsing."
    )
    upsample: str = _field(
        "conv_transpose", "Learned upsampling (Conv2DTranspose) or nearest-neighbour + Conv2D."
    )

    # === Discriminator ===
    discriminator: str = _field(
        "dcgan", "dcgan: one logit per image; patchgan: an N x N map of patch logits."
    )
    d_filters: int = _field(
        64, "Filters of the first strided conv; each further conv doubles them."
    )
    d_layers: int = _field(
        0, "Strided convs of the dcgan head; 0 mirrors the generator's upsamplings."
    )
    patch_layers: int = _field(
        2, "patchgan: strided convs before the 1-channel head; N = size / 2**layers."
    )
    d_kernel_size: int = _field(5, "5x5 kernels, as in the TF DCGAN tutorial.")
    d_activation: str = _field("leaky_relu", "LeakyReLU(0.2) in D, as in the DCGAN paper.")
    d_dropout: float = _field(0.3, "Dropout 0.3 slows D down so G keeps a useful gradient.")
    d_batch_norm: bool = _field(
        False, "Off, as in the TF tutorial; separate real/fake batches matter when on."
    )

    # === Outputs ===
    num_samples: int = _field(
        64, "Images in each epoch's sample grid (a square number fills the grid)."
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
    )
    devices: str = _field(
        "", "mirrored: devices to use, e.g. /gpu:0,/gpu:1 (empty: all GPUs); tpu: its address."
    )
    sync_batch_norm: bool = _field(
        True, "Several replicas: BatchNorm over the global batch, so N devices train as one."
    )
    mixed_precision: str = _field(
        "auto",
        "auto: 16-bit compute where the hardware does it natively (see kgan.precision); "
        "none: float32; or mixed_float16 / mixed_bfloat16. Weights stay float32.",
    )
    jit_compile: bool = _field(
        False, "Compile the train step with XLA: faster on accelerators, slow first step."
    )
    deterministic: bool = _field(
        False, "Deterministic TF ops (and no XLA): same seed, bit-identical weights; slower."
    )

    # === Surviving crashes ===
    checkpoint_every: int = _field(
        500, "Steps between checkpoints (one is also saved at every epoch end); 0: epochs only."
    )

    # === Quality and health (kgan.evaluation, GANHealthMonitor) ===
    eval_every: int = _field(
        0, "Score samples (FCD, KID, ...) every N epochs and keep the best generator; 0: off."
    )
    eval_samples: int = _field(
        2000, "Samples per evaluation; 2000 cost a few seconds for MNIST on 2 CPU cores."
    )
    on_failure: str = _field(
        "warn", "When the health monitor names a failure: warn and go on, or stop training."
    )

    def __post_init__(self):
        self.validate()

    def validate(self):
        """Raises `UserError` for the first field whose value cannot work."""
        _require(self.dataset, "dataset", "a TFDS name or a local path")
        _require(self.out_dir, "out_dir", "a folder to write the run into")
        _positive_int(self, "epochs")
        _positive_int(self, "batch_size")
        _positive_int(self, "latent_dim")
        _positive_int(self, "steps_per_execution")
        _positive_int(self, "d_steps")
        _positive_int(self, "num_samples")
        _positive_int(self, "g_filters")
        _positive_int(self, "d_filters")
        _positive_int(self, "g_kernel_size")
        _positive_int(self, "d_kernel_size")
        _positive_int(self, "label_noise_decay_epochs")
        _positive_int(self, "patch_layers")
        if self.steps_per_epoch is not None:
            _positive_int(self, "steps_per_epoch")
        if not isinstance(self.eval_samples, int) or self.eval_samples < 100:
            raise UserError(f"--eval_samples={self.eval_samples} must be an integer >= 100.")
        for name in ("image_size", "g_extra_layers", "d_layers", "eval_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise UserError(f"--{name}={getattr(self, name)} must be an integer >= 0.")
        for name in ("g_lr", "d_lr"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise UserError(
                    f"--{name}={value} must be a positive learning rate; DCGAN uses 2e-4."
                )
        for name in ("beta_1", "beta_2"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise UserError(f"--{name}={value} must be in [0, 1); DCGAN uses beta_1=0.5.")
        if not 0 <= self.label_flip <= 0.5:
            raise UserError(
                f"--label_flip={self.label_flip} must be in [0, 0.5]: it is the fraction of "
                "discriminator targets swapped (0.1 is usual; above 0.5 inverts the labels)."
            )
        if not 0 <= self.label_smoothing < 0.5:
            raise UserError(
                f"--label_smoothing={self.label_smoothing} must be in [0, 0.5): real targets "
                "are drawn from [1-s, 1] and fake ones from [0, s] (0.1 is usual)."
            )
        if not 0 <= self.ema < 1:
            raise UserError(
                f"--ema={self.ema} must be in [0, 1): it is the decay of the moving average "
                "of the generator's weights (0.999 is usual, 0 turns it off)."
            )
        for name in ("g_dropout", "d_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise UserError(f"--{name}={getattr(self, name)} must be in [0, 1).")
        if not 0 <= self.label_noise_final_scale <= 1:
            raise UserError(
                f"--label_noise_final_scale={self.label_noise_final_scale} must be in [0, 1]."
            )
        if not 0 <= self.label_noise_step_factor <= 1:
            raise UserError(
                f"--label_noise_step_factor={self.label_noise_step_factor} must be in [0, 1]."
            )
        _choice(self, "discriminator", DISCRIMINATORS)
        _choice(self, "g_activation", ACTIVATIONS)
        _choice(self, "d_activation", ACTIVATIONS)
        _choice(self, "g_output", OUTPUTS)
        _choice(self, "upsample", UPSAMPLES)
        _choice(self, "label_noise_schedule", SCHEDULES)
        _choice(self, "on_bad_image", BAD_IMAGE_ACTIONS)
        _choice(self, "strategy", STRATEGIES)
        _choice(self, "mixed_precision", PRECISIONS)
        if self.devices and self.strategy not in ("mirrored", "tpu"):
            raise UserError(
                f"--devices={self.devices} is read by --strategy=mirrored or tpu only, "
                f"not --strategy={self.strategy}."
            )
        if self.deterministic and self.jit_compile:
            raise UserError(
                "--deterministic needs --nojit_compile: XLA does not promise bit-identical results."
            )
        if isinstance(self.checkpoint_every, bool) or not isinstance(self.checkpoint_every, int):
            raise UserError(f"--checkpoint_every={self.checkpoint_every} must be an integer.")
        if self.checkpoint_every < 0:
            raise UserError(
                f"--checkpoint_every={self.checkpoint_every} must be >= 0 (0: epoch ends only)."
            )
        _choice(self, "on_failure", FAILURE_ACTIONS)
        if self.image_size:
            # Imported here: networks.plan_generator is pure Python.
            from kgan.networks import plan_generator

            plan_generator(self.image_size)

    @classmethod
    def help(cls, name):
        """Returns the reason given for field `name` (the flag's help text)."""
        return next(f.metadata["help"] for f in dataclasses.fields(cls) if f.name == name)

    def to_dict(self):
        """Returns the fields as a plain dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    def to_json(self, path=None):
        """Returns the config as JSON text, and writes it to `path` if given."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    @classmethod
    def from_dict(cls, values):
        """Builds a config from a dict; unknown keys are an error, not ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise UserError(f"unknown config keys {unknown}; known keys: {sorted(names)}.")
        return cls(**values)

    @classmethod
    def from_json(cls, path):
        """Reads a config written by `to_json`."""
        with open(path) as f:
            return cls.from_dict(json.load(f))


def _require(value, name, what):
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"--{name}={value!r} is empty; give {what}.")


def _positive_int(config, name):
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"--{name}={value} must be an integer >= 1.")


def _choice(config, name, choices):
    value = getattr(config, name)
    if value not in choices:
        raise UserError(f"--{name}={value!r} is not one of {', '.join(choices)}.")
