"""What the advice needs to know about the model in training, read without importing Keras.

Each function reads a kgan `GAN`'s attributes by duck typing and returns
None (or "off") where the model has no such thing, so the health monitor
works on any model.
"""

import numpy as np


def learning_rates(model):
    """`(g_lr, d_lr)` of a kgan GAN's optimizers, or None if unreadable."""
    try:
        return tuple(
            float(np.asarray(optimizer.learning_rate))
            for optimizer in (model.g_optimizer, model.d_optimizer)
        )
    except (AttributeError, TypeError, ValueError):
        return None


def adam_beta_1(model):
    """Adam's beta_1 of a kgan GAN's generator optimizer, or None if unreadable."""
    try:
        return float(model.g_optimizer.beta_1)
    except (AttributeError, TypeError, ValueError):
        return None


def augmentation(model):
    """`(augment, ada_kimg)` of the model's `augmenter` part: `"off"`, `"fixed"` or `"adaptive"`."""
    augmenter = getattr(model, "augmenter", None)
    if augmenter is None:
        return "off", None
    return ("adaptive", augmenter.kimg) if augmenter.adaptive else ("fixed", None)
