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
| `reconstruction` | FastGAN's decoder of D's features (`Reconstruction`) | `None` |
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
    global_mean,
    make_replica_aware,
    minimize,
    num_replicas,
    step_outputs,
)
from kgan.export import export_generator, to_unit_range
from kgan.parts import RECIPE, GeneratorEMA, check_bounded, parts_from_config
from kgan.precision import loss_scaled
from kgan.standing_stats import StandingStatistics

_PARTS = ("label_noise", "augmenter", "balance", "penalty", "reconstruction")


class GAN(keras.Model):
    """A generator and a discriminator trained against each other by `fit`.

    Each `train_step` (Goodfellow et al. 2014; Radford et al. 2015) generates
    ONE fake batch on G's tape; updates D on an all-real and an all-fake
    batch, two forward passes (BatchNorm never mixes their statistics), with
    label noise on its targets only; updates G through the freshly updated D
    on the same fake batch (as the PyTorch DCGAN example does), then its
    weight average; and hands the step's signals to the controllers (ADA's
    `augmenter`, D's handicap `balance`). Whatever D sees goes through
    `augment()` first, in D's update and in G's, so G is never taught to
    produce augmentations. All randomness comes from `seed_generator`, owned
    by the model and distinct per replica (`kgan.distribute`).

    Args:
        generator: maps latents `(B, latent_dim)` to images `(B, H, W, C)`.
        discriminator: maps images to logits `(B, 1)` or `(B, N, N, 1)`.
        latent_dim: size of the latent vector; read from the generator if None.
        loss: a `kgan.losses.AdversarialLoss`; default: the class's `LOSS`.
        label_noise, augmenter, balance, penalty, reconstruction: parts
            (module doc); `None` turns one off, leaving it out keeps the recipe's. An unbounded
            critic (`loss.bounded` False) refuses ADA and `balance`.
        ema: decay of the generator's weight average; 0 turns it off.
        standing_stats: recompute BatchNorm statistics before sampling.
        separate_batches: False feeds D one mixed batch (for ablations).
        d_steps: discriminator updates per generator update.
        output_range: G's output range, `(-1, 1)` (tanh) or `(0, 1)` (sigmoid).
        seed: seed of the model's `SeedGenerator`.

    Example:

    >>> gan = GAN(generator, discriminator)  # kgan's recipe
    >>> gan.compile()  # the recipe's Adam(2e-4, beta_1=0.5) for both
    >>> gan.fit(images, epochs=5)
    """

    LOSS = losses.NonSaturatingLoss
    # What `train_step` logs, one `keras.metrics.Mean` each (see `track`).
    LOGGED = (
        *("d_loss", "g_loss", "d_real_acc", "d_fake_acc", "d_grad_norm", "g_grad_norm"),
        *("label_flip", "label_smoothing", "d_real_sign", "augment_p", "balance"),
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
        reconstruction=RECIPE,
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
        given = dict(
            label_noise=label_noise,
            augmenter=augmenter,
            balance=balance,
            penalty=penalty,
            reconstruction=reconstruction,
        )
        recipe = parts_from_config() if RECIPE in given.values() else {}
        for name in _PARTS:
            setattr(self, name, recipe[name] if given[name] is RECIPE else given[name])
        if self.reconstruction is not None:
            self.reconstruction.attach(discriminator)
        check_bounded(self.loss, self.augmenter, self.balance)
        self.ema = GeneratorEMA(generator, ema, name="ema") if ema else None
        self.standing_statistics = StandingStatistics(self.latent_dim) if standing_stats else None

        # === Settings ===
        self.separate_batches = bool(separate_batches)
        self.d_steps = int(d_steps)
        self.output_range = tuple(float(v) for v in output_range)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOGGED}
        # The last step's own values, for `step_values()`. A plain tf.Variable
        # kept off Keras' and TF's tracking: not a weight, not in checkpoints.
        # Averaged over replicas when written, like the logs.
        self.__dict__["_last_step"] = tf.Variable(
            tf.fill([len(self.LOGGED)], float("nan")),
            trainable=False,
            name="last_step_values",
            aggregation=tf.VariableAggregation.MEAN,
        )
        # Both networks are built functional models: nothing left to build.
        self.built = True

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
        self.d_optimizer.build(
            [*self.discriminator.trainable_variables, *self._d_extra_variables()]
        )
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
        return loss_scaled(optimizer, self.generator.dtype_policy.compute_dtype)

    def call(self, inputs, training=False):
        """Generates images from latents (or `[latents, labels]`)."""
        return self.generator(inputs, training=training)

    # === Sampling and export ===

    def inference_generator(self, conditions=None):
        """The network `sample()` and the export run: the EMA copy if any, else G.

        With standing statistics on, its BatchNorm statistics are recomputed
        for the current weights first (once per G update, eagerly only), from
        `conditions` if given (a conditional G; default: every class in turn).
        """
        network = self.generator if self.ema is None else self.ema.generator
        if self.standing_statistics is None:
            return network
        optimizer = getattr(self, "g_optimizer", None)
        step = 0 if optimizer is None else int(ops.convert_to_numpy(optimizer.iterations))
        return self.standing_statistics.current(network, step, conditions)

    def sample(self, latents, conditions=None):
        """Images in [-1, 1] from `inference_generator()`, in inference mode.

        The forward pass is traced once per network and batch shape
        (`generate` as a `tf.function`, no per-layer eager dispatch). On 2
        CPU cores a default generator's forward pass is compute-bound and
        this saves little (1000 emoji64 images: 2.7-3.1 s eager, 2.5-3.0 s traced,
        on busy cores); the classifier's features gain more (3.9 s -> 2.5 s).
        """
        generator = self.inference_generator(conditions)
        images = self._sampler(generator)(ops.convert_to_tensor(latents), conditions)
        return to_unit_range(images, self.output_range)

    def _sampler(self, generator):
        # Kept off Keras' attribute tracking: traced functions are not state.
        samplers = self.__dict__.setdefault("_samplers", {})
        if id(generator) not in samplers:

            def sample(latents, conditions):
                return self.generate(latents, conditions, training=False, generator=generator)

            samplers[id(generator)] = tf.function(sample, reduce_retracing=True)
        return samplers[id(generator)]

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
        g_grad_norm = minimize(self.g_optimizer, g_tape, g_loss, self.generator)
        if self.ema is not None:
            self.ema.update(self.generator, self.g_optimizer.iterations)

        # ADA: how sure D is of the real images it was trained on steers p.
        real_sign = global_mean(self.overfitting_signal(d["real_logits"]))
        if self.augmenter is not None:
            self.augmenter.update(real_sign, batch_size * num_replicas())

        # Balance: D's accuracy on this step's batches moves its handicap.
        if self.balance is not None:
            accuracy = global_mean(self.balance_signal(d["real_logits"], d["fake_logits"]))
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

    def _train_discriminator(self, real, fake, conditions=None):
        """One discriminator update; returns `loss`, `real_logits`, `fake_logits`, `grad_norm`."""
        with tf.GradientTape() as tape:
            # Both batches augmented alike (DiffAugment): D cannot tell them apart by it.
            seen_real, seen_fake = self.augment(real), self.augment(fake)
            redrawing = None
            if self.separate_batches:
                # Two forward passes: BatchNorm never mixes real and fake statistics.
                if self.reconstruction is None:
                    real_logits = self.discriminate(seen_real, conditions, training=True)
                else:
                    # The same pass also yields D's features, for the decoder.
                    real_logits, redrawing = self.reconstruction.discriminate(seen_real, conditions)
                fake_logits = self.discriminate(seen_fake, conditions, training=True)
            else:
                both = ops.concatenate([seen_real, seen_fake], axis=0)
                both_conditions = (
                    None if conditions is None else ops.concatenate([conditions, conditions], 0)
                )
                logits = self.discriminate(both, both_conditions, training=True)
                real_logits, fake_logits = ops.split(logits, 2, axis=0)
                if self.reconstruction is not None:
                    _, redrawing = self.reconstruction.discriminate(seen_real, conditions)
            targets = self.real_targets(real_logits), self.fake_targets(fake_logits)
            loss = self.discriminator_loss(real_logits, fake_logits, *targets)
            if redrawing is not None:
                loss = loss + redrawing
            penalty = self.gradient_penalty(real, fake, conditions)
            if penalty is not None:
                loss = loss + penalty
        grad_norm = minimize(
            self.d_optimizer, tape, loss, self.discriminator, self._d_extra_variables()
        )
        return dict(
            loss=loss, real_logits=real_logits, fake_logits=fake_logits, grad_norm=grad_norm
        )

    def _d_extra_variables(self):
        """Variables D's optimizer trains besides D's: the reconstruction decoder's."""
        return [] if self.reconstruction is None else self.reconstruction.trainable_variables

    def track(self, **values):
        """Updates the tracker of each named value (`LOGGED`); returns every tracker's result.

        The values themselves are kept for `step_values()`.
        """
        for name, value in values.items():
            self.trackers[name].update_state(value)
        own = [
            ops.cast(ops.mean(values[name]), "float32") if name in values else float("nan")
            for name in self.LOGGED
        ]
        self._last_step.assign(ops.stack(own))
        self.__dict__["_handed_over"] = tuple(name for name in self.LOGGED if name in values)
        return step_outputs({name: tracker.result() for name, tracker in self.trackers.items()})

    def step_values(self):
        """The last train step's own values (`LOGGED`; not the epoch's running means).

        What the health monitor and TensorBoard logger read after each step
        (through `GlobalStep.latest`); with `steps_per_execution > 1`, the
        last step of each group. Empty before the first step.
        """
        handed_over = self.__dict__.get("_handed_over", ())  # names `track` was given
        values = ops.convert_to_numpy(self._last_step.read_value())
        return {
            name: float(value)
            for name, value in zip(self.LOGGED, values, strict=True)
            if name in handed_over  # a NaN among them is the step's own
        }

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
