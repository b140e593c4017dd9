"""Anneals label flipping and smoothing over epochs."""

import keras

from kgan.schedules import SCHEDULES, label_noise_scale


class LabelNoiseSchedule(keras.callbacks.Callback):
    """Sets the GAN's label noise (`gan.label_noise.flip`, `.smoothing`) at each epoch start.

    Both are multiplied by one factor per epoch: label noise helps most
    early, when D would otherwise win outright, and can fade once G is good.

    - `constant`: 1.
    - `linear`: from 1 at epoch 0 down to `final_scale` at `decay_epochs`,
      then flat.
    - `step`: `step_factor ** (epoch // decay_epochs)`.

    The values live in model variables, so changing them never retraces
    `train_step`.

    Args:
        label_flip: flip rate at epoch 0 (default: the model's value at the
            start of training).
        label_smoothing: smoothing at epoch 0 (likewise).
        schedule: `"constant"`, `"linear"` or `"step"`.
        decay_epochs: length of the linear decay, or epochs between steps.
        final_scale: `linear`: the factor reached at `decay_epochs`.
        step_factor: `step`: the factor applied at every step.

    Example:

    >>> schedule = LabelNoiseSchedule(0.1, 0.1, schedule="linear", decay_epochs=10)
    >>> gan.fit(data, epochs=20, callbacks=[schedule])
    """

    def __init__(
        self,
        label_flip=None,
        label_smoothing=None,
        schedule="constant",
        decay_epochs=10,
        final_scale=0.0,
        step_factor=0.5,
    ):
        super().__init__()
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule={schedule!r} is not one of {', '.join(SCHEDULES)}.")
        self.label_flip = label_flip
        self.label_smoothing = label_smoothing
        self.schedule = schedule
        self.decay_epochs = max(int(decay_epochs), 1)
        self.final_scale = float(final_scale)
        self.step_factor = float(step_factor)

    def scale(self, epoch):
        """The factor applied to the initial label noise in `epoch` (0-based).

        See `kgan.schedules.label_noise_scale`.
        """
        return label_noise_scale(
            self.schedule, epoch, self.decay_epochs, self.final_scale, self.step_factor
        )

    def on_train_begin(self, logs=None):
        noise = self.model.label_noise
        if noise is None:
            raise ValueError("LabelNoiseSchedule needs a GAN with label noise (label_noise=None).")
        if self.label_flip is None:
            self.label_flip = float(noise.flip.numpy())
        if self.label_smoothing is None:
            self.label_smoothing = float(noise.smoothing.numpy())

    def on_epoch_begin(self, epoch, logs=None):
        factor = self.scale(epoch)
        self.model.label_noise.flip.assign(self.label_flip * factor)
        self.model.label_noise.smoothing.assign(self.label_smoothing * factor)
