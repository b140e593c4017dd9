"""Names the four GAN failures while training runs, with evidence and a fix to try."""

import collections
import csv
import json
import logging
import math
import os

import keras
import numpy as np

from kgan.callbacks.global_step import StepCallback
from kgan.files import atomic_open
from kgan.health import advice, checks
from kgan.health.advice import SUGGESTIONS
from kgan.health.checks import OVERFITTING_KEYS, STEP_KEYS, HealthThresholds
from kgan.health.findings import FAILURES, HealthStatus
from kgan.networks import condition_classes
from kgan.quality import metrics
from kgan.quality.evaluator import KEYS as PROBE_KEYS

# The names this module held before the checks moved to kgan.health.
__all__ = [
    "FAILURES",
    "ON_FAILURE",
    "OVERFITTING_KEYS",
    "STEP_KEYS",
    "SUGGESTIONS",
    "GANHealthMonitor",
    "HealthStatus",
    "HealthThresholds",
]

ON_FAILURE = ("warn", "stop")


class GANHealthMonitor(StepCallback):
    """Watches a GAN train and names the failure it sees, with evidence and a suggestion.

    Per-step metrics: Keras passes `on_train_batch_end` the running means of
    the epoch; the run's `GlobalStep` recovers each step's own values from
    them (`GlobalStep.latest`). Every `check_every` steps, the last `window`
    steps are checked for non-convergence, a diminished gradient and an
    unstable setting; after each epoch, a fixed latent batch is generated
    and checked for mode collapse, and the metrics a `QualityEvaluation`
    (placed before this callback) logged are checked for lost classes,
    copies and stalled FCD. The checks, their thresholds and their advice
    are in `kgan.health`; a diminished gradient or a collapse is blamed on
    D overfitting (`cause: "d_overfitting"`) when `checks.d_overfitting`
    finds it, with advice that depends on the model's `augmenter`.

    Each finding is logged (absl/`logging` warning), appended to
    `health.jsonl` (`epoch`, `step`, `failure`, `evidence`, `suggestion`),
    at most once per failure and epoch, and the epoch logs get `health`: a
    `HealthStatus`, "ok" or the most severe failure of the epoch.

    Args:
        out_dir: folder of `health.jsonl`; None writes no file.
        on_failure: `"warn"` keeps training; `"stop"` stops at the first
            finding (the generator is still exported).
        real_images: real images in the generator's range, `(N, H, W, C)`,
            to scale the fixed batch's diversity; None compares only with
            the batch's own best.
        num_samples: size of the fixed latent batch.
        seed: seed of the fixed latent batch.
        thresholds: a `HealthThresholds`.
        initial_epoch: epochs already done (a resumed run): their findings
            in `health.jsonl` are kept, later ones dropped.
        clock: the run's `GlobalStep`, whose step the findings carry
            (default: one of its own, starting from the generator
            optimizer's step count).
        probe: the run's `QualityEvaluation` (placed before this callback),
            whose `floor` (real images' scores) scales the probe's checks;
            None judges recall and precision against nothing.

    Example:

    >>> monitor = GANHealthMonitor("runs/kgan", on_failure="stop", real_images=images[:256])
    >>> gan.fit(data, epochs=20, callbacks=[monitor])
    """

    def __init__(
        self,
        out_dir=None,
        on_failure="warn",
        real_images=None,
        num_samples=256,
        seed=4321,
        thresholds=None,
        initial_epoch=0,
        clock=None,
        probe=None,
    ):
        super().__init__(clock)
        self.probe = probe
        if on_failure not in ON_FAILURE:
            raise ValueError(f"on_failure={on_failure!r} is not one of {', '.join(ON_FAILURE)}.")
        self.out_dir = out_dir
        self.on_failure = on_failure
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.thresholds = thresholds or HealthThresholds()
        self.initial_epoch = int(initial_epoch)
        self.real_diversity = None
        if real_images is not None and len(real_images) >= 2:
            self.real_diversity = metrics.pairwise_diversity(np.asarray(real_images))
        self.findings = []

    # === Measurements ===

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        keys, window = STEP_KEYS + OVERFITTING_KEYS, self.thresholds.window
        self.history = {key: collections.deque(maxlen=window) for key in keys}
        self.g_grad_peak = 0.0
        # Every epoch's measurement so far; fcd as (epoch, fcd).
        self.epochs = {
            "diversity": [],
            "classes_covered": [],
            "duplicates": [],
            "fcd": [],
            "probes": [],
        }
        self.epoch_failures = set()
        shape = (self.num_samples, self.model.latent_dim)
        self.latents = keras.random.normal(shape, seed=self.seed)
        num_classes = condition_classes(self.model.generator)
        self.conditions = keras.ops.arange(self.num_samples) % num_classes if num_classes else None
        if self.out_dir:
            keep_findings(os.path.join(self.out_dir, "health.jsonl"), self.initial_epoch)
            self.replay_probes(os.path.join(self.out_dir, "history.csv"))

    def replay_probes(self, path):
        """A resumed run: the probes of the epochs already done, from `history.csv`.

        The probe checks look back over several probes; a resume must judge
        as the uninterrupted run does.
        """
        if not self.initial_epoch or not os.path.exists(path):
            return
        with open(path) as f:
            rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= self.initial_epoch]
        for row in rows:
            logs = {key: _number(row.get(key)) for key in PROBE_KEYS}
            if logs["fcd"] is None:
                continue
            self.epochs["probes"].append(logs)
            self.epochs["fcd"].append((int(row["epoch"]), logs["fcd"]))
            if logs["classes_covered"] is not None:
                self.epochs["classes_covered"].append(int(logs["classes_covered"]))
            if logs["duplicates"] is not None:
                self.epochs["duplicates"].append(logs["duplicates"])

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self.epoch = epoch
        self.epoch_failures = set()

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        values = self.clock.latest  # this step's own metrics, not the epoch's means
        if any(key not in values for key in STEP_KEYS):
            return
        for key in STEP_KEYS + OVERFITTING_KEYS:
            if key in values:
                self.history[key].append(values[key])
        bad = checks.non_finite_metrics(values, self.step)
        found = [] if bad is None else [bad]  # a NaN step: at once, and nothing else asked
        full = len(self.history["d_loss"]) == self.thresholds.window
        if bad is None and full and self.step % self.thresholds.check_every < self.clock.span:
            window = {key: np.asarray(self.history[key]) for key in STEP_KEYS}
            found, self.g_grad_peak = checks.check_window(window, self.thresholds, self.g_grad_peak)
        for finding in found:
            self.report(finding, learning_rates(self.model))

    def on_epoch_end(self, epoch, logs=None):
        if "non_convergence" not in self.epoch_failures:
            self.check_samples()
        if logs is not None:
            self.check_quality(logs)
            logs["health"] = HealthStatus.worst(self.epoch_failures)

    def check_samples(self):
        """Checks the fixed latent batch for NaN and for a loss of diversity."""
        images = np.asarray(self.model.sample(self.latents, self.conditions), dtype=np.float32)
        if self.report(checks.non_finite_samples(images)):
            return
        diversities = self.epochs["diversity"]
        diversities.append(metrics.pairwise_diversity(images) / (self.real_diversity or 1.0))
        relative = bool(self.real_diversity)
        self.report(checks.lost_diversity(diversities, self.num_samples, self.thresholds, relative))

    def check_quality(self, logs):
        """Checks the quality probe's metrics (a `QualityEvaluation`'s) in this epoch's logs."""
        t, epochs = self.thresholds, self.epochs
        covered, duplicates, fcd = (logs.get(k) for k in ("classes_covered", "duplicates", "fcd"))
        floor = self.probe.floor if self.probe is not None and fcd is not None else None
        if fcd is not None:
            epochs["probes"].append({key: logs.get(key) for key in PROBE_KEYS})
            self.report(checks.probe_collapse(epochs["probes"], floor, t))
        if covered is not None and math.isfinite(covered):
            epochs["classes_covered"].append(int(covered))
            self.report(checks.lost_classes(epochs["classes_covered"], t))
        if duplicates is not None and math.isfinite(duplicates):
            epochs["duplicates"].append(duplicates)
            self.report(checks.filled_with_copies(epochs["duplicates"], t))
        if fcd is None or self.report(checks.non_finite_fcd(fcd)):
            return
        epochs["fcd"].append((self.epoch + 1, float(fcd)))
        self.report(checks.stalled(epochs["fcd"], t, (floor or {}).get("fcd")))
        self.report(checks.getting_worse(epochs["fcd"], t))

    # === Reporting ===

    def report(self, finding, rates=None):
        """Logs a finding, appends it to `health.jsonl`, and stops if asked to.

        Args:
            finding: a `kgan.health.Finding`, or None (nothing to report).
            rates: `(g_lr, d_lr)` for the suggestion to name, or None.

        Returns:
            Whether there was a finding (reported now or earlier in the epoch).
        """
        if finding is None or finding.failure in self.epoch_failures:
            return finding is not None
        self.epoch_failures.add(finding.failure)
        cause = None
        if finding.may_be_overfitting:
            augment, kimg = augmentation(self.model)
            cause = checks.d_overfitting(
                getattr(self, "history", {}), self.thresholds, augment, kimg
            )
        suggestion = advice.suggest(finding.advice, rates, adam_beta_1(self.model))
        record = finding.record(self.epoch + 1, self.step, suggestion, cause)
        self.findings.append(record)
        logging.warning(
            "health: %s at epoch %d, step %d: %s. Try: %s",
            *(record[key] for key in ("failure", "epoch", "step", "evidence", "suggestion")),
        )
        if self.out_dir:
            os.makedirs(self.out_dir, exist_ok=True)
            with open(os.path.join(self.out_dir, "health.jsonl"), "a") as f:
                f.write(json.dumps(record) + "\n")
        if self.on_failure == "stop" and self.model is not None:
            logging.warning("health: stopping training (on_failure=stop)")
            self.model.stop_training = True
        return True


def _number(text):
    """A `history.csv` cell as a float, or None when empty."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def keep_findings(path, last_epoch):
    """Keeps the findings of `health.jsonl` up to `last_epoch` (a resume), drops the rest."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        kept = [line for line in f if json.loads(line)["epoch"] <= last_epoch]
    with atomic_open(path) as f:
        f.writelines(kept)


def learning_rates(model):
    """`(g_lr, d_lr)` of a kgan GAN's optimizers, or None if unreadable."""
    try:
        return tuple(
            float(keras.ops.convert_to_numpy(optimizer.learning_rate))
            for optimizer in (model.g_optimizer, model.d_optimizer)
        )
    except (AttributeError, TypeError, ValueError):
        return None


def adam_beta_1(model):
    """Adam's beta_1 of a kgan GAN's generator optimizer, or None if unreadable."""
    try:
        return float(model.g_optimizer.beta_1)
    except (AttributeError, TypeError, ValueError):
        return None


def augmentation(model):
    """`(augment, ada_kimg)` of the model's `augmenter` part: `"off"`, `"fixed"` or `"adaptive"`."""
    augmenter = getattr(model, "augmenter", None)
    if augmenter is None:
        return "off", None
    return ("adaptive", augmenter.kimg) if augmenter.adaptive else ("fixed", None)
