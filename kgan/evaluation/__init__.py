"""How good is a generator? Offline sample-quality metrics for kgan.

Following TF-GAN's MNIST evaluation, a small classifier trained on the
dataset's own labelled images (cached on disk) provides the feature space
and the class probabilities; the metrics themselves are pure NumPy
(`kgan.evaluation.metrics`).

    from kgan.evaluation import evaluate_generator, real_floor

    scores = evaluate_generator("runs/kgan/generator", "../shared/data/mnist")
    floor = real_floor("../shared/data/mnist")  # real held-out data, same metrics

Imported lazily, like `kgan`: `import kgan.evaluation.metrics` needs no
TensorFlow.
"""

import importlib

_EXPORTS = {
    "Evaluator": "kgan.evaluation.evaluator",
    "KEYS": "kgan.evaluation.evaluator",
    "LABELLED_KEYS": "kgan.evaluation.evaluator",
    "evaluate_generator": "kgan.evaluation.evaluator",
    "get_evaluator": "kgan.evaluation.evaluator",
    "real_floor": "kgan.evaluation.evaluator",
    "load_eval_data": "kgan.evaluation.data",
    "load_or_train_classifier": "kgan.evaluation.classifier",
    "Generator": "kgan.evaluation.generators",
    "as_generator": "kgan.evaluation.generators",
    "generate": "kgan.evaluation.generators",
    "SavedGenerator": "kgan.saved_generator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kgan.evaluation' has no attribute {name!r}")
