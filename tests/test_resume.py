"""A run killed at any moment resumes where its last checkpoint left it, exactly."""

import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from kgan.checkpoint import list_checkpoints, read_state
from tests.conftest import REPO, write_idx

STEPS = 10  # per epoch
RUN = [
    "--epochs=3",
    f"--steps_per_epoch={STEPS}",
    "--batch_size=8",
    "--latent_dim=8",
    "--g_filters=16",
    "--d_filters=8",
    "--g_kernel_size=3",
    "--d_kernel_size=3",
    "--num_samples=4",
    "--checkpoint_every=1",
    "--deterministic",
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """96 random 28x28 images: 12 batches of 8 per pass."""
    folder = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    write_idx(str(folder / "train-images-idx3-ubyte.gz"), rng.integers(0, 256, (96, 28, 28)))
    return str(folder)


def _command(dataset, out_dir):
    return [
        sys.executable,
        os.path.join(REPO, "train.py"),
        f"--dataset={dataset}",
        f"--out_dir={out_dir}",
        *RUN,
    ]


def _env():
    return dict(os.environ, PYTHONPATH=REPO)


def _run(dataset, out_dir):
    result = subprocess.run(
        _command(dataset, out_dir), capture_output=True, text=True, timeout=300, env=_env()
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def reference(dataset, tmp_path_factory):
    """An uninterrupted run of the command the tests crash."""
    out_dir = str(tmp_path_factory.mktemp("reference") / "run")
    _run(dataset, out_dir)
    return out_dir


def _history(out_dir):
    with open(os.path.join(out_dir, "history.csv")) as f:
        return list(csv.DictReader(f))


def _final_variables(out_dir):
    """Every variable of the newest checkpoint: networks, optimizers, seeds."""
    path = os.path.join(list_checkpoints(os.path.join(out_dir, "checkpoints"))[0], "variables")
    reader = tf.train.load_checkpoint(path)
    names = [n for n, _ in tf.train.list_variables(path) if n != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    return {n: reader.get_tensor(n) for n in names}


def _wait_for_step(out_dir, step, process, timeout=240):
    """Polls the checkpoints until one of at least `step` exists."""
    folder = os.path.join(out_dir, "checkpoints")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be killed"
        found = list_checkpoints(folder)
        if found and read_state(found[0])["step"] >= step:
            return
        time.sleep(0.01)
    raise AssertionError(f"no checkpoint of step {step} within {timeout}s")


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_and_ends_like_an_uninterrupted_one(
    dataset, reference, tmp_path
):
    out_dir = str(tmp_path / "run")
    process = subprocess.Popen(
        _command(dataset, out_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    try:
        _wait_for_step(out_dir, STEPS + 2, process)  # two steps into epoch 2
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL

    newest = read_state(list_checkpoints(os.path.join(out_dir, "checkpoints"))[0])["step"]
    assert STEPS < newest < 2 * STEPS, "the kill should land inside epoch 2"
    assert [row["epoch"] for row in _history(out_dir)] == ["1"]

    result = _run(dataset, out_dir)
    assert f"resuming from {os.path.join(out_dir, 'checkpoints')}" in result.stderr
    assert f"step {newest}, epoch 2 of 3 ({newest - STEPS} steps into it)" in result.stderr
    # The step counter went on: 3 epochs of 10 steps in all, no epoch twice.
    assert read_state(list_checkpoints(os.path.join(out_dir, "checkpoints"))[0])["step"] == 30
    assert [row["epoch"] for row in _history(out_dir)] == ["1", "2", "3"]
    # The same history (epoch 2's means include its steps before the kill) ...
    assert _history(out_dir) == _history(reference)
    # ... and bit for bit the same weights, optimizer slots and seed states.
    resumed, uninterrupted = _final_variables(out_dir), _final_variables(reference)
    assert resumed.keys() == uninterrupted.keys()
    assert any(name.startswith("model_variables/") for name in resumed)  # seed states
    for name, value in uninterrupted.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)


@pytest.mark.slow
def test_deterministic_runs_give_bit_identical_generators(dataset, reference, tmp_path):
    out_dir = str(tmp_path / "again")
    _run(dataset, out_dir)
    # Every variable of the model (both networks) and of both optimizers.
    again, first = _final_variables(out_dir), _final_variables(reference)
    assert again.keys() == first.keys() and len(first) > 50
    for name, value in first.items():
        np.testing.assert_array_equal(again[name], value, err_msg=name)
    # The exported generators agree bit for bit.
    z = tf.random.stateless_normal((4, 8), seed=(1, 2))
    served = [tf.saved_model.load(os.path.join(d, "generator")) for d in (out_dir, reference)]
    np.testing.assert_array_equal(served[0].serve(z), served[1].serve(z))
