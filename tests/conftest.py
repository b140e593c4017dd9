"""Shared fixtures: tiny configs, tiny networks, synthetic and real data."""

import gzip
import os
import struct
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The real MNIST t10k split, kept beside the repository (never copied in).
SHARED_MNIST = os.path.join(os.path.dirname(REPO), "shared", "data", "mnist")


def write_idx(path, array):
    """Writes `array` (uint8) as an IDX file, gzipped if `path` ends in .gz."""
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


@pytest.fixture
def idx_folder(tmp_path):
    """An MNIST-format folder: 96 train and 32 t10k 28x28 images with labels."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 96), ("t10k", 32)):
        write_idx(
            str(tmp_path / f"{split}-images-idx3-ubyte.gz"),
            rng.integers(0, 256, (count, 28, 28)),
        )
        write_idx(str(tmp_path / f"{split}-labels-idx1-ubyte.gz"), np.arange(count) % 10)
    return str(tmp_path)


@pytest.fixture
def mnist_dir():
    """The real MNIST t10k files; tests that need them skip when absent."""
    if not os.path.exists(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")):
        pytest.skip(f"real MNIST files not found at {SHARED_MNIST}")
    return SHARED_MNIST


def tiny_config(**overrides):
    """A Config small enough to train a few steps in about a second."""
    from kgan.config import Config

    values = dict(
        latent_dim=8,
        batch_size=8,
        g_filters=16,
        d_filters=8,
        g_kernel_size=3,
        d_kernel_size=3,
        epochs=1,
        steps_per_epoch=2,
        num_samples=4,
        # float32 and no EMA: the tests that compare numbers exactly need them;
        # the defaults themselves are tested in test_config and test_precision.
        mixed_precision="none",
        ema=0.0,
        # No quality probe: it trains a feature extractor; its tests ask for it.
        eval_every=0,
    )
    values.update(overrides)
    return Config(**values)


@pytest.fixture
def tiny_gan():
    """A compiled tiny GAN on 28x28x1 images, seeded."""
    import keras

    from kgan.training import build_gan

    keras.utils.set_random_seed(0)
    return build_gan(tiny_config(), (28, 28, 1))


# Epochs of the test classifier: a short recipe (its own cache key), ~95% on MNIST.
TEST_CLASSIFIER_EPOCHS = 2


@pytest.fixture(scope="session")
def evaluation_cache(tmp_path_factory):
    """A classifier cache shared by the session's tests (and their subprocesses)."""
    return str(tmp_path_factory.mktemp("kgan_cache"))


@pytest.fixture(scope="session")
def mnist_evaluator(evaluation_cache):
    """An `Evaluator` for the real MNIST t10k files, its classifier trained once."""
    if not os.path.exists(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")):
        pytest.skip(f"real MNIST files not found at {SHARED_MNIST}")
    from kgan.quality import Evaluator

    return Evaluator.from_dataset(
        SHARED_MNIST, cache_dir=evaluation_cache, classifier_epochs=TEST_CLASSIFIER_EPOCHS
    )


def assert_one_line_error(result, *fragments):
    """A command-line run failed with one `error: ...` line holding `fragments`."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def run_python(code, timeout=300):
    """Runs `code` in a fresh Python process from the repository root.

    For tests that need a process of their own (e.g. to split the CPU into
    logical devices before TensorFlow starts). Returns the CompletedProcess.
    """
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )
