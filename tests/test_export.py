"""The exported SavedModel honours the `serve` contract; exports are atomic."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan.export as export
from kgan.errors import UserError
from kgan.networks import build_generator


def _generator(**kwargs):
    keras.utils.set_random_seed(0)
    return build_generator((28, 28, 1), latent_dim=8, g_filters=16, g_kernel_size=3, **kwargs)


def test_serve_equals_the_generator(tmp_path):
    generator = _generator()
    path = export.export_generator(generator, str(tmp_path / "generator"))
    loaded = tf.saved_model.load(path)
    z = tf.random.normal((5, 8), seed=1)
    served = loaded.serve(z)
    assert served.shape == (5, 28, 28, 1) and served.dtype == tf.float32
    np.testing.assert_allclose(served, generator(z, training=False), atol=1e-6)
    assert float(tf.reduce_max(tf.abs(served))) <= 1.0


def test_sigmoid_generators_are_mapped_to_the_contract_range(tmp_path):
    generator = _generator(g_output="sigmoid")
    path = export.export_generator(generator, str(tmp_path / "g"), output_range=(0.0, 1.0))
    z = tf.random.normal((4, 8), seed=2)
    loaded = tf.saved_model.load(path)  # keep a reference: it owns the variables
    np.testing.assert_allclose(loaded.serve(z), generator(z) * 2 - 1, atol=1e-6)


def test_conditional_generator_serves_latents_and_labels(tmp_path):
    generator = _generator(num_classes=10)
    path = export.export_generator(generator, str(tmp_path / "g"))
    z = tf.random.normal((3, 8), seed=3)
    labels = tf.constant([1, 2, 3], tf.int32)
    loaded = tf.saved_model.load(path)
    np.testing.assert_allclose(loaded.serve(z, labels), generator([z, labels]), atol=1e-6)


def test_a_failed_export_leaves_the_previous_one_intact(tmp_path, monkeypatch):
    generator = _generator()
    path = export.export_generator(generator, str(tmp_path / "generator"))
    before = sorted(os.listdir(path))

    def disk_full(obj, export_dir, *args, **kwargs):
        os.makedirs(export_dir)
        open(os.path.join(export_dir, "partial"), "w").close()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tf.saved_model, "save", disk_full)
    with pytest.raises(UserError, match="No space left on device"):
        export.export_generator(generator, path)
    assert sorted(os.listdir(path)) == before
    assert sorted(os.listdir(tmp_path)) == ["generator"]  # no temporary left behind
    loaded = tf.saved_model.load(path)
    assert loaded.serve(tf.zeros((1, 8))).shape == (1, 28, 28, 1)


def test_re_export_replaces_the_folder(tmp_path):
    path = str(tmp_path / "generator")
    export.export_generator(_generator(), path)
    (tmp_path / "generator" / "stale").write_text("old")
    export.export_generator(_generator(), path)
    assert "stale" not in os.listdir(path)
    assert sorted(os.listdir(tmp_path)) == ["generator"]
