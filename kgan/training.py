"""The library entry point: `train(config)` runs a whole kgan experiment.

`train.py` only parses flags into a `Config` and calls `train`; tests and
benchmarks call it directly. A run writes under `config.out_dir`:

    config.json            the resolved config
    history.csv            one row of metrics per epoch
    samples/epoch_NNN.png  the fixed-latent sample grid after each epoch
    generator/             the SavedModel generator (`serve` endpoint)
    health.jsonl           the failures the health monitor named, if any
    best_generator/        the generator with the best FCD (with --eval_every)
"""

import dataclasses
import logging
import os
import sys

import keras

from kgan.callbacks import HistoryCSV, LabelNoiseSchedule, SampleSnapshot
from kgan.data import load_source, make_dataset
from kgan.errors import UserError
from kgan.export import export_generator
from kgan.gan import GAN
from kgan.monitoring import monitoring_callbacks, prepare_evaluator
from kgan.networks import build_networks, describe_discriminator, plan_generator


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


def build_gan(config, image_shape, num_classes=None, gan_class=GAN):
    """Builds and compiles the GAN described by `config`.

    Args:
        config: a `kgan.config.Config`.
        image_shape: `(H, W, C)` of the training images.
        num_classes: build class-conditional networks with this many classes.
        gan_class: `GAN` or a subclass overriding its extension points.

    Returns:
        A compiled `gan_class` instance.
    """
    generator, discriminator = build_networks(config, image_shape, num_classes)
    gan = gan_class(
        generator,
        discriminator,
        latent_dim=config.latent_dim,
        label_flip=config.label_flip,
        label_smoothing=config.label_smoothing,
        one_sided_smoothing=config.one_sided_smoothing,
        separate_batches=config.separate_batches,
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
        jit_compile=False,
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


def train(config, callbacks=(), gan_class=GAN, conditional=False, verbose="auto"):
    """Trains a GAN as `config` says and exports its generator.

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
            user can fix; raised before any training happens.
    """
    prepare_out_dir(config.out_dir)
    evaluator = prepare_evaluator(config)  # before seeding: see its docstring
    keras.utils.set_random_seed(config.seed)

    # === Data ===
    source = load_source(
        config.dataset, config.data_dir, config.image_size, on_bad_image=config.on_bad_image
    )
    plan_generator(source.image_shape[0])
    if conditional and not source.num_classes:
        raise UserError(f"--dataset={config.dataset} has no class labels to condition on.")
    dataset, steps = make_dataset(
        source,
        config.batch_size,
        seed=config.seed,
        output=config.g_output,
        with_labels=conditional,
        steps_per_epoch=config.steps_per_epoch,
    )
    config = dataclasses.replace(config, image_size=source.image_shape[0])
    config.to_json(os.path.join(config.out_dir, "config.json"))

    # === Model ===
    num_classes = source.num_classes if conditional else None
    gan = build_gan(config, source.image_shape, num_classes, gan_class)
    logging.info(describe_discriminator(gan.discriminator))

    # === Callbacks ===
    snapshot_conditions = None
    if conditional:
        snapshot_conditions = keras.ops.arange(config.num_samples) % num_classes
    run_callbacks = [
        LabelNoiseSchedule(
            config.label_flip,
            config.label_smoothing,
            schedule=config.label_noise_schedule,
            decay_epochs=config.label_noise_decay_epochs,
            final_scale=config.label_noise_final_scale,
            step_factor=config.label_noise_step_factor,
        ),
        SampleSnapshot(
            os.path.join(config.out_dir, "samples"),
            num_samples=config.num_samples,
            value_range=value_range(config),
            conditions=snapshot_conditions,
        ),
        *monitoring_callbacks(config, source, evaluator, value_range(config)),
        HistoryCSV(os.path.join(config.out_dir, "history.csv")),
        *callbacks,
    ]

    history = gan.fit(
        dataset,
        epochs=config.epochs,
        steps_per_epoch=steps,
        callbacks=run_callbacks,
        # The dataset is shuffled already; a live bar only on a terminal.
        shuffle=False,
        verbose=(1 if sys.stdout.isatty() else 2) if verbose == "auto" else verbose,
    )
    generator_path = export_generator(
        gan.generator, os.path.join(config.out_dir, "generator"), value_range(config)
    )
    logging.info("generator exported to %s", generator_path)
    return RunResult(gan, history.history, config, generator_path)
