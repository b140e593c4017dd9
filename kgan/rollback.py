"""Surviving divergence: back to the last good checkpoint, at half the learning rates.

A loss that turns NaN or infinite stops `fit` (`StopOnNonFiniteLoss`, before
anything diverged is saved). `fit_surviving_divergence` then restores the
newest checkpoint (checkpoint 0, the untrained state, when none came later),
halves both learning rates, saves that checkpoint again with the lower rates
and the rollback count (in `state.json`), and fits again from there: the
same batches and random numbers, smaller steps. A run that diverges again
before its next checkpoint goes one checkpoint further back (its weights,
not its step size, were past saving) and drops the newer one. A run killed
after a rollback resumes with the lowered rates: they are the optimizers'
own variables, restored with them, while `config.json` keeps the flags as
given.

Example:

>>> history = fit_surviving_divergence(lambda: fit_once(run, gan), run, gan, strategy)
"""

import logging

import keras

from kgan.errors import NonFiniteLossError

# Each rollback halves the rates; three (1/8 of the flags' rates) that do not
# help mean the recipe, not the step size, is what diverges.
MAX_ROLLBACKS = 3


def fit_surviving_divergence(fit, run, gan, strategy):
    """Calls `fit()` until it ends without diverging, rolling back in between.

    Args:
        fit: a function that fits `gan` from `run`'s current point (its
            `initial_step` and `clock`) and returns the history dict.
        run: the resumed `kgan.run_folder.RunFolder`.
        gan: the compiled GAN it trains.
        strategy: the `tf.distribute.Strategy` the model was built in.

    Returns:
        What the last `fit()` returned.

    Raises:
        NonFiniteLossError: a divergence after `MAX_ROLLBACKS` rollbacks.
    """
    returned_to = None
    while True:
        try:
            return fit()
        except NonFiniteLossError as error:
            returned_to = roll_back(run, gan, strategy, error, returned_to)


def roll_back(run, gan, strategy, error, returned_to=None):
    """Restores `run`'s last good checkpoint into `gan` and halves both learning rates.

    Args:
        run: the `RunFolder` whose checkpoint to return to.
        gan: the GAN that diverged.
        strategy: the `tf.distribute.Strategy` the model was built in.
        error: the `NonFiniteLossError` that ended the fit.
        returned_to: what the previous rollback returned, if any: when no
            checkpoint was saved since, this one goes one further back.

    Returns:
        `(checkpoint path, step)` it returned to, for the next rollback.

    Raises:
        NonFiniteLossError: `error`, extended, when `MAX_ROLLBACKS` are done.
    """
    done = run.checkpoint.rollbacks
    if done >= MAX_ROLLBACKS:
        raise NonFiniteLossError(
            f"{error} ({done} rollbacks, each halving the learning rates, to "
            f"{describe_learning_rates(gan)}, did not prevent it.)",
            step=error.step,
            key=error.key,
        ) from None
    optimizers = (gan.d_optimizer, gan.g_optimizer)
    # Halved from the rates in use: the checkpoint restores its own.
    halved = [learning_rate(optimizer) / 2 for optimizer in optimizers]
    again = returned_to is not None and run.checkpoint.last_saved == returned_to[0]
    point = (again and run.restore(strategy, before_step=returned_to[1])) or run.restore(strategy)
    if point is None:  # no checkpoint to return to (outside `train`)
        raise error
    for optimizer, rate in zip(optimizers, halved, strict=True):
        optimizer.learning_rate = rate
    # Saved at once, so a run killed from here on resumes with the lower rates.
    run.checkpoint.rollbacks = done + 1
    path = run.checkpoint.save(point.step, point.epoch, run.steps_per_epoch, run.config.to_dict())
    run.checkpoint.remove_after(point.step)  # what a rollback further back gave up on
    logging.warning(
        "%s became non-finite at step %s: rolled back to the checkpoint of step %d%s with the "
        "learning rates halved to %s (rollback %d of %d)",
        error.key or "a loss",
        "?" if error.step is None else error.step,
        point.step,
        f" (step {returned_to[1]}'s diverged again)" if again else "",
        describe_learning_rates(gan),
        done + 1,
        MAX_ROLLBACKS,
    )
    return path, point.step


def learning_rate(optimizer):
    """`optimizer`'s current learning rate, as a float."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def describe_learning_rates(gan):
    """`"d_lr=..., g_lr=..."`: the rates `gan`'s optimizers use now."""
    return f"d_lr={learning_rate(gan.d_optimizer):.3g}, g_lr={learning_rate(gan.g_optimizer):.3g}"
