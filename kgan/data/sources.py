"""Image sources: what one `--dataset` holds, and its deterministic stream of batches.

An `ImageSource` knows its images' shape, count and classes, and streams
uint8 batches at the networks' size: `stream(batch_size, seed, start_step)`.
Batch `k` of the stream is a function of the seed alone, so a resumed run
starts the stream at the step where the stopped one ended. `take(count)`
returns the first images as arrays (the health monitor's real sample, the
evaluation splits), resized as the stream resizes them.

Two kinds exist: `ArraySource` (local files, held in memory as NumPy
arrays) and `kgan.data.tfds_source.TFDSSource` (a `tfds.load` dataset).
"""

import numpy as np

from kgan.data.transforms import at_size, resize_images
from kgan.errors import UserError

# `take` resizes arrays this many images at a time (float copies stay small).
_RESIZE_CHUNK = 1000


class ImageSource:
    """The images of one `--dataset`, before scaling and batching.

    Subclasses say how one pass over the data is shuffled (`_passes`) and
    how the first images are read (`take`); the stream's bookkeeping (the
    pass and batch a start step falls in, dropping incomplete batches) is
    shared here.

    Attributes:
        name: the `--dataset` value it came from.
        image_shape: `(H, W, C)` the networks see, after any resize.
        num_examples: images in the source.
        num_classes: class count, or None for unlabelled images.
    """

    def __init__(self, name, image_shape, num_examples, num_classes=None):
        self.name = name
        self.image_shape = tuple(image_shape)
        self.num_examples = num_examples
        self.num_classes = num_classes
        # Why labels the dataset holds cannot be used (one line), or None.
        self.label_problem = None

    def batches_per_pass(self, batch_size):
        """Full batches in one pass over the source (the rest is dropped).

        Raises:
            UserError: if the source holds fewer images than one batch.
        """
        num_batches = self.num_examples // batch_size
        if num_batches < 1:
            raise UserError(
                f"{self.name} has {self.num_examples} images, fewer than "
                f"--batch_size={batch_size}; lower the batch size."
            )
        return num_batches

    def stream(self, batch_size, seed=0, start_step=0, shuffle_buffer=60_000):
        """The endless stream of uint8 batches, from batch `start_step` on.

        Each pass over the data is shuffled with `seed` and cut into
        `batches_per_pass(batch_size)` full batches; passes follow one
        another without end.

        Args:
            batch_size: images per batch.
            seed: shuffling seed.
            start_step: the first batch to yield (a resumed run).
            shuffle_buffer: images in a TFDS source's shuffle buffer (arrays
                are permuted whole).

        Returns:
            A `tf.data.Dataset` of `(images, labels)`: uint8
            `(batch_size, *image_shape)` and int32 `(batch_size,)`, -1 for
            unlabelled images.
        """
        num_batches = self.batches_per_pass(batch_size)
        first_pass, skip_batches = divmod(int(start_step), num_batches)
        examples = self._passes(batch_size, num_batches, seed, first_pass, shuffle_buffer)
        batches = examples.skip(skip_batches * batch_size).batch(batch_size, drop_remainder=True)
        return self._at_size(batches)

    def take(self, count=None):
        """The first `count` images (all when None) in stored order, at `image_shape`.

        Returns:
            `(images, labels)`: uint8 `(N, *image_shape)` and int32 `(N,)`,
            labels None when the source has no classes.
        """
        raise NotImplementedError

    def _passes(self, batch_size, num_batches, seed, first_pass, shuffle_buffer):
        """Unbatched `(image, label)` examples, pass `first_pass` on; each pass
        `num_batches * batch_size` long."""
        raise NotImplementedError

    def _at_size(self, batches):
        """Batches brought to `image_shape` (sources that resize per image: as they are)."""
        return batches


class ArraySource(ImageSource):
    """Images held in memory as arrays: IDX folders, `.npz` files, image folders.

    Pass `p` of the stream is a permutation drawn from the stateless seed
    `(seed, p)`, so any pass starts without reading the ones before it.
    Images stored at another size are resized batch by batch.

    Args:
        name: the `--dataset` value.
        images: `(N, h, w, C)` uint8, as stored.
        labels: `(N,)` int32 class labels, or None.
        image_size: side of the square images the networks see; 0 keeps the
            stored height.
        label_problem: why labels the dataset holds cannot be used (one
            line), or None.

    Example:

    >>> source = ArraySource("digits", np.zeros((96, 28, 28, 1), np.uint8), image_size=32)
    >>> source.image_shape
    (32, 32, 1)
    """

    def __init__(self, name, images, labels=None, image_size=0, label_problem=None):
        size = image_size or images.shape[1]
        num_classes = int(labels.max()) + 1 if labels is not None and len(labels) else None
        super().__init__(name, (size, size, images.shape[-1]), len(images), num_classes)
        self.images = images
        self.labels = labels
        self.label_problem = label_problem

    def take(self, count=None):
        images = self.images[:count]
        labels = None if self.labels is None else self.labels[:count]
        size = self.image_shape[0]
        if len(images) and not at_size(images.shape, size):
            images = np.concatenate(
                [
                    np.asarray(resize_images(images[i : i + _RESIZE_CHUNK], size))
                    for i in range(0, len(images), _RESIZE_CHUNK)
                ]
            )
        return images, labels

    def _passes(self, batch_size, num_batches, seed, first_pass, shuffle_buffer):
        import tensorflow as tf

        labels = self.labels if self.labels is not None else np.full(len(self.images), -1)
        images = tf.constant(self.images)
        labels = tf.constant(labels.astype(np.int32))
        count = len(self.images)

        def one_pass(index):
            order = tf.random.experimental.stateless_shuffle(
                tf.range(count, dtype=tf.int64),
                seed=tf.stack([tf.constant(seed, tf.int64), index]),
            )
            return tf.data.Dataset.from_tensor_slices(order[: num_batches * batch_size])

        indices = tf.data.Dataset.counter(start=first_pass).flat_map(one_pass)
        return indices.map(lambda i: (tf.gather(images, i), tf.gather(labels, i)))

    def _at_size(self, batches):
        import tensorflow as tf

        size = self.image_shape[0]
        if at_size(self.images.shape, size):
            return batches
        return batches.map(
            lambda images, labels: (resize_images(images, size), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
