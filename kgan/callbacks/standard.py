"""The ordered callback list of a `train()` run: `standard_callbacks`.

What `kgan.training.train` passes to `fit`, and the helpers that make its
parts from a `Config`: the label-noise schedule the flags describe, the real
sample that scales the health monitor, and the quality evaluator.
"""

import logging

import keras
import numpy as np

from kgan import data
from kgan.callbacks.checkpoint_saver import CheckpointSaver
from kgan.callbacks.epoch_summary import EpochSummary
from kgan.callbacks.gan_health_monitor import GANHealthMonitor
from kgan.callbacks.history_csv import HistoryCSV
from kgan.callbacks.label_noise_schedule import LabelNoiseSchedule
from kgan.callbacks.mid_epoch_resume import MidEpochResume
from kgan.callbacks.quality_evaluation import QualityEvaluation
from kgan.callbacks.report_page import ReportPage
from kgan.callbacks.sample_snapshot import SampleSnapshot
from kgan.callbacks.stop_on_non_finite_loss import StopOnNonFiniteLoss
from kgan.callbacks.tensorboard_logger import TensorBoardLogger
from kgan.errors import UserError
from kgan.networks import condition_classes

REAL_SAMPLE = 256  # real images that scale the health monitor's diversity


def standard_callbacks(run, gan, source, evaluator=None, extra=()):
    """The whole ordered callback list of a `train()` run.

    Keras calls callbacks in list order at every hook, and each one here
    relies on the ones before it. The order, and what each hands on:

    1. MidEpochResume: ends a resumed epoch on time, its trackers holding
       the first part again -> 2.
    2. GlobalStep: the run's step and each step's own metrics -> 3, 7, 10, 13.
    3. StopOnNonFiniteLoss: a NaN stops the run before anything is written.
    4. LabelNoiseSchedule: this epoch's label noise, into the model.
    5. SampleSnapshot: `samples/epoch_NNN.png` -> 10, 11.
    6. QualityEvaluation, the quality probe (`eval_every > 0`): `fcd`, ...
       into the epoch logs -> 7, 8; the best generator as `generator/`
       (`keep_best`).
    7. GANHealthMonitor: `health` into the epoch logs -> 8;
       `health.jsonl` -> 10, 11.
    8. HistoryCSV: every key of the epoch logs -> `history.csv` -> 11.
    9. `extra`, the user's callbacks: they see the complete epoch logs.
    10. TensorBoardLogger: `tensorboard/`, from 2, 5 and 7.
    11. ReportPage: `report.html` and `progress.gif`, from 5, 7 and 8.
    12. EpochSummary: one log line with the complete epoch logs.
    13. CheckpointSaver, last: its epoch checkpoint marks everything above
        as done, so a resumed run repeats nothing and misses nothing.

    Args:
        run: the `kgan.run_folder.RunFolder`, resumed (`RunFolder.resume` has
            been called).
        gan: the compiled GAN.
        source: the training `ImageSource` (real images for the monitor).
        evaluator: a `kgan.quality.Evaluator`, or None for no evaluation.
        extra: the user's callbacks.

    Returns:
        The list to pass to `fit`.
    """
    config, clock, point = run.config, run.clock, run.point
    num_classes = condition_classes(gan.generator)
    probe = None
    if evaluator is not None:
        probe = QualityEvaluation(
            evaluator,
            every=config.eval_every,
            num_samples=config.eval_samples or None,
            seed=config.seed,
            best_dir=run.path("generator") if config.keep_best else None,
            budget=config.eval_budget or None,
        )
    callbacks = [
        MidEpochResume(run.steps_per_epoch, point.steps_into_epoch, point.tracker_values)
        if point
        else None,
        clock,
        StopOnNonFiniteLoss(checkpoint=run.checkpoint, clock=clock),
        label_noise_schedule(config),
        SampleSnapshot(
            run.path("samples"),
            num_samples=config.num_samples,
            conditions=None
            if num_classes is None
            else keras.ops.arange(config.num_samples) % num_classes,
        ),
        probe,
        GANHealthMonitor(
            run.directory,
            on_failure=config.on_failure,
            real_images=real_sample(source),
            initial_epoch=run.initial_epoch,
            clock=clock,
            probe=probe,
        ),
        HistoryCSV(run.path("history.csv"), initial_epoch=run.initial_epoch),
        *extra,
        TensorBoardLogger(
            run.path("tensorboard"),
            samples_dir=run.path("samples"),
            health_path=run.path("health.jsonl"),
            hparams=config.to_dict(),
            clock=clock,
        )
        if config.tensorboard
        else None,
        ReportPage(run.directory) if config.report else None,
        EpochSummary(),
        CheckpointSaver(
            run.checkpoint,
            run.steps_per_epoch,
            every=config.checkpoint_every,
            config=config.to_dict(),
            clock=clock,
        ),
    ]
    return [callback for callback in callbacks if callback is not None]


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


def real_sample(source, count=REAL_SAMPLE):
    """Up to `count` real images of `source` in [-1, 1] (as `GAN.sample` returns them).

    The first ones: no randomness involved.
    """
    images, _ = source.take(count)
    return np.asarray(data.scale_images(images, "tanh"))


def prepare_evaluator(config):
    """The quality probe's `Evaluator` of `config.dataset`, or None when off or impossible.

    Called before the run seeds its RNGs: training the feature extractor
    (once per dataset, then cached) seeds them itself, and a run must not
    depend on whether it was cached. A probe that cannot be built (too few
    images to hold some out, say) is reported in one line and the run goes
    on without it.
    """
    if not config.eval_every:
        return None
    from kgan.quality import Evaluator

    try:
        evaluator = Evaluator.from_dataset(
            config.dataset, config.data_dir, config.image_size, features=config.eval_features
        )
    except (UserError, ValueError) as e:
        logging.warning("quality probe off: %s", str(e).rstrip("."))
        return None
    if evaluator.classifier is None:
        logging.info(
            "quality probe (%s): %s has no labels; it reports diversity and duplicates only",
            evaluator.data.split,
            config.dataset,
        )
    elif evaluator.features == "classifier":
        logging.info(
            "quality probe: the dataset classifier's features, %.2f%% held-out accuracy (%s)",
            100 * evaluator.classifier.accuracy,
            evaluator.data.split,
        )
    else:
        logging.info(
            "quality probe: label-free features trained on the real images (%s)",
            evaluator.data.split,
        )
    return evaluator
