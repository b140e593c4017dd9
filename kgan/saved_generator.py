"""Reads back a generator SavedModel: the loading side of `kgan.export`.

Works on any SavedModel that meets the `serve` contract of `kgan.export`
(float32 latents `(B, latent_dim)` -> images `(B, H, W, C)` in [-1, 1],
optionally with int32 labels `(B,)` as a second input): the latent size and
whether the generator is class-conditional are read from the endpoint's
input signature, so nothing else about the model needs to be known. Both
`sample.py` (`kgan.sampling`) and `evaluate.py` (`kgan.quality`) load
generators through `SavedGenerator`.

Example:

>>> generator = SavedGenerator("runs/kgan/generator")
>>> images = generator(np.zeros((16, generator.latent_dim)))  # (16, H, W, C)
"""

import os

import numpy as np

from kgan.errors import UserError

_CONTRACT = "float32 (B, latent_dim) latents to (B, H, W, C) images in [-1, 1]"


def _load(path):
    """`tf.saved_model.load(path)`, with a `UserError` for anything but a SavedModel."""
    import tensorflow as tf

    from kgan.quiet import quiet_info_logs

    if not os.path.exists(path):
        raise UserError(
            f"--generator={path} does not exist; give the generator/ folder a kgan run "
            "exports (for example runs/kgan/generator)."
        )
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise UserError(
            f"--generator={path} is not a TensorFlow SavedModel (no saved_model.pb inside); "
            "give the generator/ folder a kgan run exports (for example runs/kgan/generator)."
        )
    try:
        with quiet_info_logs():
            return tf.saved_model.load(path)
    except Exception as e:  # TF raises many types for a damaged file
        text = str(e).strip()
        first_line = text.splitlines()[0] if text else type(e).__name__
        raise UserError(
            f"--generator={path} cannot be loaded as a SavedModel ({first_line})."
        ) from None


def _input_specs(endpoint):
    """The input `TensorSpec`s of a `tf.function` endpoint of a loaded SavedModel."""
    signature = getattr(endpoint, "input_signature", None)
    if signature:
        return list(signature)
    for function in getattr(endpoint, "concrete_functions", None) or []:
        args, _ = function.structured_input_signature
        if args:
            return list(args)
    return []


class SavedGenerator:
    """A generator SavedModel, called on NumPy latents in batches.

    Holds the loaded object for as long as the wrapper lives: it owns the
    variables `serve` reads, and a `serve` kept without it fails once the
    object is garbage-collected.

    Args:
        source: a SavedModel folder, or an object `tf.saved_model.load`
            returned, with a `serve` endpoint.
        batch_size: latents sent to `serve` per call.
        name: how messages name the generator; default: the folder.

    Attributes:
        latent_dim: size of the latents `serve` takes.
        conditional: whether `serve` also takes int32 class labels.

    Raises:
        UserError: if the folder is missing, is not a SavedModel, cannot be
            loaded, or has no `serve` endpoint of the contract's form.

    Example:

    >>> generator = SavedGenerator("runs/cgan/generator")
    >>> generator.latent_dim, generator.conditional
    (100, True)
    >>> generator(np.zeros((4, 100)), labels=[3, 3, 3, 3]).shape
    (4, 28, 28, 1)
    """

    def __init__(self, source, batch_size=256, name=None):
        if isinstance(source, (str, os.PathLike)):
            self.path = os.fspath(source)
            self.loaded = _load(self.path)
        else:
            self.path = None
            self.loaded = source
        self.name = name or self.path or "generator"
        self.batch_size = int(batch_size)

        endpoint = getattr(self.loaded, "serve", None)
        if endpoint is None:
            signatures = sorted(getattr(self.loaded, "signatures", {}) or {})
            found = f" (its signatures: {', '.join(signatures)})" if signatures else ""
            raise UserError(
                f"--generator={self.name} has no `serve` endpoint{found}; export it with "
                f"kgan.export.export_generator, or save a module whose `serve` tf.function "
                f"maps {_CONTRACT}."
            )
        specs = _input_specs(endpoint)
        latent_shape = specs[0].shape if specs else None
        if latent_shape is None or latent_shape.rank != 2 or latent_shape[-1] is None:
            raise UserError(
                f"--generator={self.name}: `serve` takes {latent_shape or 'nothing'}, not "
                "float32 (B, latent_dim) latents with a fixed latent_dim."
            )
        if len(specs) > 2:
            raise UserError(
                f"--generator={self.name}: `serve` takes {len(specs)} inputs, not latents "
                "(and labels)."
            )
        self.latent_dim = int(latent_shape[-1])
        self.conditional = len(specs) == 2

    def __repr__(self):
        kind = "conditional" if self.conditional else "unconditional"
        return f"SavedGenerator({self.name!r}, latent_dim={self.latent_dim}, {kind})"

    def __call__(self, latents, labels=None):
        """Images in [-1, 1], `(N, H, W, C)` float32, for `(N, latent_dim)` latents.

        Args:
            latents: float latents.
            labels: int class labels `(N,)`; required by (and only accepted
                by) a conditional generator.

        Raises:
            UserError: for labels the generator cannot take.
        """
        import tensorflow as tf

        if self.conditional and labels is None:
            raise UserError(f"{self.name} is class-conditional: pass --label.")
        if not self.conditional and labels is not None:
            raise UserError(f"{self.name} is not class-conditional: drop --label.")
        latents = np.asarray(latents, np.float32)
        if labels is not None:
            labels = np.asarray(labels, np.int32)
        outputs = []
        for start in range(0, len(latents), self.batch_size):
            z = tf.constant(latents[start : start + self.batch_size])
            if labels is None:
                images = self.loaded.serve(z)
            else:
                batch_labels = labels[start : start + self.batch_size]
                try:
                    images = self.loaded.serve(z, tf.constant(batch_labels))
                except tf.errors.InvalidArgumentError:
                    raise UserError(
                        f"labels {sorted(set(batch_labels.tolist()))} are not all classes of "
                        f"{self.name}; pass a smaller --label or --num_classes."
                    ) from None
            outputs.append(np.asarray(images, np.float32))
        return np.concatenate(outputs, axis=0)
