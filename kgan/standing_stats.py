"""Standing statistics: BatchNorm moving averages recomputed for the current weights.

A generator samples in inference mode, where each BatchNorm normalises with
its moving averages. Early in training those averages (momentum 0.99: a
memory of ~100 steps) lag weights that change every step, and the samples
come out dim and washed out; a weight-averaged (EMA) copy is worse, since
averaging moving statistics does not give the statistics of the averaged
weights. BigGAN (Brock et al. 2019) replaces them with "standing
statistics": the exact mean and variance of every BatchNorm's input over a
large batch of latents, layer by layer, before sampling.
"""

import weakref

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from kgan.networks import condition_classes

NUM_LATENTS = 1024  # latents whose statistics every BatchNorm layer is given
SEED = 0  # fixed: the same latents at every calibration, in every run


class StandingStatistics:
    """Keeps generators' BatchNorm statistics current for their weights, lazily.

    `current(generator, step)` recalibrates `generator` (see
    `recalibrate_batch_norm`) from `NUM_LATENTS` fixed latents, unless it
    was already calibrated at the same generator step for the same labels:
    sampling the same weights twice (a snapshot, then the health check)
    costs one pass.

    Args:
        latent_dim: size of the generator's latent vector.

    Example:

    >>> standing = StandingStatistics(latent_dim=100)
    >>> standing.current(gan.ema.generator, step=int(gan.g_optimizer.iterations))
    """

    def __init__(self, latent_dim):
        self.latent_dim = int(latent_dim)
        self._calibrated_at = weakref.WeakKeyDictionary()  # network -> (step, labels)

    def current(self, generator, step, conditions=None):
        """Recalibrates `generator` unless done at `step` already; returns it.

        Eager only: inside a traced function the network is returned as is.

        Args:
            generator: the network to calibrate.
            step: the generator's update count (its weights' version).
            conditions: for a conditional generator, labels to draw the
                calibration batch's labels from (default: every class in turn).
        """
        labels_key = None if conditions is None else np.asarray(conditions).tobytes()
        if not tf.executing_eagerly() or self._calibrated_at.get(generator) == (step, labels_key):
            return generator
        # A stateless draw from a fixed seed, independent of the model's seed generator.
        inputs = keras.random.normal((NUM_LATENTS, self.latent_dim), seed=SEED)
        num_classes = condition_classes(generator)
        if num_classes:
            if conditions is None:
                labels = np.arange(NUM_LATENTS) % num_classes
            else:
                labels = np.resize(np.asarray(conditions), NUM_LATENTS)
            inputs = [inputs, ops.convert_to_tensor(labels.astype("int32"))]
        recalibrate_batch_norm(generator, inputs)
        self._calibrated_at[generator] = (step, labels_key)
        return generator


def batch_norm_layers(model):
    """The top-level BatchNormalization layers of `model`, in order."""
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def recalibrate_batch_norm(model, inputs, batch_size=512):
    """Sets each BatchNorm's moving mean and variance to the exact statistics of its input.

    Layers are taken in order and the model runs in inference mode, so each
    layer's statistics are measured with the layers before it already
    recalibrated: afterwards inference mode normalises exactly as training
    mode would on a batch of all of `inputs`.

    Args:
        model: a functional or Sequential Keras model (nested models'
            BatchNorm layers are left alone).
        inputs: the model's input(s) for the statistics, e.g. 1024 latents.
        batch_size: examples per forward pass.

    Returns:
        The number of BatchNorm layers recalibrated.
    """
    layers = batch_norm_layers(model)
    # A single input as a tensor, not a one-item list, so the probe takes
    # `inputs` in the structure the model itself takes them.
    model_inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    for layer in layers:
        probe = keras.Model(model_inputs, layer.input)
        total, total_sq, count = 0.0, 0.0, 0
        num = len(inputs[0]) if isinstance(inputs, (list, tuple)) else len(inputs)
        for start in range(0, num, batch_size):
            if isinstance(inputs, (list, tuple)):
                chunk = [x[start : start + batch_size] for x in inputs]
            else:
                chunk = inputs[start : start + batch_size]
            x = ops.cast(probe(chunk, training=False), "float32")
            axes = [a for a in range(len(x.shape)) if a != len(x.shape) - 1]
            total = total + ops.sum(x, axis=axes)
            total_sq = total_sq + ops.sum(ops.square(x), axis=axes)
            count += int(np.prod([x.shape[a] for a in axes]))
        mean = total / count
        variance = ops.maximum(total_sq / count - ops.square(mean), 0.0)
        layer.moving_mean.assign(ops.cast(mean, layer.moving_mean.dtype))
        layer.moving_variance.assign(ops.cast(variance, layer.moving_variance.dtype))
    return len(layers)
