"""Anything that makes images from noise, behind one small interface.

`as_generator` accepts a SavedModel path (any SavedModel whose `serve`
endpoint maps float32 `(B, latent_dim)` normal noise to `(B, H, W, C)`
images in [-1, 1], optionally with int32 labels `(B,)` as a second input,
loaded by `kgan.saved_generator.SavedGenerator`), an already loaded
SavedModel, a `kgan.GAN` (its `sample`, so EMA weights are used where a
subclass keeps them) or a Keras generator, and returns a `Generator` with
the latent size read from the model itself.
"""

import dataclasses
import logging
import os

import numpy as np

from kgan.errors import UserError
from kgan.saved_generator import SavedGenerator


@dataclasses.dataclass
class Generator:
    """A callable `(latents, labels or None) -> images` and what it needs.

    Attributes:
        sample: maps float32 `(B, latent_dim)` (and int32 `(B,)` labels when
            `conditional`) to `(B, H, W, C)` images in [-1, 1].
        latent_dim: size of the latent vector.
        conditional: whether `sample` takes class labels.
        name: where it came from, for messages.
    """

    sample: object
    latent_dim: int
    conditional: bool = False
    name: str = "generator"


def as_generator(generator):
    """Wraps a path, a loaded SavedModel, a `kgan.GAN` or a Keras generator.

    Args:
        generator: a SavedModel folder, an object returned by
            `tf.saved_model.load`, a `SavedGenerator`, a `GAN` (uses
            `GAN.sample`), a Keras model from latents (and labels) to images
            in [-1, 1], or a `Generator` (returned as is).

    Returns:
        A `Generator`.

    Raises:
        UserError: a path that is not a SavedModel, or a SavedModel without
            a `serve` endpoint of the contract's form (see `SavedGenerator`).
    """
    if isinstance(generator, Generator):
        return generator
    if isinstance(generator, (str, os.PathLike)) or hasattr(generator, "serve"):
        generator = SavedGenerator(generator)
    if isinstance(generator, SavedGenerator):
        # `sample` is the bound call: the Generator keeps the loaded object alive.
        return Generator(generator, generator.latent_dim, generator.conditional, generator.name)
    if hasattr(generator, "sample") and hasattr(generator, "latent_dim"):
        inputs = generator.generator.inputs
        return Generator(
            lambda z, c=None: generator.sample(z, c),
            int(generator.latent_dim),
            len(inputs) > 1,
            generator.name,
        )
    inputs = generator.inputs
    return Generator(
        lambda z, c=None: generator(z if c is None else [z, c], training=False),
        int(inputs[0].shape[-1]),
        len(inputs) > 1,
        generator.name,
    )


def fixed_latents(num_samples, latent_dim, seed=0):
    """`(num_samples, latent_dim)` float32 standard normal noise, the same for a seed."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_samples, latent_dim)).astype(np.float32)


def generate(generator, num_samples, seed=0, num_classes=None, batch_size=250):
    """Draws `num_samples` images from fixed latents (and labels 0, 1, ..., K-1, 0, ...).

    Args:
        generator: anything `as_generator` accepts.
        num_samples: how many images.
        seed: seed of the latents; the same seed gives the same images.
        num_classes: classes to cycle through for a conditional generator.
        batch_size: images per call.

    Returns:
        float32 `(num_samples, H, W, C)` images, clipped to [-1, 1].

    Raises:
        UserError: a conditional generator without `num_classes`.
    """
    generator = as_generator(generator)
    if generator.conditional and not num_classes:
        raise UserError(
            f"--generator={generator.name} is class-conditional but the dataset has no labels."
        )
    latents = fixed_latents(num_samples, generator.latent_dim, seed)
    labels = None
    if generator.conditional:
        labels = (np.arange(num_samples) % num_classes).astype(np.int32)
    batches = []
    for start in range(0, num_samples, batch_size):
        z = latents[start : start + batch_size]
        c = None if labels is None else labels[start : start + batch_size]
        batches.append(np.asarray(generator.sample(z, c), dtype=np.float32))
    images = np.concatenate(batches)
    if images.ndim != 4:
        raise UserError(
            f"--generator={generator.name} returns arrays of shape {images.shape[1:]}, "
            "not (H, W, C) images."
        )
    finite = np.isfinite(images)
    if finite.all():
        low, high = float(images.min()), float(images.max())
        if low < -1.05 or high > 1.05:
            logging.warning(
                "%s outputs values in [%.3g, %.3g], not [-1, 1]; clipping them",
                generator.name,
                low,
                high,
            )
    return np.clip(images, -1.0, 1.0)
