"""Image data for kgan: one `--dataset` value, many sources, one pipeline.

`load_source` turns a TFDS name or a local path into an `ImageSource`;
`make_dataset` turns that into the training pipeline: scaled to the
generator's output range, shuffled with a seed per pass over the data,
batched with `drop_remainder`, cached when small, repeated and prefetched.
Batch `k` of the stream is a function of the seed alone, so a resumed run
can start the stream at the step where the crashed one stopped.

Example:

>>> source = load_source("../shared/data/mnist")
>>> dataset, steps = make_dataset(source, batch_size=128, seed=0)
"""

import dataclasses
import difflib
import logging
import math
import os
import socket

import numpy as np

from kgan.data.idx import find_idx_files, load_idx_folder
from kgan.data.local import load_image_folder, load_npz
from kgan.errors import UserError
from kgan.quiet import quiet_info_logs

# Sources whose decoded images fit in this many bytes are cached in memory.
_CACHE_BYTES = 2 << 30
# TFDS downloads most datasets from this mirror first.
_DOWNLOAD_HOST = ("storage.googleapis.com", 443)


@dataclasses.dataclass
class ImageSource:
    """Images from one `--dataset`, before scaling and batching.

    Local sources hold NumPy arrays (`images`, `labels`); TFDS sources hold
    an unbatched `tf.data.Dataset` of `(image_uint8, label)` pairs.
    """

    name: str
    image_shape: tuple  # (H, W, C) the networks see, after any resize
    num_examples: int
    num_classes: int | None = None
    images: np.ndarray | None = None  # (N, h, w, C) uint8, as stored
    labels: np.ndarray | None = None  # (N,) int32
    dataset: object = None  # tf.data.Dataset of (image, label) for TFDS


def is_local(dataset):
    """True when `--dataset` names a path rather than a TFDS dataset."""
    return (
        os.path.exists(dataset)
        or os.sep in dataset
        or dataset.startswith((".", "~"))
        or dataset.endswith(".npz")
    )


def load_source(dataset, data_dir=None, image_size=0, split="train", on_bad_image="skip"):
    """Resolves `--dataset` into an `ImageSource`.

    Args:
        dataset: a TFDS name (`mnist`, `fashion_mnist`, `cifar10`, `celeb_a`,
            ...) or a local path: a folder of MNIST-format IDX files, a `.npz`
            file holding an image array, or a folder of image files.
        data_dir: TFDS data folder, passed to `tfds.load`.
        image_size: side of the square images to train on; 0 keeps the
            source's own size.
        split: `"train"` or `"test"` (local IDX folders and TFDS).
        on_bad_image: image folders: `"skip"` or `"stop"` at unreadable files.

    Raises:
        UserError: for a missing path, a folder with nothing readable, an
            unknown TFDS name, or a TFDS download that cannot happen.
    """
    if is_local(dataset):
        return _load_local(os.path.expanduser(dataset), image_size, split, on_bad_image)
    return _load_tfds(dataset, data_dir, image_size, split)


def _load_local(path, image_size, split, on_bad_image):
    if not os.path.exists(path):
        raise UserError(
            f"--dataset={path} does not exist; give an existing IDX folder, .npz file "
            "or image folder, or a TFDS name such as mnist."
        )
    if os.path.isdir(path) and find_idx_files(path):
        images, labels = load_idx_folder(path, split)
    elif os.path.isdir(path):
        images, labels = load_image_folder(path, image_size, on_bad_image)
    elif path.endswith(".npz"):
        images, labels = load_npz(path)
    else:
        raise UserError(
            f"--dataset={path} is a file but not a .npz archive; give a .npz file, an "
            "MNIST IDX folder or a folder of images."
        )
    height, width, channels = images.shape[1:]
    size = image_size or height
    if not image_size and height != width:
        raise UserError(f"{path} holds {height}x{width} images; pass --image_size to square them.")
    num_classes = int(labels.max()) + 1 if labels is not None and len(labels) else None
    return ImageSource(
        name=path,
        image_shape=(size, size, channels),
        num_examples=len(images),
        num_classes=num_classes,
        images=images,
        labels=labels,
    )


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


def _load_tfds(name, data_dir, image_size, split):
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
        # Files in their stored order: make_dataset shuffles with seeds of its own,
        # so that a rerun or a resume sees the same batches.
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
    num_classes = getattr(label, "num_classes", None)

    def to_pair(example):
        image = example["image"]
        target = example["label"] if label is not None else tf.constant(-1, tf.int64)
        return image, tf.cast(target, tf.int32)

    return ImageSource(
        name=name,
        image_shape=(image_size, image_size, channels or 3),
        num_examples=num_examples,
        num_classes=num_classes,
        dataset=dataset.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE),
    )


def _count(dataset):
    return int(dataset.reduce(0, lambda count, _: count + 1))


def scale_images(images, output="tanh"):
    """Maps uint8 images to the generator's range: [-1, 1] (tanh) or [0, 1]."""
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    if output == "sigmoid":
        return images / 255.0
    return images / 127.5 - 1.0


def resize_images(images, size):
    """Centre-crops uint8 `images` (one or a batch) to a square and resizes them.

    Args:
        images: `(H, W, C)` or `(B, H, W, C)` uint8 images, any aspect ratio.
        size: the side of the square result.

    Returns:
        uint8 images `(..., size, size, C)` (antialiased, rounded, clipped).
    """
    import tensorflow as tf

    shape = tf.shape(images)
    height, width = shape[-3], shape[-2]
    side = tf.minimum(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    images = images[..., top : top + side, left : left + side, :]
    resized = tf.image.resize(images, (size, size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def batches_per_pass(source, batch_size):
    """Full batches in one pass over `source` (the rest is dropped).

    Raises:
        UserError: if `source` holds fewer images than one batch.
    """
    num_batches = source.num_examples // batch_size
    if num_batches < 1:
        raise UserError(
            f"{source.name} has {source.num_examples} images, fewer than "
            f"--batch_size={batch_size}; lower the batch size."
        )
    return num_batches


def epoch_steps(source, batch_size, steps_per_epoch=None, steps_per_execution=1):
    """Steps of one training epoch: the one definition every part of a run uses.

    One pass of full batches, capped at `steps_per_epoch`, rounded up to a
    multiple of `steps_per_execution` (Keras runs whole executions).
    """
    steps = batches_per_pass(source, batch_size)
    if steps_per_epoch:
        steps = min(steps, steps_per_epoch)
    return max(math.ceil(steps / steps_per_execution), 1) * steps_per_execution


def _array_stream(images, labels, batch_size, num_batches, seed, first_pass):
    """Endless `(image, label)` examples of in-memory arrays, pass after pass.

    Pass `p` is a permutation drawn from the stateless seed `(seed, p)`, so
    any pass can be started without reading the ones before it.
    """
    import tensorflow as tf

    images = tf.constant(images)
    labels = tf.constant(labels)
    count = len(labels)

    def one_pass(index):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), index])
        )
        return tf.data.Dataset.from_tensor_slices(order[: num_batches * batch_size])

    indices = tf.data.Dataset.counter(start=first_pass).flat_map(one_pass)
    return indices.map(lambda i: (tf.gather(images, i), tf.gather(labels, i)))


def make_dataset(
    source,
    batch_size,
    seed=0,
    output="tanh",
    with_labels=False,
    shuffle_buffer=60_000,
    steps_per_epoch=None,
    start_step=0,
    steps_per_execution=1,
):
    """Builds the training pipeline for `source`.

    The stream of batches is endless and a function of `seed` alone: each
    pass over the data is shuffled and cut into `num_examples // batch_size`
    batches. Epochs of training (`steps_per_epoch`) need not line up with
    passes: the stream simply goes on.

    Args:
        source: an `ImageSource`.
        batch_size: global batch size; incomplete batches are dropped.
        seed: shuffling seed.
        output: `"tanh"` scales to [-1, 1], `"sigmoid"` to [0, 1].
        with_labels: yield `(images, labels)` instead of images alone.
        shuffle_buffer: images in the shuffle buffer.
        steps_per_epoch: optional cap on the batches of one epoch.
        steps_per_execution: steps Keras runs per call (see `epoch_steps`).
        start_step: start the stream at this batch (a resumed run). In-memory
            sources (local files) jump there at the cost of at most one
            pass; TFDS sources read their way there.

    Returns:
        `(dataset, steps)`: an endless, prefetched `tf.data.Dataset` of
        batches and the number of batches in one epoch.
    """
    import tensorflow as tf

    num_batches = batches_per_pass(source, batch_size)
    size = source.image_shape[0]
    first_pass, skip_batches = divmod(int(start_step), num_batches)
    if source.images is not None:
        labels = source.labels if source.labels is not None else np.full(len(source.images), -1)
        dataset = _array_stream(
            source.images, labels.astype(np.int32), batch_size, num_batches, seed, first_pass
        )
        needs_resize = source.images.shape[1:3] != (size, size)
    else:
        dataset = source.dataset
        stored = dataset.element_spec[0].shape
        if stored[0] != size or stored[1] != size:
            dataset = dataset.map(
                lambda image, label: (resize_images(image, size), label),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        if source.num_examples * size * size * source.image_shape[2] <= _CACHE_BYTES:
            dataset = dataset.cache()
        # A reshuffling buffer, seeded: pass p is the same in every run, but
        # reaching it means reading the passes before it.
        dataset = dataset.shuffle(
            min(shuffle_buffer, source.num_examples), seed=seed, reshuffle_each_iteration=True
        )
        dataset = dataset.take(num_batches * batch_size).repeat()
        if first_pass:
            logging.info("skipping %d passes over %s to resume the stream", first_pass, source.name)
        dataset = dataset.skip(first_pass * num_batches * batch_size)
        needs_resize = False
    dataset = dataset.skip(skip_batches * batch_size).batch(batch_size, drop_remainder=True)

    def prepare(images, labels):
        if needs_resize:
            images = resize_images(images, size)
        images = scale_images(images, output)
        return (images, labels) if with_labels else images

    dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    # Every worker builds the same stream and keeps its slice of each batch.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
    steps = epoch_steps(source, batch_size, steps_per_epoch, steps_per_execution)
    logging.info(
        "dataset %s: %d images of %s, %d batches of %d per epoch",
        source.name,
        source.num_examples,
        source.image_shape,
        steps,
        batch_size,
    )
    return dataset, steps
