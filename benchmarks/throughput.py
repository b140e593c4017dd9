"""Step throughput: kgan's `fit` step against the TF DCGAN tutorial's loop.

Both train the very same networks, the TF DCGAN tutorial's MNIST pair
(G: Dense 7x7x256 -> Conv2DTranspose 128/64/1, 5x5, BatchNorm, LeakyReLU,
tanh; D: Conv2D 64/128 5x5 stride 2, LeakyReLU, Dropout 0.3, Dense 1), on
real MNIST batches, interleaved in one process after warm-up:

- plain: the tutorial's `train_step`, one joint `tf.function` step with two
  tapes (G and D updated from the same forward pass);
- kgan: `kgan.GAN.fit` at kgan's default settings (separate real and fake D
  passes, G through the updated D, label flipping and smoothing, eight
  tracked metrics).

FLOPs are counted analytically: 2 x the multiply-accumulates of the conv
and dense layers, forward and backward, as each step actually computes them
(weight gradients for every layer of the network being updated, input
gradients wherever a gradient must flow further down; BatchNorm,
activations and the optimizer are not counted). Peak is a large matmul
measured in the same run, in float32 and in bfloat16; each kgan row's peak
fraction is taken against the peak of the dtype it computes in (its
`--mixed_precision`, `auto` by default), so a 16-bit row is not flattered
by a float32 yardstick.

    python -m benchmarks.throughput                    # the full table
    python -m benchmarks.throughput --rounds=3 --steps=5   # quicker

The last line is `ratio=R peak_fraction=P` (kgan images/s over the plain
loop's at batch 256, jit off, kgan at its default settings; kgan's achieved
GFLOP/s over the matmul peak).
"""

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from benchmarks.common import RESULTS, append_result, matmul_peak_gflops  # noqa: E402
from benchmarks.tutorial import (  # noqa: E402
    tutorial_discriminator,
    tutorial_generator,
    tutorial_step,
)

flags.DEFINE_string("data", "../shared/data/mnist", "MNIST IDX folder (real images).")
flags.DEFINE_integer("rounds", 5, "Interleaved timing rounds per setting.")
flags.DEFINE_integer("steps", 10, "Steps per timing round.")
flags.DEFINE_list(
    "settings",
    ["256:off", "256:off:none", "256:on", "64:off"],
    "batch:jit[:precision] to measure; precision overrides kgan's --mixed_precision.",
)
flags.DEFINE_string("out", os.path.join(RESULTS, "throughput.jsonl"), "Results file.")
FLAGS = flags.FLAGS


def layer_macs(model):
    """Forward multiply-accumulates per image of each Dense/Conv layer, in order."""
    macs = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            macs.append(layer.kernel.shape[0] * layer.kernel.shape[1])
        elif kind == "Conv2D":
            _, h, w, c_out = layer.output.shape
            k_h, k_w, c_in, _ = layer.kernel.shape
            macs.append(h * w * c_out * k_h * k_w * c_in)
        elif kind == "Conv2DTranspose":
            _, h, w, c_in = layer.input.shape
            k_h, k_w, c_out, _ = layer.kernel.shape
            macs.append(h * w * c_in * k_h * k_w * c_out)
    return macs


def step_flops(g_macs, d_macs):
    """FLOPs per image of one step of each loop (2 FLOPs per MAC).

    Forward = sum(m); weight gradients = sum(m); input gradients = sum(m)
    without the first layer unless a gradient must reach the input.
    """
    fwd = sum(d_macs)
    weights = sum(d_macs)
    inputs_to_layer1 = sum(d_macs[1:])
    inputs_to_image = sum(d_macs)
    g_total = sum(g_macs) + sum(g_macs) + sum(g_macs[1:])  # G forward, weights, inputs
    # D's update: forward and backward on real and on fake (no grad to images).
    d_update = 2 * (fwd + weights + inputs_to_layer1)
    # G's update backpropagates through D down to the fake images.
    plain = g_total + d_update + inputs_to_image
    # kgan runs D forward once more: G's update goes through the updated D.
    kgan = plain + fwd
    return 2 * plain, 2 * kgan


def make_dataset(batch_size):

    from kgan.data import load_source
    from kgan.data import make_dataset as kgan_dataset

    dataset, _ = kgan_dataset(load_source(FLAGS.data), batch_size, seed=0)
    return dataset


def build_plain(batch_size, jit):
    """The tutorial's loop as a timed runner: `run(steps) -> seconds`."""
    train_step, (generator, discriminator) = tutorial_step(batch_size, jit)
    iterator = iter(make_dataset(batch_size))

    def run(steps):
        train_step(next(iterator)).numpy()  # sync before timing
        start = time.perf_counter()
        for _ in range(steps):
            loss = train_step(next(iterator))
        loss.numpy()
        return time.perf_counter() - start

    return run, (generator, discriminator)


class _Timer:
    """Times the steps of one fit call after its first batch."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if batch == 0:
                    self.start = time.perf_counter()
                self.end = time.perf_counter()

        return Timer()


def build_kgan(batch_size, jit, precision=None):
    """kgan's GAN on the tutorial networks, at kgan's default settings."""
    import dataclasses

    from kgan.config import Config
    from kgan.precision import resolve_precision
    from kgan.training import build_gan

    config = dataclasses.replace(Config(), jit_compile=jit)
    if precision:
        config = dataclasses.replace(config, mixed_precision=precision)
    config = dataclasses.replace(config, mixed_precision=resolve_precision(config.mixed_precision))
    generator_and_discriminator = []

    def networks():
        # The tutorial's layers, with float32 outputs under a mixed policy.
        generator_and_discriminator.extend(
            [tutorial_generator(float32_output=True), tutorial_discriminator(float32_output=True)]
        )
        return tuple(generator_and_discriminator)

    gan = build_gan(config, (28, 28, 1), networks=networks)
    generator, discriminator = generator_and_discriminator
    mixed = config.mixed_precision
    dataset = make_dataset(batch_size)
    per_call = config.steps_per_execution

    def run(steps):
        timer = _Timer()
        calls = max(steps // per_call, 1) + 1
        gan.fit(
            dataset,
            epochs=1,
            steps_per_epoch=calls * per_call,
            callbacks=[timer],
            verbose=0,
            shuffle=False,
        )
        # The first call is untimed; each call runs `per_call` steps.
        return (timer.end - timer.start) * steps / ((calls - 1) * per_call)

    return run, (generator, discriminator), mixed


def measure(batch_size, jit, peaks, precision=None):
    plain_run, (g, d) = build_plain(batch_size, jit)
    kgan_run, _, precision = build_kgan(batch_size, jit, precision)
    peak = peaks["float32"]
    kgan_peak = peaks["bfloat16"] if "bfloat16" in precision else peak
    plain_flops, kgan_flops = step_flops(layer_macs(g), layer_macs(d))
    for run in (plain_run, kgan_run):  # warm-up: trace, compile, fill caches
        run(2)
    plain_rates, kgan_rates = [], []
    for _ in range(FLAGS.rounds):
        plain_rates.append(FLAGS.steps * batch_size / plain_run(FLAGS.steps))
        kgan_rates.append(FLAGS.steps * batch_size / kgan_run(FLAGS.steps))
    plain, kgan = statistics.median(plain_rates), statistics.median(kgan_rates)
    return {
        "batch_size": batch_size,
        "jit_compile": jit,
        "kgan_precision": precision,
        "plain_images_per_s": plain,
        "kgan_images_per_s": kgan,
        "ratio": kgan / plain,
        "plain_mflop_per_image": plain_flops / 1e6,
        "kgan_mflop_per_image": kgan_flops / 1e6,
        "plain_gflops": plain * plain_flops / 1e9,
        "kgan_gflops": kgan * kgan_flops / 1e9,
        "peak_gflops": peak,
        "kgan_peak_gflops": kgan_peak,
        "plain_peak_fraction": plain * plain_flops / 1e9 / peak,
        "kgan_peak_fraction": kgan * kgan_flops / 1e9 / kgan_peak,
        "rounds": FLAGS.rounds,
        "steps": FLAGS.steps,
        "plain_spread": [min(plain_rates), max(plain_rates)],
        "kgan_spread": [min(kgan_rates), max(kgan_rates)],
    }


def main(argv):
    del argv
    from kgan.quiet import import_tensorflow

    import_tensorflow()
    peaks = {dtype: matmul_peak_gflops(dtype=dtype) for dtype in ("float32", "bfloat16")}
    print(
        f"matmul peak: float32 {peaks['float32']:.0f} GFLOP/s, "
        f"bfloat16 {peaks['bfloat16']:.0f} GFLOP/s"
    )
    print("FLOPs: 2 x MACs of conv/dense layers, forward + backward as each step computes them")
    header = (
        f"{'batch':>5} {'jit':>4} {'kgan dtype':>15} "
        f"{'plain img/s':>12} {'kgan img/s':>11} {'ratio':>6} "
        f"{'plain MFLOP/img':>15} {'kgan MFLOP/img':>14} {'plain GFLOP/s':>13} "
        f"{'kgan GFLOP/s':>12} {'plain/peak':>10} {'kgan/peak':>9}"
    )
    print(header)
    main_row = None
    for setting in FLAGS.settings:
        batch, jit, *precision = setting.split(":")
        row = measure(int(batch), jit == "on", peaks, precision[0] if precision else None)
        append_result(FLAGS.out, {"benchmark": "throughput", **row})
        print(
            f"{row['batch_size']:>5} {jit:>4} {row['kgan_precision']:>15} "
            f"{row['plain_images_per_s']:>12.0f} "
            f"{row['kgan_images_per_s']:>11.0f} {row['ratio']:>6.2f} "
            f"{row['plain_mflop_per_image']:>15.0f} {row['kgan_mflop_per_image']:>14.0f} "
            f"{row['plain_gflops']:>13.0f} {row['kgan_gflops']:>12.0f} "
            f"{row['plain_peak_fraction']:>10.2f} {row['kgan_peak_fraction']:>9.2f}",
            flush=True,
        )
        if row["batch_size"] == 256 and not row["jit_compile"] and not precision:
            main_row = main_row or row
    if main_row:
        print(f"ratio={main_row['ratio']:.2f} peak_fraction={main_row['kgan_peak_fraction']:.2f}")


if __name__ == "__main__":
    app.run(main)
