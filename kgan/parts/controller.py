"""A sign-driven integrator: the one feedback rule behind ADA and the balance handicap."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kgan")
class SignController(keras.layers.Layer):
    """A value in [0, 1] moved by the sign of a signal's distance to a target.

    Every `interval` updates, with `r` the mean signal over them and `a` the
    amount they carried (images shown, or steps),
    `value <- clip(value + sign(r - target) * a / span, 0, 1)`: the value
    climbs while the signal stays above the target and falls while it stays
    below, `span` units of amount taking it from 0 to 1, so it settles where
    the signal's median is the target (Karras et al. 2020, ADA's rule).

    kgan uses it twice: ADA's augmentation probability (signal
    `E[sign(D(real))]`, amount: images, `interval=4`) and D's handicap of
    `balance="auto"` (signal: D's accuracy, amount: one step, `interval=1`).

    The value and the running sums are model weights (checkpointed). Every
    replica computes the same new values from all-reduced signals, so the
    first replica's write stands for all.

    Args:
        target: the signal to hold.
        span: amount (images, steps) for the value to go from 0 to 1.
        interval: updates summed before each move.
        initial: the value before the first update.

    Example:

    >>> ada = SignController(target=0.6, span=100_000, interval=4)
    >>> ada.update(real_sign, amount=batch_size)  # in train_step
    """

    def __init__(self, target, span, interval=1, initial=0.0, **kwargs):
        super().__init__(**kwargs)
        self.target = float(target)
        self.span = float(span)
        self.interval = int(interval)
        self.initial = float(initial)
        state = dict(shape=(), trainable=False, dtype="float32", aggregation="only_first_replica")
        self.value = self.add_weight(
            initializer=keras.initializers.Constant(self.initial), name="value", **state
        )
        # The running sums over the current interval: signal and updates.
        self.signal_sum = self.add_weight(initializer="zeros", name="signal_sum", **state)
        self.updates = self.add_weight(initializer="zeros", name="updates", **state)
        self.built = True

    def update(self, signal, amount=1.0):
        """Adds one update's `signal`; moves `value` when an interval is complete.

        Args:
            signal: this update's signal (a scalar, the same on every replica).
            amount: what this update carried (images shown, or 1 step).

        Returns:
            The new value.
        """
        sums = self.signal_sum + ops.cast(signal, "float32")
        updates = self.updates + 1.0
        due = updates >= self.interval
        carried = updates * ops.cast(amount, "float32")
        change = ops.sign(sums / updates - self.target) * (carried / self.span)
        self.value.assign(ops.clip(self.value + ops.where(due, change, 0.0), 0.0, 1.0))
        self.signal_sum.assign(ops.where(due, 0.0, sums))
        self.updates.assign(ops.where(due, 0.0, updates))
        return self.value

    def get_config(self):
        return {
            **super().get_config(),
            "target": self.target,
            "span": self.span,
            "interval": self.interval,
            "initial": self.initial,
        }
