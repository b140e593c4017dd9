"""One training run's folder and bookkeeping: where it writes and where it stands.

`kgan.training.train` makes one `RunFolder` and hands it to
`kgan.callbacks.standard_callbacks`; every callback that needs the run's
folder, its step or its checkpoint reads it from there, so a resumed run is
the same run to all of them.
"""

import dataclasses
import logging
import os

from kgan import data
from kgan.callbacks.global_step import GlobalStep
from kgan.checkpoint import TrainingCheckpoint, check_resumable
from kgan.errors import UserError
from kgan.files import atomic_write


@dataclasses.dataclass
class RunFolder:
    """Where a run writes, how long its epochs are, and where it stands.

    Made once per `train()` by `RunFolder.start` (before any model is built) and
    completed by `RunFolder.resume` (once the model exists). Everything that a
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
        checkpoint: the `TrainingCheckpoint` (None until `resume`).
        point: the `ResumePoint` restored, or None for a fresh run.
        clock: the run's `GlobalStep`, starting at `initial_step`.
    """

    config: object
    directory: str
    is_chief: bool
    steps_per_epoch: int
    checkpoint: TrainingCheckpoint | None = None
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

        A fresh run saves its untrained state as checkpoint 0 first, so a run
        that diverges before its first checkpoint rolls back to the start
        (`kgan.rollback`), and a run killed after that rollback resumes.

        Returns:
            The `ResumePoint`, or None for a fresh run.
        """
        self.checkpoint = TrainingCheckpoint(
            gan, self.checkpoints_read, write_directory=self.path("checkpoints")
        )
        self.checkpoint.remove_partial_writes()
        self.restore(strategy)
        if not self.point:
            self.checkpoint.save(0, 0, self.steps_per_epoch, self.config.to_dict())
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

    def restore(self, strategy, before_step=None):
        """Restores the newest checkpoint into the model and restarts the clock at its step.

        Args:
            strategy: the `tf.distribute.Strategy` the model was built in.
            before_step: restore only a checkpoint of an earlier step.

        Returns:
            The `ResumePoint`, or None when there is no checkpoint.
        """
        with strategy.scope():
            self.point = self.checkpoint.restore_latest(
                self.config.to_dict(), self.steps_per_epoch, before_step=before_step
            )
        self.clock = GlobalStep(initial_step=self.initial_step)
        return self.point

    @property
    def initial_step(self):
        """Steps done before this `fit` (0 for a fresh run)."""
        return self.point.step if self.point else 0

    @property
    def initial_epoch(self):
        """Epochs completed before this `fit` (0 for a fresh run)."""
        return self.point.epoch if self.point else 0


def steps_per_epoch(source, config):
    """Steps of one epoch of `config`'s run (`kgan.data.epoch_steps`)."""
    return data.epoch_steps(
        source, config.batch_size, config.steps_per_epoch, config.steps_per_execution
    )


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
