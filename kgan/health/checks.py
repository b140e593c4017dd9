"""The health checks: pure functions of a window of measurements, and their thresholds.

Each check takes what was measured (the last steps' metrics, or every
epoch's measurement so far) and a `HealthThresholds`, and returns a
`Finding` or None. Nothing here reads a model: `GANHealthMonitor` gathers
the measurements, calls the checks and reports what they find.

Step checks (a window: `{metric: (steps,) array}` of the last `window`
steps, keys `STEP_KEYS`, and `OVERFITTING_KEYS` where logged):

- `non_finite_metrics`: a NaN/Inf metric in one step (non-convergence, at once);
- `diverged_losses`: the median d_loss or g_loss above `loss_limit`;
- `diminished_gradient`: D right on both real and fake batches (accuracy
  >= `d_accuracy`) on at least `d_wins_fraction` of the steps while G's
  gradient norm (window median) fell below `g_grad_drop` of its peak;
- `unstable`: D's loss swings, `(p90 - p10) / max(median, 1)` over the
  window, above `loss_spread`;
- `d_overfitting`: not a failure but a cause: D is sure of nearly every real
  image it trains on, ADA's `r_t = E[sign(D(real))]` (window median) at
  least `overfit_sign` (Karras et al. 2020).

Epoch checks (every epoch's measurement so far, this epoch's last):

- `non_finite_samples`: the fixed latent batch holds NaN/Inf;
- `lost_diversity`: its pixel diversity (relative to real images) below
  `diversity_floor`, or below `diversity_drop` of its best once that best
  reached `min_best_diversity`;
- `lost_classes`, `filled_with_copies`: `classes_covered` `coverage_drop`
  below its best, `duplicates` above its threshold after a diverse state;
- `non_finite_fcd`, `stalled`: FCD NaN/Inf, or no improvement by
  `min_improvement` (relative) in `patience` evaluations.

Example:

>>> window = {"d_loss": np.full(50, 1.36), "g_loss": np.full(50, 40.0)}
>>> diverged_losses(window, HealthThresholds()).failure
'non_convergence'
"""

import dataclasses
import math

import numpy as np

from kgan.health import advice
from kgan.health.findings import Cause, Finding

STEP_KEYS = ("d_loss", "g_loss", "d_real_acc", "d_fake_acc", "d_grad_norm", "g_grad_norm")
# Logged by kgan.GAN, perhaps not by a subclass: used when present.
OVERFITTING_KEYS = ("d_real_sign", "augment_p")


@dataclasses.dataclass(frozen=True)
class HealthThresholds:
    """When `GANHealthMonitor` calls a failure; docs/health-monitor.md justifies each default.

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


# === Step checks ===


def non_finite_metrics(values, step):
    """Non-convergence if one step's metrics (`{key: float}`, `STEP_KEYS`) hold a NaN or Inf."""
    bad = [key for key in STEP_KEYS if not math.isfinite(values[key])]
    if not bad:
        return None
    return Finding(
        "non_convergence", f"{', '.join(bad)} became {values[bad[0]]} at step {step}", "diverged"
    )


def diverged_losses(window, thresholds):
    """Non-convergence if the window's median d_loss or g_loss is above `loss_limit`."""
    t = thresholds
    d_loss, g_loss = np.median(window["d_loss"]), np.median(window["g_loss"])
    # Each check asks `not (fires)`: NaN compares False, so a window holding a NaN step stays quiet.
    if not max(abs(d_loss), abs(g_loss)) > t.loss_limit:
        return None
    return Finding(
        "non_convergence",
        f"the losses diverged: median d_loss {d_loss:.3g}, g_loss {g_loss:.3g} over the "
        f"last {len(window['d_loss'])} steps (limit {t.loss_limit:g}; balanced: ~1.4 and ~0.7)",
        "diverged",
    )


def g_grad_level(window):
    """G's gradient norm over the window (its median): the peak is the highest of these."""
    return float(np.median(window["g_grad_norm"]))


def diminished_gradient(window, thresholds, g_grad_peak):
    """D wins on both batches while G's gradient fades below `g_grad_drop` of `g_grad_peak`.

    Args:
        window: the last steps' metrics.
        thresholds: a `HealthThresholds`.
        g_grad_peak: the highest `g_grad_level` of the windows so far, this one included.
    """
    t = thresholds
    g_grad = g_grad_level(window)
    wins = (window["d_real_acc"] >= t.d_accuracy) & (window["d_fake_acc"] >= t.d_accuracy)
    if not (wins.mean() >= t.d_wins_fraction and g_grad < t.g_grad_drop * g_grad_peak):
        return None
    return Finding(
        "diminished_gradient",
        f"D was right on both real and fake batches (accuracy >= {t.d_accuracy:g}) in "
        f"{wins.mean():.0%} of the last {t.window} steps while G's gradient norm fell "
        f"to {g_grad:.3g}, {g_grad / g_grad_peak:.0%} of its peak {g_grad_peak:.3g}",
        "diminished_gradient",
        may_be_overfitting=True,
    )


def unstable(window, thresholds):
    """D's loss swings: its 10th-90th percentile spread above `loss_spread` times its level."""
    t = thresholds
    d_loss = np.median(window["d_loss"])
    # Relative to the level, floored at 1 so a near-zero loss cannot inflate it.
    low, high = np.percentile(window["d_loss"], [10, 90])
    spread = (high - low) / max(abs(d_loss), 1.0)
    if not spread > t.loss_spread:
        return None
    return Finding(
        "unstable",
        f"d_loss swings between {low:.3g} and {high:.3g} (10th-90th percentile) around "
        f"{d_loss:.3g} over the last {t.window} steps: a spread of {spread:.2f} times "
        f"its level (the default recipe on MNIST: at most ~0.1)",
        "unstable",
    )


def check_window(window, thresholds, g_grad_peak=0.0):
    """Runs the step checks on one window; diverged losses leave the others unasked.

    Args:
        window: the last steps' metrics, `{key: (steps,) array}`.
        thresholds: a `HealthThresholds`.
        g_grad_peak: the highest `g_grad_level` of the earlier windows.

    Returns:
        `(findings, g_grad_peak)`: a list of `Finding`, and the peak with
        this window counted (a diverged window does not count).
    """
    diverged = diverged_losses(window, thresholds)
    if diverged is not None:
        return [diverged], g_grad_peak
    g_grad_peak = max(g_grad_peak, g_grad_level(window))
    found = (diminished_gradient(window, thresholds, g_grad_peak), unstable(window, thresholds))
    return [finding for finding in found if finding is not None], g_grad_peak


def d_overfitting(window, thresholds, augment="off", ada_kimg=None):
    """The cause `"d_overfitting"` if D is sure of nearly every real image, else None.

    Args:
        window: the last steps' metrics; reads `d_real_sign` and `augment_p`
            when present.
        thresholds: a `HealthThresholds`.
        augment: the augmentation at work, `"off"`, `"fixed"` or `"adaptive"`.
        ada_kimg: adaptive: thousands of images for p to go from 0 to 1.

    Returns:
        A `Cause`, or None.
    """
    t = thresholds
    signs = window.get("d_real_sign")
    if signs is None or len(signs) == 0:
        return None
    r_t = float(np.median(np.asarray(signs)))
    if r_t < t.overfit_sign:
        return None
    evidence = (
        f"D overfits: it calls {(1 + r_t) / 2:.0%} of the real images it trains on real "
        f"(r_t = E[sign(D(real))] = {r_t:.2f}, median of the last {len(signs)} steps; "
        f"at or above {t.overfit_sign:g} D has memorised them, ADA holds 0.6)"
    )
    p = window.get("augment_p")
    p = p[-1] if p is not None and len(p) else 0.0
    return Cause("d_overfitting", evidence, advice.augment_more(augment, p, ada_kimg))


# === Epoch checks ===


def non_finite_samples(images):
    """Non-convergence if the generator's images hold a NaN or Inf."""
    if np.isfinite(images).all():
        return None
    return Finding("non_convergence", "the generator outputs NaN or Inf", "diverged")


def lost_diversity(diversities, num_samples, thresholds, relative=True):
    """Mode collapse if the fixed latent batch's pixel diversity fell to a floor or from its best.

    Args:
        diversities: the batch's diversity at every epoch so far, this one last.
        num_samples: the batch's size.
        thresholds: a `HealthThresholds`.
        relative: whether the diversities are relative to real images'
            (else in pixel units, and only the drop from the best counts).
    """
    t = thresholds
    diversity = diversities[-1]
    best = max(diversities[:-1], default=0.0)
    where = "of real images'" if relative else "in pixel units"
    if relative and diversity < t.diversity_floor:
        return Finding(
            "mode_collapse",
            f"the fixed latent batch of {num_samples} is one image: its pixel "
            f"diversity is {diversity:.3g} {where} (floor {t.diversity_floor:g})",
            "mode_collapse",
            may_be_overfitting=True,
        )
    if (
        best >= (t.min_best_diversity if relative else 0.0)
        and best > 0
        and diversity < t.diversity_drop * best
    ):
        return Finding(
            "mode_collapse",
            f"the fixed latent batch lost diversity: {diversity:.3g} {where}, down from "
            f"{best:.3g} (below {t.diversity_drop:.0%} of its best)",
            "mode_collapse",
            may_be_overfitting=True,
        )
    return None


def lost_classes(covered, thresholds):
    """Mode collapse if `classes_covered` (every evaluation's, this one last) fell from its best."""
    best = max(covered[:-1], default=0)
    if not covered[-1] <= best - thresholds.coverage_drop:
        return None
    return Finding(
        "mode_collapse",
        f"the samples cover {covered[-1]} classes, down from {best}",
        "mode_collapse",
    )


def filled_with_copies(duplicates, thresholds):
    """Mode collapse if near-copies fill the samples after they were diverse.

    Args:
        duplicates: every evaluation's `duplicates` fraction, this one last.
        thresholds: a `HealthThresholds`.
    """
    t = thresholds
    fewest = min(duplicates[:-1], default=1.0)
    # Early samples are alike anyway: only a rise from a diverse state counts.
    if not (duplicates[-1] > t.duplicates and fewest <= t.duplicates / 5):
        return None
    return Finding(
        "mode_collapse",
        f"{duplicates[-1]:.0%} of the evaluated samples have a near-copy among them, "
        f"up from {fewest:.0%} (real images: ~1%)",
        "mode_collapse",
    )


def non_finite_fcd(fcd):
    """Non-convergence if an evaluation's FCD is NaN or Inf."""
    if math.isfinite(fcd):
        return None
    return Finding("non_convergence", f"FCD is {fcd}", "diverged")


def stalled(fcds, thresholds):
    """Non-convergence if FCD did not improve by `min_improvement` in `patience` evaluations.

    Args:
        fcds: `[(epoch, fcd), ...]` of every evaluation so far, this one last.
        thresholds: a `HealthThresholds`.
    """
    t = thresholds
    if len(fcds) <= t.patience:
        return None
    before = min(f for _, f in fcds[: -t.patience])
    recent = min(f for _, f in fcds[-t.patience :])
    if not recent > before * (1.0 - t.min_improvement):
        return None
    best_epoch, best = min(fcds, key=lambda item: item[1])
    return Finding(
        "non_convergence",
        f"no quality gain in the last {t.patience} evaluations: best FCD of them "
        f"{recent:.4g}, best before {before:.4g} (epoch {best_epoch}: {best:.4g})",
        "stalled",
    )
