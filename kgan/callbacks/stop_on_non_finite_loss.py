"""Stops training at the first NaN or infinite loss, before it is saved."""

import math

from kgan.callbacks.global_step import StepCallback
from kgan.errors import NonFiniteLossError


class StopOnNonFiniteLoss(StepCallback):
    """Raises `NonFiniteLossError` when a logged loss stops being finite.

    Logged losses are running means over the epoch, so the first step
    whose loss is NaN or infinite turns them non-finite at once. The error
    names that step and the last good checkpoint; place this callback
    before `CheckpointSaver`, so the diverged weights are never saved.
    Unlike `keras.callbacks.TerminateOnNaN`, it watches both networks'
    losses and ends `fit` with an error instead of a quiet stop.

    Args:
        keys: the logged losses to watch.
        checkpoint: a `TrainingCheckpoint`, to name its last checkpoint.
        clock: the run's `GlobalStep` (default: one of its own).

    Example:

    >>> gan.fit(data, callbacks=[StopOnNonFiniteLoss(checkpoint=checkpoint), saver])
    """

    def __init__(self, keys=("d_loss", "g_loss"), checkpoint=None, clock=None):
        super().__init__(clock)
        self.keys = tuple(keys)
        self.checkpoint = checkpoint

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        for key in self.keys:
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                last = getattr(self.checkpoint, "last_saved", None)
                saved = (
                    f"The last good checkpoint, {last}, is untouched: rerunning the same "
                    "command resumes from it."
                    if last
                    else "No checkpoint had been written yet."
                )
                raise NonFiniteLossError(
                    f"{key} became {float(value)} at step {self.step}; training stopped. {saved} "
                    "If it diverges again, lower --d_lr/--g_lr in a fresh --out_dir.",
                    step=self.step,
                    key=key,
                )
