"""Running kgan under a `tf.distribute` strategy, one device or many.

`make_strategy` turns `--strategy` (and `--devices`) into a strategy;
`WorkerRole` says whether this process is the one that owns the run's
folder. `ReplicaSeedGenerator` is the model's source of randomness: a
`keras.random.SeedGenerator` whose draws differ from replica to replica.
Without it, every replica of a `MirroredStrategy` would draw the very same
latents, label noise and dropout masks (the generator state is one mirrored
variable), so N devices would see N copies of one random batch.
"""

import dataclasses
import json
import logging
import os

import keras
import tensorflow as tf
from keras import ops

from kgan.errors import UserError


def num_replicas():
    """Replicas of the current strategy (1 outside any strategy)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def global_mean(value):
    """The mean of a per-replica mean over all replicas (equal slices)."""
    value = ops.cast(value, "float32")
    if num_replicas() > 1:
        context = tf.distribute.get_replica_context()
        value = context.all_reduce(tf.distribute.ReduceOp.MEAN, value)
    return value


def minimize(optimizer, tape, loss, network, extra_variables=()):
    """Applies one update of `network` for `loss`; returns its gradient's norm.

    `extra_variables` (a part trained with the network, e.g. D's
    reconstruction decoder) are updated with it, by the same optimizer.

    The one place that knows how a GAN's hand-written loss meets a
    strategy and mixed precision:

    - each replica's loss is the mean over its slice of the global batch
      and the optimizer sums the replicas' gradients, so the gradient is
      taken of `loss / replicas` (the global batch's mean);
    - under float16 the backward pass runs on the loss times the loss
      scale (`optimizer.scale_loss`), which `apply_gradients` divides out;
    - the norm is that of the full-batch gradient of the unscaled loss,
      the same number on one device or on N replicas: the replicas'
      gradients are summed here first and each hands the optimizer 1/N
      of the sum (which it sums again). One more all-reduce per update
      buys a norm that is not per replica, and a loss-scale finite check
      that every replica agrees on (Keras checks the first replica's only).
    """
    variables = [*network.trainable_variables, *extra_variables]
    # Seeding the backward pass with this factor is scaling the loss by it.
    factor = optimizer.scale_loss(1.0 / num_replicas())
    grads = tape.gradient(loss, variables, output_gradients=ops.cast(factor, loss.dtype))
    pairs = [(g, v) for g, v in zip(grads, variables, strict=True) if g is not None]
    grads = [g for g, _ in pairs]
    replicas = num_replicas()
    if replicas > 1:
        context = tf.distribute.get_replica_context()
        grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
    norm = tf.linalg.global_norm([ops.cast(g, "float32") for g in grads])
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        norm = norm / ops.cast(optimizer.dynamic_scale, "float32")
    if replicas > 1:
        grads = [g / replicas for g in grads]
    optimizer.apply_gradients(zip(grads, [v for _, v in pairs], strict=True))
    return norm


def step_outputs(results):
    """A train step's logs as Keras can reduce them in this run.

    Keras 3 reduces multi-worker step outputs along axis 0, which a scalar
    lacks (tensorflow/tensorflow#72388): there, each gets one.
    """
    if not in_multi_worker_run():
        return results
    return {name: ops.reshape(value, (1,)) for name, value in results.items()}


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `SeedGenerator` whose seeds are folded with the replica id.

    All replicas share the generator's state (a mirrored variable advanced
    identically everywhere), and each folds its own `replica_id_in_sync_group`
    into the seed it hands out, so replicas draw different numbers while the
    whole run stays a function of the one seed. Outside a multi-replica
    step (one device, callbacks, sampling) the seeds are those of a plain
    `SeedGenerator`.

    Example:

    >>> seed_generator = ReplicaSeedGenerator(0)
    >>> keras.random.normal((4, 100), seed=seed_generator)  # differs per replica
    """

    def next(self, ordered=True):
        seed = super().next(ordered)
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return seed
        # (2,) -> (2,): a new stateless seed, a hash of (seed, replica id).
        folded = tf.random.experimental.stateless_fold_in(
            tf.cast(seed, tf.int64), tf.cast(context.replica_id_in_sync_group, tf.int64)
        )
        return tf.cast(folded, seed.dtype)


def make_replica_aware(model):
    """Makes the seed generators of `model`'s layers (Dropout, ...) per replica.

    Keras layers draw dropout masks from their own `SeedGenerator`; under a
    strategy every replica would apply the same masks to its slice of the
    batch. The generators are retyped in place to `ReplicaSeedGenerator`
    (which adds no state), so their variables, and so checkpoints, are
    unchanged.

    Args:
        model: a Keras model or layer.

    Returns:
        The number of seed generators retyped.
    """
    count = 0
    for layer in _walk(model):
        for value in vars(layer).values():
            if type(value) is keras.random.SeedGenerator:
                value.__class__ = ReplicaSeedGenerator
                count += 1
    return count


def _walk(layer):
    """`layer` and every layer nested in it, depth first."""
    yield layer
    for child in getattr(layer, "layers", ()):
        yield from _walk(child)


@dataclasses.dataclass
class WorkerRole:
    """Where this process stands in a (possibly multi-worker) run.

    Attributes:
        is_chief: the process that owns `--out_dir` (always True outside
            `multi_worker`).
        task_id: the worker's index in `TF_CONFIG` (0 outside it).
        num_workers: processes taking part.
    """

    is_chief: bool = True
    task_id: int = 0
    num_workers: int = 1


def worker_role(strategy):
    """Returns the `WorkerRole` of this process under `strategy`."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return WorkerRole()
    spec = resolver.cluster_spec().as_dict()
    num_workers = sum(len(tasks) for name, tasks in spec.items() if name in ("chief", "worker"))
    return WorkerRole(
        is_chief=bool(strategy.extended.should_checkpoint),
        task_id=int(resolver.task_id or 0),
        num_workers=max(num_workers, 1),
    )


def in_multi_worker_run():
    """True inside a `MultiWorkerMirroredStrategy` spanning several workers."""
    return worker_role(tf.distribute.get_strategy()).num_workers > 1


def _mirrored(devices):
    names = [d.strip() for d in devices.split(",") if d.strip()]
    if not names:
        # All local GPUs, or the CPU when there are none.
        return tf.distribute.MirroredStrategy()
    known = {d.name.lower() for d in tf.config.list_logical_devices()}
    for name in names:
        canonical = tf.DeviceSpec.from_string(name)
        short = f"{canonical.device_type}:{canonical.device_index}".lower()
        if not any(k.endswith(short) for k in known):
            raise UserError(
                f"--devices names {name}, which this machine does not have; "
                f"available: {', '.join(sorted(known))}."
            )
    return tf.distribute.MirroredStrategy(names)


def _multi_worker():
    text = os.environ.get("TF_CONFIG")
    if not text:
        logging.warning(
            "--strategy=multi_worker without TF_CONFIG: training as a single worker. "
            "Set TF_CONFIG on every worker to train on several machines."
        )
    else:
        try:
            json.loads(text)
        except ValueError as e:
            raise UserError(f"TF_CONFIG is not valid JSON ({e}); see the README.") from None
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as e:
        raise UserError(
            f"cannot start --strategy=multi_worker ({e}); it must be created before "
            "TensorFlow runs anything else in the process."
        ) from None


def _tpu(address):
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as e:
        where = f" at {address}" if address else ""
        raise UserError(
            f"--strategy=tpu found no TPU{where} ({e}); on a TPU VM leave --devices "
            "empty, elsewhere pass --devices=<TPU name or grpc:// address>."
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def make_strategy(name="default", devices=""):
    """Creates the `tf.distribute` strategy `--strategy` asks for.

    Call it before TensorFlow runs any op: `multi_worker` configures the
    collective ops of the process and TPUs must be initialised first.

    Args:
        name: `"default"` (one device), `"mirrored"` (the local GPUs, or
            the `devices` given), `"multi_worker"` (`MultiWorkerMirroredStrategy`,
            configured by the `TF_CONFIG` environment variable) or `"tpu"`.
        devices: `mirrored`: comma-separated device names (`/gpu:0,/gpu:1`);
            `tpu`: the TPU's name or address; ignored otherwise.

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        UserError: for devices that do not exist, a bad `TF_CONFIG` or no TPU.
    """
    if name == "mirrored":
        strategy = _mirrored(devices)
    elif name == "multi_worker":
        strategy = _multi_worker()
    elif name == "tpu":
        strategy = _tpu(devices)
    else:
        strategy = tf.distribute.get_strategy()
    if name != "default":
        logging.info("--strategy=%s: %d replicas in sync", name, strategy.num_replicas_in_sync)
    return strategy
