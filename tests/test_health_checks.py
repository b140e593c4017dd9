"""kgan.health: each check fires on a window built by hand for it, and stays quiet otherwise.

No model and no Keras: the checks are functions of measurements.
"""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from kgan.health import SUGGESTIONS, Cause, Finding, HealthStatus, HealthThresholds, advice, checks

T = HealthThresholds()
STEPS = T.window


def _window(**overrides):
    """A balanced window of `STEPS` steps (constant values), with `overrides` as arrays."""
    values = {
        "d_loss": 1.36,
        "g_loss": 0.72,
        "d_real_acc": 0.62,
        "d_fake_acc": 0.55,
        "d_grad_norm": 3.0,
        "g_grad_norm": 0.6,
    }
    values.update(overrides)
    return {
        key: np.broadcast_to(np.asarray(v, float), (STEPS,)).copy() for key, v in values.items()
    }


def test_importing_kgan_health_loads_neither_tensorflow_nor_keras():
    code = "import sys, kgan.health; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


# === Step checks ===


def test_a_nan_or_inf_step_metric_is_non_convergence_naming_the_metrics():
    step = {key: float(v[0]) for key, v in _window().items()}
    assert checks.non_finite_metrics(step, 12) is None
    finding = checks.non_finite_metrics(dict(step, g_loss=np.inf, d_grad_norm=np.nan), 12)
    assert finding.failure == "non_convergence" and finding.advice == "diverged"
    assert finding.evidence == "g_loss, d_grad_norm became inf at step 12"


def test_losses_whose_median_passes_the_limit_have_diverged():
    assert checks.diverged_losses(_window(), T) is None
    finding = checks.diverged_losses(_window(g_loss=np.geomspace(1, 1e5, STEPS)), T)
    assert finding.failure == "non_convergence"
    assert "median d_loss 1.36, g_loss 318 over the last 50 steps (limit 10" in finding.evidence
    # A NaN median (a NaN step still in the window) is the per-step check's, not this one's.
    losses = np.full(STEPS, 1.36)
    losses[::2] = np.nan
    assert checks.diverged_losses(_window(d_loss=losses), T) is None


def test_d_winning_while_g_gradient_fades_below_three_quarters_of_its_peak():
    winning = _window(d_real_acc=0.98, d_fake_acc=0.99, g_grad_norm=5.0)
    finding = checks.diminished_gradient(winning, T, g_grad_peak=10.0)
    assert finding.failure == "diminished_gradient" and finding.may_be_overfitting
    assert "in 100% of the last 50 steps" in finding.evidence
    assert "fell to 5, 50% of its peak 10" in finding.evidence
    # G's gradient at 80% of its peak, or D winning on only half the steps: quiet.
    assert checks.diminished_gradient(winning, T, g_grad_peak=6.25) is None
    half = (np.arange(STEPS) % 2).astype(float)
    assert checks.diminished_gradient(dict(winning, d_real_acc=half), T, 10.0) is None


def test_a_d_loss_swinging_more_than_its_level_is_unstable():
    assert checks.unstable(_window(), T) is None
    finding = checks.unstable(_window(d_loss=np.where(np.arange(STEPS) % 3 == 0, 6.0, 0.9)), T)
    assert finding.failure == "unstable" and finding.advice == "unstable"
    assert "between 0.9 and 6 (10th-90th percentile) around 0.9" in finding.evidence
    assert "a spread of 5.10 times its level" in finding.evidence


def test_check_window_counts_the_peak_and_stops_at_diverged_losses():
    findings, state = checks.check_window(_window(g_grad_norm=2.0), T, checks.StepState(1.0))
    assert findings == [] and state == checks.StepState(2.0, 0)
    # A diverged window is the only finding, and its gradient norm is no peak.
    exploding = _window(d_loss=50.0, g_grad_norm=99.0, d_real_acc=1.0, d_fake_acc=1.0)
    findings, state = checks.check_window(exploding, T, checks.StepState(2.0))
    assert [f.failure for f in findings] == ["non_convergence"] and state.g_grad_peak == 2.0
    # Fading and swinging at once: both named, the fading once it held for 5 checks in a row.
    both = _window(
        d_loss=np.where(np.arange(STEPS) % 3 == 0, 6.0, 0.9),
        d_real_acc=0.99,
        d_fake_acc=0.99,
        g_grad_norm=1.0,
    )
    state = checks.StepState(4.0)
    for _ in range(T.diminished_checks - 1):
        findings, state = checks.check_window(both, T, state)
        assert [f.failure for f in findings] == ["unstable"]
    findings, state = checks.check_window(both, T, state)
    assert [f.failure for f in findings] == ["diminished_gradient", "unstable"]
    assert state == checks.StepState(4.0, T.diminished_checks)


def test_d_winning_for_a_moment_is_not_a_diminished_gradient():
    # emoji64, kgan's defaults, seed 2: D won on 64% and 62% of the steps at steps 150
    # and 160 (ADA's p still 0.05) while G's gradient was at 73% of its peak; by step
    # 190 D won on 36%.
    fading = _window(d_real_acc=0.99, d_fake_acc=0.99, g_grad_norm=4.2)
    balanced = _window(d_real_acc=0.5, d_fake_acc=0.5, g_grad_norm=4.2)
    state, named = checks.StepState(5.8), []
    for window in [fading, fading, balanced, fading, fading, fading, fading, balanced]:
        findings, state = checks.check_window(window, T, state)
        named.append(bool(findings))
    assert not any(named)


@pytest.mark.parametrize(
    "augment, p, kimg, expected",
    [
        ("off", 0.0, None, "--augment=adaptive"),
        ("fixed", 0.5, None, "raise --augment_p (now 0.50)"),
        ("adaptive", 0.2, 100.0, "lower --ada_kimg (now 100)"),
        ("adaptive", 1.0, 100.0, "at full strength (p = 1.00)"),
    ],
)
def test_d_sure_of_the_real_images_is_the_overfitting_cause(augment, p, kimg, expected):
    window = _window(d_real_sign=0.97, augment_p=p)
    cause = checks.d_overfitting(window, T, augment, kimg)
    assert isinstance(cause, Cause) and cause.name == "d_overfitting"
    assert "it calls 98% of the real images" in cause.evidence and "= 0.97" in cause.evidence
    assert expected in cause.suggestion


def test_no_overfitting_cause_without_the_signal_or_below_its_threshold():
    assert checks.d_overfitting(_window(), T) is None
    assert checks.d_overfitting(dict(_window(), d_real_sign=[]), T) is None
    assert checks.d_overfitting(_window(d_real_sign=0.89), T) is None
    # No augment_p logged: p reads as 0.
    cause = checks.d_overfitting(_window(d_real_sign=0.95), T, "fixed")
    assert "now 0.00" in cause.suggestion


# === Epoch checks ===


def test_generator_output_with_nan_is_non_convergence():
    images = np.zeros((4, 8, 8, 1), np.float32)
    assert checks.non_finite_samples(images) is None
    images[2, 3, 3] = np.nan
    assert checks.non_finite_samples(images).failure == "non_convergence"


def test_a_batch_below_the_diversity_floor_is_one_image():
    finding = checks.lost_diversity([0.004], 256, T)
    assert finding.failure == "mode_collapse" and finding.may_be_overfitting
    assert "batch of 256 is one image" in finding.evidence and "of real images'" in finding.evidence
    assert checks.lost_diversity([0.006], 256, T) is None
    # In pixel units there is no floor to compare with.
    assert checks.lost_diversity([0.004], 256, T, relative=False) is None


def test_diversity_halving_from_a_diverse_best_is_mode_collapse():
    finding = checks.lost_diversity([0.1, 0.6, 0.29], 256, T)
    assert "lost diversity: 0.29 of real images', down from 0.6" in finding.evidence
    assert checks.lost_diversity([0.1, 0.6, 0.31], 256, T) is None
    # A best below min_best_diversity is an early batch, alike anyway.
    assert checks.lost_diversity([0.19, 0.05], 256, T) is None
    # In pixel units any positive best counts.
    assert "in pixel units" in checks.lost_diversity([0.19, 0.05], 256, T, False).evidence


def test_coverage_three_classes_below_its_best_is_mode_collapse():
    assert checks.lost_classes([3], T) is None
    assert checks.lost_classes([3, 10, 8], T) is None
    finding = checks.lost_classes([3, 10, 8, 7], T)
    assert finding.evidence == "the samples cover 7 classes, down from 10"


def test_copies_count_only_after_the_samples_were_diverse():
    assert checks.filled_with_copies([1.0, 0.9], T) is None  # early samples are alike
    assert checks.filled_with_copies([1.0, 0.11, 0.9], T) is None  # never below 0.1
    finding = checks.filled_with_copies([1.0, 0.01, 0.03, 0.9], T)
    assert "90% of the evaluated samples have a near-copy" in finding.evidence
    assert "up from 1%" in finding.evidence
    assert checks.filled_with_copies([1.0, 0.01, 0.5], T) is None  # at the threshold


def test_fcd_that_stops_improving_or_turns_nan_is_non_convergence():
    assert checks.non_finite_fcd(12.0) is None
    assert checks.non_finite_fcd(float("nan")).evidence == "FCD is nan"
    improving = list(enumerate([80, 60, 45, 35, 28, 24, 21], start=1))
    assert checks.stalled(improving, T) is None
    flat = list(enumerate([80, 60, 45, 46, 47, 45.5, 48, 46], start=1))
    assert checks.stalled(flat[:-1], T) is None  # its last 5 hold 45, well below 60 before
    finding = checks.stalled(flat, T)
    assert finding.failure == "non_convergence" and finding.advice == "stalled"
    assert "no quality gain in the last 5 evaluations: best FCD of them 45.5" in finding.evidence
    assert "best before 45 (epoch 3: 45)" in finding.evidence
    # Levelled off near real images' own FCD: converged, not stalled.
    assert checks.stalled(flat, T, floor_fcd=1.0) is None
    far = checks.stalled(flat, T, floor_fcd=0.5)
    assert "90x real images' 0.5 (limit 50x)" in far.evidence


# === The quality probe ===

FLOOR = {"precision": 0.9, "recall": 0.9, "fcd": 0.6}
HEALTHY = {"precision": 0.7, "recall": 0.5, "class_kl": 0.1, "classes_covered": 10}
COLLAPSED = {"precision": 0.8, "recall": 0.02, "class_kl": 0.9, "classes_covered": 6}
for probe in (HEALTHY, COLLAPSED):
    probe["classes_counted"] = 10


def test_the_probe_names_a_collapse_that_two_probes_in_a_row_show():
    assert checks.probe_collapse([COLLAPSED], FLOOR, T) is None  # one probe is not enough
    assert checks.probe_collapse([HEALTHY, COLLAPSED], FLOOR, T) is None
    finding = checks.probe_collapse([HEALTHY, COLLAPSED, COLLAPSED], FLOOR, T)
    assert finding.failure == "mode_collapse" and finding.may_be_overfitting
    assert "recall 0.02; real images 0.90, threshold 15% of it" in finding.evidence
    assert "KL 0.90 > 0.5" in finding.evidence and "only 6 of 10 classes" in finding.evidence


def test_one_sign_alone_is_what_every_run_shows_early():
    # A healthy run's first probes: realistic but narrow samples, every class there.
    early = {**HEALTHY, "recall": 0.0, "precision": 0.99}
    assert checks.probe_collapse([early, early], FLOOR, T) is None
    # Unrealistic samples with low recall are not a collapse (just bad samples).
    blurry = {**COLLAPSED, "precision": 0.1, "class_kl": 0.2, "classes_covered": 10}
    assert checks.probe_collapse([blurry, blurry], FLOOR, T) is None
    # Without a floor, recall counts for nothing; KL and missing classes still do.
    assert checks.probe_collapse([COLLAPSED, COLLAPSED], None, T) is not None


def test_probes_before_the_grace_step_do_not_count():
    # kgan's defaults on Fashion-MNIST (seed 3, 100-step epochs): narrow at steps 100
    # and 200, then every class but one. The naive first try stays narrow.
    def at(step, probe):
        return {**probe, "step": step}

    early = [at(100, COLLAPSED), at(200, COLLAPSED)]
    assert checks.probe_collapse(early, FLOOR, T) is None
    healthy_after = early + [at(300, COLLAPSED), at(400, HEALTHY)]
    assert checks.probe_collapse(healthy_after, FLOOR, T) is None
    assert checks.probe_collapse(healthy_after[:3], FLOOR, T) is None  # one counted probe
    stays = early + [at(300, COLLAPSED), at(400, COLLAPSED)]
    assert checks.probe_collapse(stays, FLOOR, T).failure == "mode_collapse"
    # A record without a step (another caller's) counts.
    assert checks.probe_collapse(early + [COLLAPSED], FLOOR, T) is None
    assert checks.probe_collapse([COLLAPSED, COLLAPSED], FLOOR, T) is not None
    no_grace = dataclasses.replace(T, collapse_grace=0)
    assert checks.probe_collapse(early, FLOOR, no_grace) is not None


def test_getting_worse_needs_a_run_of_rises_well_above_the_best():
    fcds = list(enumerate([50, 30, 20, 21, 23, 25], start=1))
    finding = checks.getting_worse(fcds, T)
    assert finding.failure == "getting_worse" and finding.advice == "getting_worse"
    assert "rose in each of the last 3 probes, to 25, 25% above its best 20 at epoch 3" in (
        finding.evidence
    )
    assert checks.getting_worse(fcds[:-1], T) is None  # 23: only 15% above, 2 rises
    noisy = list(enumerate([50, 30, 20, 24, 22, 25, 26], start=1))
    assert checks.getting_worse(noisy, T) is None  # a fall in between
    flat = list(enumerate([50, 30, 20, 20.5, 20.8, 21], start=1))
    assert checks.getting_worse(flat, T) is None  # rising, but within 10% of the best


# === Advice and records ===


def _probe(epoch, fcd=None, **metrics):
    return {"epoch": epoch, "fcd": fcd, "classes_covered": None, "duplicates": None, **metrics}


def test_probe_findings_judge_the_latest_probe_on_what_it_measured():
    rising = [_probe(e, f) for e, f in enumerate([30.0, 20.0, 21.0, 23.0, 25.0], 1)]
    assert [f.failure for f in checks.probe_findings(rising, None, T)] == ["getting_worse"]
    assert checks.probe_findings(rising[:-1], None, T) == []
    # A NaN FCD is named, and the stalled and rising checks skip it.
    diverged = rising + [_probe(6, float("nan"))]
    assert [f.failure for f in checks.probe_findings(diverged, None, T)] == ["non_convergence"]
    # A label-free probe (no FCD): its copies are judged alone.
    copies = [_probe(1, duplicates=0.01), _probe(2, duplicates=0.6)]
    assert [f.evidence[:3] for f in checks.probe_findings(copies, None, T)] == ["60%"]
    assert checks.probe_findings(copies[:1], None, T) == []


def test_probe_records_are_read_from_logs_and_replayed_from_history():
    from kgan.health import journal

    keys = ("fcd", "duplicates")
    assert journal.probe_record(3, {"d_loss": 1.0}, keys) is None  # no probe this epoch
    record = journal.probe_record(3, {"fcd": float("nan"), "duplicates": 0.0}, keys)
    assert record["epoch"] == 3 and np.isnan(record["fcd"]) and record["duplicates"] == 0.0
    assert record["step"] is None
    assert journal.probe_record(3, {"fcd": 1.0}, keys, step=300)["step"] == 300
    rows = [
        {"epoch": "1", "fcd": "12.5", "duplicates": "0.01", "d_loss": "1.2"},
        {"epoch": "2", "fcd": "", "duplicates": "", "d_loss": "1.1"},  # not probed
        {"epoch": "3", "fcd": "9.0", "duplicates": "0.0", "d_loss": "1.0"},
    ]
    assert journal.replayed_probes(rows, 2, keys) == [
        {"epoch": 1, "step": None, "fcd": 12.5, "duplicates": 0.01}
    ]
    replayed = journal.replayed_probes(rows, 3, keys, steps_per_epoch=100)
    assert [(r["epoch"], r["step"]) for r in replayed] == [(1, 100), (3, 300)]


def test_suggestions_name_the_learning_rate_that_stands_out():
    assert advice.suggest("mode_collapse", (2e-4, 2e-4)) == SUGGESTIONS["mode_collapse"]
    assert advice.suggest("unstable") == SUGGESTIONS["unstable"]
    fast_d = advice.suggest("diminished_gradient", (2e-4, 1e-2))
    assert "--d_lr=0.01 is 50x --g_lr=0.0002; use one rate for both" in fast_d
    assert "(now 0.002 and 0.002;" in advice.suggest("unstable", (2e-3, 2e-3))
    assert "bring it down to --d_lr's value" in advice.suggest("unstable", (1e-2, 2e-4))
    assert advice.suggest("diverged", (1.0, 1.0)).endswith("Now: --g_lr=1, --d_lr=1.")


def test_adam_momentum_above_dcgans_is_the_first_suggestion():
    naive = advice.suggest("mode_collapse", (1.5e-4, 1.5e-4), beta_1=0.9)
    assert naive.startswith("set --beta_1=0.5: Adam's default momentum 0.9 is what fails")
    assert naive.endswith(SUGGESTIONS["mode_collapse"])
    assert advice.suggest("mode_collapse", (2e-4, 2e-4), beta_1=0.5) == SUGGESTIONS["mode_collapse"]
    assert "--beta_1" not in advice.suggest("getting_worse", beta_1=0.9)


def test_a_record_is_a_health_jsonl_line_with_its_cause():
    finding = Finding("mode_collapse", "one image", "mode_collapse", may_be_overfitting=True)
    record = finding.record(3, 120)
    assert list(record) == ["epoch", "step", "failure", "evidence", "suggestion"]
    assert record["suggestion"] == SUGGESTIONS["mode_collapse"]
    blamed = finding.record(3, 120, cause=Cause("d_overfitting", "D overfits", "augment"))
    assert blamed["evidence"] == "one image; the cause: D overfits"
    assert blamed["suggestion"] == "augment" and blamed["cause"] == "d_overfitting"
    assert finding.record(3, 120, suggestion="lower --g_lr")["suggestion"] == "lower --g_lr"


def test_an_epoch_status_is_its_most_severe_failure():
    assert HealthStatus.worst(set()) == "ok"
    assert HealthStatus.worst({"unstable", "mode_collapse"}) == "mode_collapse"
    assert float(HealthStatus.worst({"non_convergence", "unstable"})) == 5.0
    assert HealthStatus.worst({"getting_worse", "unstable"}) == "unstable"
