"""Quality metrics during training: history.csv, TensorBoard, the best generator."""

import csv
import glob
import json
import os

import keras
import pytest
import tensorflow as tf

import kgan.training
from kgan.health import HealthStatus
from tests.conftest import tiny_config

# The probe leaves KID out (the slowest metric; FCD decides).
METRICS = ["fcd", "classifier_score", "classes_covered", "class_kl"]
METRICS += ["precision", "recall"]


def _tensorboard_scalars(log_dir):
    """`{tag: {step: value}}` of the scalars Keras' TensorBoard callback wrote."""
    scalars = {}
    for path in glob.glob(os.path.join(log_dir, "train", "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor))
                scalars.setdefault(value.tag, {})[event.step] = number
    return scalars


@pytest.mark.slow
def test_metrics_reach_history_tensorboard_and_the_best_generator(
    mnist_evaluator, tmp_path, monkeypatch, capsys
):
    # The session's evaluator stands in for the one train() would build.
    monkeypatch.setattr(kgan.training, "prepare_evaluator", lambda config: mnist_evaluator)
    out_dir = tmp_path / "run"
    config = tiny_config(
        dataset=mnist_evaluator.data.name,
        out_dir=str(out_dir),
        batch_size=16,
        steps_per_epoch=10,
        epochs=3,
        eval_every=2,
        eval_samples=200,
    )
    tensorboard = keras.callbacks.TensorBoard(str(tmp_path / "logs"))
    # verbose=2: Keras' progress line must take the numeric health status.
    result = kgan.training.train(config, callbacks=[tensorboard], verbose=2)
    assert "health: 0.0000e+00" in capsys.readouterr().out

    with open(out_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    # Evaluated after epoch 2 (every 2) and after the last epoch (3).
    assert [r["fcd"] != "" for r in rows] == [False, True, True]
    assert set(METRICS) <= set(rows[1]) and float(rows[1]["fcd"]) > 0
    assert "kid" not in rows[1]
    # Two probes in a row can name a collapse (a 30-step generator is one); one cannot.
    assert [r["health"] for r in rows][:2] == ["ok", "ok"]
    assert result.history["fcd"] == [float(rows[1]["fcd"]), float(rows[2]["fcd"])]

    scalars = _tensorboard_scalars(str(tmp_path / "logs"))
    assert {"epoch_fcd", "epoch_recall", "epoch_health"} <= set(scalars)
    # The values of history.csv, at Keras' 0-based epochs 1 and 2 (none at 0).
    for tag, column in (("epoch_fcd", "fcd"), ("epoch_recall", "recall")):
        expected = {1: float(rows[1][column]), 2: float(rows[2][column])}
        assert scalars[tag] == pytest.approx(expected, rel=1e-6), tag
    health = {0: 0.0, 1: 0.0, 2: float(HealthStatus(rows[2]["health"]))}  # "ok" counts as 0
    assert scalars["epoch_health"] == health

    # generator/ is the probe's best; the last one is generator_last/.
    with open(out_dir / "generator.json") as f:
        best = json.load(f)
    assert best["epoch"] in (2, 3) and best["features"] == "classifier"
    assert best["fcd"] == min(float(r["fcd"]) for r in rows[1:])
    assert result.generator_path == str(out_dir / "generator")
    for name in ("generator", "generator_last"):
        loaded = tf.saved_model.load(str(out_dir / name))
        assert loaded.serve(tf.zeros((2, 8))).shape == (2, 28, 28, 1)
    assert not [p for p in os.listdir(out_dir) if "best" in p]


class _StubEvaluator:
    """Scores every evaluation with the next FCD of a list."""

    def __init__(self, fcds):
        from types import SimpleNamespace

        from kgan.quality.evaluator import KEYS

        self.fcds = list(fcds)
        self.keys = KEYS
        self.data = SimpleNamespace(num_classes=None)
        self.features = "classifier"

    def score_images(self, images, seed, kid=True):
        result = {key: 0.5 for key in self.keys}
        result["fcd"] = self.fcds.pop(0)
        return result


def test_a_resumed_run_keeps_the_best_generator_it_already_exported(tiny_gan, tmp_path):
    import numpy as np

    from kgan.callbacks import QualityEvaluation

    best_dir = str(tmp_path / "generator")
    with open(f"{best_dir}.json", "w") as f:
        json.dump({"epoch": 4, "fcd": 1.0}, f)
    callback = QualityEvaluation(_StubEvaluator([5.0, 0.5]), num_samples=8, best_dir=best_dir)
    callback.set_model(tiny_gan)
    callback.on_train_begin()
    assert callback.best_fcd == 1.0
    callback.on_epoch_end(4)  # FCD 5: worse than the run's best before the crash
    assert not os.path.exists(callback.weights_path) and callback.best_epoch == 4
    callback.on_epoch_end(5)  # FCD 0.5: a new best, its weights kept at once
    with open(f"{best_dir}.json") as f:
        assert json.load(f)["epoch"] == 6
    assert os.path.exists(callback.weights_path) and not os.path.exists(best_dir)
    z = np.zeros((2, 8), "float32")
    expected = np.asarray(tiny_gan.sample(z))
    # The generator trains on; the export at the end is still epoch 6's.
    tiny_gan.generator.set_weights([w + 0.1 for w in tiny_gan.generator.get_weights()])
    callback.on_train_end()
    loaded = tf.saved_model.load(best_dir)
    np.testing.assert_allclose(loaded.serve(z), expected, atol=1e-5)
    # A new callback (a resumed run) picks up the kept weights.
    again = QualityEvaluation(_StubEvaluator([]), num_samples=8, best_dir=best_dir)
    again.set_model(tiny_gan)
    again.on_train_begin()
    assert again.best_epoch == 6 and len(again.best_weights) == len(callback.best_weights)


def test_the_probe_skips_epochs_to_stay_within_its_share_of_the_wall_time(tiny_gan, monkeypatch):
    from kgan.callbacks import QualityEvaluation
    from kgan.callbacks import quality_evaluation as module

    clock = {"now": 0.0}
    monkeypatch.setattr(module.time, "perf_counter", lambda: clock["now"])

    class Slow(_StubEvaluator):
        def score_images(self, images, seed, kid=True):
            clock["now"] += 10.0  # a probe: 10 s
            return super().score_images(images, seed, kid)

    probe = QualityEvaluation(Slow([50.0] * 20), num_samples=8, budget=0.05)
    probe.set_model(tiny_gan)
    probe.set_params({"epochs": 10})
    probe.on_train_begin()
    probed = []
    for epoch in range(10):
        clock["now"] += 90.0  # an epoch of training: 90 s
        logs = {}
        probe.on_epoch_end(epoch, logs)
        probed.append("fcd" in logs)
    # 10 s of 100 would be 10%: about every other epoch goes, and always the last.
    assert probed[0] and probed[-1] and 3 <= sum(probed) <= 6
    assert probe.seconds <= 0.05 * clock["now"] + 10.0
    unlimited = QualityEvaluation(Slow([50.0] * 20), num_samples=8)
    unlimited.set_model(tiny_gan)
    unlimited.on_train_begin()
    logs = {}
    unlimited.on_epoch_end(0, logs)
    assert "fcd" in logs
