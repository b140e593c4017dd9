"""Runs kgan on two logical CPU devices; `tests/test_distribute.py` starts it.

The CPU must be split before TensorFlow initialises its devices, so this
runs in a fresh process:

    python -m tests.distributed_child DATASET OUT_DIR

and writes its measurements to `OUT_DIR/equality.npz` and
`OUT_DIR/replicas.npz` for the tests to check.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kgan.distribute import global_mean  # noqa: E402
from kgan.errors import UserError  # noqa: E402
from kgan.gan import GAN  # noqa: E402
from kgan.training import build_gan, train  # noqa: E402
from tests.conftest import tiny_config  # noqa: E402

TWO_CPUS = "/cpu:0,/cpu:1"


class GlobalLatentGAN(GAN):
    """Draws the global batch's latents and keeps this replica's rows.

    On one device that is the whole batch; on N replicas, replica r gets
    rows r*B/N to (r+1)*B/N: the rows of its slice of the real batch. Both
    runs then train on exactly the same numbers.
    """

    def sample_latents(self, batch_size):
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync
        replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
        step = tf.cast(self.g_optimizer.iterations, tf.int32)
        latents = tf.random.stateless_normal(
            (batch_size * replicas, self.latent_dim), seed=tf.stack([step, 7])
        )
        return latents[replica * batch_size : (replica + 1) * batch_size]


def _state(result):
    gan = result.gan
    variables = {}
    for prefix, model in (("g", gan.generator), ("d", gan.discriminator)):
        for v in model.weights:
            variables[f"{prefix}/{v.path}"] = np.asarray(v.numpy())
    for prefix, optimizer in (("g_opt", gan.g_optimizer), ("d_opt", gan.d_optimizer)):
        for i, v in enumerate(optimizer.variables):
            variables[f"{prefix}/{i}"] = np.asarray(v.numpy())
    history = {f"history/{k}": np.asarray(v) for k, v in result.history.items()}
    return {**variables, **history}


def equality(dataset, out_dir):
    """One device vs two mirrored replicas vs two replicas resumed half-way."""
    results = {}
    common = dict(
        dataset=dataset,
        d_dropout=0.0,
        label_flip=0.0,
        label_smoothing=0.0,
        epochs=3,
        steps_per_epoch=2,
        checkpoint_every=0,
        # The stabilisers too: R1's penalty is scaled like the loss, and
        # spectral normalisation's power iteration runs on every replica alike.
        spectral_norm=True,
        r1_gamma=1.0,
    )
    runs = {
        "one": dict(strategy="default"),
        "two": dict(strategy="mirrored", devices=TWO_CPUS),
    }
    for name, options in runs.items():
        config = tiny_config(out_dir=os.path.join(out_dir, name), **common, **options)
        for key, value in _state(train(config, gan_class=GlobalLatentGAN, verbose=0)).items():
            results[f"{name}/{key}"] = value
    # One epoch on one device, then resumed on two replicas (mirrored variables).
    resumed = dict(common, out_dir=os.path.join(out_dir, "resumed"))
    train(tiny_config(**dict(resumed, epochs=1)), gan_class=GlobalLatentGAN, verbose=0)
    config = tiny_config(**resumed, strategy="mirrored", devices=TWO_CPUS)
    result = train(config, gan_class=GlobalLatentGAN, verbose=0)
    for key, value in _state(result).items():
        results[f"resumed/{key}"] = value
    return results


def replicas(dataset, out_dir):
    """What each replica draws, and what a multi-replica XLA request gets."""
    del dataset
    strategy = tf.distribute.MirroredStrategy(TWO_CPUS.split(","))
    config = tiny_config(d_dropout=0.5)
    gan = build_gan(config, (28, 28, 1), strategy=strategy)
    dropout = next(
        layer for layer in gan.discriminator.layers if isinstance(layer, keras.layers.Dropout)
    )

    @tf.function
    def draw():
        def per_replica():
            ones = tf.ones((4, 6))
            logits = tf.zeros((4, 1))
            return (
                gan.sample_latents(4),
                gan.real_targets(logits),
                dropout(ones, training=True),
            )

        return strategy.run(per_replica)

    latents, targets, masks = (strategy.experimental_local_results(x) for x in draw())
    state = strategy.experimental_local_results(gan.seed_generator.state.value)

    # Outside any strategy the generator hands out a plain SeedGenerator's seeds.
    plain = keras.random.normal((3,), seed=keras.random.SeedGenerator(5))
    folded = keras.random.normal(
        (3,), seed=GAN(gan.generator, gan.discriminator, seed=5).seed_generator
    )

    try:
        build_gan(tiny_config(jit_compile=True), (28, 28, 1), strategy=strategy)
        jit_message = ""
    except UserError as e:
        jit_message = str(e)
    return {
        "latents": np.stack(latents),
        "targets": np.stack(targets),
        "masks": np.stack(masks),
        "states": np.stack(state),
        "plain": np.asarray(plain),
        "replica_seed_generator": np.asarray(folded),
        "jit_message": np.array(jit_message),
    }


def balance(dataset, out_dir):
    """The balance controller's update from D's accuracy, all-reduced over replicas."""
    del dataset, out_dir
    strategy = tf.distribute.MirroredStrategy(TWO_CPUS.split(","))
    # The balance controller: replica 0 sees D at 0.6, replica 1 at 1.0; their
    # mean 0.8 is over the target 0.7, so h goes up on every replica (each
    # replica alone would move it down and up).
    balanced = build_gan(
        tiny_config(balance="auto", balance_steps=4, balance_target=0.7),
        (28, 28, 1),
        strategy=strategy,
    )

    @tf.function
    def adapt_balance():
        def per_replica():
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            accuracy = tf.where(tf.equal(replica, 0), 0.6, 1.0)
            balanced.balance.update(global_mean(accuracy))

        strategy.run(per_replica)

    adapt_balance()
    return {"balance": np.stack(strategy.experimental_local_results(balanced.balance.value.value))}


if __name__ == "__main__":
    dataset_path, out = sys.argv[1:3]
    # `balance` runs in a process of its own (third argument): a hand-made
    # all-reduce under a second strategy breaks the collectives of the others.
    scenarios = (balance,) if sys.argv[3:] == ["balance"] else (equality, replicas)
    for scenario in scenarios:
        np.savez(os.path.join(out, f"{scenario.__name__}.npz"), **scenario(dataset_path, out))
