"""Saves crash-safe checkpoints every N steps and at every epoch end."""

import logging

from kgan.callbacks.global_step import StepCallback


class CheckpointSaver(StepCallback):
    """Writes a `kgan.checkpoint.TrainingCheckpoint` every `every` steps and per epoch.

    Place it last among the callbacks: an epoch's checkpoint is written
    after every other callback has finished that epoch (history row,
    sample grid, evaluation), so a run resumed from it repeats nothing and
    misses nothing. No step checkpoint is written at an epoch's last step:
    the epoch-end one follows right after.

    Args:
        checkpoint: a `TrainingCheckpoint`.
        steps_per_epoch: steps of one epoch.
        every: steps between checkpoints; 0 saves at epoch ends only.
        config: the run's config as a dict, stored with each checkpoint.
        clock: the run's `GlobalStep` (default: one of its own, which starts
            from the generator optimizer's step count).

    Example:

    >>> saver = CheckpointSaver(TrainingCheckpoint(gan, "run/checkpoints"), 468, every=500)
    >>> gan.fit(data, epochs=20, steps_per_epoch=468, callbacks=[saver])
    """

    def __init__(self, checkpoint, steps_per_epoch, every=0, config=None, clock=None):
        super().__init__(clock)
        self.checkpoint = checkpoint
        self.steps_per_epoch = int(steps_per_epoch)
        self.every = int(every)
        self.config = config

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._saved_step = self.step

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        step = self.step
        if not self.every or step % self.steps_per_epoch == 0:
            return
        if step // self.every > self._saved_step // self.every:
            self._save(step)

    def on_epoch_end(self, epoch, logs=None):
        self._save(self.step)

    def _save(self, step):
        path = self.checkpoint.save(
            step, step // self.steps_per_epoch, self.steps_per_epoch, self.config
        )
        self._saved_step = step
        logging.debug("checkpoint %s written", path)
