"""Counts global training steps across epochs, resumes and steps_per_execution."""


class StepCounter:
    """The global step, kept current from `on_epoch_begin`/`on_train_batch_end`.

    Keras numbers batches from 0 in every epoch and, with
    `steps_per_execution > 1`, reports only the last batch of each
    execution; a resumed run also starts its first epoch part-way through.
    The counter adds the batches actually run, starting from `initial_step`.

    Args:
        initial_step: steps already done before this `fit` (a resumed run).
    """

    def __init__(self, initial_step=0):
        self.step = int(initial_step)
        self._last_batch = -1

    def epoch_begin(self):
        self._last_batch = -1

    def batch_end(self, batch):
        """Advances to the end of `batch`; returns the global step."""
        self.step += batch - self._last_batch
        self._last_batch = batch
        return self.step
