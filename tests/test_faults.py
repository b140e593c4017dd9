"""Faults mid-run: a clear message, and nothing already saved is lost."""

import logging
import os

import numpy as np
import pytest
import tensorflow as tf

import kgan.callbacks.sample_snapshot as sample_snapshot
from kgan.checkpoint import TrainingCheckpoint, list_checkpoints, read_state
from kgan.errors import NonFiniteLossError, UserError
from kgan.gan import GAN
from kgan.training import build_gan, train
from tests.conftest import assert_one_line_error, tiny_config
from tests.test_train_cli import run_train


class DivergingGAN(GAN):
    """G's loss turns NaN from the 5th step on (optimizer iteration 4)."""

    def generator_loss(self, fake_logits):
        loss = super().generator_loss(fake_logits)
        return tf.where(self.g_optimizer.iterations >= 4, tf.constant(np.nan), loss)


def _config(idx_folder, tmp_path, **overrides):
    values = dict(
        dataset=idx_folder,
        out_dir=str(tmp_path / "run"),
        epochs=3,
        steps_per_epoch=3,
        checkpoint_every=2,
    )
    return tiny_config(**{**values, **overrides})


def test_a_nan_loss_stops_the_run_naming_the_step_and_the_last_good_checkpoint(
    idx_folder, tmp_path
):
    config = _config(idx_folder, tmp_path)
    with pytest.raises(NonFiniteLossError) as error:
        train(config, gan_class=DivergingGAN, verbose=0)
    folder = os.path.join(config.out_dir, "checkpoints")
    # Saved: step 2 (every 2), step 3 (epoch 1's end), step 4; step 5 went NaN.
    steps = [read_state(p)["step"] for p in list_checkpoints(folder)]
    assert steps == [4, 3]
    message = str(error.value)
    assert "g_loss became nan at step 5" in message
    assert os.path.join(folder, "ckpt-000000004") in message and "untouched" in message
    # The last good checkpoint restores to finite weights.
    gan = build_gan(config, (28, 28, 1))
    assert TrainingCheckpoint(gan, folder).restore_latest().step == 4
    assert all(np.isfinite(w.numpy()).all() for w in gan.weights)


def test_a_full_disk_mid_run_stops_clearly_and_the_rerun_resumes(
    idx_folder, tmp_path, monkeypatch, caplog
):
    config = _config(idx_folder, tmp_path, checkpoint_every=0)
    write = tf.train.Checkpoint.write
    calls = []

    def full_at_the_third_checkpoint(self, prefix, *args, **kwargs):
        calls.append(prefix)  # step 0 (the start), 3, then 6
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return write(self, prefix, *args, **kwargs)

    monkeypatch.setattr(tf.train.Checkpoint, "write", full_at_the_third_checkpoint)
    with pytest.raises(UserError, match="No space left on device") as error:
        train(config, verbose=0)
    assert "checkpoint of step 6" in str(error.value)
    folder = os.path.join(config.out_dir, "checkpoints")
    assert sorted(os.listdir(folder)) == ["ckpt-000000000", "ckpt-000000003"]
    monkeypatch.undo()

    with caplog.at_level(logging.INFO):
        result = train(config, verbose=0)
    assert "resuming from" in caplog.text and "step 3, epoch 2 of 3" in caplog.text
    assert len(result.history["d_loss"]) == 2
    assert read_state(list_checkpoints(folder)[0])["step"] == 9


def test_a_failed_write_of_the_samples_names_the_checkpoint_to_resume_from(
    idx_folder, tmp_path, monkeypatch
):
    config = _config(idx_folder, tmp_path, epochs=2, checkpoint_every=0)
    save_png = sample_snapshot.save_png

    def full_in_epoch_2(image, path):
        if path.endswith("epoch_002.png"):
            raise OSError(28, "No space left on device")
        save_png(image, path)

    monkeypatch.setattr(sample_snapshot, "save_png", full_in_epoch_2)
    with pytest.raises(UserError) as error:
        train(config, verbose=0)
    message = str(error.value)
    assert "No space left on device" in message and "ckpt-000000003" in message
    assert os.path.exists(os.path.join(config.out_dir, "samples", "epoch_001.png"))


def test_a_rerun_with_other_settings_is_refused_in_one_line(idx_folder, tmp_path):
    out_dir = str(tmp_path / "run")
    common = [f"--dataset={idx_folder}", f"--out_dir={out_dir}", "--epochs=1"]
    tiny = ["--steps_per_epoch=1", "--batch_size=8", "--g_filters=16", "--d_filters=8"]
    assert run_train(*common, *tiny).returncode == 0
    assert_one_line_error(
        run_train(*common, *tiny, "--label_flip=0.2"), "label_flip: 0.1 -> 0.2", "fresh --out_dir"
    )


def _folder_with_a_truncated_image(folder):
    from PIL import Image

    rng = np.random.default_rng(0)
    os.makedirs(folder)
    for i in range(16):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(f"{folder}/{i}.png")
    with open(f"{folder}/7.png", "r+b") as f:
        f.truncate(60)
    return folder


def test_a_truncated_image_stops_or_is_skipped_with_a_count(tmp_path, caplog):
    folder = _folder_with_a_truncated_image(str(tmp_path / "images"))
    result = run_train(f"--dataset={folder}", f"--out_dir={tmp_path}/a", "--on_bad_image=stop")
    assert_one_line_error(result, "7.png is not a readable image", "--on_bad_image=skip")
    assert not os.path.exists(tmp_path / "a" / "checkpoints")

    config = tiny_config(dataset=folder, out_dir=str(tmp_path / "b"), steps_per_epoch=1)
    with caplog.at_level(logging.WARNING):
        train(config, verbose=0)
    assert "skipped 1 unreadable or truncated image files" in caplog.text
