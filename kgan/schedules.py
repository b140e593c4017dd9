"""Label-noise schedules: how the label noise of epoch 0 changes over a run.

Pure Python, so `kgan.config` offers `--label_noise_schedule` the very names
that `kgan.callbacks.LabelNoiseSchedule` runs, without TensorFlow.
"""

SCHEDULES = ("constant", "linear", "step")


def label_noise_scale(schedule, epoch, decay_epochs=10, final_scale=0.0, step_factor=0.5):
    """The factor applied to the initial label noise in `epoch` (0-based).

    - `constant`: 1.
    - `linear`: from 1 at epoch 0 down to `final_scale` at `decay_epochs`,
      then flat.
    - `step`: `step_factor ** (epoch // decay_epochs)`.

    Args:
        schedule: one of `SCHEDULES`.
        epoch: the epoch, from 0.
        decay_epochs: length of the linear decay, or epochs between steps
            (at least 1).
        final_scale: `linear`: the factor reached at `decay_epochs`.
        step_factor: `step`: the factor applied at every step.

    Raises:
        ValueError: for a schedule not in `SCHEDULES`.

    Example:

    >>> [label_noise_scale("linear", e, decay_epochs=4) for e in range(6)]
    [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule={schedule!r} is not one of {', '.join(SCHEDULES)}.")
    if schedule == "linear":
        progress = min(epoch / decay_epochs, 1.0)
        return 1.0 - (1.0 - final_scale) * progress
    if schedule == "step":
        return step_factor ** (epoch // decay_epochs)
    return 1.0
