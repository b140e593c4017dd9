"""What shows a run: TensorBoard logs, the epoch summary line, the report page's inputs."""

import glob
import io
import json
import logging
import os
from collections import defaultdict

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kgan.callbacks import EpochSummary, SampleSnapshot, TensorBoardLogger

FINDING = {
    "epoch": 1,
    "step": 4,
    "failure": "mode_collapse",
    "evidence": "samples 0.02 apart",
    "suggestion": "raise --label_flip",
}


def read_events(log_dir):
    """`{tag: [(step, value), ...]}` of every summary under `log_dir`."""
    events = defaultdict(list)
    for path in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                if plugin == "scalars" or value.HasField("simple_value"):
                    content = float(tf.make_ndarray(value.tensor))
                elif plugin in ("images", "text"):
                    content = tf.make_ndarray(value.tensor)
                else:
                    content = value
                events[value.tag].append((event.step, content))
    return events


class _WriteFinding(keras.callbacks.Callback):
    """Stands in for the health monitor: one finding after epoch 1."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            with open(self.path, "a") as f:
                f.write(json.dumps(FINDING) + "\n")
        logs["health"] = "mode_collapse" if epoch == 0 else "ok"  # a string in the logs


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    """Two epochs of four steps of a tiny GAN with the TensorBoard logger."""
    from kgan.training import build_gan
    from tests.conftest import tiny_config

    out = tmp_path_factory.mktemp("tb_run")
    keras.utils.set_random_seed(0)
    gan = build_gan(tiny_config(), (28, 28, 1))
    images = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
    logger = TensorBoardLogger(
        str(out / "tensorboard"),
        samples_dir=str(out / "samples"),
        health_path=str(out / "health.jsonl"),
        hparams={"g_lr": 2e-4, "dataset": "mnist", "steps_per_epoch": None},
        update_freq=2,
    )
    callbacks = [
        SampleSnapshot(str(out / "samples"), num_samples=4),
        _WriteFinding(str(out / "health.jsonl")),
        logger,
    ]
    history = gan.fit(images, batch_size=8, epochs=2, callbacks=callbacks, verbose=0).history
    return out, history, read_events(str(out / "tensorboard"))


def _numeric(history):
    """The history's numeric series (the health monitor's string status left out)."""
    return {k: v for k, v in history.items() if not isinstance(v[0], str)}


def test_step_metrics_are_interval_means_at_the_global_step(logged_run):
    _, history, events = logged_run
    numeric = _numeric(history)
    assert {"d_loss", "g_loss", "d_real_acc", "g_grad_norm"} <= set(numeric)
    for name, epochs in numeric.items():
        tag = f"step/{name}"
        assert [step for step, _ in events[tag]] == [2, 4, 6, 8], tag
        values = [value for _, value in events[tag]]
        # Two equal intervals per epoch: their mean is the epoch's mean.
        np.testing.assert_allclose(np.mean(values[:2]), epochs[0], rtol=1e-5, err_msg=tag)
        np.testing.assert_allclose(np.mean(values[2:]), epochs[1], rtol=1e-5, err_msg=tag)
    assert "step/health" not in events


def test_epoch_metrics_are_logged_at_the_epoch_number(logged_run):
    _, history, events = logged_run
    for name, epochs in _numeric(history).items():
        tag = f"epoch/{name}"
        assert [step for step, _ in events[tag]] == [1, 2], tag
        np.testing.assert_allclose([v for _, v in events[tag]], epochs, rtol=1e-6, err_msg=tag)
    assert "epoch/health" not in events  # strings are not scalars


def test_each_epoch_grid_is_an_image_summary(logged_run):
    out, _, events = logged_run
    assert [step for step, _ in events["samples"]] == [1, 2]
    for epoch, (_, (width, height, png)) in enumerate(events["samples"], start=1):
        picture = np.asarray(Image.open(io.BytesIO(png)))
        expected = np.asarray(Image.open(out / "samples" / f"epoch_{epoch:03d}.png"))
        assert (int(width), int(height)) == (62, 62)
        np.testing.assert_array_equal(picture.reshape(expected.shape), expected)
        assert expected.std() > 0  # a grid of samples, not a blank image


def test_health_findings_are_text_once_at_their_epoch(logged_run):
    _, _, events = logged_run
    assert len(events["health"]) == 1
    step, text = events["health"][0]
    text = text.item().decode()
    assert step == 1
    assert "**mode_collapse** at step 4" in text and "raise --label_flip" in text


def test_config_is_written_as_hparams_and_text(logged_run):
    out, _, events = logged_run
    from tensorboard.plugins.hparams import plugin_data_pb2

    (_, session), *_ = events["_hparams_/session_start_info"]
    data = plugin_data_pb2.HParamsPluginData.FromString(session.metadata.plugin_data.content)
    hparams = data.session_start_info.hparams
    assert hparams["g_lr"].number_value == pytest.approx(2e-4)
    assert hparams["dataset"].string_value == "mnist"
    assert hparams["steps_per_epoch"].string_value == "None"
    config_text = events["config"][0][1].item().decode()
    assert "| g_lr | `0.0002` |" in config_text


def test_a_missing_health_file_is_fine(tmp_path, tiny_gan):
    logger = TensorBoardLogger(
        str(tmp_path / "tb"), health_path=str(tmp_path / "none.jsonl"), update_freq=1
    )
    images = np.zeros((16, 28, 28, 1), "float32")
    history = tiny_gan.fit(images, batch_size=8, epochs=1, callbacks=[logger], verbose=0).history
    events = read_events(str(tmp_path / "tb"))
    assert "health" not in events
    # The rest of the run is logged all the same.
    assert [step for step, _ in events["step/d_loss"]] == [1, 2]
    assert [step for step, _ in events["epoch/g_loss"]] == [1]
    assert events["epoch/g_loss"][0][1] == pytest.approx(history["g_loss"][0], rel=1e-6)


def test_epoch_summary_is_one_log_line_with_every_value(tiny_gan, caplog):
    summary = EpochSummary()
    images = np.zeros((16, 28, 28, 1), "float32")
    with caplog.at_level(logging.INFO):
        history = tiny_gan.fit(images, batch_size=8, epochs=2, callbacks=[summary], verbose=0)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert len(lines) == 2
    for epoch, line in enumerate(lines):
        assert line.startswith(f"epoch {epoch + 1}/2 (") and "\n" not in line
        # Every logged value, with the epoch's number (4 significant digits).
        for name, values in history.history.items():
            assert f"{name} {values[epoch]:.4g}" in line, (name, line)
    # The losses come first, in a fixed order.
    assert lines[1].index("d_loss") < lines[1].index("g_loss") < lines[1].index("label_flip")
