"""The library entry point: `train(config)` runs a whole kgan experiment.

`train.py` only parses flags into a `Config` and calls `train`; tests and
benchmarks call it directly. A run writes under `config.out_dir`:

    config.json            the resolved config
    history.csv            one row of metrics per epoch
    samples/epoch_NNN.png  the fixed-latent sample grid after each epoch
    generator/             the SavedModel generator (`serve` endpoint)
    checkpoints/ckpt-N/    the two newest checkpoints; rerunning resumes from them
    health.jsonl           the failures the health monitor named, if any
    best_generator/        the generator with the best FCD (with --eval_every)
    tensorboard/           TensorBoard logs (`config.tensorboard`)
    report.html            the self-contained report page (`config.report`)
    progress.gif           the sample grids over epochs, animated (`config.report`)
"""

import contextlib
import dataclasses
import logging
import math
import os
import sys

import keras
import tensorflow as tf

from kgan.callbacks import (
    CheckpointSaver,
    EpochSummary,
    HistoryCSV,
    LabelNoiseSchedule,
    MidEpochResume,
    ReportPage,
    SampleSnapshot,
    StopOnNonFiniteLoss,
    TensorBoardLogger,
)
from kgan.checkpoint import RunCheckpoint, check_resumable
from kgan.data import batches_per_pass, load_source, make_dataset
from kgan.distribute import make_strategy, worker_role
from kgan.errors import UserError
from kgan.export import export_generator
from kgan.gan import GAN
from kgan.monitoring import monitoring_callbacks, prepare_evaluator
from kgan.networks import build_networks, describe_discriminator, plan_generator
from kgan.precision import resolve_precision
from kgan.quiet import quiet_info_logs


@dataclasses.dataclass
class RunResult:
    """What `train` returns: the trained model and where things were written."""

    gan: GAN
    history: dict
    config: object
    generator_path: str


def value_range(config):
    """The generator's output range for `config.g_output`."""
    return (0.0, 1.0) if config.g_output == "sigmoid" else (-1.0, 1.0)


@contextlib.contextmanager
def dtype_policy(name):
    """Sets Keras' global dtype policy (`"none"` is float32) inside the block."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if name in (None, "none") else name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_gan(config, image_shape, num_classes=None, gan_class=GAN, strategy=None, networks=None):
    """Builds and compiles the GAN described by `config`.

    Networks, model and optimizers are all created inside `strategy`'s
    scope (their variables are mirrored across its replicas) and under
    the `config.mixed_precision` dtype policy (float32 variables, lower
    precision compute, float32 logits and losses).

    Args:
        config: a `kgan.config.Config`.
        image_shape: `(H, W, C)` of the training images.
        num_classes: build class-conditional networks with this many classes.
        gan_class: `GAN` or a subclass overriding its extension points.
        strategy: a `tf.distribute.Strategy`; default: the current one.
        networks: optional `() -> (generator, discriminator)` building other
            networks than `config` describes (called inside the scope and
            dtype policy), e.g. to train someone else's architecture with
            kgan's step.

    Returns:
        A compiled `gan_class` instance.
    """
    strategy = strategy or tf.distribute.get_strategy()
    if (
        config.jit_compile
        and strategy.num_replicas_in_sync > 1
        and not isinstance(strategy, tf.distribute.TPUStrategy)
    ):
        raise UserError(
            f"--jit_compile with {strategy.num_replicas_in_sync} replicas: Keras 3 compiles the "
            "whole multi-device step with XLA, which TensorFlow cannot run (variables on "
            "other devices, keras-team/keras#19005); drop --jit_compile or train on one device."
        )
    with strategy.scope(), dtype_policy(resolve_precision(config.mixed_precision, strategy)):
        if networks is None:
            generator, discriminator = build_networks(config, image_shape, num_classes)
        else:
            generator, discriminator = networks()
        return _build_gan(config, generator, discriminator, gan_class)


def _build_gan(config, generator, discriminator, gan_class):
    gan = gan_class(
        generator,
        discriminator,
        latent_dim=config.latent_dim,
        label_flip=config.label_flip,
        label_smoothing=config.label_smoothing,
        one_sided_smoothing=config.one_sided_smoothing,
        separate_batches=config.separate_batches,
        d_steps=config.d_steps,
        ema=config.ema,
        standing_stats=config.standing_stats,
        seed=config.seed,
    )
    gan.compile(
        d_optimizer=keras.optimizers.Adam(
            config.d_lr, beta_1=config.beta_1, beta_2=config.beta_2, name="d_adam"
        ),
        g_optimizer=keras.optimizers.Adam(
            config.g_lr, beta_1=config.beta_1, beta_2=config.beta_2, name="g_adam"
        ),
        steps_per_execution=config.steps_per_execution,
        jit_compile=config.jit_compile,
    )
    return gan


def prepare_out_dir(path):
    """Creates `path` and checks it is writable, failing early and clearly."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".write_test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as e:
        raise UserError(
            f"--out_dir={path} is not writable ({e.strerror or e}); choose another folder."
        ) from None


def observers(config, out_dir=None):
    """The callbacks that show a run: TensorBoard, the report page, the epoch line.

    They only read what the other callbacks wrote (grids, history.csv,
    health.jsonl) or added to the epoch logs, so they run after them.

    Args:
        config: the run's `Config`.
        out_dir: the folder this worker writes (default `config.out_dir`).
    """
    out_dir = out_dir or config.out_dir
    callbacks = []
    if config.tensorboard:
        callbacks.append(
            TensorBoardLogger(
                os.path.join(out_dir, "tensorboard"),
                samples_dir=os.path.join(out_dir, "samples"),
                health_path=os.path.join(out_dir, "health.jsonl"),
                hparams=config.to_dict(),
            )
        )
    if config.report:
        callbacks.append(ReportPage(out_dir))
    callbacks.append(EpochSummary())
    return callbacks


def train(config, callbacks=(), gan_class=GAN, conditional=False, verbose="auto"):
    """Trains a GAN as `config` says and exports its generator.

    A run whose `out_dir` holds checkpoints resumes from the newest one
    (same flags required, `--epochs` may grow): the same steps, the same
    batches, the same random numbers as if it had never stopped.

    Args:
        config: a `kgan.config.Config`.
        callbacks: extra Keras callbacks, run after kgan's own.
        gan_class: `GAN` or a subclass (see `examples/`).
        conditional: feed class labels to both networks (needs a labelled
            dataset and a `gan_class` whose `unpack` returns them).
        verbose: passed to `fit` (`"auto"`, 0, 1 or 2).

    Returns:
        A `RunResult`.

    Raises:
        UserError: for anything about the data or the output folder that the
            user can fix; raised before any training happens. Also when a
            loss turns NaN (`NonFiniteLossError`) or a write fails mid-run,
            naming the last good checkpoint.
    """
    # First: a multi-worker strategy must start before TensorFlow runs anything.
    strategy = make_strategy(config.strategy, config.devices)
    role = worker_role(strategy)
    # Recorded resolved, so config.json says what actually ran; logged once the
    # input checks passed, so a bad flag's error stays the only line printed.
    requested_precision = config.mixed_precision
    config = dataclasses.replace(
        config, mixed_precision=resolve_precision(requested_precision, strategy, log=False)
    )
    # Non-chief workers write their (identical) copies aside.
    run_dir = (
        config.out_dir if role.is_chief else os.path.join(config.out_dir, f".worker-{role.task_id}")
    )
    prepare_out_dir(run_dir)
    evaluator = prepare_evaluator(config)  # before seeding: see its docstring
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()

    # === Data ===
    source = load_source(
        config.dataset, config.data_dir, config.image_size, on_bad_image=config.on_bad_image
    )
    plan_generator(source.image_shape[0])
    if conditional and not source.num_classes:
        raise UserError(f"--dataset={config.dataset} has no class labels to condition on.")
    config = dataclasses.replace(config, image_size=source.image_shape[0])

    # === Model, and the checkpoint to resume from ===
    steps = steps_per_epoch(source, config)
    checkpoints = os.path.join(config.out_dir, "checkpoints")
    check_resumable(checkpoints, config.to_dict(), steps)  # before anything is built
    if requested_precision == "auto":
        logging.info("--mixed_precision=auto: %s on this machine", config.mixed_precision)
    num_classes = source.num_classes if conditional else None
    gan = build_gan(config, source.image_shape, num_classes, gan_class, strategy)
    logging.info(describe_discriminator(gan.discriminator))
    checkpoint = RunCheckpoint(
        gan, checkpoints, write_directory=os.path.join(run_dir, "checkpoints")
    )
    checkpoint.remove_partial_writes()
    with strategy.scope():
        point = checkpoint.restore_latest(config.to_dict(), steps)
    initial_step = point.step if point else 0
    initial_epoch = point.epoch if point else 0
    if point:
        logging.info(
            "resuming from %s: step %d, epoch %d of %d%s",
            point.path,
            point.step,
            initial_epoch + 1,
            config.epochs,
            f" ({point.steps_into_epoch} steps into it)" if point.steps_into_epoch else "",
        )
    dataset, _ = make_dataset(
        source,
        config.batch_size,
        seed=config.seed,
        output=config.g_output,
        with_labels=conditional,
        steps_per_epoch=config.steps_per_epoch,
        start_step=initial_step,
    )
    write_text(os.path.join(run_dir, "config.json"), config.to_json())

    # === Callbacks ===
    snapshot_conditions = None
    if conditional:
        snapshot_conditions = keras.ops.arange(config.num_samples) % num_classes
    run_callbacks = [
        # First: it ends a resumed epoch early and must clear that before the others see it.
        MidEpochResume(steps, point.steps_into_epoch, point.tracker_values) if point else None,
        # Before anything is written: a NaN stops the run before it is saved.
        StopOnNonFiniteLoss(checkpoint=checkpoint, initial_step=initial_step),
        label_noise_schedule(config),
        SampleSnapshot(
            os.path.join(run_dir, "samples"),
            num_samples=config.num_samples,
            value_range=value_range(config),
            conditions=snapshot_conditions,
        ),
        *monitoring_callbacks(
            dataclasses.replace(config, out_dir=run_dir), source, evaluator, value_range(config)
        ),
        HistoryCSV(os.path.join(run_dir, "history.csv"), initial_epoch=initial_epoch),
        *callbacks,
        *observers(config, run_dir),
        # Last: an epoch's checkpoint marks everything of that epoch as done.
        CheckpointSaver(
            checkpoint,
            steps,
            every=config.checkpoint_every,
            initial_step=initial_step,
            config=config.to_dict(),
        ),
    ]

    history = {}
    if initial_epoch < config.epochs:
        try:
            # TF logs each collective op it sets up and each checkpoint shard.
            with quiet_info_logs():
                history = gan.fit(
                    dataset,
                    epochs=config.epochs,
                    initial_epoch=initial_epoch,
                    steps_per_epoch=steps,
                    callbacks=[c for c in run_callbacks if c is not None],
                    # The dataset is shuffled already; a live bar only on a terminal.
                    shuffle=False,
                    verbose=(1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose,
                ).history
        except OSError as e:
            raise UserError(
                f"cannot write under {run_dir} ({e.strerror or e}); free disk space and rerun "
                f"the same command: it resumes from {checkpoint.last_saved or 'the start'}."
            ) from None
    else:
        logging.info("the run in %s has already done its %d epochs", run_dir, config.epochs)
    # The weight-averaged generator when --ema is on, as sample() uses.
    generator_path = export_generator(
        gan.sampling_network(), os.path.join(run_dir, "generator"), value_range(config)
    )
    logging.info("generator exported to %s", generator_path)
    return RunResult(gan, history, config, generator_path)


def label_noise_schedule(config):
    """The `LabelNoiseSchedule` callback that `config`'s label-noise flags describe."""
    return LabelNoiseSchedule(
        config.label_flip,
        config.label_smoothing,
        schedule=config.label_noise_schedule,
        decay_epochs=config.label_noise_decay_epochs,
        final_scale=config.label_noise_final_scale,
        step_factor=config.label_noise_step_factor,
    )


def steps_per_epoch(source, config):
    """Steps of one epoch, a multiple of `steps_per_execution` (as Keras runs them)."""
    steps = batches_per_pass(source, config.batch_size)
    if config.steps_per_epoch:
        steps = min(steps, config.steps_per_epoch)
    per_call = config.steps_per_execution
    return max(math.ceil(steps / per_call), 1) * per_call


def write_text(path, text):
    """Writes `text` to `path` atomically (temporary file, then rename)."""
    temporary = f"{path}.tmp"
    with open(temporary, "w") as f:
        f.write(text)
    os.replace(temporary, path)
