"""The GAN model: a `keras.Model` whose `train_step` plays both sides.

The model holds the two networks and small parts, each owning its state,
config and tests (`kgan.parts`, `kgan.losses`):

| part          | what it does                                       | off    |
|---------------|----------------------------------------------------|--------|
| `loss`        | both losses, and D's decision boundary (`is_real`) | -      |
| `label_noise` | soft and flipped targets for D (`LabelNoise`)      | `None` |
| `augmenter`   | DiffAugment, fixed or ADA-tuned (`Augmenter`)      | `None` |
| `balance`     | D's handicap, a `SignController` on D's accuracy   | `None` |
| `penalty`     | `R1Penalty` or WGAN-GP's `GradientPenalty`         | `None` |
| `ema`         | the generator's weight average (`GeneratorEMA`)    | `0`    |

Left out, a part is kgan's recipe (`kgan.parts.parts_from_config(Config())`,
the defaults of `kgan.config.Config`): `GAN(generator, discriminator)` trains
what `train.py` runs. Override points, the whole list, for subclasses that
change the method (each has a docstring below; `examples/` shows them):

| method                   | default                                            |
|--------------------------|----------------------------------------------------|
| `unpack(data)`           | images from a batch (labels, if any, are dropped)   |
| `sample_latents(n)`      | standard normal `(n, latent_dim)`                   |
| `generate(z, c, training, generator)` | `generator(z)`, or `generator([z, c])`  |
| `discriminate(x, c, training)` | `discriminator(x)`, or `discriminator([x, c])` |
| `real_targets(logits)`, `fake_targets(logits)` | 1 and 0, through `label_noise` |
| `discriminator_loss(...)`, `generator_loss(logits)` | `loss`'s (class default `LOSS`) |
| `gradient_penalty(x, g, c)` | `penalty`'s, or None                             |
| `augment(images)`        | `augmenter`'s DiffAugment, or the images as they are |
| `overfitting_signal(real_logits)` | ADA's `E[sign(D(real))]` at `loss.boundary` |
| `balance_signal(real_logits, fake_logits)` | D's accuracy on both batches     |

`d_steps` (discriminator updates per generator update) and `LOGGED` (the
trackers `train_step` updates and `fit` logs) may be changed by a subclass.
"""

import keras
import tensorflow as tf
from keras import ops

from kgan import losses
from kgan.config import DEFAULTS
from kgan.distribute import (
    ReplicaSeedGenerator,
    in_multi_worker_run,
    make_replica_aware,
    num_replicas,
)
from kgan.errors import UserError
from kgan.export import export_generator
from kgan.parts import RECIPE, GeneratorEMA, parts_from_config
from kgan.standing_stats import StandingStatistics

_PARTS = ("label_noise", "augmenter", "balance", "penalty")


class GAN(keras.Model):
    """A generator and a discriminator trained against each other by `fit`.

    Each `train_step` (Goodfellow et al. 2014; Radford et al. 2015):

    1. samples latents and generates ONE fake batch, recorded on the
       generator's tape;
    2. updates the discriminator on an all-real batch and an all-fake batch,
       two separate forward passes (BatchNorm never mixes their statistics),
       with label noise applied to its targets only;
    3. updates the generator through the freshly updated discriminator,
       reusing the fake batch of step 1 (as the PyTorch DCGAN example
       does), so the generator runs forward once; then the weight average;
    4. hands the step's signals to the controllers: ADA's `augmenter` and
       D's handicap `balance` (which raises the flip rate of `label_noise`
       towards coin-flip targets while D is more accurate than its target).

    Whatever D sees, real or fake, in its own update or in G's, first goes
    through `augment()`, so G is never taught to produce augmentations. All
    randomness comes from `seed_generator`, owned by the model; under a
    `tf.distribute` strategy each replica draws its own numbers (and dropout
    masks), see `kgan.distribute.ReplicaSeedGenerator`.

    Args:
        generator: maps latents `(B, latent_dim)` to images `(B, H, W, C)`.
        discriminator: maps images to logits `(B, 1)` or `(B, N, N, 1)`.
        latent_dim: size of the latent vector; read from the generator if None.
        loss: a `kgan.losses.AdversarialLoss`; default: the class's `LOSS`.
        label_noise, augmenter, balance, penalty: the parts above; `None`
            turns one off, leaving it out keeps the recipe's.
        ema: decay of the generator's weight average; 0 turns it off.
        standing_stats: recompute BatchNorm statistics for the current
            weights before sampling (`kgan.standing_stats`).
        separate_batches: False feeds D one concatenated real+fake batch
            (for ablations; the default keeps them apart).
        d_steps: discriminator updates per generator update.
        output_range: the generator's output range, `(-1, 1)` for tanh and
            `(0, 1)` for sigmoid; `sample()` and the export map it to [-1, 1].
        seed: seed of the model's `SeedGenerator`.

    Raises:
        UserError: for an unbounded critic (`loss.bounded` False) with ADA or
            the balance loop, which read D's decision boundary.

    Example:

    >>> gan = GAN(generator, discriminator)  # kgan's recipe
    >>> gan.compile()  # Adam(2e-4, beta_1=0.5) for both
    >>> gan.fit(images, epochs=5)
    """

    LOSS = losses.NonSaturatingLoss
    # What `train_step` logs, one `keras.metrics.Mean` each (see `track`).
    LOGGED = (
        "d_loss",
        "g_loss",
        "d_real_acc",
        "d_fake_acc",
        "d_grad_norm",
        "g_grad_norm",
        "label_flip",
        "label_smoothing",
        "d_real_sign",
        "augment_p",
        "balance",
    )

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim=None,
        loss=None,
        label_noise=RECIPE,
        augmenter=RECIPE,
        balance=RECIPE,
        penalty=RECIPE,
        ema=DEFAULTS.ema,
        standing_stats=DEFAULTS.standing_stats,
        separate_batches=DEFAULTS.separate_batches,
        d_steps=DEFAULTS.d_steps,
        output_range=(-1.0, 1.0),
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Networks ===
        self.generator = generator
        self.discriminator = discriminator
        latents_shape = generator.input_shape
        if isinstance(latents_shape, list):
            latents_shape = latents_shape[0]
        self.latent_dim = int(latent_dim or latents_shape[-1])
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed, name="gan_seed_generator")
        # Dropout masks, too, must differ from replica to replica.
        make_replica_aware(generator)
        make_replica_aware(discriminator)

        # === Parts (kgan.parts) ===
        self.loss = self.LOSS() if loss is None else loss
        given = dict(label_noise=label_noise, augmenter=augmenter, balance=balance, penalty=penalty)
        recipe = parts_from_config() if RECIPE in given.values() else {}
        for name in _PARTS:
            setattr(self, name, recipe[name] if given[name] is RECIPE else given[name])
        if not self.loss.bounded:
            self._refuse_unbounded()
        self.ema = GeneratorEMA(generator, ema, name="ema") if ema else None
        self.standing_statistics = StandingStatistics(self.latent_dim) if standing_stats else None

        # === Settings ===
        self.separate_batches = bool(separate_batches)
        self.d_steps = int(d_steps)
        self.output_range = tuple(float(v) for v in output_range)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOGGED}
        # Both networks are built functional models: nothing left to build.
        self.built = True

    def _refuse_unbounded(self):
        loss = type(self.loss).__name__
        if self.augmenter is not None and self.augmenter.adaptive:
            raise UserError(
                f"adaptive augmentation reads sign(D(real)), which the unbounded critic of {loss} "
                "does not have: use --augment=fixed (Augmenter(adaptive=False)) or --augment=off."
            )
        if self.balance is not None:
            raise UserError(
                f"--balance=auto reads D's accuracy, which the unbounded critic of {loss} does "
                "not have: use --balance=off."
            )

    @property
    def metrics(self):
        # Listed here so Keras resets them at each epoch start.
        return list(self.trackers.values())

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Configures the two optimizers; other kwargs go to `Model.compile`.

        Args:
            d_optimizer: the discriminator's optimizer (default: the recipe's Adam).
            g_optimizer: the generator's optimizer (default: the recipe's Adam).
            **kwargs: e.g. `jit_compile`, `steps_per_execution`, `run_eagerly`.
        """
        # optimizer=None: Keras would otherwise add an unused RMSprop.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = self._prepare_optimizer(d_optimizer, "d")
        self.g_optimizer = self._prepare_optimizer(g_optimizer, "g")
        # Built now, so checkpoints can be restored before the first step.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def _prepare_optimizer(self, optimizer, network):
        if optimizer is None:
            optimizer = keras.optimizers.Adam(
                getattr(DEFAULTS, f"{network}_lr"),
                beta_1=DEFAULTS.beta_1,
                beta_2=DEFAULTS.beta_2,
                name=f"{network}_adam",
            )
        # Only Model.optimizer is loss-scaled automatically under float16.
        compute_dtype = self.generator.dtype_policy.compute_dtype
        if compute_dtype == "float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer
        ):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{network}_loss_scale")
        return optimizer

    def call(self, inputs, training=False):
        """Generates images from latents (or `[latents, labels]`)."""
        return self.generator(inputs, training=training)

    # === Sampling and export ===

    def inference_generator(self, conditions=None):
        """The network `sample()` and the export run: the EMA copy if any, else G.

        With standing statistics on, its BatchNorm statistics are first
        recomputed for the current weights, once per generator update at
        most (eager only; inside a traced function it is returned as is).

        Args:
            conditions: for a conditional generator, labels to draw the
                calibration batch's labels from (default: every class in turn).
        """
        network = self.generator if self.ema is None else self.ema.generator
        if self.standing_statistics is None:
            return network
        optimizer = getattr(self, "g_optimizer", None)
        step = 0 if optimizer is None else int(ops.convert_to_numpy(optimizer.iterations))
        return self.standing_statistics.current(network, step, conditions)

    def sample(self, latents, conditions=None):
        """Images in [-1, 1] from `inference_generator()`, in inference mode."""
        generator = self.inference_generator(conditions)
        images = self.generate(latents, conditions, training=False, generator=generator)
        return self.to_unit_range(images)

    def to_unit_range(self, images):
        """Maps the generator's `output_range` to [-1, 1] (float32)."""
        low, high = self.output_range
        images = ops.cast(images, "float32")
        if (low, high) == (-1.0, 1.0):
            return images
        return (images - low) / (high - low) * 2.0 - 1.0

    def export_generator(self, path):
        """Exports `inference_generator()` to `path` as a SavedModel (`kgan.export`)."""
        return export_generator(self.inference_generator(), path, self.output_range)

    # === Override points ===

    def unpack(self, data):
        """Splits a batch into `(images, conditions)`; the default drops labels (None)."""
        if isinstance(data, (tuple, list)):
            return data[0], None
        return data, None

    def sample_latents(self, batch_size):
        """Returns `(batch_size, latent_dim)` standard normal latents."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def generate(self, latents, conditions=None, training=False, generator=None):
        """Runs `generator` (default `self.generator`); conditions go in as a second input.

        `sample()` passes the weight-averaged copy: an override must run the
        network it is given.
        """
        generator = self.generator if generator is None else generator
        if conditions is None:
            return generator(latents, training=training)
        return generator([latents, conditions], training=training)

    def discriminate(self, images, conditions=None, training=False):
        """Runs the discriminator; conditions, if any, go in as a second input."""
        if conditions is None:
            return self.discriminator(images, training=training)
        return self.discriminator([images, conditions], training=training)

    def real_targets(self, real_logits):
        """D's targets for real images: 1, or `label_noise`'s soft, flipped ones."""
        return self._targets(real_logits, real=True)

    def fake_targets(self, fake_logits):
        """D's targets for generated images: 0, or `label_noise`'s."""
        return self._targets(fake_logits, real=False)

    def discriminator_loss(self, real_logits, fake_logits, real_targets, fake_targets):
        """D's loss on this replica's batch: `loss`'s."""
        return self.loss.discriminator_loss(real_logits, fake_logits, real_targets, fake_targets)

    def generator_loss(self, fake_logits):
        """G's loss on this replica's batch: `loss`'s."""
        return self.loss.generator_loss(fake_logits)

    def gradient_penalty(self, real_images, fake_images, conditions=None):
        """A regulariser added to D's loss inside its tape: `penalty`'s, or None."""
        if self.penalty is None:
            return None
        return self.penalty.compute(self, real_images, fake_images, conditions)

    def augment(self, images):
        """What D sees of `images` (real or fake, in D's update and in G's)."""
        if self.augmenter is None:
            return images
        return self.augmenter.augment(images, self.seed_generator)

    def overfitting_signal(self, real_logits):
        """ADA's `r_t` on this replica's batch: `E[sign(D(real))]` at `loss.boundary`."""
        return ops.mean(self.loss.sign(real_logits))

    def balance_signal(self, real_logits, fake_logits):
        """Who won this step: D's accuracy on the real and the fake batch, in [0, 1]."""
        return 0.5 * (self.loss.real_accuracy(real_logits) + self.loss.fake_accuracy(fake_logits))

    # === The step ===

    def train_step(self, data):
        real, conditions = self.unpack(data)
        batch_size = ops.shape(real)[0]

        # Extra critic updates (WGAN-style), each against a fresh fake batch.
        for _ in range(self.d_steps - 1):
            fake = self.generate(self.sample_latents(batch_size), conditions, training=True)
            self._train_discriminator(real, ops.stop_gradient(fake), conditions)

        # The step's one fake batch, recorded on G's tape for G's update below.
        with tf.GradientTape() as g_tape:
            fake = self.generate(self.sample_latents(batch_size), conditions, training=True)

        # Train D on it (outside G's tape, and stop_gradient: nothing flows into G).
        d = self._train_discriminator(real, ops.stop_gradient(fake), conditions)

        # Train G through the updated D, on the same fake batch: re-entering
        # the tape records D's forward pass onto the generator's graph.
        with g_tape:
            g_logits = self.discriminate(self.augment(fake), conditions, training=True)
            g_loss = self.generator_loss(g_logits)
        g_grad_norm = self._minimize(self.g_optimizer, g_tape, g_loss, self.generator)
        if self.ema is not None:
            self.ema.update(self.generator, self.g_optimizer.iterations)

        # ADA: how sure D is of the real images it was trained on steers p.
        real_sign = self._global_mean(self.overfitting_signal(d["real_logits"]))
        if self.augmenter is not None:
            self.augmenter.update(real_sign, batch_size * num_replicas())

        # Balance: D's accuracy on this step's batches moves its handicap.
        if self.balance is not None:
            accuracy = self._global_mean(self.balance_signal(d["real_logits"], d["fake_logits"]))
            self.balance.update(accuracy)

        # Log: per-replica means of equal slices; Keras averages them over replicas.
        noise = self.label_noise
        return self.track(
            d_loss=d["loss"],
            g_loss=g_loss,
            d_real_acc=self.loss.real_accuracy(d["real_logits"]),
            d_fake_acc=self.loss.fake_accuracy(d["fake_logits"]),
            d_grad_norm=d["grad_norm"],
            g_grad_norm=g_grad_norm,
            label_flip=0.0 if noise is None else noise.flip_probability(self._handicap()),
            label_smoothing=0.0 if noise is None else noise.smoothing,
            d_real_sign=real_sign,
            augment_p=0.0 if self.augmenter is None else self.augmenter.p,
            balance=self._handicap(),
        )

    def _handicap(self):
        return 0.0 if self.balance is None else self.balance.value

    def _targets(self, logits, real):
        if self.label_noise is None:
            return ops.full_like(logits, 1.0 if real else 0.0)
        return self.label_noise.targets(logits, real, self.seed_generator, self._handicap())

    def _global_mean(self, value):
        """The mean of a per-replica mean over all replicas (equal slices)."""
        value = ops.cast(value, "float32")
        if num_replicas() > 1:
            context = tf.distribute.get_replica_context()
            value = context.all_reduce(tf.distribute.ReduceOp.MEAN, value)
        return value

    def _train_discriminator(self, real, fake, conditions=None):
        """One discriminator update; returns `loss`, `real_logits`, `fake_logits`, `grad_norm`."""
        with tf.GradientTape() as tape:
            # Both batches augmented alike (DiffAugment): D cannot tell them apart by it.
            seen_real, seen_fake = self.augment(real), self.augment(fake)
            if self.separate_batches:
                # Two forward passes: BatchNorm never mixes real and fake statistics.
                real_logits = self.discriminate(seen_real, conditions, training=True)
                fake_logits = self.discriminate(seen_fake, conditions, training=True)
            else:
                both = ops.concatenate([seen_real, seen_fake], axis=0)
                both_conditions = (
                    None if conditions is None else ops.concatenate([conditions, conditions], 0)
                )
                logits = self.discriminate(both, both_conditions, training=True)
                real_logits, fake_logits = ops.split(logits, 2, axis=0)
            loss = self.discriminator_loss(
                real_logits,
                fake_logits,
                self.real_targets(real_logits),
                self.fake_targets(fake_logits),
            )
            penalty = self.gradient_penalty(real, fake, conditions)
            if penalty is not None:
                loss = loss + penalty
        grad_norm = self._minimize(self.d_optimizer, tape, loss, self.discriminator)
        return {
            "loss": loss,
            "real_logits": real_logits,
            "fake_logits": fake_logits,
            "grad_norm": grad_norm,
        }

    def track(self, **values):
        """Updates the tracker of each named value (`LOGGED`); returns every tracker's result."""
        for name, value in values.items():
            self.trackers[name].update_state(value)
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if in_multi_worker_run():
            # Keras 3 reduces multi-worker step outputs along axis 0, which a
            # scalar lacks (tensorflow/tensorflow#72388): give them one.
            results = {name: ops.reshape(value, (1,)) for name, value in results.items()}
        return results

    def _minimize(self, optimizer, tape, loss, network):
        """Applies one update of `network` for `loss`; returns its gradient's norm.

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
        variables = network.trainable_variables
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

    # === Serialisation: every part by its own config ===

    def get_config(self):
        config = super().get_config()
        serialize = keras.saving.serialize_keras_object
        config.update(
            generator=serialize(self.generator),
            discriminator=serialize(self.discriminator),
            latent_dim=self.latent_dim,
            loss=serialize(self.loss),
            **{name: serialize(getattr(self, name)) for name in _PARTS},
            ema=0.0 if self.ema is None else self.ema.decay,
            standing_stats=self.standing_statistics is not None,
            separate_batches=self.separate_batches,
            d_steps=self.d_steps,
            output_range=list(self.output_range),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator", "discriminator", "loss", *_PARTS):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        return cls(**config)
