"""tf.distribute for real: two CPU replicas train exactly as one device does."""

import csv
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, write_idx


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """64 random 28x28 images: 8 batches of 8."""
    folder = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(1)
    write_idx(str(folder / "train-images-idx3-ubyte.gz"), rng.integers(0, 256, (64, 28, 28)))
    return str(folder)


@pytest.fixture(scope="module")
def child(dataset, tmp_path_factory):
    """Runs tests/distributed_child.py once (it needs a fresh process)."""
    out_dir = tmp_path_factory.mktemp("distributed")
    result = subprocess.run(
        [sys.executable, "-m", "tests.distributed_child", dataset, str(out_dir)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {name: dict(np.load(out_dir / f"{name}.npz")) for name in ("equality", "replicas")}


@pytest.mark.slow
def test_two_mirrored_replicas_train_exactly_like_one_device(child):
    values = child["equality"]
    one = {k[len("one/") :]: v for k, v in values.items() if k.startswith("one/")}
    assert any(k.startswith("g/generator_block1_bn") for k in one), "BatchNorm is covered"
    assert one["history/d_loss"].shape == (3,)
    for run in ("two", "resumed"):
        for key, expected in one.items():
            if run == "resumed" and key.startswith("history/"):
                expected = expected[1:]  # its fit ran epochs 2 and 3 only
            np.testing.assert_allclose(
                values[f"{run}/{key}"], expected, rtol=1e-5, atol=1e-6, err_msg=f"{run}: {key}"
            )
    # Logged losses are the global batch's, not divided by the replica count
    # (the check above compares them with one device's: here, a sanity bound).
    assert 1.0 < one["history/d_loss"].mean() < 2.0


@pytest.mark.slow
def test_each_replica_draws_its_own_latents_label_noise_and_dropout(child):
    values = child["replicas"]
    latents, targets, masks = values["latents"], values["targets"], values["masks"]
    assert latents.shape == (2, 4, 8)
    assert not np.allclose(latents[0], latents[1])
    assert not np.allclose(targets[0], targets[1])
    assert masks.shape == (2, 4, 6) and not np.array_equal(masks[0] == 0, masks[1] == 0)
    # The shared generator state stays one value on every replica.
    np.testing.assert_array_equal(values["states"][0], values["states"][1])
    # Outside a strategy the draws are those of a plain SeedGenerator.
    np.testing.assert_array_equal(values["replica_seed_generator"], values["plain"])


@pytest.mark.slow
def test_the_balance_controller_moves_by_the_mean_over_replicas(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "tests.distributed_child", "-", str(tmp_path), "balance"],
        check=True,
        capture_output=True,
        timeout=600,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=REPO),
    )
    # Each replica alone would move it its own way; the mean moves both up.
    np.testing.assert_allclose(np.load(tmp_path / "balance.npz")["balance"], [0.25, 0.25])


@pytest.mark.slow
def test_xla_is_refused_with_several_replicas(child):
    message = str(child["replicas"]["jit_message"])
    assert "--jit_compile with 2 replicas" in message and "drop --jit_compile" in message


def test_unknown_devices_and_missing_tpus_are_named():
    from kgan.distribute import make_strategy
    from kgan.errors import UserError

    with pytest.raises(UserError, match="--devices names /gpu:7, which this machine does not"):
        make_strategy("mirrored", "/gpu:7")
    with pytest.raises(UserError, match="--strategy=tpu found no TPU"):
        make_strategy("tpu")


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_local_workers_train_in_sync(dataset, tmp_path):
    out_dir = str(tmp_path / "run")
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    args = [
        sys.executable,
        os.path.join(REPO, "train.py"),
        f"--dataset={dataset}",
        f"--out_dir={out_dir}",
        "--strategy=multi_worker",
        "--epochs=2",
        "--steps_per_epoch=2",
        "--batch_size=8",
        "--latent_dim=8",
        "--g_filters=16",
        "--d_filters=8",
        "--g_kernel_size=3",
        "--d_kernel_size=3",
        "--num_samples=4",
    ]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, PYTHONPATH=REPO, TF_CONFIG=json.dumps(tf_config))
        processes.append(
            subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
        )
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=240))
    finally:
        for process in processes:
            process.kill()
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]

    # The chief writes the run; worker 1 its identical copy aside.
    def history(folder):
        with open(os.path.join(folder, "history.csv")) as f:
            return list(csv.DictReader(f))

    chief = history(out_dir)
    assert [row["epoch"] for row in chief] == ["1", "2"]
    assert chief == history(os.path.join(out_dir, ".worker-1"))
    assert os.path.isdir(os.path.join(out_dir, "generator"))
    assert os.listdir(os.path.join(out_dir, "checkpoints")) == ["ckpt-000000004"] or sorted(
        os.listdir(os.path.join(out_dir, "checkpoints"))
    ) == ["ckpt-000000002", "ckpt-000000004"]
