"""Anything that makes images from noise, behind one small interface.

`as_generator` accepts a SavedModel path (any SavedModel whose `serve`
endpoint maps float32 `(B, latent_dim)` normal noise to `(B, H, W, C)`
images in [-1, 1], optionally with int32 labels `(B,)` as a second input),
an already loaded SavedModel, a `kgan.GAN` (its `sample`, so EMA weights are
used where a subclass keeps them) or a Keras generator, and returns a
`Generator` with the latent size read from the model itself.
"""

import dataclasses
import logging
import os

import numpy as np

from kgan.errors import UserError


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


def _signature_of(endpoint):
    """The input `TensorSpec`s of a tf.function endpoint of a loaded SavedModel."""
    signature = getattr(endpoint, "input_signature", None)
    if signature:
        return list(signature)
    concrete = getattr(endpoint, "concrete_functions", None) or []
    for function in concrete:
        args, _ = function.structured_input_signature
        if args:
            return list(args)
    return []


def load_saved_model(path):
    """Loads the SavedModel at `path` as a `Generator` (its `serve` endpoint).

    Raises:
        UserError: the path is missing or not a SavedModel, it has no `serve`
            endpoint, or the endpoint's latent size is not fixed.
    """
    import tensorflow as tf

    from kgan.quiet import quiet_info_logs

    if not os.path.exists(path):
        raise UserError(
            f"--generator={path} does not exist; give the SavedModel folder a run exported "
            "(for example runs/kgan/generator)."
        )
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        raise UserError(
            f"--generator={path} is not a TensorFlow SavedModel (no saved_model.pb inside); "
            "give the folder a run exported (for example runs/kgan/generator)."
        )
    try:
        with quiet_info_logs():
            loaded = tf.saved_model.load(path)
    except Exception as e:  # TF raises many types for a bad file
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(
            f"--generator={path} cannot be loaded as a SavedModel ({first_line})."
        ) from None
    return from_loaded(loaded, path)


def from_loaded(loaded, name="generator"):
    """A `Generator` from a loaded SavedModel object with a `serve` endpoint."""
    endpoint = getattr(loaded, "serve", None)
    if endpoint is None:
        signatures = sorted(getattr(loaded, "signatures", {}) or {})
        found = f" (its signatures: {', '.join(signatures)})" if signatures else ""
        raise UserError(
            f"--generator={name} has no `serve` endpoint{found}; export it with "
            "kgan.export.export_generator, or save a module whose `serve` tf.function maps "
            "float32 (B, latent_dim) noise to (B, H, W, C) images in [-1, 1]."
        )
    specs = _signature_of(endpoint)
    if not specs or len(specs[0].shape) != 2 or specs[0].shape[-1] is None:
        shape = specs[0].shape if specs else "nothing"
        raise UserError(
            f"--generator={name}: `serve` takes {shape}, not float32 (B, latent_dim) noise "
            "with a fixed latent_dim."
        )
    conditional = len(specs) > 1

    def sample(latents, labels=None):
        # `loaded` stays referenced here: it owns the variables `serve` reads.
        if conditional:
            return loaded.serve(latents, labels)
        return loaded.serve(latents)

    return Generator(sample, int(specs[0].shape[-1]), conditional, name)


def as_generator(generator):
    """Wraps a path, a loaded SavedModel, a `kgan.GAN` or a Keras generator.

    Args:
        generator: a SavedModel folder, an object returned by
            `tf.saved_model.load`, a `GAN` (uses `GAN.sample`), a Keras
            model from latents (and labels) to images in [-1, 1], or a
            `Generator` (returned as is).

    Returns:
        A `Generator`.
    """
    if isinstance(generator, Generator):
        return generator
    if isinstance(generator, (str, os.PathLike)):
        return load_saved_model(os.fspath(generator))
    if hasattr(generator, "serve"):
        return from_loaded(generator)
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
