"""Names the four GAN failures while training runs, with evidence and a fix to try."""

import collections
import logging
import os

import keras
import numpy as np

from kgan.callbacks.global_step import StepCallback
from kgan.health import advice, checks, journal
from kgan.health.advice import SUGGESTIONS
from kgan.health.checks import OVERFITTING_KEYS, STEP_KEYS, HealthThresholds
from kgan.health.facts import adam_beta_1, augmentation, learning_rates
from kgan.health.findings import FAILURES, HealthStatus
from kgan.networks import condition_classes
from kgan.quality import metrics
from kgan.quality.evaluator import KEYS as PROBE_KEYS
from kgan.report_page import read_history

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
    "adam_beta_1",
    "augmentation",
    "learning_rates",
]

ON_FAILURE = ("warn", "stop")


class GANHealthMonitor(StepCallback):
    """Watches a GAN train and names the failure it sees, with evidence and a suggestion.

    Per-step metrics: each step's own values, as `train_step` handed them
    over (`GAN.step_values()`, read by the run's `GlobalStep`), never the
    epoch's running means. Every `check_every` steps, the last `window`
    steps are checked for non-convergence, a diminished gradient and an
    unstable setting; after each epoch, a fixed latent batch is generated
    and checked for NaN and lost diversity, and the records of a
    `QualityEvaluation` (placed before this callback) are checked for mode
    collapse, a stalled FCD and a rising one (`checks.probe_findings`).
    The checks, their thresholds and their advice are in `kgan.health`
    (pure functions of windows of measurements); a diminished gradient or
    a collapse is blamed on D overfitting (`cause: "d_overfitting"`) when
    `checks.d_overfitting` finds it, with advice that depends on the
    model's `augmenter`.

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
        self.step_state = checks.StepState()
        self.diversities = []  # the fixed batch's, one per epoch
        self.probes = []  # the quality probe's records (`kgan.health.journal`)
        self.epoch_failures = set()
        shape = (self.num_samples, self.model.latent_dim)
        self.latents = keras.random.normal(shape, seed=self.seed)
        num_classes = condition_classes(self.model.generator)
        self.conditions = keras.ops.arange(self.num_samples) % num_classes if num_classes else None
        if self.out_dir:
            # A resumed run judges as the unbroken one: its findings and probes so far.
            journal.keep_findings(os.path.join(self.out_dir, "health.jsonl"), self.initial_epoch)
            _, rows = read_history(os.path.join(self.out_dir, "history.csv"))
            steps = (self.params or {}).get("steps")
            self.probes = journal.replayed_probes(rows, self.initial_epoch, PROBE_KEYS, steps)

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
            found, self.step_state = checks.check_window(window, self.thresholds, self.step_state)
        for finding in found:
            self.report(finding, learning_rates(self.model))

    def on_epoch_end(self, epoch, logs=None):
        if "non_convergence" not in self.epoch_failures:
            self.check_samples()
        record = journal.probe_record(epoch + 1, logs or {}, PROBE_KEYS, self.step)
        if record is not None:
            self.probes.append(record)
            floor = (
                self.probe.floor if self.probe is not None and record["fcd"] is not None else None
            )
            for finding in checks.probe_findings(self.probes, floor, self.thresholds):
                self.report(finding)
        if logs is not None:
            logs["health"] = HealthStatus.worst(self.epoch_failures)

    def check_samples(self):
        """Checks the fixed latent batch for NaN and for a loss of diversity."""
        images = np.asarray(self.model.sample(self.latents, self.conditions), dtype=np.float32)
        if self.report(checks.non_finite_samples(images)):
            return
        self.diversities.append(metrics.pairwise_diversity(images) / (self.real_diversity or 1.0))
        relative = bool(self.real_diversity)
        self.report(
            checks.lost_diversity(self.diversities, self.num_samples, self.thresholds, relative)
        )

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
            journal.append_finding(os.path.join(self.out_dir, "health.jsonl"), record)
        if self.on_failure == "stop" and self.model is not None:
            logging.warning("health: stopping training (on_failure=stop)")
            self.model.stop_training = True
        return True
