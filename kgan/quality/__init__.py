"""How good is a generator? Offline sample-quality metrics for kgan.

Following TF-GAN's MNIST evaluation, a small classifier trained on the
dataset's own labelled images (cached on disk) provides the feature space
and the class probabilities; the metrics themselves are pure NumPy
(`kgan.quality.metrics`).

    from kgan.quality import evaluate_generator, real_floor

    scores = evaluate_generator("runs/kgan/generator", "../shared/data/mnist")
    floor = real_floor("../shared/data/mnist")  # real held-out data, same metrics

Imported lazily, like `kgan`: `import kgan.quality.metrics` needs no
TensorFlow.
"""

import importlib

_EXPORTS = {
    "Evaluator": "kgan.quality.evaluator",
    "KEYS": "kgan.quality.evaluator",
    "LABELLED_KEYS": "kgan.quality.evaluator",
    "evaluate_generator": "kgan.quality.evaluator",
    "get_evaluator": "kgan.quality.evaluator",
    "real_floor": "kgan.quality.evaluator",
    "load_eval_data": "kgan.quality.data",
    "load_or_train_classifier": "kgan.quality.classifier",
    "Generator": "kgan.quality.generators",
    "as_generator": "kgan.quality.generators",
    "generate": "kgan.quality.generators",
    "SavedGenerator": "kgan.saved_generator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kgan.quality' has no attribute {name!r}")
