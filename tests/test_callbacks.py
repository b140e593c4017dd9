"""Callbacks: label-noise schedules, sample snapshots, the history file."""

import csv

import numpy as np
import pytest
from PIL import Image

from kgan.callbacks import HistoryCSV, LabelNoiseSchedule, SampleSnapshot
from kgan.images import make_grid, to_uint8


@pytest.mark.parametrize(
    "schedule, kwargs, expected",
    [
        ("constant", {}, [1, 1, 1, 1, 1]),
        ("linear", {"decay_epochs": 4}, [1, 0.75, 0.5, 0.25, 0]),
        ("linear", {"decay_epochs": 2, "final_scale": 0.5}, [1, 0.75, 0.5, 0.5, 0.5]),
        ("step", {"decay_epochs": 2, "step_factor": 0.5}, [1, 1, 0.5, 0.5, 0.25]),
    ],
)
def test_schedule_factors(schedule, kwargs, expected):
    callback = LabelNoiseSchedule(0.1, 0.1, schedule=schedule, **kwargs)
    np.testing.assert_allclose([callback.scale(e) for e in range(5)], expected)


def test_unknown_schedule_is_rejected():
    with pytest.raises(ValueError, match="cosine"):
        LabelNoiseSchedule(schedule="cosine")


def test_step_schedule_changes_the_model_at_the_right_epoch(tiny_gan):
    seen = []

    class Spy(LabelNoiseSchedule):
        def on_epoch_begin(self, epoch, logs=None):
            super().on_epoch_begin(epoch, logs)
            seen.append(float(self.model.label_noise.flip.numpy()))

    images = np.zeros((16, 28, 28, 1), "float32")
    schedule = Spy(0.2, 0.0, schedule="step", decay_epochs=2, step_factor=0.5)
    tiny_gan.fit(images, batch_size=8, epochs=5, callbacks=[schedule], verbose=0)
    np.testing.assert_allclose(seen, [0.2, 0.2, 0.1, 0.1, 0.05], rtol=1e-6)


def test_snapshots_use_the_same_latents_every_epoch(tiny_gan, tmp_path, monkeypatch):
    seen = []  # (latents, images) of every sample() the snapshots take
    sample = tiny_gan.sample

    def recording_sample(latents, conditions=None):
        images = sample(latents, conditions)
        seen.append((np.array(latents), np.array(images)))
        return images

    monkeypatch.setattr(tiny_gan, "sample", recording_sample)
    snapshot = SampleSnapshot(str(tmp_path / "samples"), num_samples=9)
    images = np.zeros((16, 28, 28, 1), "float32")
    tiny_gan.fit(images, batch_size=8, epochs=2, callbacks=[snapshot], verbose=0)
    files = sorted(p.name for p in (tmp_path / "samples").iterdir())
    assert files == ["epoch_001.png", "epoch_002.png"]
    assert len(seen) == 2
    (first_latents, _), (second_latents, second_images) = seen
    assert first_latents.shape == (9, 8) and first_latents.std() > 0.5
    np.testing.assert_array_equal(first_latents, second_latents)
    # A later run (a resume) draws the same latents, so its grids compare too.
    again = SampleSnapshot(str(tmp_path / "again"), num_samples=9)
    tiny_gan.fit(images, batch_size=8, epochs=1, callbacks=[again], verbose=0)
    np.testing.assert_array_equal(seen[-1][0], first_latents)
    # Each file is the grid of that epoch's samples.
    grid = np.asarray(Image.open(tmp_path / "samples" / "epoch_002.png"))
    assert grid.shape == (3 * 30 + 2, 3 * 30 + 2)  # 3x3 grid of 28px with 2px padding
    np.testing.assert_array_equal(grid, make_grid(to_uint8(second_images)).reshape(grid.shape))
    # Same weights, same fixed latents: the same picture.
    first = snapshot.write(str(tmp_path / "a.png"))
    second = snapshot.write(str(tmp_path / "b.png"))
    assert np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(second)))
    assert np.asarray(Image.open(first)).std() > 0


def test_history_csv_rows_and_resume(tmp_path):
    path = str(tmp_path / "history.csv")
    callback = HistoryCSV(path)
    callback.on_train_begin()
    callback.on_epoch_end(0, {"d_loss": 1.5, "g_loss": 0.7})
    callback.on_epoch_end(1, {"d_loss": 1.4, "g_loss": 0.8, "fcd": 12.0})
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert rows[0]["fcd"] == "" and float(rows[1]["fcd"]) == 12.0

    # A resumed run after epoch 1 replaces epoch 2 instead of repeating it.
    resumed = HistoryCSV(path, initial_epoch=1)
    resumed.on_train_begin()
    resumed.on_epoch_end(1, {"d_loss": 1.3, "g_loss": 0.9})
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert float(rows[1]["d_loss"]) == 1.3

    # A fresh run starts a fresh file.
    fresh = HistoryCSV(path)
    fresh.on_train_begin()
    fresh.on_epoch_end(0, {"d_loss": 2.0})
    with open(path) as f:
        assert len(list(csv.DictReader(f))) == 1
