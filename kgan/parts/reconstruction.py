"""FastGAN's self-supervised discriminator: D's features must redraw the real image."""

import keras
from keras import layers, ops


def feature_layer(discriminator):
    """The name of D's deepest block activation at least `min(8, width / 4)` pixels wide.

    8x8 for 32x32 and 64x64 images (FastGAN decodes D's 8x8 features), 7x7
    for 28x28; the first block's if none is that wide.
    """
    width = discriminator.inputs[0].shape[2]
    least = min(8, width // 4)
    chosen = None
    for layer in discriminator.layers:
        block = layer.name.startswith(f"{discriminator.name}_block")
        if not (block and layer.name.endswith("_act")):
            continue
        if chosen is None or layer.output.shape[2] >= least:
            chosen = layer.name
    if chosen is None:
        raise ValueError(f"{discriminator.name} has no `<name>_block<i>_act` layer to decode.")
    return chosen


@keras.saving.register_keras_serializable(package="kgan")
class Reconstruction(keras.layers.Layer):
    """A decoder that redraws each real image D saw from D's feature map (Liu et al. 2021).

    FastGAN's answer to a discriminator that overfits a few thousand images:
    besides telling real from fake, D's features of a real image must hold
    enough to redraw it. A small decoder (per step: nearest-neighbour 2x,
    3x3 conv, LeakyReLU 0.2; twice; then a 3x3 conv to the image's
    channels and tanh) maps the map of `feature_layer(D)` (8x8) to an image
    4x as wide (32x32), and `weight` times its mean squared error against
    the real batch D saw (after augmentation, area-resized to that size) is
    added to D's loss. The decoder trains with D, by D's optimizer; fake
    images are not reconstructed. lightweight-gan uses the same loss with
    weight 1.

    The real batch's logits and features come out of one pass of D's own
    layers (`features` below), not through `GAN.discriminate`: a subclass
    that changes how D is called must keep its layers.

    Args:
        weight: the reconstruction loss's weight in D's loss.
    """

    def __init__(self, weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.decoder = None

    def attach(self, discriminator):
        """Builds the decoder for `discriminator`'s features; `GAN.__init__` calls it."""
        name = feature_layer(discriminator)
        features = discriminator.get_layer(name).output
        # Kept off Keras' tracking: D's own layers, already D's weights.
        self.__dict__["_features"] = keras.Model(
            discriminator.inputs, [discriminator.outputs[0], features], name="logits_and_features"
        )
        size, width = features.shape[1], features.shape[-1]
        channels = discriminator.inputs[0].shape[-1]
        decoder = [keras.Input(features.shape[1:])]
        for step in (1, 2):
            decoder += [
                layers.UpSampling2D(2, name=f"reconstruction_up{step}"),
                layers.Conv2D(
                    max(width >> step, 16), 3, padding="same", name=f"reconstruction_conv{step}"
                ),
                layers.LeakyReLU(0.2, name=f"reconstruction_act{step}"),
            ]
        decoder += [
            layers.Conv2D(channels, 3, padding="same", name="reconstruction_out"),
            layers.Activation("tanh", dtype="float32", name="reconstruction_image"),
        ]
        self.decoder = keras.Sequential(decoder, name="reconstruction_decoder")
        self.size = 4 * size
        self.built = True
        return self

    def discriminate(self, images, conditions=None):
        """`(logits, loss)` of the real batch `images` (as D sees them) in one pass of D."""
        inputs = images if conditions is None else [images, conditions]
        logits, features = self._features(inputs, training=True)
        redrawn = self.decoder(features, training=True)
        target = ops.cast(images, "float32")
        if target.shape[1] != self.size:
            target = ops.image.resize(target, (self.size, self.size), interpolation="area")
        loss = ops.mean(ops.square(ops.cast(redrawn, "float32") - target))
        return logits, self.weight * loss

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}
