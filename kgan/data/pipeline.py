"""The training pipeline: an `ImageSource`'s stream, scaled, batched and prefetched.

Example:

>>> source = load_source("../shared/data/mnist")
>>> dataset, steps = make_dataset(source, batch_size=128, seed=0)
"""

import logging
import math

from kgan.data.transforms import scale_images


def epoch_steps(source, batch_size, steps_per_epoch=None, steps_per_execution=1):
    """Steps of one training epoch: the one definition every part of a run uses.

    One pass of full batches, capped at `steps_per_epoch`, rounded up to a
    multiple of `steps_per_execution` (Keras runs whole executions).
    """
    steps = source.batches_per_pass(batch_size)
    if steps_per_epoch:
        steps = min(steps, steps_per_epoch)
    return max(math.ceil(steps / steps_per_execution), 1) * steps_per_execution


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

    The stream of batches is endless and a function of `seed` alone (see
    `ImageSource.stream`): each pass over the data is shuffled and cut into
    `num_examples // batch_size` batches. Epochs of training
    (`steps_per_epoch`) need not line up with passes: the stream goes on.

    Args:
        source: an `ImageSource`.
        batch_size: global batch size; incomplete batches are dropped.
        seed: shuffling seed.
        output: `"tanh"` scales to [-1, 1], `"sigmoid"` to [0, 1].
        with_labels: yield `(images, labels)` instead of images alone.
        shuffle_buffer: images in the shuffle buffer (TFDS sources).
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

    batches = source.stream(batch_size, seed, start_step, shuffle_buffer)

    def prepare(images, labels):
        images = scale_images(images, output)
        return (images, labels) if with_labels else images

    dataset = batches.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
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
