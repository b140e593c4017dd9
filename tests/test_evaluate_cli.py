"""`python evaluate.py` (and `-m kgan.evaluate_program`): the table, the JSON, one-line errors."""

import json
import os
import subprocess
import sys

import keras
import pytest
import tensorflow as tf

from kgan.config import EvaluateConfig
from kgan.errors import UserError
from kgan.export import export_generator
from kgan.networks import build_generator
from tests.conftest import REPO, TEST_CLASSIFIER_EPOCHS, assert_one_line_error


def run_evaluate(*args, module=False, timeout=300):
    env = dict(os.environ, PYTHONPATH=REPO)
    program = ["-m", "kgan.evaluate_program"] if module else [os.path.join(REPO, "evaluate.py")]
    return subprocess.run(
        [sys.executable, *program, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
    )


@pytest.fixture
def cached(mnist_evaluator, evaluation_cache):
    """Flags that reuse the session's cached test classifier."""
    return [
        f"--dataset={mnist_evaluator.data.name}",
        f"--cache_dir={evaluation_cache}",
        f"--classifier_epochs={TEST_CLASSIFIER_EPOCHS}",
    ]


def _options(**values):
    return EvaluateConfig(**{"num_samples": 500, **values})


def test_the_table_shows_the_generator_beside_the_floor(
    mnist_evaluator, evaluation_cache, tmp_path
):
    from kgan.evaluate_program import evaluate_from_config

    keras.utils.set_random_seed(0)
    generator = build_generator((28, 28, 1), latent_dim=8, g_filters=16, g_kernel_size=3)
    path = export_generator(generator, str(tmp_path / "generator"))
    table = evaluate_from_config(
        _options(
            generator=path,
            dataset=mnist_evaluator.data.name,
            cache_dir=evaluation_cache,
            classifier_epochs=TEST_CLASSIFIER_EPOCHS,
        )
    )
    assert "(latent_dim 8)" in table and "% accuracy on 4000 held-out images" in table
    header = next(line for line in table.splitlines() if line.startswith("metric"))
    assert header.split()[:4] == ["metric", "generator", "real", "floor"]
    for row in ("FCD", "KID", "classifier score", "classes covered", "precision", "recall"):
        assert any(line.startswith(row) for line in table.splitlines()), row
    covered = next(line for line in table.splitlines() if line.startswith("classes covered"))
    assert "/10" in covered


@pytest.mark.slow
def test_json_for_an_exported_generator(cached, tmp_path):
    keras.utils.set_random_seed(0)
    generator = build_generator((28, 28, 1), latent_dim=8, g_filters=16, g_kernel_size=3)
    path = export_generator(generator, str(tmp_path / "generator"))
    result = run_evaluate(f"--generator={path}", "--num_samples=500", "--json", *cached)
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads(result.stdout)
    keys = ("fcd", "kid", "kid_std", "classifier_score", "classes_covered", "class_kl")
    assert set(keys + ("precision", "recall")) <= set(scores)
    assert scores["num_samples"] == 500
    assert scores["fcd"] > 10 * scores["floor"]["fcd"]


@pytest.mark.slow
def test_real_gives_the_floor_as_a_module(cached):
    result = run_evaluate("--real", "--json", *cached, module=True)
    assert result.returncode == 0, result.stderr[-3000:]
    floor = json.loads(result.stdout)
    assert floor["classes_covered"] == 10 and floor["fcd"] < 1.0 and "floor" not in floor


def test_missing_generator_path(tmp_path):
    result = run_evaluate(f"--generator={tmp_path}/nowhere", "--dataset=../shared/data/mnist")
    assert_one_line_error(result, "does not exist")


def test_no_generator_flag():
    assert_one_line_error(run_evaluate("--dataset=../shared/data/mnist"), "--generator")


def test_bad_flags_are_named_before_tensorflow_loads():
    result = run_evaluate("--real", "--num_samples=10")
    assert_one_line_error(result, "--num_samples=10", "an integer >= 100")
    assert_one_line_error(run_evaluate("--real", "--seed=-1"), "--seed=-1", ">= 0")


def test_a_config_without_generator_needs_real():
    with pytest.raises(UserError, match="--generator is missing"):
        EvaluateConfig()
    assert EvaluateConfig(real=True).generator is None


def test_saved_model_without_serve(tmp_path):
    module = tf.Module()
    module.v = tf.Variable(1.0)
    tf.saved_model.save(module, str(tmp_path / "no_serve"))
    result = run_evaluate(f"--generator={tmp_path}/no_serve", "--dataset=../shared/data/mnist")
    assert_one_line_error(result, "no `serve` endpoint")


@pytest.mark.slow
def test_generator_of_the_wrong_shape(cached, tmp_path):
    rgb = build_generator((32, 32, 3), latent_dim=8, g_filters=16, g_kernel_size=3)
    path = export_generator(rgb, str(tmp_path / "rgb"))
    result = run_evaluate(f"--generator={path}", "--num_samples=200", *cached)
    assert_one_line_error(result, "makes 32x32x3 images", "holds 28x28x1")
