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
  gradient norm (window median) fell below `g_grad_drop` of its peak, in
  `diminished_checks` checks in a row (`check_window` counts them);
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
  `min_improvement` (relative) in `patience` evaluations;
- `probe_collapse`: mode collapse in the quality probe's feature space:
  in each of `collapse_probes` probes in a row, at least `collapse_signs`
  of three signs: samples that look real (precision) but cover little of
  the real images (recall), a class mix far from the real one
  (`class_kl`), classes left out (`missing_classes`). One sign alone is
  what every run shows in its first few hundred steps, and probes before
  step `collapse_grace` do not count at all: a healthy run starts narrow;
  nor does a probe whose class KL fell below `collapse_recovering` of the
  one before (a late start that is catching up);
- `getting_worse`: the probe's FCD rose in `worse_probes` probes in a row,
  ending `worse_margin` above its best.

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
    diminished_checks: int = 5  # ...in this many checks in a row (a window's worth of steps)
    # --- non-convergence ---
    loss_limit: float = 10.0
    patience: int = 5
    min_improvement: float = 0.02
    stall_factor: float = 50.0  # stalled counts only this far above real images' own FCD
    # --- unstable: D's loss swings, relative to its level ---
    loss_spread: float = 1.0
    # --- mode collapse ---
    diversity_floor: float = 0.005
    diversity_drop: float = 0.5
    min_best_diversity: float = 0.2
    coverage_drop: int = 3
    duplicates: float = 0.5
    # --- the quality probe (kgan.callbacks.QualityEvaluation), against real images' scores ---
    collapse_probes: int = 2  # consecutive probes that must agree...
    collapse_signs: int = 2  # ...each showing this many of the three signs below
    collapse_grace: int = 300  # probes before this step do not count: every run starts narrow
    collapse_recovering: float = 0.6  # class KL below this share of the last probe's: recovering
    recall_share: float = 0.15  # recall below this share of real images' recall...
    precision_share: float = 0.6  # ...while precision is above this share of theirs
    class_kl: float = 0.5  # the class mix's KL from the real mix (real images: ~0.01)
    missing_classes: int = 2  # classes (or clusters) the samples leave out
    worse_probes: int = 3  # FCD rose in this many probes in a row...
    worse_margin: float = 0.1  # ...and ended this much above its best
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


@dataclasses.dataclass(frozen=True)
class StepState:
    """What the step checks carry from one window to the next (`check_window`)."""

    g_grad_peak: float = 0.0  # the highest `g_grad_level` of the windows so far
    diminished: int = 0  # checks in a row that found D winning while G's gradient faded


def check_window(window, thresholds, state=None):
    """Runs the step checks on one window; diverged losses leave the others unasked.

    A diminished gradient is named once `diminished_checks` checks in a row
    found it: D winning for a moment early on, before ADA's `p` has risen,
    is not G's gradient vanishing.

    Args:
        window: the last steps' metrics, `{key: (steps,) array}`.
        thresholds: a `HealthThresholds`.
        state: the `StepState` the previous window returned (None: the first).

    Returns:
        `(findings, state)`: a list of `Finding`, and the state with this
        window counted (a diverged window changes nothing).
    """
    state = state or StepState()
    diverged = diverged_losses(window, thresholds)
    if diverged is not None:
        return [diverged], state
    peak = max(state.g_grad_peak, g_grad_level(window))
    fading = diminished_gradient(window, thresholds, peak)
    state = StepState(peak, state.diminished + 1 if fading is not None else 0)
    if state.diminished < thresholds.diminished_checks:
        fading = None
    found = (fading, unstable(window, thresholds))
    return [finding for finding in found if finding is not None], state


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


def stalled(fcds, thresholds, floor_fcd=None):
    """Non-convergence if FCD did not improve by `min_improvement` in `patience` evaluations.

    A run whose FCD levels off near real images' own (`floor_fcd`, the
    probe's floor) has converged: the check fires only while the best FCD
    is above `stall_factor` times the floor.

    Args:
        fcds: `[(epoch, fcd), ...]` of every evaluation so far, this one last.
        thresholds: a `HealthThresholds`.
        floor_fcd: real held-out images' FCD under the same settings, or None.
    """
    t = thresholds
    if len(fcds) <= t.patience:
        return None
    before = min(f for _, f in fcds[: -t.patience])
    recent = min(f for _, f in fcds[-t.patience :])
    if not recent > before * (1.0 - t.min_improvement):
        return None
    best_epoch, best = min(fcds, key=lambda item: item[1])
    far = ""
    if floor_fcd:
        if not best > t.stall_factor * floor_fcd:
            return None
        far = f", {best / floor_fcd:.0f}x real images' {floor_fcd:.3g} (limit {t.stall_factor:g}x)"
    return Finding(
        "non_convergence",
        f"no quality gain in the last {t.patience} evaluations: best FCD of them "
        f"{recent:.4g}, best before {before:.4g} (epoch {best_epoch}: {best:.4g}{far})",
        "stalled",
    )


def _collapse_signs(probe, floor, t):
    """What in one probe (`{metric: value}`) says the samples cover too few modes."""
    signs = []
    recall, precision = probe.get("recall"), probe.get("precision")
    real_recall = (floor or {}).get("recall") or 0.0
    real_precision = (floor or {}).get("precision") or 0.0
    if (
        recall is not None
        and precision is not None
        and real_recall > 0
        and recall < t.recall_share * real_recall
        and precision >= t.precision_share * real_precision
    ):
        signs.append(
            f"the samples look real (precision {precision:.2f}; real images {real_precision:.2f}) "
            f"but cover little of the real images (recall {recall:.2f}; real images "
            f"{real_recall:.2f}, threshold {t.recall_share:.0%} of it)"
        )
    kl = probe.get("class_kl")
    if kl is not None and math.isfinite(kl) and kl > t.class_kl:
        signs.append(f"the class mix is far from the real one (KL {kl:.2f} > {t.class_kl:g})")
    covered, counted = probe.get("classes_covered"), probe.get("classes_counted")
    if covered is not None and counted and covered <= counted - t.missing_classes:
        signs.append(f"only {covered:g} of {counted:g} classes appear")
    return signs


def probe_collapse(probes, floor, thresholds):
    """Mode collapse seen by the quality probe in `collapse_probes` probes in a row.

    Probes taken before step `collapse_grace` do not count: kgan's defaults
    on Fashion-MNIST cover 3-5 of 10 classes at step 100 and 8-9 at step
    200 (KL 0.4-1.6), then 9-10; the naive first try stays narrow. Nor is a
    run collapsed while its class mix recovers fast: the latest probe's
    class KL below `collapse_recovering` times the previous probe's (one
    Fashion-MNIST seed of the defaults: KL 2.09, 1.04, 0.59, 0.29 at steps
    200-500; the naive first try's KL wanders, 0.55 to 0.56 or 0.66 to 0.89).

    Args:
        probes: every probe so far, this one last: `{metric: value}` dicts
            with the keys of `kgan.quality.evaluator.KEYS` (and `epoch`, and
            `step` when known: a record without it counts).
        floor: the same metrics of real held-out images (the probe's floor),
            or None; recall and precision are judged against it.
        thresholds: a `HealthThresholds`.

    Returns:
        A `Finding` whose evidence gives the latest probe's signs, or None.
    """
    t = thresholds
    counted = [p for p in probes if p.get("step") is None or p["step"] >= t.collapse_grace]
    if len(counted) < t.collapse_probes or counted[-1] is not probes[-1]:
        return None
    window = counted[-t.collapse_probes :]
    signs = [_collapse_signs(probe, floor, t) for probe in window]
    if not all(len(found) >= t.collapse_signs for found in signs):
        return None
    kls = [probe.get("class_kl") for probe in window[-2:]]
    if len(kls) == 2 and all(k is not None and math.isfinite(k) for k in kls):
        if kls[1] < t.collapse_recovering * kls[0]:
            return None
    return Finding(
        "mode_collapse",
        f"in the quality probe's last {t.collapse_probes} evaluations, {'; '.join(signs[-1])}",
        "mode_collapse",
        may_be_overfitting=True,
    )


def getting_worse(fcds, thresholds):
    """FCD rose in each of the last `worse_probes` probes and ended `worse_margin` above its best.

    Args:
        fcds: `[(epoch, fcd), ...]` of every probe so far, this one last.
        thresholds: a `HealthThresholds`.
    """
    t = thresholds
    if len(fcds) <= t.worse_probes:
        return None
    recent = [f for _, f in fcds[-t.worse_probes - 1 :]]
    best_epoch, best = min(fcds, key=lambda item: item[1])
    rising = all(b > a for a, b in zip(recent[:-1], recent[1:], strict=True))
    if not (rising and recent[-1] > (1.0 + t.worse_margin) * best):
        return None
    return Finding(
        "getting_worse",
        f"the quality probe's FCD rose in each of the last {t.worse_probes} probes, to "
        f"{recent[-1]:.4g}, {recent[-1] / best - 1:.0%} above its best {best:.4g} at epoch "
        f"{best_epoch} (threshold {t.worse_margin:.0%})",
        "getting_worse",
        may_be_overfitting=True,
    )


def probe_findings(probes, floor, thresholds):
    """Everything the quality probe's records say, judged when a probe has just run.

    Mode collapse (`probe_collapse`, `lost_classes`, `filled_with_copies`),
    a NaN FCD, a stalled FCD and a rising one (`getting_worse`). Each check
    reads the records that hold its metric, and runs only if the latest
    record holds it.

    Args:
        probes: every probe record so far (`kgan.health.journal.probe_record`),
            this epoch's last.
        floor: real held-out images' metrics under the same settings, or None.
        thresholds: a `HealthThresholds`.

    Returns:
        The findings, a list (empty when all is well).
    """
    t, latest = thresholds, probes[-1]

    def measured(record, key):
        value = record.get(key)
        return value is not None and math.isfinite(value)

    def series(key):
        return [p for p in probes if measured(p, key)]

    found = []
    if latest.get("fcd") is not None:
        found.append(probe_collapse([p for p in probes if p.get("fcd") is not None], floor, t))
    if measured(latest, "classes_covered"):
        found.append(
            lost_classes([int(p["classes_covered"]) for p in series("classes_covered")], t)
        )
    if measured(latest, "duplicates"):
        found.append(filled_with_copies([p["duplicates"] for p in series("duplicates")], t))
    if latest.get("fcd") is not None:
        found.append(non_finite_fcd(latest["fcd"]))
    if measured(latest, "fcd"):
        fcds = [(p["epoch"], p["fcd"]) for p in series("fcd")]
        found.append(stalled(fcds, t, (floor or {}).get("fcd")))
        found.append(getting_worse(fcds, t))
    return [finding for finding in found if finding is not None]
