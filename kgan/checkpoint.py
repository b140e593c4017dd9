"""Crash-safe checkpoints of a whole run, and finding where to resume.

A checkpoint is a folder `checkpoints/ckpt-NNNNNNNNN` (the global step,
zero-padded) holding a `tf.train.Checkpoint` of the GAN (generator,
discriminator, both optimizers, label-noise variables, every seed
generator's state, the loss trackers, and whatever else the model tracks,
EMA weights included) and `state.json` (step, epoch, the config, and how
many times the run has rolled back after diverging: `kgan.rollback`).

It is written under a temporary name (`.tmp-...`) and renamed into place
once complete, so a crash at any moment (even `kill -9` halfway through a
write) leaves either the new checkpoint or none: a folder named `ckpt-*`
is always whole. The two newest checkpoints are kept, so a checkpoint that
is somehow unreadable still leaves the one before it.

Example:

>>> checkpoint = TrainingCheckpoint(gan, "run/checkpoints")
>>> point = checkpoint.restore_latest()   # None on a fresh run
>>> checkpoint.save(step=500, epoch=1, steps_per_epoch=468)
"""

import dataclasses
import json
import logging
import os
import shutil
import uuid

import tensorflow as tf

from kgan.errors import UserError
from kgan.quiet import quiet_info_logs

PREFIX = "ckpt-"
STATE = "state.json"
_VARIABLES = "variables"

# Fields that may change between a run and its resumption: where things are
# written, how long to train, and how (devices, compilation), not what.
RESUMABLE_CHANGES = frozenset(
    {
        "epochs",
        "out_dir",
        "data_dir",
        "checkpoint_every",
        "strategy",
        "devices",
        "jit_compile",
        "deterministic",
        "num_samples",
        "on_bad_image",
    }
)


# The layout of a checkpoint's variables, in `state.json`. 2: the GAN's parts
# (kgan.parts) own their state; 1 (no field): it was the GAN's own.
FORMAT = 2


@dataclasses.dataclass
class ResumePoint:
    """Where a restored run stands.

    Attributes:
        path: the checkpoint folder it was restored from.
        step: global steps done.
        epoch: epochs completed (`step // steps_per_epoch`).
        steps_into_epoch: steps of the next epoch already done.
        tracker_values: `{tracker name: its variables' values}` at the
            checkpoint, to put back when the interrupted epoch restarts.
    """

    path: str
    step: int
    epoch: int
    steps_into_epoch: int
    tracker_values: dict


def _step_of(name):
    try:
        return int(name[len(PREFIX) :]) if name.startswith(PREFIX) else None
    except ValueError:
        return None


def list_checkpoints(directory):
    """Complete checkpoint folders in `directory`, newest (highest step) first."""
    if not os.path.isdir(directory):
        return []
    found = [(step, name) for name in os.listdir(directory) if (step := _step_of(name)) is not None]
    return [os.path.join(directory, name) for _, name in sorted(found, reverse=True)]


def read_state(path):
    """The `state.json` of checkpoint folder `path`."""
    with open(os.path.join(path, STATE)) as f:
        return json.load(f)


def config_differences(saved, current):
    """Fields (outside `RESUMABLE_CHANGES`) whose values differ, as text."""
    names = sorted((set(saved) | set(current)) - RESUMABLE_CHANGES)
    return [
        f"{name}: {saved.get(name)!r} -> {current.get(name)!r}"
        for name in names
        if saved.get(name) != current.get(name)
    ]


def _fsync_tree(folder):
    """Flushes every file of `folder`, and the folder, to disk."""
    for root, _, names in os.walk(folder):
        for name in names:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class TrainingCheckpoint:
    """Saves and restores everything a kgan run needs to continue.

    Args:
        gan: the compiled `kgan.GAN` (optimizers built).
        directory: where checkpoints are read from (the run's
            `out_dir/checkpoints`).
        write_directory: where they are written; default `directory`. The
            non-chief workers of a multi-worker run write (they must take
            part in saving) to a folder of their own and read the chief's.
        keep: complete checkpoints kept; older ones are deleted.
    """

    def __init__(self, gan, directory, write_directory=None, keep=2):
        self.gan = gan
        self.directory = directory
        self.write_directory = write_directory or directory
        self.keep = max(int(keep), 1)
        self.last_saved = None
        # Rollbacks after a divergence so far: read from and written to state.json.
        self.rollbacks = 0
        # By name, so a subclass may add, drop or reorder trackers.
        self.trackers = {metric.name: list(metric.variables) for metric in gan.metrics}
        # `gan` reaches the networks, optimizers and model variables by
        # attribute; seed generators are no TF trackables, so every model
        # variable is listed as well (each is stored once either way).
        self._checkpoint = tf.train.Checkpoint(
            gan=gan, model_variables=list(gan.variables), trackers=self.trackers
        )

    # === Saving ===

    def save(self, step, epoch, steps_per_epoch, config=None):
        """Writes checkpoint `ckpt-<step>` atomically; returns its folder.

        Raises:
            UserError: when it cannot be written (a full disk, ...); the
                earlier checkpoints are untouched and no partial one is left.
        """
        os.makedirs(self.write_directory, exist_ok=True)
        final = os.path.join(self.write_directory, f"{PREFIX}{int(step):09d}")
        temporary = os.path.join(self.write_directory, f".tmp-{uuid.uuid4().hex[:8]}")
        state = {
            "format": FORMAT,
            "step": int(step),
            "epoch": int(epoch),
            "steps_per_epoch": int(steps_per_epoch),
            "config": config or {},
            "rollbacks": int(self.rollbacks),
        }
        try:
            os.makedirs(temporary)
            with quiet_info_logs():  # TF logs each shard it writes
                self._checkpoint.write(os.path.join(temporary, _VARIABLES))
            with open(os.path.join(temporary, STATE), "w") as f:
                json.dump(state, f, indent=2, sort_keys=True)
            _fsync_tree(temporary)
            if os.path.exists(final):
                shutil.rmtree(final)
            os.replace(temporary, final)
        except (OSError, tf.errors.OpError) as e:
            shutil.rmtree(temporary, ignore_errors=True)
            reason = getattr(e, "strerror", None) or getattr(e, "message", None) or str(e)
            last = self.last_saved or (list_checkpoints(self.directory) or ["none"])[0]
            raise UserError(
                f"cannot write the checkpoint of step {step} to {self.write_directory} "
                f"({reason}); free disk space and rerun the same command: it resumes "
                f"from the last good checkpoint ({last}), which is untouched."
            ) from None
        self.last_saved = final
        for old in list_checkpoints(self.write_directory)[self.keep :]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def remove_after(self, step):
        """Deletes the checkpoints written after `step` (ones a rollback gave up on)."""
        for path in list_checkpoints(self.write_directory):
            if _step_of(os.path.basename(path)) > step:
                shutil.rmtree(path, ignore_errors=True)

    def remove_partial_writes(self):
        """Deletes temporary folders left by a crash in the middle of a save."""
        if not os.path.isdir(self.write_directory):
            return
        for name in os.listdir(self.write_directory):
            if name.startswith(".tmp-"):
                shutil.rmtree(os.path.join(self.write_directory, name), ignore_errors=True)

    # === Restoring ===

    def restore_latest(self, config=None, steps_per_epoch=None, before_step=None):
        """Restores the newest readable checkpoint; returns a `ResumePoint` or None.

        Args:
            config: the current config as a dict; the run is refused if a
                field outside `RESUMABLE_CHANGES` differs from the saved one.
            steps_per_epoch: the current steps per epoch; must match.
            before_step: restore only a checkpoint of an earlier step.

        Raises:
            UserError: a checkpoint of a different config, or none readable.
        """
        paths = list_checkpoints(self.directory)
        if before_step is not None:
            paths = [p for p in paths if _step_of(os.path.basename(p)) < before_step]
        failures = []
        for path in paths:
            try:
                state = read_state(path)
            except (OSError, ValueError) as e:
                failures.append(f"{path}: {e}")
                logging.warning(
                    "checkpoint %s has no readable %s (%s); trying an older one", path, STATE, e
                )
                continue
            check_compatible(path, state, config, steps_per_epoch)
            try:
                status = self._checkpoint.read(os.path.join(path, _VARIABLES))
                # Every variable that exists now must be restored; state a model
                # creates later (on its first step) is restored when created.
                status.assert_existing_objects_matched()
            except Exception as e:  # a damaged file fails in many ways
                failures.append(f"{path}: {type(e).__name__}")
                logging.warning(
                    "checkpoint %s cannot be restored (%s); trying an older one",
                    path,
                    str(e).splitlines()[0] if str(e) else type(e).__name__,
                )
                continue
            step = int(state["step"])
            per_epoch = int(state["steps_per_epoch"])
            self.last_saved = path
            self.rollbacks = int(state.get("rollbacks", 0))
            return ResumePoint(
                path=path,
                step=step,
                epoch=step // per_epoch,
                steps_into_epoch=step % per_epoch,
                tracker_values={
                    name: [v.numpy() for v in variables]
                    for name, variables in self.trackers.items()
                },
            )
        if paths:
            raise UserError(
                f"no checkpoint in {self.directory} can be restored ({'; '.join(failures)}); "
                "move the folder away to start afresh."
            )
        return None


def check_compatible(path, state, config=None, steps_per_epoch=None, image_shape=None):
    """Raises `UserError` if checkpoint `path` (with `state`) is not this run's.

    Args:
        path: the checkpoint folder, for the message.
        state: its `state.json`.
        config: the current config as a dict; fields outside
            `RESUMABLE_CHANGES` must equal the saved ones.
        steps_per_epoch: the current steps per epoch; must match.
        image_shape: the current data's `(H, W, C)`; must be the shape the
            saved generator makes (its `image_size` and the channels of its
            output layer's bias, read from the checkpoint's object graph).
            Not checked when that cannot be read (e.g. a custom generator).

    Raises:
        UserError: in one line naming the run folder and the fix.
    """

    def saved_channels():
        # The generator's last operation with a bias is its output conv: (channels,).
        from tensorflow.core.protobuf import trackable_object_graph_pb2

        try:
            reader = tf.train.load_checkpoint(os.path.join(path, _VARIABLES))
            graph = trackable_object_graph_pb2.TrackableObjectGraph()
            graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
            shapes = reader.get_variable_to_shape_map()

            def child(node, name):
                return next(graph.nodes[c.node_id] for c in node.children if c.local_name == name)

            operations = child(child(child(graph.nodes[0], "gan"), "generator"), "_operations")
            for ref in sorted(operations.children, key=lambda c: -int(c.local_name)):
                operation = graph.nodes[ref.node_id]
                if any(c.local_name == "bias" for c in operation.children):
                    bias = child(operation, "bias").attributes
                    key = next(a.checkpoint_key for a in bias if a.name == "VARIABLE_VALUE")
                    return int(shapes[key][0])
        except Exception:  # unreadable or another layout: restore_latest reports it
            return None
        return None

    if state.get("format", 1) != FORMAT:
        raise UserError(
            f"{path} was written by an earlier kgan, whose model kept its state in other "
            "variables; finish that run with the kgan that started it, or choose a fresh --out_dir."
        )
    if image_shape is not None and state.get("config", {}).get("image_size"):
        channels = saved_channels()
        size = int(state["config"]["image_size"])
        saved = (size, size, channels)
        if channels is not None and tuple(int(d) for d in image_shape) != saved:
            dataset = (config or {}).get("dataset", "the data")
            raise UserError(
                f"{os.path.dirname(os.path.dirname(path))} holds a checkpoint of a generator for "
                f"{'x'.join(map(str, saved))} images but --dataset={dataset} holds "
                f"{'x'.join(map(str, image_shape))} images; use another --out_dir or the same data."
            )
    if config is not None:
        saved_config = state.get("config", {})
        differences = config_differences(saved_config, config)
        if differences:
            fix = "rerun with the same flags to resume"
            saved_precision = saved_config.get("mixed_precision")
            if saved_precision != config.get("mixed_precision"):
                # `auto` is resolved when a run starts: the same flags can mean another
                # precision on another machine, or after `auto`'s rule changed.
                fix = (
                    f"rerun with the same flags and --mixed_precision={saved_precision} "
                    "(the precision this run started with) to resume"
                )
            raise UserError(
                f"{path} was saved by a run with other settings ({'; '.join(differences)}); "
                f"{fix}, or choose a fresh --out_dir."
            )
    if steps_per_epoch is not None and int(state["steps_per_epoch"]) != steps_per_epoch:
        raise UserError(
            f"{path} was saved with {state['steps_per_epoch']} steps per epoch, this run has "
            f"{steps_per_epoch}; rerun with the same data and flags, or a fresh --out_dir."
        )


def check_resumable(directory, config=None, steps_per_epoch=None, image_shape=None):
    """Checks, before any model is built, that `directory` holds this run's checkpoints.

    Args:
        directory: the run's checkpoint folder.
        config: the run's config as a dict.
        steps_per_epoch: this run's steps per epoch.
        image_shape: `(H, W, C)` of this run's data; a checkpoint of a
            generator for another shape (grey vs colour) is refused.

    Returns:
        The newest checkpoint's state, or None when there is none to resume.
    """
    for path in list_checkpoints(directory):
        try:
            state = read_state(path)
        except (OSError, ValueError):
            continue
        check_compatible(path, state, config, steps_per_epoch, image_shape)
        return state
    return None
