"""Gradient penalties on the discriminator, added to its loss inside its tape.

Both share one interface, `penalty.compute(gan, real_images, fake_images, conditions)`
returning a scalar: the mean over this replica's batch (so `kgan.distribute.minimize`
scales it for a strategy with the rest of D's loss). They read D through
`gan.discriminate` and `gan.augment`, so a subclass's conditioning and
augmentation apply, and draw randomness from the model's `seed_generator`.
"""

import keras
import tensorflow as tf
from keras import ops


def _per_image_sum_of_squares(grads):
    return ops.sum(ops.reshape(ops.square(grads), (ops.shape(grads)[0], -1)), axis=1)


@keras.saving.register_keras_serializable(package="kgan")
class R1Penalty(keras.layers.Layer):
    """R1 (Mescheder et al. 2018): `gamma / 2 * E[|grad_x D(x)|^2]` on real images.

    It pushes D's gradient towards 0 on the data, so D cannot sharpen its
    boundary there without bound. The gradient is that of D's score of each
    image (the mean of its logits, for a PatchGAN head) with respect to the
    image before augmentation, through `augment` as D sees it (as
    StyleGAN2-ADA does). It costs one more forward and a double backward
    pass of D per step.

    Args:
        gamma: the penalty's weight (StyleGAN uses 10 on faces).
    """

    def __init__(self, gamma, **kwargs):
        super().__init__(**kwargs)
        self.gamma = float(gamma)
        self.built = True

    def compute(self, gan, real_images, fake_images, conditions=None):
        del fake_images
        real = ops.cast(real_images, "float32")
        with tf.GradientTape() as tape:
            tape.watch(real)
            logits = ops.cast(
                gan.discriminate(gan.augment(real), conditions, training=True), "float32"
            )
            scores = ops.mean(ops.reshape(logits, (ops.shape(logits)[0], -1)), axis=1)
            total = ops.sum(scores)
        grads = tape.gradient(total, real)
        return 0.5 * self.gamma * ops.mean(_per_image_sum_of_squares(grads))

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma}


@keras.saving.register_keras_serializable(package="kgan")
class GradientPenalty(keras.layers.Layer):
    """WGAN-GP's (Gulrajani et al. 2017) `weight * E[(|grad_x D(x)| - 1)^2]`.

    Taken at random points between real and fake images (one uniform mixing
    weight per image), it keeps an unbounded critic 1-Lipschitz.

    Args:
        weight: lambda; the paper uses 10.
    """

    def __init__(self, weight=10.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.built = True

    def compute(self, gan, real_images, fake_images, conditions=None):
        batch_size = ops.shape(real_images)[0]
        shape = [batch_size] + [1] * (len(real_images.shape) - 1)
        alpha = keras.random.uniform(shape, seed=gan.seed_generator)
        mixed = alpha * real_images + (1.0 - alpha) * fake_images
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            scores = gan.discriminate(mixed, conditions, training=True)
        grads = ops.cast(tape.gradient(scores, mixed), "float32")
        norms = ops.sqrt(_per_image_sum_of_squares(grads) + 1e-12)
        return self.weight * ops.mean(ops.square(norms - 1.0))

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}
