"""The library entry point: `train(config)` runs a whole kgan experiment.

`train.py` only parses flags into a `Config` and calls `train`; tests and
benchmarks call it directly. A run writes under `config.out_dir`:

    config.json            the resolved config
    history.csv            one row of metrics per epoch
    samples/epoch_NNN.png  the fixed-latent sample grid after each epoch
    generator/             the SavedModel generator (`serve` endpoint): the best the
                           quality probe saw (`keep_best`), else the last
    generator.json         which epoch and probe scores generator/ holds (`keep_best`)
    generator.weights.npz  its weights, kept as soon as it was best (a resume reads them)
    generator_last/        the generator of the last step (`keep_best`)
    checkpoints/ckpt-N/    the two newest checkpoints; rerunning resumes from them
    health.jsonl           the failures the health monitor named, if any
    tensorboard/           TensorBoard logs (`config.tensorboard`)
    report.html            the self-contained report page (`config.report`)
    progress.gif           the sample grids over epochs, animated (`config.report`)
"""

import contextlib
import dataclasses
import json
import logging
import os
import sys

import keras
import numpy as np
import tensorflow as tf

from kgan import losses
from kgan.callbacks.quality_evaluation import export_with_weights, load_weights
from kgan.callbacks.standard import prepare_evaluator, standard_callbacks
from kgan.config import DEFAULTS
from kgan.data import load_source, make_dataset
from kgan.distribute import make_strategy, worker_role
from kgan.errors import UserError
from kgan.gan import GAN
from kgan.networks import build_networks, describe_discriminator, plan_generator
from kgan.parts import parts_from_config
from kgan.precision import resolve_precision
from kgan.quiet import quiet_info_logs
from kgan.rollback import fit_surviving_divergence
from kgan.run_folder import RunFolder


@dataclasses.dataclass
class TrainingResult:
    """What `train` returns: the trained model and where things were written."""

    gan: GAN
    history: dict
    config: object
    generator_path: str


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
        # The default leaves gan_class.LOSS, which a subclass may have changed.
        loss=None if config.loss == DEFAULTS.loss else losses.BY_NAME[config.loss](),
        **parts_from_config(config),
        ema=config.ema,
        standing_stats=config.standing_stats,
        separate_batches=config.separate_batches,
        d_steps=config.d_steps,
        output_range=(0.0, 1.0) if config.g_output == "sigmoid" else (-1.0, 1.0),
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


def train(config, callbacks=(), gan_class=GAN, conditional=False, verbose="auto"):
    """Trains a GAN as `config` says and exports its generator.

    A run whose `out_dir` holds checkpoints resumes from the newest one
    (same flags required, `--epochs` may grow): the same steps, the same
    batches, the same random numbers as if it had never stopped.

    Args:
        config: a `kgan.config.Config`.
        callbacks: extra Keras callbacks, run after kgan's own that write
            the epoch's files (see `kgan.callbacks.standard_callbacks`).
        gan_class: `GAN` or a subclass (see `examples/`).
        conditional: feed class labels to both networks (needs a labelled
            dataset and a `gan_class` whose `unpack` returns them).
        verbose: passed to `fit` (`"auto"`, 0, 1 or 2).

    Returns:
        A `TrainingResult`.

    Raises:
        UserError: for anything about the data or the output folder that the
            user can fix; raised before any training happens. Also when a
            loss turns NaN (`NonFiniteLossError`) after three rollbacks to
            the last good checkpoint at half the learning rates
            (`kgan.rollback`), or a write fails mid-run, naming the last
            good checkpoint.
    """
    # === Setup: devices first (a multi-worker strategy must start before TF runs anything) ===
    strategy = make_strategy(config.strategy, config.devices)

    # === Data: read and checked before anything is written ===
    source = load_source(
        config.dataset, config.data_dir, config.image_size, on_bad_image=config.on_bad_image
    )
    plan_generator(source.image_shape[0])
    if conditional and not source.num_classes:
        if source.label_problem:
            raise UserError(
                f"--dataset={config.dataset} cannot be trained conditionally: "
                f"{source.label_problem}; give one label 0..K-1 per image."
            )
        raise UserError(f"--dataset={config.dataset} has no class labels to condition on.")
    labels = getattr(source, "labels", None)
    if conditional and labels is not None and np.any(labels < 0):
        raise UserError(
            f"--dataset={config.dataset} cannot be trained conditionally: "
            f"{int(np.sum(labels < 0))} of {len(labels)} images have no label (-1); "
            "label them 0..K-1 or leave them out."
        )
    # Resolved once, so config.json (and a resume's check) records what actually runs.
    config = dataclasses.replace(
        config,
        image_size=source.image_shape[0],
        mixed_precision=resolve_precision(config.mixed_precision, strategy, log=False),
    )
    run = RunFolder.start(config, worker_role(strategy), source)
    evaluator = prepare_evaluator(config)  # before seeding: see its docstring
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()

    # === Model ===
    num_classes = source.num_classes if conditional else None
    gan = build_gan(config, source.image_shape, num_classes, gan_class, strategy)
    logging.info(
        "mixed precision: %s; %s", config.mixed_precision, describe_discriminator(gan.discriminator)
    )

    # === Resume: weights, optimizers, seeds and the data stream continue where they stopped ===
    run.resume(gan, strategy)

    # === Fit: a NaN rolls back to the last checkpoint at half the learning rates ===
    history = {}
    if run.initial_epoch < config.epochs:
        try:
            # TF logs each collective op it sets up and each checkpoint shard.
            with quiet_info_logs():
                history = fit_surviving_divergence(
                    lambda: _fit(run, gan, source, evaluator, callbacks, conditional, verbose),
                    run,
                    gan,
                    strategy,
                )
        except OSError as e:
            raise UserError(
                f"cannot write under {run.directory} ({e.strerror or e}); free disk space and "
                "rerun the same command: it resumes from "
                f"{run.checkpoint.last_saved or 'the start'}."
            ) from None
    else:
        logging.info("the run in %s has already done its %d epochs", run.directory, config.epochs)

    # === Export: the weight-averaged generator when --ema is on, as sample() uses ===
    generator_path = export_generators(run, gan)
    return TrainingResult(gan, history, config, generator_path)


def export_generators(run, gan):
    """Exports the last generator; `generator/` is the probe's best where it kept one.

    With `keep_best` and a probe, `QualityEvaluation` kept the best
    generator's weights (`generator.weights.npz`, its epoch and scores in
    `generator.json`) and exported it as `generator/` when training ended;
    the last generator goes to `generator_last/`. Otherwise the last one
    is `generator/`.

    Returns:
        The path of `generator/`.
    """
    best = run.path("generator")
    kept = f"{best}.weights.npz"
    if not (run.config.keep_best and run.config.eval_every and os.path.exists(kept)):
        path = gan.export_generator(best)
        logging.info("generator exported to %s", path)
        return path
    last = gan.export_generator(run.path("generator_last"))
    if not os.path.exists(os.path.join(best, "saved_model.pb")):  # training did not end here
        export_with_weights(gan, load_weights(kept), best)
    with open(f"{best}.json") as f:
        summary = json.load(f)
    logging.info(
        "generator/ is the best generator the quality probe saw (epoch %s, FCD %.4g); "
        "the last one is in %s",
        summary.get("epoch"),
        summary.get("fcd") or float("nan"),
        last,
    )
    return best


def _fit(run, gan, source, evaluator, callbacks, conditional, verbose):
    """Fits `gan` from where `run` stands (its step, clock and checkpoint); returns the history."""
    config = run.config
    dataset, _ = make_dataset(  # the same steps per epoch as run.steps_per_epoch
        source,
        config.batch_size,
        seed=config.seed,
        output=config.g_output,
        with_labels=conditional,
        steps_per_epoch=config.steps_per_epoch,
        start_step=run.initial_step,
        steps_per_execution=config.steps_per_execution,
    )
    return gan.fit(
        dataset,
        epochs=config.epochs,
        initial_epoch=run.initial_epoch,
        steps_per_epoch=run.steps_per_epoch,
        callbacks=standard_callbacks(run, gan, source, evaluator, callbacks),
        # The dataset is shuffled already; a live bar only on a terminal.
        shuffle=False,
        verbose=(1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose,
    ).history
