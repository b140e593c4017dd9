"""Writing a run's files so that a crash never leaves a half-written one."""

import contextlib
import os
import shutil
import uuid


@contextlib.contextmanager
def atomic_open(path, mode="w", **kwargs):
    """Opens a temporary file beside `path`; renames it to `path` when the block ends.

    Readers of `path` (the report page, TensorBoard, a resumed run) see the
    old file or the new one, never a partial write; if the block raises, the
    temporary file is deleted and `path` is untouched.

    Args:
        path: the file to (re)place; its folder is created if needed.
        mode: `"w"` or `"wb"`.
        **kwargs: passed to `open` (e.g. `newline=""` for CSV).

    Example:

    >>> with atomic_open("run/history.csv", newline="") as f:
    ...     f.write("epoch,d_loss\\n")
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = f"{path}.tmp"
    try:
        with open(temporary, mode, **kwargs) as f:
            yield f
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def atomic_write(path, data):
    """Writes `data` (text or bytes) to `path` atomically; returns `path`."""
    with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


@contextlib.contextmanager
def atomic_folder(path):
    """Yields a temporary path beside folder `path`; moves it to `path` when the block ends.

    The block creates and fills the folder (a SavedModel, a checkpoint, a
    cached classifier); only a complete one ever takes the name `path`. If
    the block raises, the temporary folder is deleted and `path` is untouched.

    Example:

    >>> with atomic_folder("run/generator") as folder:
    ...     tf.saved_model.save(model, folder)
    """
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    temporary = os.path.join(parent, f".{os.path.basename(path)}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield temporary
        replace_folder(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def replace_folder(source, target):
    """Moves folder `source` to `target`, replacing it with at most a rename gap.

    An existing `target` is first renamed aside and deleted only once
    `source` is in place.
    """
    old = None
    if os.path.exists(target):
        old = f"{target}.old-{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
    os.replace(source, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)
