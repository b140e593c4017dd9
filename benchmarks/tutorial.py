"""The TF DCGAN tutorial's MNIST recipe, verbatim: the baseline kgan is measured against.

Networks, loss and optimizers as in tensorflow.org/tutorials/generative/dcgan:
Adam 1e-4 with default beta_1, batch 256, no label tricks, one joint step
with two tapes (G and D updated from the same forward pass).
"""

LATENT_DIM = 100


def tutorial_generator(float32_output=False):
    """The TF DCGAN tutorial's generator, layer for layer."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((LATENT_DIM,)),
            layers.Dense(7 * 7 * 256, use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Reshape((7, 7, 256)),
            layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False),
            layers.Activation("tanh", dtype="float32" if float32_output else None),
        ],
        name="generator",
    )


def tutorial_discriminator(float32_output=False):
    """The TF DCGAN tutorial's discriminator, layer for layer."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(64, 5, strides=2, padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Conv2D(128, 5, strides=2, padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Flatten(),
            layers.Dense(1, dtype="float32" if float32_output else None),
        ],
        name="discriminator",
    )


def tutorial_step(batch_size, jit=False, learning_rate=1e-4):
    """Returns `(train_step, (generator, discriminator))`, the tutorial's step."""
    import keras
    import tensorflow as tf

    generator, discriminator = tutorial_generator(), tutorial_discriminator()
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
    g_optimizer = keras.optimizers.Adam(learning_rate)
    d_optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function(jit_compile=jit)
    def train_step(images):
        noise = tf.random.normal([batch_size, LATENT_DIM])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = cross_entropy(tf.ones_like(real_output), real_output) + cross_entropy(
                tf.zeros_like(fake_output), fake_output
            )
        g_grads = gen_tape.gradient(gen_loss, generator.trainable_variables)
        d_grads = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        g_optimizer.apply_gradients(zip(g_grads, generator.trainable_variables, strict=True))
        d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_variables, strict=True))
        return gen_loss

    return train_step, (generator, discriminator)
