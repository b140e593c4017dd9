"""One training run's bookkeeping, and the ordered callbacks that show and save it.

`kgan.training.train` makes one `Run` and hands it to `run_callbacks`; every
callback that needs the run's folder, its step or its checkpoint reads it
from there, so a resumed run is the same run to all of them.
"""

import dataclasses
import logging
import os

import keras
import numpy as np

from kgan import data
from kgan.callbacks import (
    CheckpointSaver,
    EpochSummary,
    GANHealthMonitor,
    GlobalStep,
    HistoryCSV,
    LabelNoiseSchedule,
    MidEpochResume,
    QualityEvaluation,
    ReportPage,
    SampleSnapshot,
    StopOnNonFiniteLoss,
    TensorBoardLogger,
)
from kgan.checkpoint import RunCheckpoint, check_resumable
from kgan.errors import UserError
from kgan.files import atomic_write
from kgan.standing_stats import conditional_classes

REAL_SAMPLE = 256  # real images that scale the health monitor's diversity


@dataclasses.dataclass
class Run:
    """Where a run writes, how long its epochs are, and where it stands.

    Made once per `train()` by `Run.start` (before any model is built) and
    completed by `Run.resume` (once the model exists). Everything that a
    resume changes lives here and nowhere else: the first step and epoch,
    the checkpoint's tracker values, and the one `GlobalStep` every
    callback reads.

    Attributes:
        config: the resolved `Config` (as `config.json` records it).
        directory: the folder this worker writes: `config.out_dir` on the
            chief, `out_dir/.worker-N` on the other workers of a
            multi-worker run (their identical copies, kept aside).
        is_chief: whether this worker writes the run's own files.
        steps_per_epoch: steps of one epoch, a multiple of
            `steps_per_execution` (as Keras runs them).
        checkpoint: the `RunCheckpoint` (None until `resume`).
        point: the `ResumePoint` restored, or None for a fresh run.
        clock: the run's `GlobalStep`, starting at `initial_step`.
    """

    config: object
    directory: str
    is_chief: bool
    steps_per_epoch: int
    checkpoint: RunCheckpoint | None = None
    point: object = None
    clock: GlobalStep | None = None

    @classmethod
    def start(cls, config, role, source):
        """Checks the output folder and any checkpoint in it against `config`.

        Nothing is built and nothing is trained yet, so a run that cannot
        resume (other flags, other data) fails here in one line.

        Args:
            config: the resolved `Config`.
            role: the worker's `kgan.distribute.WorkerRole`.
            source: the training `ImageSource` (its size sets the epoch).
        """
        directory = config.out_dir
        if not role.is_chief:
            directory = os.path.join(config.out_dir, f".worker-{role.task_id}")
        run = cls(config, directory, role.is_chief, steps_per_epoch(source, config))
        check_resumable(
            run.checkpoints_read, config.to_dict(), run.steps_per_epoch, source.image_shape
        )
        prepare_out_dir(directory)
        return run

    @property
    def checkpoints_read(self):
        """The chief's checkpoint folder: every worker resumes from it."""
        return os.path.join(self.config.out_dir, "checkpoints")

    def path(self, *names):
        """A path under this worker's folder."""
        return os.path.join(self.directory, *names)

    def resume(self, gan, strategy):
        """Makes the checkpoint and restores the newest one into `gan`, if any.

        Returns:
            The `ResumePoint`, or None for a fresh run.
        """
        self.checkpoint = RunCheckpoint(
            gan, self.checkpoints_read, write_directory=self.path("checkpoints")
        )
        self.checkpoint.remove_partial_writes()
        with strategy.scope():
            self.point = self.checkpoint.restore_latest(self.config.to_dict(), self.steps_per_epoch)
        self.clock = GlobalStep(initial_step=self.initial_step)
        if self.point:
            logging.info(
                "resuming from %s: step %d, epoch %d of %d%s",
                self.point.path,
                self.point.step,
                self.initial_epoch + 1,
                self.config.epochs,
                f" ({self.point.steps_into_epoch} steps into it)"
                if self.point.steps_into_epoch
                else "",
            )
        atomic_write(self.path("config.json"), self.config.to_json())
        return self.point

    @property
    def initial_step(self):
        """Steps done before this `fit` (0 for a fresh run)."""
        return self.point.step if self.point else 0

    @property
    def initial_epoch(self):
        """Epochs completed before this `fit` (0 for a fresh run)."""
        return self.point.epoch if self.point else 0


def run_callbacks(run, gan, source, evaluator=None, extra=()):
    """The whole ordered callback list of a `train()` run.

    Keras calls callbacks in list order at every hook, and each one here
    relies on the ones before it. The order, and what each hands on:

    1. MidEpochResume: ends a resumed epoch on time, its trackers holding
       the first part again -> 2.
    2. GlobalStep: the run's step and each step's own metrics -> 3, 7, 10, 13.
    3. StopOnNonFiniteLoss: a NaN stops the run before anything is written.
    4. LabelNoiseSchedule: this epoch's label noise, into the model.
    5. SampleSnapshot: `samples/epoch_NNN.png` -> 10, 11.
    6. QualityEvaluation (`eval_every > 0`): `fcd`, ... into the epoch logs
       -> 7, 8; `best_generator/`.
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
        run: the `Run`, resumed (`Run.resume` has been called).
        gan: the compiled GAN.
        source: the training `ImageSource` (real images for the monitor).
        evaluator: a `kgan.evaluation.Evaluator`, or None for no evaluation.
        extra: the user's callbacks.

    Returns:
        The list to pass to `fit`.
    """
    config, clock, point = run.config, run.clock, run.point
    num_classes = conditional_classes(gan.generator)
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
        None
        if evaluator is None
        else QualityEvaluation(
            evaluator,
            every=config.eval_every,
            num_samples=config.eval_samples,
            seed=config.seed,
            best_dir=run.path("best_generator"),
        ),
        GANHealthMonitor(
            run.directory,
            on_failure=config.on_failure,
            real_images=real_sample(source),
            initial_epoch=run.initial_epoch,
            clock=clock,
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


def steps_per_epoch(source, config):
    """Steps of one epoch of `config`'s run (`kgan.data.epoch_steps`)."""
    return data.epoch_steps(
        source, config.batch_size, config.steps_per_epoch, config.steps_per_execution
    )


def real_sample(source, count=REAL_SAMPLE):
    """Up to `count` real images of `source` in [-1, 1] (as `GAN.sample` returns them).

    The first ones: no randomness involved.
    """
    images, _ = source.take(count)
    return np.asarray(data.scale_images(images, "tanh"))


def prepare_evaluator(config):
    """The `Evaluator` of `config.dataset` when `eval_every` asks for one, else None.

    Called before the run seeds its RNGs: training the classifier (once per
    dataset, then cached) seeds them itself, and a run must not depend on
    whether the classifier was cached.
    """
    if not config.eval_every:
        return None
    from kgan.evaluation import Evaluator

    evaluator = Evaluator.from_dataset(config.dataset, config.data_dir, config.image_size)
    if evaluator.classifier is None:
        logging.info(
            "%s has no labels: evaluation reports diversity and duplicates only", config.dataset
        )
    else:
        logging.info(
            "evaluation classifier: %.2f%% held-out accuracy (%s)",
            100 * evaluator.classifier.accuracy,
            evaluator.data.split,
        )
    return evaluator


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
