"""TFDS datasets (`--dataset=mnist`, `cifar10`, `celeb_a`, ...) as an `ImageSource`.

`load_tfds` checks the name, the `image` feature and the network before
`tfds.load` reads anything, so each way it can fail is one line naming the
fix. The files are read in their stored order: the stream shuffles them
with seeds of its own, so a rerun or a resume sees the same batches.
"""

import difflib
import logging
import socket

import numpy as np

from kgan.data.sources import ImageSource
from kgan.data.transforms import at_size, resize_images
from kgan.errors import UserError
from kgan.quiet import quiet_info_logs

# Sources whose decoded images fit in this many bytes are cached in memory.
_CACHE_BYTES = 2 << 30
# TFDS downloads most datasets from this mirror first.
_DOWNLOAD_HOST = ("storage.googleapis.com", 443)
# `take` reads this many images per batch.
_TAKE_BATCH = 1000


class TFDSSource(ImageSource):
    """A `tf.data.Dataset` of `(image, label)` pairs as TFDS stores them.

    Images are resized one by one (TFDS images may each have their own
    size) and then cached when they fit in memory. The stream reshuffles
    with a seeded buffer: pass `p` is the same in every run, but reaching
    it means reading the passes before it.

    Args:
        name: the TFDS name.
        dataset: unbatched `(image_uint8, label_int32)` pairs (label -1 when
            the dataset has none).
        image_shape: `(H, W, C)` the networks see.
        num_examples: images in the split.
        num_classes: class count, or None.
    """

    def __init__(self, name, dataset, image_shape, num_examples, num_classes=None):
        super().__init__(name, image_shape, num_examples, num_classes)
        self.dataset = dataset

    def take(self, count=None):
        dataset = self.dataset if count is None else self.dataset.take(count)
        dataset = self._resized(dataset)
        images, labels = [], []
        for image_batch, label_batch in dataset.batch(_TAKE_BATCH).as_numpy_iterator():
            images.append(image_batch)
            labels.append(label_batch)
        labels = np.concatenate(labels).astype(np.int32)
        return np.concatenate(images), labels if self.num_classes is not None else None

    def _resized(self, dataset, **map_options):
        size = self.image_shape[0]
        if at_size(dataset.element_spec[0].shape, size):
            return dataset
        return dataset.map(lambda image, label: (resize_images(image, size), label), **map_options)

    def _passes(self, batch_size, num_batches, seed, first_pass, shuffle_buffer):
        import tensorflow as tf

        dataset = self._resized(self.dataset, num_parallel_calls=tf.data.AUTOTUNE)
        if self.num_examples * np.prod(self.image_shape) <= _CACHE_BYTES:
            dataset = dataset.cache()
        dataset = dataset.shuffle(
            min(shuffle_buffer, self.num_examples), seed=seed, reshuffle_each_iteration=True
        )
        dataset = dataset.take(num_batches * batch_size).repeat()
        if first_pass:
            logging.info("skipping %d passes over %s to resume the stream", first_pass, self.name)
        return dataset.skip(first_pass * num_batches * batch_size)


def network_available(host=_DOWNLOAD_HOST, timeout=3.0):
    """True if a TCP connection to `host` opens within `timeout` seconds."""
    try:
        with socket.create_connection(host, timeout=timeout):
            return True
    except OSError:
        return False


def _offline_error(name, reason):
    return UserError(
        f"TFDS cannot download '{name}' ({reason}); offline, train from a local copy "
        "instead: --dataset=/path/to/folder (MNIST IDX files or images) or --dataset=file.npz."
    )


def load_tfds(name, data_dir=None, image_size=0, split="train"):
    """The `TFDSSource` of TFDS dataset `name`, through `tfds.load`.

    Args:
        name: a TFDS name (`mnist`, `fashion_mnist`, `cifar10`, `celeb_a`, ...).
        data_dir: TFDS data folder.
        image_size: side of the square images; 0 keeps the stored size
            (which must then be square).
        split: `"train"` or `"test"`.

    Raises:
        UserError: for an unknown name (with close names), a dataset without
            images, non-square images without `image_size`, or a download
            that cannot happen.
    """
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        with quiet_info_logs():  # TFDS logs each place it looked
            builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        with quiet_info_logs():
            names = tfds.list_builders()
        close = difflib.get_close_matches(name, names, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UserError(
            f"--dataset={name} is neither an existing path nor a TFDS dataset name.{hint}"
        ) from None
    features = builder.info.features
    if "image" not in features:
        raise UserError(f"TFDS dataset '{name}' has no 'image' feature to train on.")
    if not builder.is_prepared() and not network_available():
        raise _offline_error(name, "no network connection")
    tfds_split = "test" if split == "test" else "train"
    try:
        dataset = tfds.load(name, split=tfds_split, data_dir=data_dir, shuffle_files=False)
    except (OSError, ConnectionError) as e:
        raise _offline_error(name, f"{type(e).__name__}: {e}") from None
    try:
        num_examples = int(builder.info.splits[tfds_split].num_examples)
    except KeyError:  # split sizes unknown until generated (and under mock_data)
        num_examples = 0
    num_examples = num_examples or _count(dataset)
    height, width, channels = features["image"].shape
    if not image_size:
        if height is None or height != width:
            raise UserError(
                f"TFDS dataset '{name}' has {height}x{width} images; pass --image_size "
                "(for example 64) to crop and resize them."
            )
        image_size = height
    label = features["label"] if "label" in features else None

    def to_pair(example):
        image = example["image"]
        target = example["label"] if label is not None else tf.constant(-1, tf.int64)
        return image, tf.cast(target, tf.int32)

    return TFDSSource(
        name,
        dataset.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE),
        image_shape=(image_size, image_size, channels or 3),
        num_examples=num_examples,
        num_classes=getattr(label, "num_classes", None),
    )


def _count(dataset):
    return int(dataset.reduce(0, lambda count, _: count + 1))
