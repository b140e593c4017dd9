"""Training throughput (images/s) for float32, mixed precision and XLA.

    python -m benchmarks.precision                        # every combination
    python -m benchmarks.precision --precisions=mixed_bfloat16 --xla=false

Trains the default networks (MNIST size) on random in-memory images, so
only the step itself is timed: a few warm-up steps (tracing, XLA
compilation), then `--repeats` timings of `--steps` steps each, reported
as their median and best. Prints a Markdown table with the device, the
date and the command. Short runs on a shared machine are noisy: compare
numbers from one invocation only.
"""

import datetime
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from kgan.config import Config  # noqa: E402
from kgan.quiet import import_tensorflow  # noqa: E402

flags.DEFINE_integer("batch_size", 128, "Global batch size.")
flags.DEFINE_integer("steps", 10, "Timed steps per combination.")
flags.DEFINE_integer("warmup", 3, "Untimed steps first (tracing, XLA compilation).")
flags.DEFINE_integer("repeats", 3, "Timings per combination (median and best reported).")
flags.DEFINE_list(
    "precisions", list(Config.choices("mixed_precision")), "Values of --mixed_precision to time."
)
flags.DEFINE_list("xla", ["false", "true"], "Values of --jit_compile to time.")
FLAGS = flags.FLAGS


def device_name(tf):
    """The accelerator's name, or the CPU's model name."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"{len(gpus)} x {details.get('device_name', 'GPU')}"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        model = platform.processor() or "CPU"
    return f"{model} ({os.cpu_count()} logical cores)"


def images_per_second(tf, precision, xla):
    """Times `FLAGS.steps` training steps of the default GAN."""
    import numpy as np

    from kgan.training import build_gan

    config = Config(mixed_precision=precision, jit_compile=xla, batch_size=FLAGS.batch_size)
    gan = build_gan(config, (28, 28, 1))
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (FLAGS.batch_size * 4, 28, 28, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(FLAGS.batch_size).repeat()
    gan.fit(dataset, epochs=1, steps_per_epoch=FLAGS.warmup, verbose=0)
    rates = []
    for _ in range(FLAGS.repeats):
        start = time.perf_counter()
        gan.fit(dataset, epochs=1, steps_per_epoch=FLAGS.steps, verbose=0)
        rates.append(FLAGS.steps * FLAGS.batch_size / (time.perf_counter() - start))
    return statistics.median(rates), max(rates)


def main(argv):
    del argv
    tf = import_tensorflow()
    rows = []
    for precision in FLAGS.precisions:
        for xla in FLAGS.xla:
            median, best = images_per_second(tf, precision, xla.lower() == "true")
            rows.append(f"| {precision} | {xla.lower()} | {median:,.1f} | {best:,.1f} |")
            print(rows[-1], file=sys.stderr, flush=True)
    print(f"Device: {device_name(tf)}; TensorFlow {tf.__version__}; {datetime.date.today()}")
    print(f"Command: python {' '.join(sys.argv)}\n")
    print("| --mixed_precision | --jit_compile | images/s (median) | images/s (best) |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    app.run(main)
