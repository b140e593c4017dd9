"""Errors a user can cause and fix, kept apart from programming errors."""


class UserError(ValueError):
    """A bad setting, path or file that the user can fix.

    `train.py` prints the message of a `UserError` as one line and exits
    non-zero, so the message must name the offending value and the fix.
    """


class NonFiniteLossError(UserError):
    """Training diverged: a loss became NaN or infinite.

    The message names the step and the last good checkpoint.

    Attributes:
        step: the global step whose loss was not finite (None if unknown).
        key: the loss that was not finite, e.g. `"d_loss"` (None if unknown).
    """

    def __init__(self, message, step=None, key=None):
        super().__init__(message)
        self.step = step
        self.key = key
