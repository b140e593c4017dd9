"""Choosing the compute precision: `--mixed_precision=auto` and what it resolves to.

Mixed precision keeps float32 weights, float32 logits and float32 losses,
and runs the convolutions in 16-bit floats. It pays only where the hardware
computes them natively; elsewhere 16-bit math is emulated and slower than
float32. `auto` picks, for the device the run will use:

| hardware                                             | auto resolves to |
|------------------------------------------------------|------------------|
| TPU                                                  | mixed_bfloat16   |
| NVIDIA GPU, compute capability >= 8.0 (Ampere+)      | mixed_bfloat16   |
| NVIDIA GPU, compute capability 7.x (Volta/Turing)    | mixed_float16    |
| CPU with AMX-BF16 (Intel Sapphire Rapids+)           | mixed_bfloat16   |
| CPU with AVX512-BF16 (AMD Zen 4+, Intel Cooper Lake) | mixed_bfloat16   |
| anything else                                        | none (float32)   |

bfloat16 has float32's exponent range, so it needs no loss scaling;
float16 runs with kgan's `LossScaleOptimizer`-wrapped optimizers.
"""

import logging

# `--mixed_precision`; "auto" resolves (`resolve_precision`) to one of the others.
PRECISIONS = ("auto", "none", "mixed_float16", "mixed_bfloat16")


def cpu_flags():
    """The CPU feature flags of this machine (empty where /proc/cpuinfo is absent)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def auto_precision(strategy=None):
    """The mixed-precision policy name `auto` stands for on this machine.

    Args:
        strategy: the run's `tf.distribute` strategy (a TPU strategy means
            bfloat16); default: the current one.

    Returns:
        `"mixed_bfloat16"`, `"mixed_float16"` or `"none"`.
    """
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capabilities = [
            tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
            for gpu in gpus
        ]
        oldest = min(capabilities)
        if oldest >= (8, 0):
            return "mixed_bfloat16"
        if oldest >= (7, 0):
            return "mixed_float16"
        return "none"
    # Both compute bfloat16 dot products natively (oneDNN uses them for convolutions and
    # matmuls): AMX tiles about 3.4x float32's matmul peak, AVX512-BF16 about 2x.
    if cpu_flags() & {"amx_bf16", "avx512_bf16"}:
        return "mixed_bfloat16"
    return "none"


def resolve_precision(name, strategy=None, log=True):
    """`name`, with `"auto"` replaced by what it means here (logged unless `log=False`)."""
    if name != "auto":
        return name
    resolved = auto_precision(strategy)
    if log:
        logging.info("--mixed_precision=auto: %s on this machine", resolved)
    return resolved


def loss_scaled(optimizer, compute_dtype):
    """`optimizer`, wrapped in a `LossScaleOptimizer` when computing in float16.

    Keras loss-scales only `Model.optimizer` by itself; a GAN's own two
    optimizers need the wrapper (once: a wrapped one is returned as is).
    """
    import keras

    if compute_dtype != "float16" or isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer, name=f"{optimizer.name}_loss_scale")
