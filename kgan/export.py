"""Exports a generator as a TensorFlow SavedModel with a `serve` endpoint.

The contract every kgan tool relies on (and any other generator can meet):
`tf.saved_model.load(path).serve(z)` maps float32 latents `(B, latent_dim)`
to float32 images `(B, H, W, C)` in [-1, 1]. A conditional generator's
endpoint takes `(z, labels)` with int32 labels `(B,)`.
"""

import os

import keras
import tensorflow as tf

from kgan.errors import UserError
from kgan.files import atomic_folder
from kgan.quiet import quiet_info_logs


def to_unit_range(images, output_range=(-1.0, 1.0)):
    """Maps images in a generator's `output_range` to [-1, 1] (float32)."""
    low, high = (float(v) for v in output_range)
    images = tf.cast(images, tf.float32)
    if (low, high) == (-1.0, 1.0):
        return images
    return (images - low) / (high - low) * 2.0 - 1.0


def export_generator(generator, path, output_range=(-1.0, 1.0)):
    """Writes `generator` to `path` as a SavedModel, atomically.

    The SavedModel is written under a temporary name beside `path` and
    renamed into place, so a crash never leaves a half-written export where
    a good one is expected.

    Args:
        generator: a Keras model from latents (and labels) to images.
        path: the SavedModel folder to (re)place.
        output_range: the generator's output range; `(0, 1)` (sigmoid) is
            mapped to [-1, 1] in the endpoint so the contract holds.

    Returns:
        `path`.

    Example:

    >>> export_generator(gan.generator, "run/generator")
    >>> tf.saved_model.load("run/generator").serve(tf.random.normal([16, 100]))
    """
    inputs = generator.inputs
    latent_spec = tf.TensorSpec((None, inputs[0].shape[-1]), tf.float32, name="latents")

    def to_contract(images):
        return to_unit_range(images, output_range)

    path = os.path.abspath(path)
    try:
        # Tracing and writing a SavedModel logs a dozen INFO lines.
        with quiet_info_logs(), atomic_folder(path) as folder:
            archive = keras.export.ExportArchive()
            archive.track(generator)
            if len(inputs) == 1:
                archive.add_endpoint(
                    "serve",
                    lambda latents: to_contract(generator(latents, training=False)),
                    input_signature=[latent_spec],
                )
            else:
                archive.add_endpoint(
                    "serve",
                    lambda latents, labels: to_contract(
                        generator([latents, labels], training=False)
                    ),
                    input_signature=[latent_spec, tf.TensorSpec((None,), tf.int32, name="labels")],
                )
            archive.write_out(folder, verbose=False)
    except OSError as e:
        raise UserError(
            f"cannot write the generator to {path} ({e.strerror or e}); free disk space or "
            "choose a writable --out_dir. Earlier exports and checkpoints are untouched."
        ) from None
    return path
