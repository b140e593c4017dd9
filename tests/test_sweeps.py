"""The step-budget sweeps behind the ladder and the robustness grid: what they run and count."""

import json

import numpy as np
import pytest

from benchmarks import sweep
from benchmarks.ladder import RUNGS, STEPS


def _config(overrides):
    return sweep.make_config(overrides, "mnist", 0, 700)


def test_rung_0_is_the_naive_first_try_of_the_issue():
    config = _config(RUNGS["0_naive"][1])
    assert not config.separate_batches
    assert (config.g_activation, config.d_activation) == ("relu", "relu")
    assert (config.g_output, config.upsample) == ("sigmoid", "upsample_conv")
    assert (config.g_dropout, config.d_dropout) == (0.3, 0.0)
    assert (config.beta_1, config.g_lr, config.d_lr) == (0.9, 1.5e-4, 1.5e-4)
    assert (config.label_flip, config.label_smoothing) == (0.0, 0.0)
    assert (config.discriminator, config.ema, config.augment, config.balance) == (
        "dcgan",
        0.0,
        "off",
        "off",
    )


def test_each_rung_adds_its_own_technique_to_the_one_before_and_rung_7_is_the_defaults():
    previous = {}
    for name, _, added in STEPS:
        overrides = RUNGS[name][1]
        assert overrides == {**previous, **added}
        previous = overrides
    assert _config(RUNGS["7_augment"][1]) == _config({})
    assert _config(RUNGS["8_balance"][1]).balance == "auto"
    # The branch and the mission's story are off the main line.
    assert RUNGS["5b_patchgan"][1] == {**RUNGS["5_smoothing"][1], "discriminator": "patchgan"}
    assert _config(RUNGS["story_7_lr1e-4"][1]).g_lr == 1e-4


def _record(setting, seed, fcd, classes=10, health=(), **extra):
    return {
        "setting": setting,
        "dataset": "mnist",
        "seed": seed,
        "budget_steps": 700,
        "fcd": fcd,
        "classes_covered": classes,
        "health": list(health),
        **extra,
    }


def test_success_needs_fcd_under_the_factor_and_every_class():
    floor = 0.5
    assert sweep.succeeded(_record("a", 0, 49.0), floor)  # 98x the floor
    assert not sweep.succeeded(_record("a", 0, 51.0), floor)  # 102x
    assert not sweep.succeeded(_record("a", 0, 10.0, classes=9), floor)
    assert not sweep.succeeded(_record("a", 0, float("nan")), floor)
    assert not sweep.succeeded(_record("a", 0, None), floor)


def test_the_summary_counts_each_run_once_and_names_the_failures():
    records = [
        _record("a", 0, 10.0),
        _record("a", 0, 90.0),  # a duplicate of seed 0 (two sweeps raced): not counted
        _record("a", 1, 60.0, health=["diminished_gradient"]),
        _record("a", 2, None, health=[], error="InvalidArgumentError: NaN"),
        _record("a", 3, 20.0, classes=8),
        {**_record("a", 4, 1.0), "budget_steps": 10},  # another budget: ignored
    ]
    summary = sweep.summarise(records, {"mnist": 0.5})[("a", "mnist")]
    assert (summary.runs, summary.wins) == (4, 1)
    assert (summary.median, summary.low, summary.high) == (40.0, 20.0, 120.0)
    assert dict(summary.named) == {"diminished_gradient": 1, "diverged": 1, "none": 1}
    assert sweep.describe_named(summary.named) == "diminished_gradient x1, diverged x1, none x1"


def test_a_record_is_judged_against_its_own_floor_where_it_has_one():
    # Seed 1 was made where the classifier's floor is 1.0: 60 is 60x it, a success.
    records = [_record("a", 0, 60.0), {**_record("a", 1, 60.0), "floor_fcd": 1.0}]
    summary = sweep.summarise(records, {"mnist": 0.5})[("a", "mnist")]
    assert summary.wins == 1 and (summary.low, summary.high) == (60.0, 120.0)


def test_a_sweep_runs_seed_major_skips_what_is_recorded_and_keeps_seed_0s_grids(
    tmp_path, monkeypatch
):
    calls = []

    def fake_run(name, overrides, dataset, seed, steps, num_samples, grid, floor_fcd):
        assert floor_fcd == 0.3
        calls.append((name, seed, grid))
        record = {"fcd": 1.0, "classes_covered": 10, "health": []}
        if grid:
            record["grid"] = np.zeros((4, 4, 1), "uint8")
        return record

    floors_asked = []

    def fake_floors(datasets):
        floors_asked.append(datasets)
        return {d: 0.3 for d in datasets}

    monkeypatch.setattr(sweep, "run_one", fake_run)
    monkeypatch.setattr(sweep, "floors", fake_floors)
    out = tmp_path / "results.jsonl"
    out.write_text(json.dumps(_record("b", 0, 1.0)) + "\n")  # b's seed 0 is done
    settings = {"a": {"ema": 0.0}, "b": {"ema": 0.5}}
    sweep.sweep("test", settings, ["mnist"], 2, str(out), str(tmp_path / "grids"))
    assert calls == [("a", 0, True), ("a", 1, False), ("b", 1, False)]
    assert (tmp_path / "grids" / "mnist_a.png").exists()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["setting"], r["seed"]) for r in records] == [("b", 0), ("a", 0), ("a", 1), ("b", 1)]
    assert records[1]["overrides"] == {"ema": 0.0} and records[1]["budget_steps"] == 700
    assert floors_asked == [["mnist"]]  # once per dataset, not per run
    # Run again: nothing is left to do.
    sweep.sweep("test", settings, ["mnist"], 2, str(out))
    assert len(calls) == 3


def test_a_run_that_crashes_is_a_failed_record_not_the_end_of_the_sweep(monkeypatch):
    import benchmarks.budget

    def diverge(*args, **kwargs):
        raise FloatingPointError("NaN in the generator's output")

    monkeypatch.setattr(benchmarks.budget, "train_and_score", diverge)
    record = sweep.run_one("x", {}, "mnist", 0, 700, 100, False, 0.3)
    assert record["fcd"] is None and "FloatingPointError" in record["error"]
    assert record["floor_fcd"] == 0.3


@pytest.mark.parametrize("rung", sorted(RUNGS))
def test_every_rung_is_a_valid_config(rung):
    _config(RUNGS[rung][1])  # raises UserError on a bad field


def test_pick_keeps_the_order_given_and_names_unknown_settings():
    from absl import app

    known = {"a": 1, "b": 2, "c": 3}
    assert list(sweep.pick(["c", "a"], known, "settings").items()) == [("c", 3), ("a", 1)]
    with pytest.raises(app.UsageError, match=r"--settings: unknown \['z'\]; known: a, b, c"):
        sweep.pick(["a", "z"], known, "settings")
