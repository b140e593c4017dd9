"""kgan: the Keras reference implementation of a DCGAN that trains first time.

The public names are imported lazily, so `import kgan.config` (what a bad
flag needs) does not load TensorFlow.

    from kgan import Config, train
    result = train(Config(dataset="mnist", epochs=5))
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "kgan.config",
    "UserError": "kgan.errors",
    "GAN": "kgan.gan",
    "build_generator": "kgan.networks",
    "build_discriminator": "kgan.networks",
    "build_networks": "kgan.networks",
    "build_gan": "kgan.training",
    "train": "kgan.training",
    "TrainingResult": "kgan.training",
    "export_generator": "kgan.export",
    "make_strategy": "kgan.distribute",
    "TrainingCheckpoint": "kgan.checkpoint",
    "load_source": "kgan.data",
    "make_dataset": "kgan.data",
    "evaluate_generator": "kgan.quality.evaluator",
    "real_floor": "kgan.quality.evaluator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kgan' has no attribute {name!r}")
