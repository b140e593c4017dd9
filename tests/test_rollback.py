"""A loss that turns NaN rolls the run back to its last good checkpoint at half the rates."""

import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan.checkpoint import list_checkpoints, read_state
from kgan.errors import NonFiniteLossError
from kgan.gan import GAN
from kgan.rollback import learning_rate
from kgan.training import train
from tests.conftest import tiny_config
from tests.test_faults import DivergingGAN

LR = 2e-4


class DivergesAtFullRate(GAN):
    """G's loss is NaN from optimizer iteration `start` on, but only at the flags' rates."""

    start = 4  # the 5th step

    def generator_loss(self, fake_logits):
        loss = super().generator_loss(fake_logits)
        diverging = (self.g_optimizer.iterations >= self.start) & (
            self.g_optimizer.learning_rate > 0.75 * LR
        )
        return tf.where(diverging, tf.constant(np.nan), loss)


class DivergesAtStep2(DivergesAtFullRate):
    start = 1


class CrashAtStep7(keras.callbacks.Callback):
    """Ends the process's training abruptly after step 7, as a kill would."""

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.g_optimizer.iterations) >= 7:
            raise RuntimeError("killed")


def _config(idx_folder, tmp_path, name="run", **overrides):
    values = dict(
        dataset=idx_folder,
        out_dir=str(tmp_path / name),
        epochs=3,
        steps_per_epoch=3,
        checkpoint_every=2,
        g_lr=LR,
        d_lr=LR,
    )
    return tiny_config(**{**values, **overrides})


def _rollback_lines(caplog):
    return [r.getMessage() for r in caplog.records if "rolled back" in r.getMessage()]


def _newest_state(config):
    return read_state(list_checkpoints(os.path.join(config.out_dir, "checkpoints"))[0])


def test_a_diverging_run_rolls_back_once_and_finishes_at_half_the_rates(
    idx_folder, tmp_path, caplog
):
    config = _config(idx_folder, tmp_path)
    with caplog.at_level(logging.WARNING):
        result = train(config, gan_class=DivergesAtFullRate, verbose=0)
    (line,) = _rollback_lines(caplog)
    assert "g_loss became non-finite at step 5" in line
    assert "checkpoint of step 4" in line and "d_lr=0.0001, g_lr=0.0001" in line
    assert "rollback 1 of 3" in line
    assert learning_rate(result.gan.d_optimizer) == pytest.approx(LR / 2)
    assert learning_rate(result.gan.g_optimizer) == pytest.approx(LR / 2)
    assert len(result.history["d_loss"]) == 2  # epochs 2 and 3, after the rollback
    assert np.isfinite(result.history["g_loss"]).all()
    state = _newest_state(config)
    assert state["step"] == 9 and state["rollbacks"] == 1


def test_after_three_rollbacks_the_run_stops_with_the_non_finite_loss_error(
    idx_folder, tmp_path, caplog
):
    config = _config(idx_folder, tmp_path)
    with caplog.at_level(logging.WARNING), pytest.raises(NonFiniteLossError) as error:
        train(config, gan_class=DivergingGAN, verbose=0)
    lines = _rollback_lines(caplog)
    assert [f"rollback {n} of 3" in line for n, line in enumerate(lines, 1)] == [True] * 3
    # The second one diverged before a new checkpoint: it went one further back.
    assert "checkpoint of step 3 (step 4's diverged again)" in lines[1]
    message = str(error.value)
    assert "g_loss became nan at step 5" in message and "3 rollbacks" in message
    assert "d_lr=2.5e-05, g_lr=2.5e-05" in message
    assert _newest_state(config)["rollbacks"] == 3


def test_a_divergence_before_the_first_checkpoint_rolls_back_to_the_start(
    idx_folder, tmp_path, caplog
):
    config = _config(idx_folder, tmp_path, checkpoint_every=0)
    with caplog.at_level(logging.WARNING):
        result = train(config, gan_class=DivergesAtStep2, verbose=0)
    (line,) = _rollback_lines(caplog)
    assert "at step 2" in line and "checkpoint of step 0" in line
    assert len(result.history["d_loss"]) == 3
    state = _newest_state(config)
    assert state["step"] == 9 and state["rollbacks"] == 1


def test_a_run_killed_after_a_rollback_resumes_at_the_halved_rates(idx_folder, tmp_path, caplog):
    reference = train(
        _config(idx_folder, tmp_path, "reference", deterministic=True),
        gan_class=DivergesAtFullRate,
        verbose=0,
    )
    config = _config(idx_folder, tmp_path, deterministic=True)
    with pytest.raises(RuntimeError, match="killed"):
        train(config, callbacks=[CrashAtStep7()], gan_class=DivergesAtFullRate, verbose=0)
    state = _newest_state(config)
    assert state["step"] == 6 and state["rollbacks"] == 1

    caplog.clear()
    with caplog.at_level(logging.INFO):
        result = train(config, gan_class=DivergesAtFullRate, verbose=0)
    # Not refused over the rates, and not diverging again: they were restored halved.
    assert "step 6, epoch 3 of 3" in caplog.text and not _rollback_lines(caplog)
    assert learning_rate(result.gan.g_optimizer) == pytest.approx(LR / 2)
    state = _newest_state(config)
    assert state["step"] == 9 and state["rollbacks"] == 1
    for resumed, uninterrupted in zip(result.gan.weights, reference.gan.weights, strict=True):
        np.testing.assert_array_equal(resumed.numpy(), uninterrupted.numpy())
