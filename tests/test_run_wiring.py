"""`train()`'s wiring end to end: one RunFolder, one step, one ordered callback list."""

import json
import os
import signal
import sys

import pytest

from tests.conftest import REPO, run_python, tiny_config

STEPS = 60  # per epoch: the health monitor's 50-step window fills in epoch 1
KILL_AT = 130  # a global step inside epoch 3
# d_lr 0.1 on the tiny networks: D's loss swings, the monitor names "unstable"
# (augmentation off: ADA would tame the fast D this scenario needs).
SETTINGS = dict(
    epochs=3, steps_per_epoch=STEPS, d_lr=0.1, checkpoint_every=25, report=False, augment="off"
)

CHILD = """
import os, signal, sys
sys.path.insert(0, {repo!r})
import keras
from tests.conftest import tiny_config
from kgan.training import train

class KillAt(keras.callbacks.Callback):
    '''SIGKILL, no clean-up: the process dies as a crash or an OOM kill would.'''
    def __init__(self, step):
        super().__init__()
        self.step = step
    def on_train_batch_end(self, batch, logs=None):
        if self.model.g_optimizer.iterations.numpy() >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)

config = tiny_config(dataset={dataset!r}, out_dir={out!r}, **{settings!r})
train(config, callbacks=[KillAt({kill_at})] if {kill_at} else [], verbose=0)
"""


def _findings(out_dir):
    with open(os.path.join(out_dir, "health.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def _child(idx_folder, out_dir, kill_at):
    code = CHILD.format(
        repo=REPO, dataset=idx_folder, out=out_dir, settings=SETTINGS, kill_at=kill_at
    )
    return run_python(code, timeout=600)


@pytest.mark.slow
def test_a_killed_and_resumed_run_keeps_its_health_findings_and_their_steps(mnist_dir, tmp_path):
    out_dir = str(tmp_path / "run")
    killed = _child(mnist_dir, out_dir, KILL_AT)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    before = _findings(out_dir)
    finished = [f for f in before if f["epoch"] <= 2]
    assert {f["epoch"] for f in finished} == {1, 2}, before
    assert all(f["failure"] == "unstable" for f in finished), before

    resumed = _child(mnist_dir, out_dir, 0)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = _findings(out_dir)
    # Every finding of the finished epochs survives the resume, unchanged ...
    assert [f for f in after if f["epoch"] <= 2] == finished
    # ... and every step (old and new) lies inside its epoch: steps continue, never restart.
    for finding in after:
        epoch = finding["epoch"]
        assert (epoch - 1) * STEPS < finding["step"] <= epoch * STEPS, finding
    with open(os.path.join(out_dir, "history.csv")) as f:
        assert [line.split(",")[0] for line in f][1:] == ["1", "2", "3"]


def test_every_callback_that_counts_steps_reads_the_runs_one_clock(idx_folder, tmp_path):
    import keras
    import tensorflow as tf

    from kgan.callbacks import GlobalStep, MidEpochResume, StepCallback, standard_callbacks
    from kgan.data import load_source
    from kgan.distribute import worker_role
    from kgan.run_folder import RunFolder
    from kgan.training import build_gan

    config = tiny_config(dataset=idx_folder, out_dir=str(tmp_path / "run"), eval_every=0)
    source = load_source(config.dataset)
    strategy = tf.distribute.get_strategy()
    run = RunFolder.start(config, worker_role(strategy), source)
    gan = build_gan(config, source.image_shape)
    run.resume(gan, strategy)

    class Extra(keras.callbacks.Callback):
        pass

    extra = Extra()
    callbacks = standard_callbacks(run, gan, source, extra=[extra])
    clocks = [c for c in callbacks if isinstance(c, GlobalStep)]
    assert clocks == [run.clock]
    stepped = [c for c in callbacks if isinstance(c, StepCallback)]
    assert len(stepped) == 4  # non-finite stop, health, TensorBoard, checkpoints
    assert all(c.clock is run.clock for c in stepped)
    names = [type(c).__name__ for c in callbacks]
    # A fresh run: no MidEpochResume; the clock first, the checkpoint last.
    assert not any(isinstance(c, MidEpochResume) for c in callbacks)
    assert names[0] == "GlobalStep" and names[-1] == "CheckpointSaver"
    assert names.index("GANHealthMonitor") < names.index("HistoryCSV") < names.index("Extra")
    assert names.index("Extra") < names.index("TensorBoardLogger")


def test_the_clock_recovers_each_steps_own_values_from_running_means():
    from kgan.callbacks import GlobalStep

    clock = GlobalStep(initial_step=10)
    clock.set_params({"steps": 5})
    clock.on_train_begin()
    clock.on_epoch_begin(2)
    losses = [1.0, 3.0, 2.0, 6.0]
    means = [sum(losses[: i + 1]) / (i + 1) for i in range(len(losses))]
    seen = []
    for batch, mean in enumerate(means):
        clock.on_train_batch_end(batch, {"d_loss": mean, "health": "ok"})
        seen.append((clock.step, clock.latest["d_loss"]))
    assert seen == [(11, 1.0), (12, 3.0), (13, 2.0), (14, 6.0)]
    assert "health" not in clock.latest
    # Steps run in groups (steps_per_execution=2): one report per group, its mean.
    grouped = GlobalStep(initial_step=0)
    grouped.set_params({"steps": 4})
    grouped.on_train_begin()
    grouped.on_epoch_begin(0)
    grouped.on_train_batch_end(1, {"d_loss": 2.0})
    grouped.on_train_batch_end(3, {"d_loss": 3.0})
    assert (grouped.step, grouped.span, grouped.latest["d_loss"]) == (4, 2, 4.0)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
