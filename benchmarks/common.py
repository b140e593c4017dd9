"""Helpers shared by the benchmarks: results files, machine facts, peak FLOP/s.

Every benchmark appends one JSON line per measurement to a results file, so
a long sweep can stop and resume: a rerun skips what is already recorded.
"""

import datetime
import json
import os
import platform
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")

# The benchmarks' real datasets: MNIST's 10k t10k split beside the checkout,
# Fashion-MNIST from Debian (`apt-get install -y dataset-fashion-mnist`).
DATASETS = {
    "mnist": "../shared/data/mnist",
    "fashion_mnist": "/usr/share/datasets/fashion-mnist",
    "emoji64": "../shared/data/emoji64/emoji64.npz",
}
# Datasets that name which particular thing each image draws: the `.npz` key
# `kgan.quality` scores recognisability with (`kgan.quality.identity`).
IDENTITY_KEYS = {"emoji64": "emoji"}
# The 28x28 greyscale datasets the technique table and its thresholds cover.
DIGITS = ("mnist", "fashion_mnist")

# The standard 64x64 DCGAN recipe (Radford et al. 2015, as the PyTorch DCGAN
# tutorial trains CelebA), as `kgan.config.Config` overrides: G 512-256-128-64
# from a 4x4 start and D 64-128-256-512 with BatchNorm, 4x4 kernels, no
# dropout, no label noise, no weight average, no augmentation, Adam 2e-4 /
# 0.5, batch 128. (Its weights start from Keras' Glorot initialiser, not the
# paper's N(0, 0.02).)
DCGAN64 = dict(
    g_filters=512,
    g_extra_layers=0,
    g_kernel_size=4,
    d_filters=64,
    d_kernel_size=4,
    d_batch_norm=True,
    d_dropout=0.0,
    label_flip=0.0,
    label_smoothing=0.0,
    ema=0.0,
    standing_stats=False,
    augment="off",
    batch_size=128,
    g_lr=2e-4,
    d_lr=2e-4,
    beta_1=0.5,
)


def append_result(path, record):
    """Appends `record` (a dict) as one JSON line, stamped with date and machine."""
    record = dict(record)
    record.setdefault("date", datetime.date.today().isoformat())
    record.setdefault("machine", machine())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def load_results(path):
    """Returns the records of a results file (none if it does not exist)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def machine():
    """A short description of this machine: CPU model, its widest vector unit, cores, TF version.

    The vector unit matters: two machines both called "AMD EPYC", one with
    AVX-512 and one with AVX2 only, train at rates several times apart.
    """
    import tensorflow as tf

    from kgan.precision import cpu_flags

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    unit = vector_unit(cpu_flags())
    model = f"{model} ({unit})" if unit else model
    return f"{model}, {os.cpu_count()} cores, TF {tf.__version__}"


def vector_unit(cpu_flags):
    """The widest x86 vector unit among a CPU's feature flags ("" if none)."""
    for flag, unit in (("amx_tile", "AMX"), ("avx512f", "AVX-512"), ("avx2", "AVX2")):
        if flag in cpu_flags:
            return unit
    return ""


def matmul_peak_gflops(size=4096, repeats=5, dtype="float32"):
    """Measures matmul GFLOP/s in `dtype`: the practical peak of this machine."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((size, size)), dtype)
    matmul = tf.function(lambda x: tf.matmul(x, x))
    matmul(a).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def write_table(name, text):
    """Writes a benchmark's Markdown table to benchmarks/results/`name` and prints it."""
    with open(os.path.join(RESULTS, name), "w") as f:
        f.write(text)
    print(text)


def pyplot():
    """matplotlib.pyplot with a file-only backend, or None (saying why) without it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('matplotlib not installed: no plot (pip install -e ".[bench]")')
        return None
    return plt
