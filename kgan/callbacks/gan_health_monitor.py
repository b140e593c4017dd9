"""Names the four GAN failures while training runs, with evidence and a fix to try."""

import collections
import dataclasses
import json
import logging
import math
import os

import keras
import numpy as np

from kgan.callbacks.global_step import StepCallback
from kgan.files import atomic_open
from kgan.networks import condition_classes
from kgan.quality import metrics

# Ascending severity: an epoch's `health` is the most severe failure seen in it.
FAILURES = ("unstable", "diminished_gradient", "mode_collapse", "non_convergence")
STEP_KEYS = ("d_loss", "g_loss", "d_real_acc", "d_fake_acc", "d_grad_norm", "g_grad_norm")
# Logged by kgan.GAN, perhaps not by a subclass: used when present.
OVERFITTING_KEYS = ("d_real_sign", "augment_p")
ON_FAILURE = ("warn", "stop")

SUGGESTIONS = {
    "diminished_gradient": (
        "the discriminator wins too easily: lower --d_lr (DCGAN uses the same 2e-4 for both), "
        "raise --d_dropout or the label noise (--label_flip, --label_smoothing), or shrink D "
        "(--d_filters)."
    ),
    "d_overfitting": (
        "augment what D sees: --augment=adaptive (DiffAugment whose strength ADA tunes "
        "against this very signal) or --augment=fixed; more images, or a smaller D "
        "(--d_filters), help too."
    ),
    "mode_collapse": (
        "keep --separate_batches on, raise --d_dropout or the label noise, lower --g_lr; "
        "resume from an earlier checkpoint or keep the best generator (--eval_every)."
    ),
    "diverged": (
        "lower the learning rates (--g_lr and --d_lr; DCGAN uses 2e-4 with --beta_1=0.5) "
        "and check that the data is scaled to the generator's output range."
    ),
    "stalled": (
        "if the samples look good, stop here (best_generator holds the best); otherwise lower "
        "the learning rates or raise the label noise and train again."
    ),
    "unstable": (
        "lower the learning rate: halve --g_lr and --d_lr (DCGAN: 2e-4 or less, "
        "--beta_1=0.5) or add label noise."
    ),
}


class HealthStatus(float):
    """An epoch's `health`: reads and compares as `"ok"` or a failure name.

    Keras' progress bar and TensorBoard accept only numbers in the epoch
    logs, so the status is also a float: 0 for ok, 1 to 4 for the failures
    in `FAILURES` order (TensorBoard plots it). `str()` gives the name and
    `status == "mode_collapse"` compares names; `HistoryCSV` writes the name.
    """

    def __new__(cls, label):
        code = 0 if label == "ok" else FAILURES.index(label) + 1
        status = super().__new__(cls, code)
        status.label = label
        return status

    def __str__(self):
        return self.label

    __repr__ = __str__

    def __eq__(self, other):
        if isinstance(other, str):
            return self.label == other
        return float(self) == other

    def __ne__(self, other):  # float's own __ne__ would otherwise answer for strings
        return not self == other

    __hash__ = float.__hash__


@dataclasses.dataclass(frozen=True)
class HealthThresholds:
    """When `GANHealthMonitor` calls a failure; the README justifies each default.

    The defaults are set for the non-saturating BCE losses of `kgan.GAN`
    (equilibrium: d_loss ~1.39, g_loss ~0.69); other losses need others.
    """

    # --- the window of per-step metrics every check looks at ---
    window: int = 50
    check_every: int = 10
    # --- diminished gradient: D wins on both batches while G's gradient fades ---
    d_accuracy: float = 0.9
    d_wins_fraction: float = 0.6
    g_grad_drop: float = 0.75
    # --- non-convergence ---
    loss_limit: float = 10.0
    patience: int = 5
    min_improvement: float = 0.02
    # --- unstable: D's loss swings, relative to its level ---
    loss_spread: float = 1.0
    # --- mode collapse ---
    diversity_floor: float = 0.005
    diversity_drop: float = 0.5
    min_best_diversity: float = 0.2
    coverage_drop: int = 3
    duplicates: float = 0.5
    # --- the cause: D has memorised the training images (Karras et al. 2020) ---
    overfit_sign: float = 0.9


class GANHealthMonitor(StepCallback):
    """Watches a GAN train and names the failure it sees, with evidence and a suggestion.

    Per-step metrics: Keras passes `on_train_batch_end` the running means of
    the epoch; the run's `GlobalStep` recovers each step's own values from
    them (`GlobalStep.latest`). Every `check_every` steps, the
    last `window` steps are checked for:

    - non-convergence: a NaN/Inf metric (at once), or the median d_loss or
      g_loss above `loss_limit` (losses diverged);
    - diminished gradient: D right on both real and fake batches
      (accuracy >= `d_accuracy`) on at least `d_wins_fraction` of the steps
      while G's gradient norm (window median) fell below `g_grad_drop` of
      its peak;
    - unstable: D's loss swings, `(p90 - p10) / max(median, 1)` over the
      window, above `loss_spread`: lower the learning rate.

    A diminished gradient or a collapse is blamed on D overfitting when D
    is sure of nearly every real image it trains on: ADA's signal
    `r_t = E[sign(D(real))]` (logged as `d_real_sign`), window median, at
    least `overfit_sign`. That is how a small dataset fails (D memorises a
    few thousand images), and the finding then carries `cause:
    "d_overfitting"` and suggests augmentation (`--augment`), or, where
    adaptive augmentation is already at work, what holds it back.

    After each epoch, a fixed latent batch is generated and checked for mode
    collapse: pixel diversity (relative to real images) below
    `diversity_floor`, or below `diversity_drop` of its best once that best
    reached `min_best_diversity`; and, where a `QualityEvaluation` ran before
    this callback, `classes_covered` `coverage_drop` classes below its best,
    or `duplicates` above its threshold. Its `fcd` also feeds the stall
    check: no improvement by `min_improvement` (relative) in `patience`
    evaluations is non-convergence.

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
    ):
        super().__init__(clock)
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

    # === State ===

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.history = {
            key: collections.deque(maxlen=self.thresholds.window)
            for key in STEP_KEYS + OVERFITTING_KEYS
        }
        self.g_grad_peak = 0.0
        self.best_diversity = 0.0
        self.best_coverage = 0
        self.fewest_duplicates = 1.0
        self.fcd_history = []
        self.epoch_failures = set()
        self.latents = keras.random.normal(
            (self.num_samples, self.model.latent_dim), seed=self.seed
        )
        self.conditions = None
        num_classes = condition_classes(self.model.generator)
        if num_classes:
            self.conditions = keras.ops.arange(self.num_samples) % num_classes
        if self.out_dir:
            self._restart_file()

    def _restart_file(self):
        """Keeps the findings of epochs before `initial_epoch` (a resume), drops the rest."""
        path = os.path.join(self.out_dir, "health.jsonl")
        if not os.path.exists(path):
            return
        with open(path) as f:
            kept = [line for line in f if json.loads(line)["epoch"] <= self.initial_epoch]
        with atomic_open(path) as f:
            f.writelines(kept)

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

        bad = [key for key in STEP_KEYS if not math.isfinite(values[key])]
        if bad:
            self.report(
                "non_convergence",
                f"{', '.join(bad)} became {values[bad[0]]} at step {self.step}",
                self._suggest("diverged"),
            )
            return
        full = len(self.history["d_loss"]) == self.thresholds.window
        if full and self.step % self.thresholds.check_every < self.clock.span:
            self.check_steps()

    # === Step checks ===

    def check_steps(self):
        """Runs the step-metric checks on the current window."""
        t = self.thresholds
        window = {key: np.asarray(self.history[key]) for key in STEP_KEYS}
        d_loss, g_loss = np.median(window["d_loss"]), np.median(window["g_loss"])

        if max(abs(d_loss), abs(g_loss)) > t.loss_limit:
            self.report(
                "non_convergence",
                f"the losses diverged: median d_loss {d_loss:.3g}, g_loss {g_loss:.3g} over the "
                f"last {len(window['d_loss'])} steps (limit {t.loss_limit:g}; balanced: ~1.4 and "
                "~0.7)",
                self._suggest("diverged"),
            )
            return

        # The peak: G's highest window median outside diverged windows.
        g_grad = float(np.median(window["g_grad_norm"]))
        self.g_grad_peak = max(self.g_grad_peak, g_grad)
        wins = (window["d_real_acc"] >= t.d_accuracy) & (window["d_fake_acc"] >= t.d_accuracy)
        if wins.mean() >= t.d_wins_fraction and g_grad < t.g_grad_drop * self.g_grad_peak:
            self.report(
                "diminished_gradient",
                f"D was right on both real and fake batches (accuracy >= {t.d_accuracy:g}) in "
                f"{wins.mean():.0%} of the last {t.window} steps while G's gradient norm fell "
                f"to {g_grad:.3g}, {g_grad / self.g_grad_peak:.0%} of its peak "
                f"{self.g_grad_peak:.3g}",
                self._suggest("diminished_gradient"),
                overfitting=True,
            )

        # Relative to the level, floored at 1 so a near-zero loss cannot inflate it.
        low, high = np.percentile(window["d_loss"], [10, 90])
        spread = (high - low) / max(abs(d_loss), 1.0)
        if spread > t.loss_spread:
            self.report(
                "unstable",
                f"d_loss swings between {low:.3g} and {high:.3g} (10th-90th percentile) around "
                f"{d_loss:.3g} over the last {t.window} steps: a spread of {spread:.2f} times "
                f"its level (the default recipe on MNIST: at most ~0.1)",
                self._suggest("unstable"),
            )

    # === Epoch checks ===

    def on_epoch_end(self, epoch, logs=None):
        if "non_convergence" not in self.epoch_failures:
            self.check_samples()
        if logs is not None:
            self.check_quality(logs)
            worst = max(self.epoch_failures, key=FAILURES.index, default="ok")
            logs["health"] = HealthStatus(worst)

    def check_samples(self):
        """Checks the fixed latent batch for a loss of diversity."""
        t = self.thresholds
        images = np.asarray(self.model.sample(self.latents, self.conditions), dtype=np.float32)
        if not np.isfinite(images).all():
            self.report(
                "non_convergence",
                "the generator outputs NaN or Inf",
                SUGGESTIONS["diverged"],
            )
            return
        diversity = metrics.pairwise_diversity(images)
        if self.real_diversity:
            diversity /= self.real_diversity
        where = "of real images'" if self.real_diversity else "in pixel units"
        if self.real_diversity and diversity < t.diversity_floor:
            self.report(
                "mode_collapse",
                f"the fixed latent batch of {self.num_samples} is one image: its pixel "
                f"diversity is {diversity:.3g} {where} (floor {t.diversity_floor:g})",
                SUGGESTIONS["mode_collapse"],
                overfitting=True,
            )
        elif (
            self.best_diversity >= (t.min_best_diversity if self.real_diversity else 0.0)
            and self.best_diversity > 0
            and diversity < t.diversity_drop * self.best_diversity
        ):
            self.report(
                "mode_collapse",
                f"the fixed latent batch lost diversity: {diversity:.3g} {where}, down from "
                f"{self.best_diversity:.3g} (below {t.diversity_drop:.0%} of its best)",
                SUGGESTIONS["mode_collapse"],
                overfitting=True,
            )
        self.best_diversity = max(self.best_diversity, diversity)

    def check_quality(self, logs):
        """Uses the metrics a `QualityEvaluation` added to this epoch's logs."""
        t = self.thresholds
        covered = logs.get("classes_covered")
        if covered is not None and math.isfinite(covered):
            covered = int(covered)
            if covered <= self.best_coverage - t.coverage_drop:
                self.report(
                    "mode_collapse",
                    f"the samples cover {covered} classes, down from {self.best_coverage}",
                    SUGGESTIONS["mode_collapse"],
                )
            self.best_coverage = max(self.best_coverage, covered)
        duplicates = logs.get("duplicates")
        if duplicates is not None and math.isfinite(duplicates):
            # Early samples are alike anyway: only a rise from a diverse state counts.
            if duplicates > t.duplicates and self.fewest_duplicates <= t.duplicates / 5:
                self.report(
                    "mode_collapse",
                    f"{duplicates:.0%} of the evaluated samples have a near-copy among them, "
                    f"up from {self.fewest_duplicates:.0%} (real images: ~1%)",
                    SUGGESTIONS["mode_collapse"],
                )
            self.fewest_duplicates = min(self.fewest_duplicates, duplicates)
        fcd = logs.get("fcd")
        if fcd is None:
            return
        if not math.isfinite(fcd):
            self.report("non_convergence", f"FCD is {fcd}", SUGGESTIONS["diverged"])
            return
        self.fcd_history.append((self.epoch + 1, float(fcd)))
        if len(self.fcd_history) > t.patience:
            before = min(f for _, f in self.fcd_history[: -t.patience])
            recent = min(f for _, f in self.fcd_history[-t.patience :])
            if recent > before * (1.0 - t.min_improvement):
                best_epoch, best = min(self.fcd_history, key=lambda item: item[1])
                self.report(
                    "non_convergence",
                    f"no quality gain in the last {t.patience} evaluations: best FCD of them "
                    f"{recent:.4g}, best before {before:.4g} (epoch {best_epoch}: {best:.4g})",
                    SUGGESTIONS["stalled"],
                )

    # === Reporting ===

    def _learning_rates(self):
        """`(g_lr, d_lr)` of the model's optimizers, or None if unreadable."""
        try:
            return tuple(
                float(keras.ops.convert_to_numpy(optimizer.learning_rate))
                for optimizer in (self.model.g_optimizer, self.model.d_optimizer)
            )
        except (AttributeError, TypeError, ValueError):
            return None

    def _suggest(self, failure):
        """The suggestion for `failure`, naming the learning rate to lower if one stands out."""
        rates = self._learning_rates()
        if rates is None:
            return SUGGESTIONS[failure]
        g_lr, d_lr = rates
        high, low = ("d", "g") if d_lr >= g_lr else ("g", "d")
        ratio = max(g_lr, d_lr) / max(min(g_lr, d_lr), 1e-12)
        named = f"--{high}_lr={max(g_lr, d_lr):g} is {ratio:.0f}x --{low}_lr={min(g_lr, d_lr):g}"
        if failure == "diminished_gradient" and d_lr > 2 * g_lr:
            return f"the discriminator wins too easily: {named}; use one rate for both (2e-4)."
        if failure == "unstable" and ratio > 2:
            return f"lower the learning rate: {named}; bring it down to --{low}_lr's value."
        if failure == "diverged":
            return f"{SUGGESTIONS[failure]} Now: --g_lr={g_lr:g}, --d_lr={d_lr:g}."
        if failure == "unstable":
            return (
                f"lower the learning rate: halve --g_lr and --d_lr (now {g_lr:g} and {d_lr:g}; "
                "DCGAN: 2e-4 with --beta_1=0.5) or add label noise."
            )
        return SUGGESTIONS[failure]

    def overfitting(self):
        """`(evidence, suggestion)` if D is sure of nearly every real image, else None."""
        t = self.thresholds
        signs = self.history.get("d_real_sign") if hasattr(self, "history") else None
        if not signs:
            return None
        r_t = float(np.median(np.asarray(signs)))
        if r_t < t.overfit_sign:
            return None
        evidence = (
            f"D overfits: it calls {(1 + r_t) / 2:.0%} of the real images it trains on real "
            f"(r_t = E[sign(D(real))] = {r_t:.2f}, median of the last {len(signs)} steps; "
            f"at or above {t.overfit_sign:g} D has memorised them, ADA holds 0.6)"
        )
        augmenter = getattr(self.model, "augmenter", None)
        mode = "off" if augmenter is None else ("adaptive" if augmenter.adaptive else "fixed")
        p = self.history["augment_p"][-1] if self.history.get("augment_p") else 0.0
        if mode == "adaptive" and p >= 1.0:
            suggestion = (
                f"adaptive augmentation is at full strength (p = {p:.2f}) and D still "
                "memorises: more images, or a smaller D (--d_filters), or more --d_dropout."
            )
        elif mode == "adaptive":
            kimg = augmenter.kimg
            suggestion = (
                f"adaptive augmentation is still ramping up (p = {p:.2f}): let it, or lower "
                f"--ada_kimg (now {kimg:g}) so p rises faster, or lower --ada_target."
            )
        elif mode == "fixed":
            suggestion = (
                f"raise --augment_p (now {p:.2f}), or --augment=adaptive to let ADA set it."
            )
        else:
            suggestion = SUGGESTIONS["d_overfitting"]
        return evidence, suggestion

    def report(self, failure, evidence, suggestion, overfitting=False):
        """Logs a finding, appends it to `health.jsonl`, and stops if asked to.

        Args:
            failure: one of `FAILURES`.
            evidence: what was seen, in words.
            suggestion: what to try.
            overfitting: look for D overfitting as the cause; if found, the
                finding gets `cause: "d_overfitting"`, its evidence and its
                suggestion.
        """
        if failure in self.epoch_failures:
            return
        self.epoch_failures.add(failure)
        cause = self.overfitting() if overfitting else None
        if cause is not None:
            evidence = f"{evidence}; the cause: {cause[0]}"
            suggestion = cause[1]
        finding = {
            "epoch": self.epoch + 1,
            "step": self.step,
            "failure": failure,
            "evidence": evidence,
            "suggestion": suggestion,
        }
        if cause is not None:
            finding["cause"] = "d_overfitting"
        self.findings.append(finding)
        logging.warning(
            "health: %s at epoch %d, step %d: %s. Try: %s",
            failure,
            finding["epoch"],
            finding["step"],
            evidence,
            suggestion,
        )
        if self.out_dir:
            os.makedirs(self.out_dir, exist_ok=True)
            with open(os.path.join(self.out_dir, "health.jsonl"), "a") as f:
                f.write(json.dumps(finding) + "\n")
        if self.on_failure == "stop" and self.model is not None:
            logging.warning("health: stopping training (on_failure=stop)")
            self.model.stop_training = True
