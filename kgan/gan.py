"""The GAN model: a `keras.Model` whose `train_step` plays both sides.

Override points, the whole list, for subclasses that change the method
(each has a docstring below and `examples/` shows them in use):

| method                   | default                                            |
|--------------------------|----------------------------------------------------|
| `unpack(data)`           | images from a batch (labels, if any, are dropped)   |
| `sample_latents(n)`      | standard normal `(n, latent_dim)`                   |
| `generate(z, c, training, generator)` | `generator(z)`, or `generator([z, c])`  |
| `discriminate(x, c, training)` | `discriminator(x)`, or `discriminator([x, c])` |
| `real_targets(logits)`   | 1, smoothed to [1-s, 1], flipped with prob p        |
| `fake_targets(logits)`   | 0, smoothed to [0, s], flipped with prob p          |
| `discriminator_loss(...)`| non-saturating BCE on real plus BCE on fake         |
| `generator_loss(logits)` | non-saturating `-log D(G(z))`                       |
| `gradient_penalty(x, g, c)` | R1 on real images if `r1_gamma > 0` (WGAN-GP: its own) |
| `augment(images)`        | DiffAugment with probability `augment_p` (or none)  |
| `overfitting_signal(real_logits)` | ADA's `E[sign(D(real))]` over the batch    |
| `balance_signal(real_logits, fake_logits)` | D's accuracy on both batches (`balance="auto"`) |

Settings a subclass may change in its constructor: `d_steps` (discriminator
updates per generator update) and `LOGGED`, the names of the trackers that
`train_step` updates and `fit` logs (a subclass that logs more extends it and
passes the values to `track`).

With `ema > 0` the model also owns `ema_generator`, an exponential moving
average of the generator's weights; `sample()` (snapshots, evaluation) and
the export run it through `generate(..., generator=self.sampling_generator)`.
"""

import keras
import tensorflow as tf
from keras import ops

from kgan import augment as augmentation
from kgan import losses
from kgan.distribute import (
    ReplicaSeedGenerator,
    in_multi_worker_run,
    make_replica_aware,
    num_replicas,
)
from kgan.export import export_generator
from kgan.standing_stats import StandingStatistics


class GAN(keras.Model):
    """A generator and a discriminator trained against each other by `fit`.

    Each `train_step` (Goodfellow et al. 2014; Radford et al. 2015):

    1. samples latents and generates ONE fake batch, recorded on the
       generator's tape;
    2. updates the discriminator on an all-real batch and an all-fake batch,
       two separate forward passes (BatchNorm never mixes their statistics),
       with label flipping and smoothing applied to its targets only;
    3. updates the generator with the non-saturating loss through the
       freshly updated discriminator, reusing the fake batch of step 1 (as
       the PyTorch DCGAN example does), so the generator runs forward once;
    4. with `augment="adaptive"`, moves the augmentation probability
       `augment_p` by ADA's rule (`kgan.augment`);
    5. with `balance="auto"`, moves D's handicap `balance` by who won
       the step (see "Balance on autopilot" below).

    Whatever D sees, real or fake, in its own update or in G's, first goes
    through `augment()` (DiffAugment, Zhao et al. 2020): G is scored on
    augmented images too, so it is never taught to produce augmentations.

    Label noise lives in non-trainable variables (`label_flip`,
    `label_smoothing`) that callbacks may assign without retracing. All
    randomness comes from `seed_generator`, owned by the model; under a
    `tf.distribute` strategy each replica draws its own numbers from it
    (and its own dropout masks), see `kgan.distribute.ReplicaSeedGenerator`.

    Balance on autopilot (`balance="auto"`): a feedback loop that keeps the
    two networks learning at a similar pace. Each step, D's accuracy on its
    real and fake batches (`balance_signal`, all-reduced over replicas) is
    compared with `balance_target`; the handicap `h` in [0, 1] moves up by
    `1 / balance_steps` when D was more accurate than the target and down
    by as much when it was less (ADA's sign rule, Karras et al. 2020, on
    D's accuracy instead of its overfitting), so it settles where D's
    median accuracy is the target. The handicap is label noise: D's flip
    probability is `label_flip + h * (0.5 - label_flip)`, from the
    configured rate at `h = 0` to coin-flip targets (no information) at
    `h = 1`. Flipping caps D's confidence and shrinks its expected
    gradient, so a D that races ahead slows down while G catches up; the
    flips themselves are drawn from `seed_generator`. `h` is a model
    weight (checkpointed, identical on every replica).

    With `ema > 0`, every generator update is followed by
    `ema_w <- d * ema_w + (1 - d) * w` for every weight of the generator
    (trainable ones and BatchNorm's moving statistics), with
    `d = min(ema, (1 + n) / (10 + n))` after the n-th generator update: the
    warm-up of `tf.train.ExponentialMovingAverage(num_updates=n)`, so that a
    short run is not dominated by the initial weights. The averaged copy
    (`ema_generator`) is what `sample()` and the export use (Yazici et al.
    2019; keras-io `gan_ada`). Its weights are model variables, so
    checkpoints include them.

    Args:
        generator: maps latents `(B, latent_dim)` to images `(B, H, W, C)`.
        discriminator: maps images to logits `(B, 1)` or `(B, N, N, 1)`.
        latent_dim: size of the latent vector; read from the generator if None.
        label_flip: fraction of D's targets swapped, per image.
        label_smoothing: `s`: real targets drawn from [1-s, 1], fake from [0, s].
        one_sided_smoothing: keep fake targets at 0 (Salimans et al. 2016).
        separate_batches: False feeds D one concatenated real+fake batch
            (for ablations; the default keeps them apart).
        d_steps: discriminator updates per generator update.
        ema: decay of the generator's weight average; 0 turns it off.
        standing_stats: recompute BatchNorm statistics for the current
            weights before sampling (`sampling_network`).
        augment: `"off"`, `"fixed"` (each transform applied to each image
            with probability `augment_p`) or `"adaptive"` (`augment_p`
            starts at 0 and follows ADA's rule).
        augment_p: the probability of `"fixed"`.
        augment_policies: DiffAugment's transforms to use (`kgan.augment`).
        ada_target: the overfitting signal `E[sign(D(real))]` ADA holds.
        ada_kimg: thousands of images for `augment_p` to go from 0 to 1.
        balance: `"off"` or `"auto"` (the feedback loop above).
        balance_target: the accuracy of D (on real and fake alike) to hold.
        balance_steps: steps for the handicap to go from 0 to 1 while D
            keeps winning.
        r1_gamma: weight of the R1 penalty on real images (Mescheder et
            al. 2018), `r1_gamma / 2 * E[|grad_x D(x)|^2]`; 0 turns it off.
        output_range: the generator's output range, `(-1, 1)` for tanh and
            `(0, 1)` for sigmoid; `sample()` and the export map it to [-1, 1].
        seed: seed of the model's `SeedGenerator`.

    Example:

    >>> gan = GAN(generator, discriminator, label_flip=0.1)
    >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
    ...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    >>> gan.fit(images, epochs=5)
    """

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
    BALANCE_MODES = ("off", "auto")

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim=None,
        label_flip=0.1,
        label_smoothing=0.0,
        one_sided_smoothing=False,
        separate_batches=True,
        d_steps=1,
        ema=0.0,
        standing_stats=True,
        output_range=(-1.0, 1.0),
        augment="off",
        augment_p=1.0,
        augment_policies=augmentation.POLICIES,
        ada_target=0.6,
        ada_kimg=100,
        balance="off",
        balance_target=0.7,
        balance_steps=250,
        r1_gamma=0.0,
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

        # === Settings ===
        self.one_sided_smoothing = bool(one_sided_smoothing)
        self.separate_batches = bool(separate_batches)
        self.d_steps = int(d_steps)
        self.ema = float(ema)
        self.output_range = tuple(float(v) for v in output_range)
        self.standing_stats = StandingStatistics(self.latent_dim) if standing_stats else None
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed, name="gan_seed_generator")
        # Dropout masks, too, must differ from replica to replica.
        make_replica_aware(generator)
        make_replica_aware(discriminator)
        self.label_flip = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(label_flip),
            trainable=False,
            dtype="float32",
            name="label_flip",
        )
        self.label_smoothing = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(label_smoothing),
            trainable=False,
            dtype="float32",
            name="label_smoothing",
        )

        # === Augmentation (kgan.augment) ===
        if augment not in augmentation.MODES:
            raise ValueError(f"augment={augment!r} is not one of {', '.join(augmentation.MODES)}.")
        self.augment_mode = augment
        self.augment_policies = tuple(augment_policies)
        self.ada_target = float(ada_target)
        self.ada_kimg = float(ada_kimg)
        initial_p = {"off": 0.0, "fixed": augment_p, "adaptive": 0.0}[augment]
        # Every replica computes the same new values (from all-reduced
        # signs), so the first replica's write stands for all.
        state = dict(shape=(), trainable=False, dtype="float32", aggregation="only_first_replica")
        self.augment_p = self.add_weight(
            initializer=keras.initializers.Constant(initial_p), name="augment_p", **state
        )
        # ADA's running sums over the current interval: sign(D(real)) and steps.
        self.ada_signs = self.add_weight(initializer="zeros", name="ada_signs", **state)
        self.ada_steps = self.add_weight(initializer="zeros", name="ada_steps", **state)

        # === Balance on autopilot: D's handicap h (see the class doc) ===
        if balance not in self.BALANCE_MODES:
            raise ValueError(f"balance={balance!r} is not one of {', '.join(self.BALANCE_MODES)}.")
        self.balance_mode = balance
        self.balance_target = float(balance_target)
        self.balance_steps = float(balance_steps)
        self.balance = self.add_weight(initializer="zeros", name="balance", **state)
        self.r1_gamma = float(r1_gamma)

        # === Weight average of the generator (None when off) ===
        self.ema_generator = None
        if self.ema:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            # Updated by assignment only: never by an optimizer or a BN call.
            self.ema_generator.trainable = False

        # === Trackers: one per logged value ===
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOGGED}
        # Both networks are built functional models: nothing left to build.
        self.built = True

    @property
    def metrics(self):
        # Listed here so Keras resets them at each epoch start.
        return list(self.trackers.values())

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Configures the two optimizers; other kwargs go to `Model.compile`.

        Args:
            d_optimizer: the discriminator's optimizer (default Adam 2e-4, 0.5).
            g_optimizer: the generator's optimizer (default Adam 2e-4, 0.5).
            **kwargs: e.g. `jit_compile`, `steps_per_execution`, `run_eagerly`.
        """
        # optimizer=None: Keras would otherwise add an unused RMSprop.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = self._prepare_optimizer(d_optimizer, "d_optimizer")
        self.g_optimizer = self._prepare_optimizer(g_optimizer, "g_optimizer")
        # Built now, so checkpoints can be restored before the first step.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def _prepare_optimizer(self, optimizer, name):
        if optimizer is None:
            optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5, name=name)
        # Only Model.optimizer is loss-scaled automatically under float16.
        compute_dtype = self.generator.dtype_policy.compute_dtype
        if compute_dtype == "float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer
        ):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{name}_loss_scale")
        return optimizer

    def call(self, inputs, training=False):
        """Generates images from latents (or `[latents, labels]`)."""
        return self.generator(inputs, training=training)

    # === Sampling and export ===

    @property
    def sampling_generator(self):
        """The network `sample()` and the export use: the EMA copy if any."""
        return self.generator if self.ema_generator is None else self.ema_generator

    def sample(self, latents, conditions=None):
        """Images in [-1, 1] for snapshots, evaluation and export (inference mode).

        Runs the weight-averaged generator when `ema > 0`, else the generator,
        with standing BatchNorm statistics when `standing_stats` is on, and
        maps `output_range` to [-1, 1] (a sigmoid generator's [0, 1] too).
        """
        generator = self.sampling_network(conditions)
        images = self.generate(latents, conditions, training=False, generator=generator)
        return self.to_unit_range(images)

    def to_unit_range(self, images):
        """Maps the generator's `output_range` to [-1, 1] (float32)."""
        low, high = self.output_range
        images = ops.cast(images, "float32")
        if (low, high) == (-1.0, 1.0):
            return images
        return (images - low) / (high - low) * 2.0 - 1.0

    def sampling_network(self, conditions=None):
        """`sampling_generator`, its BatchNorm statistics made current first.

        With `standing_stats`, each BatchNorm's moving statistics are
        recomputed for the current weights (`kgan.standing_stats`), once per
        generator update at most. Eager only: inside a traced function the
        network is returned as is.

        Args:
            conditions: for a conditional generator, labels to draw the
                calibration batch's labels from (default: every class in turn).
        """
        if self.standing_stats is None:
            return self.sampling_generator
        optimizer = getattr(self, "g_optimizer", None)
        step = 0 if optimizer is None else int(ops.convert_to_numpy(optimizer.iterations))
        return self.standing_stats.current(self.sampling_generator, step, conditions)

    def export_generator(self, path):
        """Exports `sampling_network()` to `path` as a SavedModel (`kgan.export`).

        Returns:
            `path`; its `serve` endpoint returns images in [-1, 1].
        """
        return export_generator(self.sampling_network(), path, self.output_range)

    # === Override points ===

    def unpack(self, data):
        """Splits a batch from the dataset into `(images, conditions)`.

        The default trains unconditionally: a `(images, labels)` batch keeps
        only the images and `conditions` is None. A conditional GAN returns
        the labels as conditions.
        """
        if isinstance(data, (tuple, list)):
            return data[0], None
        return data, None

    def sample_latents(self, batch_size):
        """Returns `(batch_size, latent_dim)` standard normal latents."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def generate(self, latents, conditions=None, training=False, generator=None):
        """Runs the generator; conditions, if any, go in as a second input.

        Args:
            latents: `(B, latent_dim)` latents.
            conditions: optional conditions (class labels), or None.
            training: True inside `train_step`.
            generator: the network to run; default `self.generator`.
                `sample()` passes the weight-averaged copy, so an override
                must run the network it is given.
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
        """D's targets for real images: 1, smoothed and flipped per image."""
        return self._noisy_targets(real_logits, real=True)

    def fake_targets(self, fake_logits):
        """D's targets for generated images: 0, smoothed and flipped per image."""
        return self._noisy_targets(fake_logits, real=False)

    def discriminator_loss(self, real_logits, fake_logits, real_targets, fake_targets):
        """D's loss on this replica's batch; default: non-saturating BCE."""
        return losses.nonsaturating_discriminator_loss(
            real_logits, fake_logits, real_targets, fake_targets
        )

    def generator_loss(self, fake_logits):
        """G's loss on this replica's batch; default: non-saturating BCE."""
        return losses.nonsaturating_generator_loss(fake_logits)

    def gradient_penalty(self, real_images, fake_images, conditions=None):
        """A regulariser added to D's loss inside its tape; None for none.

        The default is the R1 penalty when `r1_gamma > 0` (`r1_penalty`).
        """
        if not self.r1_gamma:
            return None
        return self.r1_penalty(real_images, conditions)

    def r1_penalty(self, real_images, conditions=None):
        """R1 (Mescheder et al. 2018): `r1_gamma / 2 * E[|grad_x D(x)|^2]` on real images.

        It pushes D's gradient towards 0 on the data, so D cannot sharpen
        its boundary there without bound. The gradient is that of D's score
        of each image (the mean of its logits, for a PatchGAN head) with
        respect to the image before augmentation, through `augment` as D
        sees it (as StyleGAN2-ADA does). The mean over this replica's batch
        is part of D's loss, which `_minimize` scales for a strategy. It
        costs one more forward and a double backward pass of D per step.
        """
        real = ops.cast(real_images, "float32")
        with tf.GradientTape() as tape:
            tape.watch(real)
            logits = ops.cast(
                self.discriminate(self.augment(real), conditions, training=True), "float32"
            )
            scores = ops.mean(ops.reshape(logits, (ops.shape(logits)[0], -1)), axis=1)
            total = ops.sum(scores)
        grads = tape.gradient(total, real)
        squared = ops.sum(ops.reshape(ops.square(grads), (ops.shape(grads)[0], -1)), axis=1)
        return 0.5 * self.r1_gamma * ops.mean(squared)

    def overfitting_signal(self, real_logits):
        """ADA's `r_t` on this replica's batch: `E[sign(D(real))]`, in [-1, 1].

        1 when D is sure of every real image it trains on, 0 when it cannot
        tell. It assumes logits whose decision boundary is 0: a loss with
        another boundary (LSGAN's 0.5) overrides this; an unbounded critic
        (WGAN) has no such boundary and should not use `augment="adaptive"`.
        """
        return ops.mean(ops.sign(ops.cast(real_logits, "float32")))

    def balance_signal(self, real_logits, fake_logits):
        """Who won this step, for `balance="auto"`: D's accuracy on both batches, in [0, 1].

        The mean of its accuracy on the real and on the fake batch (a logit
        above 0 is "real"). A loss whose decision boundary is not 0 (LSGAN's
        0.5) overrides this, as it does `overfitting_signal`.
        """
        return 0.5 * (losses.real_accuracy(real_logits) + losses.fake_accuracy(fake_logits))

    def augment(self, images):
        """What D sees of `images` (real or fake): DiffAugment with probability `augment_p`.

        Called on every batch D judges, in D's update and in G's; the
        transforms are differentiable, so G's gradient flows through them.
        """
        if self.augment_mode == "off":
            return images
        return augmentation.diff_augment(
            images, self.augment_p, self.seed_generator, self.augment_policies
        )

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
        if self.ema_generator is not None:
            self._update_ema()

        # ADA: how sure D is of the real images it was trained on steers p.
        real_sign = self._global_mean(self.overfitting_signal(d["real_logits"]))
        if self.augment_mode == "adaptive":
            self._adapt_augmentation(real_sign, batch_size)

        # Balance: D's accuracy on this step's batches moves its handicap.
        if self.balance_mode == "auto":
            accuracy = self._global_mean(self.balance_signal(d["real_logits"], d["fake_logits"]))
            self._adapt_balance(accuracy)

        # Log: per-replica means of equal slices; Keras averages them over replicas.
        return self.track(
            d_loss=d["loss"],
            g_loss=g_loss,
            d_real_acc=losses.real_accuracy(d["real_logits"]),
            d_fake_acc=losses.fake_accuracy(d["fake_logits"]),
            d_grad_norm=d["grad_norm"],
            g_grad_norm=g_grad_norm,
            label_flip=self.flip_probability(),
            label_smoothing=self.label_smoothing,
            d_real_sign=real_sign,
            augment_p=self.augment_p,
            balance=self.balance,
        )

    def _global_mean(self, value):
        """The mean of a per-replica mean over all replicas (equal slices)."""
        value = ops.cast(value, "float32")
        if num_replicas() > 1:
            context = tf.distribute.get_replica_context()
            value = context.all_reduce(tf.distribute.ReduceOp.MEAN, value)
        return value

    def _adapt_augmentation(self, real_sign, batch_size):
        """ADA: every `ADA_INTERVAL` steps, moves `augment_p` by `ada_adjustment`."""
        signs = self.ada_signs + real_sign
        steps = self.ada_steps + 1.0
        due = steps >= augmentation.ADA_INTERVAL
        images = steps * ops.cast(batch_size * num_replicas(), "float32")
        change = augmentation.ada_adjustment(signs / steps, self.ada_target, images, self.ada_kimg)
        self.augment_p.assign(ops.clip(self.augment_p + ops.where(due, change, 0.0), 0.0, 1.0))
        self.ada_signs.assign(ops.where(due, 0.0, signs))
        self.ada_steps.assign(ops.where(due, 0.0, steps))

    def _adapt_balance(self, accuracy):
        """Moves the handicap `balance` by `1 / balance_steps` towards D's target accuracy."""
        step = ops.sign(accuracy - self.balance_target) / self.balance_steps
        self.balance.assign(ops.clip(self.balance + step, 0.0, 1.0))

    def flip_probability(self):
        """D's label-flip probability this step: `label_flip`, raised by the handicap."""
        return self.label_flip + self.balance * (0.5 - self.label_flip)

    def _train_discriminator(self, real, fake, conditions=None):
        """One discriminator update on a real and a fake batch.

        Returns:
            A dict: `loss` (with the gradient penalty, if any), `real_logits`,
            `fake_logits` and `grad_norm`.
        """
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
        """Updates the tracker of each named value; returns every tracker's result.

        Args:
            **values: one value per name in `LOGGED` (a subclass that logs
                more extends `LOGGED` and passes its values too).

        Returns:
            The logs of the step: `{name: running mean over the epoch}`.
        """
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

    def _update_ema(self):
        """Moves every EMA weight towards the generator's (see the class doc)."""
        updates = ops.cast(self.g_optimizer.iterations, "float32")
        decay = ops.minimum(self.ema, (1.0 + updates) / (10.0 + updates))
        pairs = [
            (average.value, weight.value)
            for average, weight in zip(
                self.ema_generator.weights, self.generator.weights, strict=True
            )
        ]

        def update(strategy, decay):
            # Cross-replica: each copy of a mirrored weight moves identically.
            for average, weight in pairs:
                strategy.extended.update(
                    average,
                    lambda a, w, d: a.assign(d * a + (1.0 - d) * ops.cast(w, a.dtype)),
                    args=(weight, decay),
                    group=False,
                )

        context = tf.distribute.get_replica_context()
        if context is None:
            update(tf.distribute.get_strategy(), decay)
        else:
            context.merge_call(update, args=(decay,))

    def _noisy_targets(self, logits, real):
        """Per-image targets with smoothing and flipping, broadcast to `logits`."""
        batch_size = ops.shape(logits)[0]
        s = self.label_smoothing
        p = self.flip_probability()
        high = 1.0 - s * keras.random.uniform((batch_size,), seed=self.seed_generator)
        if self.one_sided_smoothing:
            low = ops.zeros((batch_size,))
        else:
            low = s * keras.random.uniform((batch_size,), seed=self.seed_generator)
        own, other = (high, low) if real else (low, high)
        flip = keras.random.uniform((batch_size,), seed=self.seed_generator) < p
        targets = ops.where(flip, other, own)
        # (B,) -> (B, 1, ..., 1): one target per image, shared by its patches.
        broadcast_shape = [batch_size] + [1] * (len(logits.shape) - 1)
        return ops.cast(ops.reshape(targets, broadcast_shape), logits.dtype)

    # === Serialisation ===

    def get_config(self):
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            latent_dim=self.latent_dim,
            label_flip=float(ops.convert_to_numpy(self.label_flip)),
            label_smoothing=float(ops.convert_to_numpy(self.label_smoothing)),
            one_sided_smoothing=self.one_sided_smoothing,
            separate_batches=self.separate_batches,
            d_steps=self.d_steps,
            ema=self.ema,
            standing_stats=self.standing_stats is not None,
            output_range=list(self.output_range),
            augment=self.augment_mode,
            augment_p=float(ops.convert_to_numpy(self.augment_p)),
            augment_policies=list(self.augment_policies),
            ada_target=self.ada_target,
            ada_kimg=self.ada_kimg,
            balance=self.balance_mode,
            balance_target=self.balance_target,
            balance_steps=self.balance_steps,
            r1_gamma=self.r1_gamma,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        return cls(**config)
