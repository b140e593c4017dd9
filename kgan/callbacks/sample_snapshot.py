"""Saves a grid of samples from a fixed latent batch after each epoch."""

import os

import keras
import numpy as np

from kgan.images import make_grid, save_png, to_uint8


class SampleSnapshot(keras.callbacks.Callback):
    """Writes `samples/epoch_NNN.png` from the same latents every epoch.

    The latent batch is drawn once from a fixed seed, so grids of different
    epochs (and of a resumed run) show the same points of latent space and
    can be compared side by side.

    Args:
        out_dir: folder of the grids (created if needed).
        num_samples: images per grid.
        every: write a grid every this many epochs (and always the last).
        seed: seed of the fixed latent batch.
        conditions: optional conditions (e.g. class labels) for the samples.

    Example:

    >>> gan.fit(data, epochs=10, callbacks=[SampleSnapshot("run/samples")])
    """

    def __init__(self, out_dir, num_samples=64, every=1, seed=1234, conditions=None):
        super().__init__()
        self.out_dir = out_dir
        self.num_samples = int(num_samples)
        self.every = int(every)
        self.seed = int(seed)
        self.conditions = conditions
        self.latents = None

    def on_train_begin(self, logs=None):
        # A stateless draw from a fixed seed: identical in every run and epoch.
        self.latents = keras.random.normal(
            (self.num_samples, self.model.latent_dim), seed=self.seed
        )
        self.epochs = self.params.get("epochs") if self.params else None

    def on_epoch_end(self, epoch, logs=None):
        last = self.epochs is not None and epoch + 1 == self.epochs
        if (epoch + 1) % self.every and not last:
            return
        self.write(os.path.join(self.out_dir, f"epoch_{epoch + 1:03d}.png"))

    def write(self, path):
        """Generates the fixed batch and saves its grid to `path`."""
        images = self.model.sample(self.latents, self.conditions)  # in [-1, 1]
        grid = make_grid(to_uint8(np.asarray(images)))
        save_png(grid, path)
        return path
