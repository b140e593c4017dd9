"""`python train.py` end to end, and every bad input it must explain in one line."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, assert_one_line_error, write_idx

TINY = [
    "--epochs=2",
    "--steps_per_epoch=3",
    "--batch_size=16",
    "--latent_dim=16",
    "--g_filters=32",
    "--d_filters=16",
    "--num_samples=16",
]


def run_train(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "train.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


def _check_run(out_dir, shape=(28, 28, 1)):
    import tensorflow as tf

    assert sorted(os.listdir(os.path.join(out_dir, "samples"))) == [
        "epoch_001.png",
        "epoch_002.png",
    ]
    with open(os.path.join(out_dir, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {"d_loss", "g_loss", "d_real_acc", "d_fake_acc", "d_grad_norm"} <= set(rows[0])
    with open(os.path.join(out_dir, "config.json")) as f:
        assert json.load(f)["image_size"] == shape[0]
    generator = tf.saved_model.load(os.path.join(out_dir, "generator"))
    images = generator.serve(tf.random.normal((4, 16))).numpy()
    assert images.shape == (4, *shape)
    assert images.min() >= -1.0 and images.max() <= 1.0 and images.std() > 0


@pytest.mark.slow
@pytest.mark.parametrize("head", ["dcgan", "patchgan"])
def test_train_py_end_to_end_on_real_mnist(mnist_dir, tmp_path, head):
    out_dir = str(tmp_path / "run")
    result = run_train(
        f"--dataset={mnist_dir}", f"--out_dir={out_dir}", f"--discriminator={head}", *TINY
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    _check_run(out_dir)
    if head == "patchgan":
        assert "PatchGAN head: 7x7 logits" in result.stderr


@pytest.mark.slow
def test_train_py_on_an_npz_file(tmp_path):
    path = str(tmp_path / "faces.npz")
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.integers(0, 256, (64, 32, 32, 3)).astype(np.uint8))
    out_dir = str(tmp_path / "run")
    result = run_train(f"--dataset={path}", f"--out_dir={out_dir}", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    _check_run(out_dir, shape=(32, 32, 3))


@pytest.mark.parametrize(
    "flag, fragments",
    [
        ("--g_lr=0", ["--g_lr=0.0", "positive number", "DCGAN uses 2e-4"]),
        ("--d_lr=-1", ["--d_lr=-1.0"]),
        ("--label_flip=0.7", ["--label_flip=0.7", "[0, 0.5]"]),
        ("--batch_size=0", ["--batch_size=0", ">= 1"]),
        ("--discriminator=resnet", ["--discriminator='resnet'", "dcgan, patchgan"]),
        ("--image_size=30", ["--image_size=30", "28, 32"]),
    ],
)
def test_bad_flags_fail_fast_with_one_line(flag, fragments):
    assert_one_line_error(run_train(flag), *fragments)


def test_unknown_tfds_name(tmp_path):
    result = run_train("--dataset=mnits", f"--out_dir={tmp_path}")
    assert_one_line_error(result, "--dataset=mnits", "Did you mean")


def test_missing_path(tmp_path):
    result = run_train(f"--dataset={tmp_path}/nowhere", f"--out_dir={tmp_path}/run")
    assert_one_line_error(result, "does not exist")


def test_folder_without_images(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "readme.txt").write_text("nothing")
    result = run_train(f"--dataset={tmp_path}/data", f"--out_dir={tmp_path}/run")
    assert_one_line_error(result, "holds no image files")


def test_corrupt_idx_file(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    path = str(folder / "train-images-idx3-ubyte")
    write_idx(path, np.zeros((10, 28, 28)))
    with open(path, "r+b") as f:
        f.truncate(500)
    result = run_train(f"--dataset={folder}", f"--out_dir={tmp_path}/run")
    assert_one_line_error(result, "train-images-idx3-ubyte", "download it again")


def test_unproducible_image_size_of_a_folder_dataset(tmp_path):
    path = str(tmp_path / "odd.npz")
    np.savez(path, images=np.zeros((32, 30, 30), np.uint8))
    result = run_train(f"--dataset={path}", f"--out_dir={tmp_path}/run")
    assert_one_line_error(result, "--image_size=30")


def test_unwritable_out_dir(tmp_path, idx_folder):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    result = run_train(f"--dataset={idx_folder}", f"--out_dir={blocker}/run")
    assert_one_line_error(result, "--out_dir=", "not writable")
