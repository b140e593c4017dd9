"""Keeps TensorFlow's chatter out of kgan's output.

`quiet_info_logs()` drops INFO records of the `absl` and `tensorflow`
loggers around calls that emit many of them (SavedModel export, TFDS
lookups); warnings and errors still pass.


`import_tensorflow()`: TensorFlow 2.21 prints `I0000 ...` lines (oneDNN, CUDA, CPU features) to
file descriptor 2 before its logging honours `TF_CPP_MIN_LOG_LEVEL`. Command
line programs call `import_tensorflow()` first: it captures that descriptor
while TensorFlow loads and replays every line except those known notices.
With `TF_CPP_MIN_LOG_LEVEL=0` nothing is filtered.
"""

import contextlib
import logging
import os
import sys
import tempfile

_NOTICES = (
    "I0000 ",
    "WARNING: All log messages before absl::InitializeLog()",
    "To enable the following instructions:",
)


def import_tensorflow():
    """Imports and returns `tensorflow`, dropping its start-up notices."""
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") == "0":
        import tensorflow

        return tensorflow
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401  (loads TensorFlow a second time over)
            import tensorflow

            # Device discovery logs a failed cuInit on machines without a GPU.
            tensorflow.config.list_physical_devices()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            no_driver = not os.path.exists("/proc/driver/nvidia")
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if line.startswith(_NOTICES) or (no_driver and "failed call to cuInit" in line):
                    continue
                sys.stderr.write(line)
            sys.stderr.flush()
    return tensorflow


def _drop_info(record):
    return record.levelno >= logging.WARNING


@contextlib.contextmanager
def quiet_info_logs():
    """Drops INFO records of the `absl` and `tensorflow` loggers inside the block.

    A filter, not a level: TensorFlow resets logger levels while it saves.
    """
    loggers = [logging.getLogger(name) for name in ("absl", "tensorflow")]
    for logger in loggers:
        logger.addFilter(_drop_info)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(_drop_info)
