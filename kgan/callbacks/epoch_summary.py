"""Logs one line per epoch: the epoch's metrics, its duration and its health."""

import logging
import math
import time

import keras

# Shown first, in this order; every other logged value follows, sorted by name.
_FIRST = ("d_loss", "g_loss", "d_real_acc", "d_fake_acc", "d_grad_norm", "g_grad_norm")


class EpochSummary(keras.callbacks.Callback):
    """Writes `epoch 3/20 (41.2 s): d_loss 1.21, g_loss 0.93, ...` to the log.

    The line goes through Python's `logging` (absl's log in the programs), so
    it lands in log files where the progress bar's carriage returns do not.
    Values added to the epoch logs by earlier callbacks (quality metrics, the
    health monitor's `health`) are included.

    Args:
        logger: the `logging.Logger` to write to; default the root logger.

    Example:

    >>> gan.fit(data, epochs=5, callbacks=[EpochSummary()])
    """

    def __init__(self, logger=None):
        super().__init__()
        self.logger = logger or logging.getLogger()
        self.started = None

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        names = [n for n in _FIRST if n in logs] + sorted(set(logs) - set(_FIRST))
        values = ", ".join(f"{name} {_format(logs[name])}" for name in names)
        epochs = self.params.get("epochs") if self.params else None
        seconds = time.monotonic() - self.started if self.started is not None else 0.0
        total = f"/{epochs}" if epochs else ""
        self.logger.info("epoch %d%s (%.1f s): %s", epoch + 1, total, seconds, values)


def _format(value):
    if isinstance(value, str):
        return value
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{value:.4g}" if math.isfinite(value) else str(value)
