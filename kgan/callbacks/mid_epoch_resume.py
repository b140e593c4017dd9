"""Finishes an epoch that a crash interrupted, then lets training go on."""

import keras


class MidEpochResume(keras.callbacks.Callback):
    """Runs only the missing steps of the first epoch of a resumed run.

    `fit(initial_epoch=e)` would run epoch `e` in full; when the crash came
    `steps_done` steps into it, this callback ends that epoch after the
    remaining steps (through `model.stop_training`, which it clears again
    at the epoch's end, before the other callbacks' `on_epoch_end`: place
    it first, before `GlobalStep`) and puts the loss trackers back to their values at the
    checkpoint, so the epoch's logged means cover all of its steps.

    Args:
        steps_per_epoch: steps of one full epoch.
        steps_done: steps of the interrupted epoch already done.
        tracker_values: `{metric name: its variables' values}` at the
            checkpoint (`ResumePoint.tracker_values`), or None.

    Example:

    >>> point = checkpoint.restore_latest()
    >>> resume = MidEpochResume(468, point.steps_into_epoch, point.tracker_values)
    >>> gan.fit(data, initial_epoch=point.epoch, callbacks=[resume, ...])
    """

    def __init__(self, steps_per_epoch, steps_done, tracker_values=None):
        super().__init__()
        self.remaining = int(steps_per_epoch) - int(steps_done)
        self.tracker_values = tracker_values
        self.active = int(steps_done) > 0
        self._stopped_epoch = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self.active or not self.tracker_values:
            return
        # `fit` has just reset the trackers; give them back the first part.
        for metric in self.model.metrics:
            for variable, value in zip(
                metric.variables, self.tracker_values[metric.name], strict=True
            ):
                variable.assign(value)

    def on_train_batch_end(self, batch, logs=None):
        if self.active and batch + 1 >= self.remaining and not self.model.stop_training:
            self.model.stop_training = True
            self._stopped_epoch = True

    def on_epoch_end(self, epoch, logs=None):
        if self._stopped_epoch:
            self.model.stop_training = False
        self.active = False
        self._stopped_epoch = False
