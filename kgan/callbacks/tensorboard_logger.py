"""TensorBoard logs of a GAN run: step and epoch metrics, sample grids, health, config."""

import json
import math
import os

import numpy as np
import tensorflow as tf

from kgan.callbacks.global_step import StepCallback


class TensorBoardLogger(StepCallback):
    """Writes one TensorBoard run: `tensorboard --logdir <out_dir>/tensorboard`.

    - `step/<metric>` every `update_freq` steps, at the run's global step:
      the mean over those steps of each step's own values (from
      `GlobalStep.latest`, so not the epoch's running mean that the
      progress bar shows);
    - `epoch/<metric>` for every numeric value of the epoch logs (quality
      metrics included, when an earlier callback adds them), at the epoch
      number (1-based, as in history.csv and `samples/epoch_NNN.png`);
    - `samples`: the fixed-latent grid `samples/epoch_NNN.png` of each epoch;
    - `health`: the health monitor's findings from `health.jsonl`, as text;
    - the run's config as hparams (TensorBoard's HParams dashboard compares
      runs side by side: `tensorboard --logdir runs/`), and as a text table.

    Args:
        log_dir: folder of the event files.
        samples_dir: folder of the `epoch_NNN.png` grids, or None.
        health_path: the health monitor's `health.jsonl`, or None; a missing
            file is fine (the monitor may be off).
        hparams: a flat dict of the run's settings (e.g. `config.to_dict()`).
        update_freq: log step metrics every this many steps.
        clock: the run's `GlobalStep` (default: one of its own, starting from
            the generator optimizer's step count, which a resume restores).

    Example:

    >>> logger = TensorBoardLogger("run/tensorboard", samples_dir="run/samples")
    >>> gan.fit(data, epochs=5, callbacks=[SampleSnapshot("run/samples"), logger])
    """

    def __init__(
        self,
        log_dir,
        samples_dir=None,
        health_path=None,
        hparams=None,
        update_freq=10,
        clock=None,
    ):
        super().__init__(clock)
        self.log_dir = log_dir
        self.samples_dir = samples_dir
        self.health_path = health_path
        self.hparams = dict(hparams or {})
        self.update_freq = max(int(update_freq), 1)
        self.writer = None
        self.logged_findings = set()

    # === Run start and end ===

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.writer = tf.summary.create_file_writer(self.log_dir)
        self._interval = {}  # name -> (sum, steps) since the last step log
        self._last_logged_step = self.step
        if self.hparams:
            with self.writer.as_default(step=self.step):
                _write_hparams(self.hparams, os.path.basename(os.path.dirname(self.log_dir)))
                tf.summary.text("config", _markdown_table(self.hparams))
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is None:
            return
        # Findings written after this callback in the last epoch.
        self._log_health(math.inf)
        self.writer.close()
        self.writer = None

    # === Steps ===

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        span = self.clock.span
        for name, value in self.clock.latest.items():
            total, count = self._interval.get(name, (0.0, 0))
            self._interval[name] = (total + value * span, count + span)
        if self.step - self._last_logged_step < self.update_freq:
            return
        self._last_logged_step = self.step
        with self.writer.as_default(step=self.step):
            for name, (total, count) in self._interval.items():
                tf.summary.scalar(f"step/{name}", total / count)
        self._interval = {}

    # === Epochs ===

    def on_epoch_end(self, epoch, logs=None):
        step = epoch + 1
        with self.writer.as_default(step=step):
            for name, value in (logs or {}).items():
                number = _number(value)
                if number is not None:
                    tf.summary.scalar(f"epoch/{name}", number)
            grid = self._grid(step)
            if grid is not None:
                tf.summary.image("samples", grid[None], max_outputs=1)
        self._log_health(step)
        self.writer.flush()

    def _grid(self, epoch):
        if not self.samples_dir:
            return None
        path = os.path.join(self.samples_dir, f"epoch_{epoch:03d}.png")
        if not os.path.exists(path):
            return None
        from PIL import Image

        with Image.open(path) as image:
            grid = np.asarray(image)
        return grid[..., None] if grid.ndim == 2 else grid  # (H, W, C) uint8

    def _log_health(self, up_to_epoch):
        """Logs findings of `health.jsonl` not logged yet, at their epoch."""
        if not self.health_path or not os.path.exists(self.health_path):
            return
        with open(self.health_path) as f:
            lines = [line for line in f if line.strip()]
        with self.writer.as_default():
            for line in lines:
                try:
                    finding = json.loads(line)
                    epoch = int(finding["epoch"])
                except (ValueError, KeyError, TypeError):
                    continue
                key = line.strip()
                if key in self.logged_findings or epoch > up_to_epoch:
                    continue
                self.logged_findings.add(key)
                tf.summary.text("health", _finding_markdown(finding), step=epoch)


def _number(value):
    """`value` as a finite-or-not float, or None for strings and the like."""
    if isinstance(value, (bool, str)) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _finding_markdown(finding):
    return (
        f"**{finding.get('failure', '?')}** at step {finding.get('step', '?')}: "
        f"{finding.get('evidence', '')}  \n*Suggestion:* {finding.get('suggestion', '')}"
    )


def _markdown_table(values):
    rows = "\n".join(
        f"| {name} | `{json.dumps(value)}` |" for name, value in sorted(values.items())
    )
    return f"| field | value |\n|---|---|\n{rows}"


def _write_hparams(values, trial_id):
    """Writes the HParams plugin's session summary, when TensorBoard is installed."""
    try:
        from tensorboard.plugins.hparams import api as hp
    except ImportError:  # the config text summary still records the settings
        return
    clean = {
        name: value if isinstance(value, (bool, int, float, str)) else str(value)
        for name, value in values.items()
    }
    hp.hparams(clean, trial_id=trial_id)
