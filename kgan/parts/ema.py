"""An exponential moving average of the generator's weights, owning its copy."""

import keras
import tensorflow as tf
from keras import ops


class GeneratorEMA(keras.layers.Layer):
    """`generator`, a copy of the generator whose weights average the generator's.

    After every generator update, `w_avg <- d * w_avg + (1 - d) * w` for every
    weight (trainable ones and BatchNorm's moving statistics), with
    `d = min(decay, (1 + n) / (10 + n))` after the n-th update: the warm-up
    of `tf.train.ExponentialMovingAverage(num_updates=n)`, so that a short
    run is not dominated by the initial weights. The copy is what `sample()`
    and the export use (Yazici et al. 2019; keras-io `gan_ada`); its weights
    are model weights, so checkpoints include them. Under a strategy every
    copy of a mirrored weight moves identically (one cross-replica update).

    Args:
        source: the generator to average (cloned now, with its weights).
        decay: the cap of `d`; 0.999 is usual.
    """

    def __init__(self, source, decay, **kwargs):
        super().__init__(**kwargs)
        self.decay = float(decay)
        self.generator = keras.models.clone_model(source)
        self.generator.set_weights(source.get_weights())
        # Updated by assignment only: never by an optimizer or a BN call.
        self.generator.trainable = False
        self.built = True

    def update(self, source, updates):
        """Moves every averaged weight towards `source`'s, after `updates` G updates."""
        updates = ops.cast(updates, "float32")
        decay = ops.minimum(self.decay, (1.0 + updates) / (10.0 + updates))
        pairs = [
            (average.value, weight.value)
            for average, weight in zip(self.generator.weights, source.weights, strict=True)
        ]

        def move(strategy, decay):
            for average, weight in pairs:
                strategy.extended.update(
                    average,
                    lambda a, w, d: a.assign(d * a + (1.0 - d) * ops.cast(w, a.dtype)),
                    args=(weight, decay),
                    group=False,
                )

        context = tf.distribute.get_replica_context()
        if context is None:
            move(tf.distribute.get_strategy(), decay)
        else:
            context.merge_call(move, args=(decay,))
