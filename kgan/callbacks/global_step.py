"""The run's one global step, and each step's own metrics, for every callback to read."""

import keras


class GlobalStep(keras.callbacks.Callback):
    """Counts global training steps across epochs, resumes and `steps_per_execution`.

    Keras numbers batches from 0 in every epoch and, with
    `steps_per_execution > 1`, reports only the last batch of each
    execution; a resumed run also starts its first epoch part-way through.
    This callback adds the batches actually run and hands on each step's own
    metrics: a kgan `GAN`'s `step_values()`, what its `train_step` measured;
    for another model, the mean of each metric over the steps since the
    previous report, recovered from two consecutive running means of the
    epoch logs (`(t * m_t - s * m_s) / (t - s)`, which loses float32 digits
    late in a long epoch).
    Place it first (after `MidEpochResume`): the callbacks after it read `step`, `epoch_step` and
    `latest` in their own `on_train_batch_end`.

    Attributes:
        step: global steps done.
        epoch_step: steps of the current epoch the running means cover (a
            resumed epoch's trackers are restored, so it includes the steps
            done before the crash).
        span: steps since the previous report (1 unless steps run in groups).
        latest: each numeric metric's value at this step (a `GAN`'s own),
            or its mean over those `span` steps (another model).

    Args:
        initial_step: steps already done before this `fit`; None reads the
            generator optimizer's `iterations` when training begins (one
            generator update per step, restored with a checkpoint).

    Example:

    >>> clock = GlobalStep(initial_step=point.step)
    >>> gan.fit(data, callbacks=[clock, GANHealthMonitor(clock=clock)])
    """

    def __init__(self, initial_step=None):
        super().__init__()
        self.initial_step = initial_step
        self.step = int(initial_step or 0)
        self.epoch_step = 0
        self.span = 0
        self.latest = {}

    def on_train_begin(self, logs=None):
        if self.initial_step is None:
            optimizer = getattr(self.model, "g_optimizer", None)
            iterations = getattr(optimizer, "iterations", None)
            self.step = 0 if iterations is None else int(keras.ops.convert_to_numpy(iterations))
        self._means = {}

    def on_epoch_begin(self, epoch, logs=None):
        steps = (self.params or {}).get("steps")
        # Non-zero only in a resumed epoch, whose trackers hold its first steps.
        self.epoch_step = self.step - epoch * steps if steps else 0
        self._first_batch = self.epoch_step
        self._last_batch = -1
        self._means = {}
        if self.epoch_step and self.model is not None:
            # `MidEpochResume` (placed before this) has put the trackers back.
            self._means = {
                metric.name: float(keras.ops.convert_to_numpy(metric.result()))
                for metric in self.model.metrics
            }

    def on_train_batch_end(self, batch, logs=None):
        self.span = batch - self._last_batch
        self._last_batch = batch
        self.step += self.span
        done, self.epoch_step = self.epoch_step, self._first_batch + batch + 1
        own = getattr(self.model, "step_values", None)
        if callable(own):
            self.latest = own()
            return
        means = {name: value for name, value in (logs or {}).items() if _is_number(value)}
        self.latest = {}
        for name, mean in means.items():
            mean = float(mean)
            before = self._means.get(name)
            if before is None or not done:
                self.latest[name] = mean  # the epoch's first report: its mean is its own
            else:
                self.latest[name] = (self.epoch_step * mean - done * before) / self.span
        self._means = {name: float(mean) for name, mean in means.items()}


class StepCallback(keras.callbacks.Callback):
    """A callback that reads the global step of a `GlobalStep`.

    Given the run's `clock` (placed earlier in the callback list), it only
    reads it; given none, it keeps its own, so it also works on its own in
    a plain `fit`. Subclasses that override `on_train_begin`,
    `on_epoch_begin` or `on_train_batch_end` call `super()` first.

    Args:
        clock: the run's `GlobalStep`, or None for a private one.
    """

    def __init__(self, clock=None):
        super().__init__()
        self._owns_clock = clock is None
        self.clock = GlobalStep() if clock is None else clock

    @property
    def step(self):
        """Global steps done."""
        return self.clock.step

    def set_model(self, model):
        super().set_model(model)
        if self._owns_clock:
            self.clock.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        if self._owns_clock:
            self.clock.set_params(params)

    def on_train_begin(self, logs=None):
        if self._owns_clock:
            self.clock.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        if self._owns_clock:
            self.clock.on_epoch_begin(epoch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if self._owns_clock:
            self.clock.on_train_batch_end(batch, logs)


def _is_number(value):
    if isinstance(value, (bool, str)) or value is None:
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
