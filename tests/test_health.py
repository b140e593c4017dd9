"""GANHealthMonitor: each failure named on a run built to fail that way, quiet on a healthy one."""

import csv
import json
import math
import os

import keras
import numpy as np
import pytest

from kgan.callbacks import GANHealthMonitor, HealthStatus, HistoryCSV
from kgan.gan import GAN
from tests.conftest import tiny_config

HEALTHY = {
    "d_loss": (1.36, 0.03),
    "g_loss": (0.72, 0.06),
    "d_real_acc": (0.62, 0.2),
    "d_fake_acc": (0.55, 0.2),
    "d_grad_norm": (3.0, 1.0),
    "g_grad_norm": (0.6, 0.1),
}


def _stream(steps, seed=0, **overrides):
    """Per-step values: healthy noise around HEALTHY, with arrays in `overrides`."""
    rng = np.random.default_rng(seed)
    values = {}
    for key, (mean, std) in HEALTHY.items():
        values[key] = np.abs(rng.normal(mean, std, steps))
        if key.endswith("acc"):
            values[key] = np.clip(values[key], 0, 1)
    for key, value in overrides.items():
        values[key] = np.broadcast_to(np.asarray(value, dtype=np.float64), (steps,)).copy()
    return values


def _feed(monitor, values, steps_per_epoch, steps_per_execution=1):
    """Plays `values` to `monitor` as `fit` and kgan's `train_step` do.

    Each call's logs are the epoch's running means; the GAN's own values of
    the call's last step go through `track`, as `train_step` hands them over.
    """
    steps = len(values["d_loss"])
    for epoch in range(math.ceil(steps / steps_per_epoch)):
        monitor.on_epoch_begin(epoch)
        start = epoch * steps_per_epoch
        end = min(start + steps_per_epoch, steps)
        for last in range(start + steps_per_execution - 1, end, steps_per_execution):
            logs = {k: float(np.mean(values[k][start : last + 1])) for k in values}
            monitor.model.track(**{k: float(values[k][last]) for k in values})
            monitor.on_train_batch_end(last - start, logs)
            if monitor.model.stop_training:
                return
        monitor.on_epoch_end(epoch, {})


def _monitor(gan, tmp_path=None, **kwargs):
    monitor = GANHealthMonitor(str(tmp_path) if tmp_path else None, **kwargs)
    monitor.set_model(gan)
    gan.stop_training = False
    monitor.on_train_begin()
    return monitor


def _failures(monitor):
    return [f["failure"] for f in monitor.findings]


@pytest.mark.parametrize("steps_per_execution", [1, 3])
def test_the_monitor_sees_each_steps_own_values(tiny_gan, steps_per_execution):
    values = _stream(90)
    monitor = _monitor(tiny_gan)
    _feed(monitor, values, steps_per_epoch=30, steps_per_execution=steps_per_execution)
    # The window holds the last 50 steps handed over (the last of each execution).
    expected = values["g_loss"][steps_per_execution - 1 :: steps_per_execution]
    recovered = np.asarray(monitor.history["g_loss"])
    np.testing.assert_allclose(recovered, expected[-len(recovered) :], rtol=1e-6)
    assert monitor.step == 90


def test_a_healthy_stream_is_quiet(tiny_gan):
    values = _stream(400)
    monitor = _monitor(tiny_gan)
    _feed(monitor, values, steps_per_epoch=80)
    assert monitor.findings == []
    # Quiet having watched the whole stream, not for want of seeing it.
    assert monitor.step == 400 and not tiny_gan.stop_training
    window = np.asarray(monitor.history["d_loss"])
    np.testing.assert_allclose(window, values["d_loss"][-len(window) :], rtol=1e-6)
    # The same monitor names a failure in that stream once it comes.
    losses = values["d_loss"].copy()
    losses[-1] = np.nan
    alarmed = _monitor(tiny_gan)
    _feed(alarmed, dict(values, d_loss=losses), steps_per_epoch=80)
    assert _failures(alarmed) == ["non_convergence"]


def test_d_winning_while_g_gradient_fades_is_diminished_gradient(tiny_gan, tmp_path):
    steps = 200
    fading = np.linspace(10.0, 2.0, steps)
    winning = {"d_real_acc": 0.98, "d_fake_acc": 0.99, "g_loss": 2.5, "d_loss": 0.9}
    monitor = _monitor(tiny_gan, tmp_path)
    _feed(monitor, _stream(steps, g_grad_norm=fading, **winning), steps_per_epoch=100)
    assert "diminished_gradient" in _failures(monitor)
    first = monitor.findings[0]
    assert "D was right on both" in first["evidence"] and "--d_lr" in first["suggestion"]

    # With D's learning rate far above G's, the suggestion names it.
    from kgan.training import build_gan

    fast_d = build_gan(tiny_config(d_lr=1e-2), (28, 28, 1))
    named = _monitor(fast_d)
    _feed(named, _stream(steps, g_grad_norm=fading, **winning), steps_per_epoch=100)
    assert "--d_lr=0.01 is 50x --g_lr=0.0002" in named.findings[0]["suggestion"]

    # D winning while G's gradient holds up is not called diminished.
    steady = _monitor(tiny_gan)
    _feed(steady, _stream(steps, g_grad_norm=10.0, **winning), steps_per_epoch=100)
    assert "diminished_gradient" not in _failures(steady)


def test_d_sure_of_every_real_image_is_named_overfitting_with_the_augment_flag(tmp_path):
    from kgan.training import build_gan

    steps = 200
    fading = np.linspace(10.0, 2.0, steps)
    winning = {"d_real_acc": 0.98, "d_fake_acc": 0.99, "g_loss": 2.5, "d_loss": 0.9}
    suggestions = {}
    for mode in ("off", "fixed", "adaptive"):
        gan = build_gan(tiny_config(augment=mode, augment_p=0.5), (28, 28, 1))
        monitor = _monitor(gan, tmp_path / mode)
        p = {"off": 0.0, "fixed": 0.5, "adaptive": 0.2}[mode]
        stream = _stream(steps, g_grad_norm=fading, d_real_sign=0.97, augment_p=p, **winning)
        _feed(monitor, stream, steps_per_epoch=100)
        finding = next(f for f in monitor.findings if f["failure"] == "diminished_gradient")
        assert finding["cause"] == "d_overfitting"
        assert "D overfits" in finding["evidence"] and "r_t" in finding["evidence"]
        assert "0.97" in finding["evidence"]
        suggestions[mode] = finding["suggestion"]
        with open(tmp_path / mode / "health.jsonl") as f:
            assert json.loads(f.readline())["cause"] == "d_overfitting"
    assert "--augment=adaptive" in suggestions["off"]
    assert "--augment_p (now 0.50)" in suggestions["fixed"]
    assert "--ada_kimg" in suggestions["adaptive"] and "p = 0.20" in suggestions["adaptive"]

    # The same failure with D unsure of the real images has no such cause.
    gan = build_gan(tiny_config(augment="off"), (28, 28, 1))
    unsure = _monitor(gan)
    _feed(unsure, _stream(steps, g_grad_norm=fading, d_real_sign=0.3, **winning), 100)
    finding = next(f for f in unsure.findings if f["failure"] == "diminished_gradient")
    assert "cause" not in finding and "--d_lr" in finding["suggestion"]


def test_nan_is_non_convergence_at_once_and_stop_stops(tiny_gan, tmp_path):
    losses = np.full(60, 1.3)
    losses[7] = np.nan
    monitor = _monitor(tiny_gan, tmp_path, on_failure="stop")
    _feed(monitor, _stream(60, d_loss=losses), steps_per_epoch=30)
    assert _failures(monitor) == ["non_convergence"]
    assert (
        monitor.findings[0]["step"] == 8 and "d_loss became nan" in monitor.findings[0]["evidence"]
    )
    assert tiny_gan.stop_training


def test_exploding_losses_are_non_convergence(tiny_gan):
    monitor = _monitor(tiny_gan)
    exploding = np.geomspace(1.0, 1e5, 100)
    _feed(monitor, _stream(100, d_loss=exploding, g_loss=exploding), steps_per_epoch=100)
    assert _failures(monitor)[0] == "non_convergence"
    assert "diverged" in monitor.findings[0]["evidence"]


def test_a_swinging_d_loss_is_unstable(tiny_gan):
    swinging = np.where(np.arange(100) % 3 == 0, 6.0, 0.9)
    monitor = _monitor(tiny_gan)
    _feed(monitor, _stream(100, d_loss=swinging), steps_per_epoch=100)
    assert _failures(monitor) == ["unstable"]
    assert "lower the learning rate" in monitor.findings[0]["suggestion"]


def _epoch_logs(monitor, sequence, steps_per_epoch=300):
    """Runs epoch ends with the given quality logs; returns each epoch's health."""
    statuses = []
    for epoch, logs in enumerate(sequence):
        monitor.on_epoch_begin(epoch)
        monitor.clock.step = (epoch + 1) * steps_per_epoch
        logs = dict(logs)
        monitor.on_epoch_end(epoch, logs)
        statuses.append(logs["health"])
    return statuses


def test_quality_that_stops_improving_is_non_convergence(tiny_gan):
    improving = _monitor(tiny_gan)
    fcds = [80, 60, 45, 35, 28, 24, 21, 19, 17.5, 16.4]
    assert _epoch_logs(improving, [{"fcd": f} for f in fcds]) == ["ok"] * len(fcds)

    stalled = _monitor(tiny_gan)
    fcds = [80, 60, 45, 46, 47, 45.5, 48, 46]
    statuses = _epoch_logs(stalled, [{"fcd": f} for f in fcds])
    assert statuses[:7] == ["ok"] * 7 and statuses[7] == "non_convergence"
    assert "no quality gain in the last 5 evaluations" in stalled.findings[0]["evidence"]


def test_losing_classes_or_filling_with_copies_is_mode_collapse(tiny_gan):
    monitor = _monitor(tiny_gan)
    sequence = [
        {"classes_covered": 3, "duplicates": 1.0},  # early samples are alike: not a collapse
        {"classes_covered": 10, "duplicates": 0.01},
        {"classes_covered": 9, "duplicates": 0.02},
        {"classes_covered": 4, "duplicates": 0.03},
        {"classes_covered": 9, "duplicates": 0.9},
    ]
    statuses = _epoch_logs(monitor, sequence)
    assert statuses == ["ok", "ok", "ok", "mode_collapse", "mode_collapse"]
    assert "cover 4 classes, down from 10" in monitor.findings[0]["evidence"]
    assert "near-copy" in monitor.findings[1]["evidence"]


def test_health_status_reads_as_its_name_and_counts_as_a_number(tmp_path):
    status = HealthStatus("mode_collapse")
    assert status == "mode_collapse" and status != "ok" and str(status) == "mode_collapse"
    assert not HealthStatus("ok") != "ok"
    assert float(status) == 4.0 and HealthStatus("ok") == 0
    path = str(tmp_path / "history.csv")
    history = HistoryCSV(path)
    history.on_train_begin()
    history.on_epoch_end(0, {"d_loss": 1.0, "health": HealthStatus("ok")})
    history.on_epoch_end(1, {"d_loss": 1.0, "health": status})
    with open(path) as f:
        assert [row["health"] for row in csv.DictReader(f)] == ["ok", "mode_collapse"]


def test_health_jsonl_lines_and_resume(tiny_gan, tmp_path):
    monitor = _monitor(tiny_gan, tmp_path)
    _feed(monitor, _stream(100, d_loss=np.where(np.arange(100) % 3 == 0, 6.0, 0.9)), 50)
    with open(tmp_path / "health.jsonl") as f:
        lines = [json.loads(line) for line in f]
    assert [(line["epoch"], line["failure"]) for line in lines] == [
        (1, "unstable"),
        (2, "unstable"),
    ]
    assert set(lines[0]) == {"epoch", "step", "failure", "evidence", "suggestion"}
    # A run resumed after epoch 1 keeps epoch 1's findings only; a fresh run none.
    _monitor(tiny_gan, tmp_path, initial_epoch=1)
    with open(tmp_path / "health.jsonl") as f:
        assert [json.loads(line)["epoch"] for line in f] == [1]
    _monitor(tiny_gan, tmp_path)
    assert os.path.getsize(tmp_path / "health.jsonl") == 0


# === Real (tiny) runs on MNIST, each built to fail one way ===


class ConstantGAN(GAN):
    """A generator that ignores its noise: every latent is zero."""

    def sample_latents(self, batch_size):
        return keras.ops.zeros((batch_size, self.latent_dim))

    def sample(self, latents, conditions=None):
        return super().sample(keras.ops.zeros_like(latents), conditions)


def _run(mnist_dir, tmp_path, gan_class=GAN, **overrides):
    from kgan.training import train

    values = dict(
        dataset=mnist_dir,
        out_dir=str(tmp_path / "run"),
        batch_size=32,
        g_filters=32,
        d_filters=16,
        latent_dim=16,
        steps_per_epoch=50,
        epochs=3,
    )
    values.update(overrides)
    result = train(tiny_config(**values), gan_class=gan_class, verbose=0)
    path = tmp_path / "run" / "health.jsonl"
    findings = [json.loads(line) for line in open(path)] if path.exists() else []
    return result, [f["failure"] for f in findings]


@pytest.mark.slow
def test_a_healthy_short_run_stays_quiet(mnist_dir, tmp_path):
    result, failures = _run(mnist_dir, tmp_path)
    assert failures == []
    assert [str(h) for h in result.history["health"]] == ["ok", "ok", "ok"]


@pytest.mark.slow
def test_d_learning_rate_50x_is_diminished_gradient(mnist_dir, tmp_path):
    _, failures = _run(mnist_dir, tmp_path, d_lr=1e-2, epochs=5)
    assert "diminished_gradient" in failures
    assert "mode_collapse" not in failures


@pytest.mark.slow
def test_an_absurd_learning_rate_is_non_convergence_and_stop_ends_the_run(mnist_dir, tmp_path):
    result, failures = _run(mnist_dir, tmp_path, g_lr=1.0, d_lr=1.0, on_failure="stop")
    assert failures == ["non_convergence"]
    assert len(result.history["d_loss"]) == 1  # stopped in the first epoch
    assert (tmp_path / "run" / "generator" / "saved_model.pb").exists()


@pytest.mark.slow
def test_a_very_high_learning_rate_is_unstable(mnist_dir, tmp_path):
    _, failures = _run(mnist_dir, tmp_path, g_lr=0.1, d_lr=0.1, epochs=2)
    assert failures[0] == "unstable"


@pytest.mark.slow
def test_a_generator_ignoring_its_noise_is_mode_collapse(mnist_dir, tmp_path):
    result, failures = _run(mnist_dir, tmp_path, gan_class=ConstantGAN, epochs=1)
    assert failures == ["mode_collapse"]
    assert result.history["health"] == ["mode_collapse"]


def test_the_probe_names_a_collapse_and_a_run_getting_worse(tiny_gan):
    from types import SimpleNamespace

    floor = {"precision": 0.9, "recall": 0.9, "fcd": 0.6}
    monitor = _monitor(tiny_gan, probe=SimpleNamespace(floor=floor))
    collapsed = {"fcd": 50.0, "precision": 0.8, "recall": 0.01, "class_kl": 0.9}
    collapsed.update(classes_covered=8, classes_counted=10, duplicates=0.0)
    healthy = {**collapsed, "recall": 0.5, "class_kl": 0.1, "classes_covered": 10}
    statuses = _epoch_logs(monitor, [healthy, collapsed, collapsed])
    assert statuses == ["ok", "ok", "mode_collapse"]
    finding = monitor.findings[0]
    assert "quality probe's last 2 evaluations" in finding["evidence"]
    assert "recall 0.01; real images 0.90" in finding["evidence"]
    # kgan's defaults (beta_1 0.5): the usual advice, no momentum to blame.
    assert not finding["suggestion"].startswith("set --beta_1")
    # Probes before step 300 do not count: a healthy run starts narrow.
    short = _monitor(tiny_gan, probe=SimpleNamespace(floor=floor))
    statuses = _epoch_logs(short, [collapsed, collapsed, collapsed, healthy], steps_per_epoch=100)
    assert statuses == ["ok"] * 4 and short.probes[2]["step"] == 300

    naive = _monitor(tiny_gan, probe=SimpleNamespace(floor=floor))
    old_beta_1 = tiny_gan.g_optimizer.beta_1
    tiny_gan.g_optimizer.beta_1 = 0.9
    try:
        _epoch_logs(naive, [collapsed, collapsed])
    finally:
        tiny_gan.g_optimizer.beta_1 = old_beta_1
    assert naive.findings[0]["suggestion"].startswith("set --beta_1=0.5")

    worse = _monitor(tiny_gan, probe=SimpleNamespace(floor=floor))
    fcds = [30, 20, 18, 19, 20.5, 22]
    statuses = _epoch_logs(worse, [{**healthy, "fcd": f} for f in fcds])
    assert statuses == ["ok"] * 5 + ["getting_worse"]
    assert "its best 18 at epoch 3" in worse.findings[0]["evidence"]
