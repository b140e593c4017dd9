"""Checkpoints hold the whole run, are written atomically and refuse other runs."""

import logging
import os

import keras
import numpy as np
import pytest

from kgan.checkpoint import TrainingCheckpoint, list_checkpoints, read_state
from kgan.errors import UserError
from kgan.training import build_gan
from tests.conftest import tiny_config


def _images(count=16):
    return np.random.default_rng(0).uniform(-1, 1, (count, 28, 28, 1)).astype("float32")


def _gan():
    keras.utils.set_random_seed(0)
    return build_gan(tiny_config(d_dropout=0.3), (28, 28, 1))


def _values(gan):
    """Every variable of the model and of both optimizers, by position."""
    variables = [*gan.variables, *gan.d_optimizer.variables, *gan.g_optimizer.variables]
    return [np.array(v.numpy()) for v in variables]


def test_a_restore_brings_back_networks_optimizers_seeds_and_label_noise(tmp_path):
    gan = _gan()
    gan.fit(_images(), batch_size=8, epochs=1, verbose=0)
    checkpoint = TrainingCheckpoint(gan, str(tmp_path))
    checkpoint.save(step=2, epoch=1, steps_per_epoch=2)
    saved = _values(gan)
    next_latents = np.array(gan.sample_latents(4))

    # Train on, change the label noise: everything moves on.
    gan.fit(_images(), batch_size=8, epochs=1, verbose=0)
    gan.label_noise.flip.assign(0.4)
    moved = _values(gan)
    assert sum(not np.array_equal(a, b) for a, b in zip(saved, moved, strict=True)) > 20

    point = TrainingCheckpoint(gan, str(tmp_path)).restore_latest()
    assert (point.step, point.epoch, point.steps_into_epoch) == (2, 1, 0)
    for before, after in zip(saved, _values(gan), strict=True):
        np.testing.assert_array_equal(before, after)
    # The seed generator's state came back: the same next random numbers.
    np.testing.assert_array_equal(gan.sample_latents(4), next_latents)
    seed_states = [v for v in gan.variables if "seed_generator_state" in v.path]
    assert len(seed_states) == 1 + 2  # the model's, and one per Dropout layer


def test_a_mid_epoch_checkpoint_keeps_the_epochs_running_means(tmp_path):
    gan = _gan()
    gan.fit(_images(), batch_size=8, epochs=1, verbose=0)
    gan.trackers["d_loss"].update_state(7.0)
    mean = float(gan.trackers["d_loss"].result())
    TrainingCheckpoint(gan, str(tmp_path)).save(step=5, epoch=1, steps_per_epoch=4)
    gan.trackers["d_loss"].reset_state()

    point = TrainingCheckpoint(gan, str(tmp_path)).restore_latest()
    assert (point.epoch, point.steps_into_epoch) == (1, 1)
    names = [v.path for v in gan.trackers["d_loss"].variables]
    totals = dict(zip(names, point.tracker_values["d_loss"], strict=True))
    assert float(totals["d_loss/total"]) / float(totals["d_loss/count"]) == pytest.approx(mean)
    # The tracker itself holds the epoch's running mean again.
    assert float(gan.trackers["d_loss"].result()) == pytest.approx(mean)


def test_only_the_two_newest_checkpoints_are_kept(tmp_path):
    checkpoint = TrainingCheckpoint(_gan(), str(tmp_path))
    for step in (2, 4, 6):
        checkpoint.save(step, 0, 10)
    names = sorted(os.listdir(tmp_path))
    assert names == ["ckpt-000000004", "ckpt-000000006"]
    assert read_state(str(tmp_path / names[1]))["step"] == 6


def test_a_half_written_checkpoint_is_never_taken_for_a_good_one(tmp_path, caplog):
    gan = _gan()
    checkpoint = TrainingCheckpoint(gan, str(tmp_path))
    checkpoint.save(2, 0, 10)
    good = _values(gan)
    gan.fit(_images(), batch_size=8, epochs=1, verbose=0)
    newest = checkpoint.save(4, 0, 10)
    # A crash inside a save leaves a temporary folder, never a ckpt-* one ...
    partial = tmp_path / ".tmp-0badf00d"
    partial.mkdir()
    (partial / "variables.index").write_bytes(b"\0" * 10)
    assert [os.path.basename(p) for p in list_checkpoints(str(tmp_path))] == [
        "ckpt-000000004",
        "ckpt-000000002",
    ]
    # ... and a damaged newest checkpoint falls back to the one before it.
    data = next(n for n in os.listdir(newest) if n.startswith("variables.data"))
    with open(os.path.join(newest, data), "r+b") as f:
        f.truncate(100)
    with caplog.at_level(logging.WARNING):
        point = TrainingCheckpoint(gan, str(tmp_path)).restore_latest()
    assert point.step == 2 and "cannot be restored" in caplog.text
    for before, after in zip(good, _values(gan), strict=True):
        np.testing.assert_array_equal(before, after)
    checkpoint.remove_partial_writes()
    assert not partial.exists()


def test_a_checkpoint_of_other_settings_is_refused(tmp_path):
    gan = _gan()
    config = tiny_config().to_dict()
    TrainingCheckpoint(gan, str(tmp_path)).save(2, 0, 10, config)
    checkpoint = TrainingCheckpoint(gan, str(tmp_path))
    with pytest.raises(UserError, match=r"label_flip: 0\.1 -> 0\.3"):
        checkpoint.restore_latest(tiny_config(label_flip=0.3).to_dict(), 10)
    with pytest.raises(UserError, match="10 steps per epoch, this run has 12"):
        checkpoint.restore_latest(config, 12)
    # Longer training, other devices: the same run, resumed.
    longer = tiny_config(epochs=9, strategy="mirrored", checkpoint_every=7).to_dict()
    assert checkpoint.restore_latest(longer, 10).step == 2


def test_a_full_disk_while_checkpointing_keeps_the_last_good_one(tmp_path, monkeypatch):
    gan = _gan()
    checkpoint = TrainingCheckpoint(gan, str(tmp_path))
    good = checkpoint.save(2, 0, 10)

    def disk_full(prefix, *args, **kwargs):
        with open(f"{prefix}.data-00000-of-00001", "wb") as f:
            f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint._checkpoint, "write", disk_full)
    with pytest.raises(UserError) as error:
        checkpoint.save(4, 0, 10)
    message = str(error.value)
    assert "step 4" in message and "No space left on device" in message
    assert good in message and "untouched" in message
    assert os.listdir(tmp_path) == ["ckpt-000000002"]  # no partial folder left
    assert TrainingCheckpoint(gan, str(tmp_path)).restore_latest().step == 2


def test_a_resume_in_another_precision_is_refused_naming_the_flag_that_resumes_it():
    # A run started float32 (`auto` on a CPU without bfloat16, or before `auto` chose it)
    # and resumed where `auto` means mixed_bfloat16: the fix is the saved precision's flag.
    from kgan.checkpoint import FORMAT, check_compatible

    saved = {"dataset": "mnist", "mixed_precision": "none"}
    state = {"format": FORMAT, "config": saved}
    with pytest.raises(UserError) as error:
        check_compatible(
            "run/checkpoints/ckpt-5", state, dict(saved, mixed_precision="mixed_bfloat16")
        )
    assert str(error.value) == (
        "run/checkpoints/ckpt-5 was saved by a run with other settings "
        "(mixed_precision: 'none' -> 'mixed_bfloat16'); rerun with the same flags and "
        "--mixed_precision=none (the precision this run started with) to resume, "
        "or choose a fresh --out_dir."
    )
    with pytest.raises(UserError, match=r"\(dataset: .*; rerun with the same flags to resume,"):
        check_compatible("run/checkpoints/ckpt-5", state, dict(saved, dataset="fashion_mnist"))
    check_compatible("run/checkpoints/ckpt-5", state, saved)  # the same settings: fine
