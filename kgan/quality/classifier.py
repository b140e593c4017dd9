"""The dataset's own classifier, whose features and probabilities the metrics use.

Inception weights cannot be downloaded offline and fit 28x28 grayscale
digits badly, so kgan follows TF-GAN's MNIST evaluation: a small CNN trained
on the dataset's own labelled training images. It trains once per dataset
(about 20 s for MNIST's 6000 training images on 2 CPU cores) and is cached
on disk under `<cache>/classifiers/<key>/`, where `<cache>` is
`$KGAN_CACHE_DIR` or `~/.cache/kgan`, and `<key>` is the dataset's name plus
a hash of its split images and of the training recipe, so a changed dataset
or recipe never reuses a stale classifier.
"""

import hashlib
import json
import logging
import os
import re
import time

import numpy as np

from kgan.files import atomic_folder, atomic_write
from kgan.quality.data import to_float

RECIPE_VERSION = 1  # bump when the architecture or training changes
FEATURE_DIM = 128
BATCH_SIZE = 64
# Adam from 2e-3, cosine-decayed to 0 over the run: on MNIST's 6000 training
# images, 98.3-98.5% held out (two seeds) where a constant 1e-3 gave 97.6-98.2%.
LEARNING_RATE = 2e-3
# Passes over the training images: at least 3 and at most 8, aiming at about
# 48k image presentations (MNIST's 6000 images: 8 epochs; Fashion-MNIST's
# 60k: 3 epochs).
MIN_EPOCHS, MAX_EPOCHS, PRESENTATIONS = 3, 8, 48_000


def default_cache_dir():
    """`$KGAN_CACHE_DIR`, else `~/.cache/kgan`."""
    return os.environ.get("KGAN_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "kgan"
    )


def default_epochs(num_images):
    """Epochs of the classifier recipe for a training set of `num_images`."""
    return int(min(MAX_EPOCHS, max(MIN_EPOCHS, round(PRESENTATIONS / max(num_images, 1)))))


def build_classifier(image_shape, num_classes, feature_dim=FEATURE_DIM, name="classifier"):
    """Builds the small CNN: (Conv3x3 -> ReLU -> MaxPool) blocks, Dense features, logits.

    Blocks of 32, 64, then 128 filters halve the image until it is at most
    8 pixels wide (two blocks for 28x28, three for 64x64); the
    `feature_dim`-wide ReLU layer named `{name}_features` is the penultimate
    layer whose activations FCD, KID and precision/recall compare.

    Args:
        image_shape: `(H, W, C)` of the images, in [-1, 1].
        num_classes: number of classes.
        feature_dim: width of the feature layer.
        name: model name and prefix of every layer name.

    Returns:
        A `keras.Model` from images to `num_classes` logits.
    """
    import keras
    from keras import layers

    images = keras.Input(image_shape, name=f"{name}_images")
    x = images
    size, block = image_shape[0], 0
    while size > 8:
        block += 1
        x = layers.Conv2D(
            min(16 * 2**block, 128),
            3,
            padding="same",
            activation="relu",
            name=f"{name}_block{block}_conv",
        )(x)
        x = layers.MaxPooling2D(2, name=f"{name}_block{block}_pool")(x)
        size = (size + 1) // 2
    logits = classifier_head(x, num_classes, name, feature_dim)
    return keras.Model(images, logits, name=name)


def classifier_head(x, num_outputs, name, feature_dim=FEATURE_DIM):
    """Flatten, dropout 0.3, the `{name}_features` ReLU layer, dropout 0.3, logits.

    The head of kgan's yardstick classifiers (`build_classifier`,
    `kgan.quality.identity`); its layer names are what cached models and
    `Classifier` look up, so they do not change.
    """
    from keras import layers

    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dropout(0.3, name=f"{name}_flatten_dropout")(x)
    features = layers.Dense(feature_dim, activation="relu", name=f"{name}_features")(x)
    x = layers.Dropout(0.3, name=f"{name}_features_dropout")(features)
    return layers.Dense(num_outputs, name=f"{name}_logits")(x)


class Classifier:
    """A trained classifier: features and class probabilities of images.

    Args:
        model: the `keras.Model` from `build_classifier` (trained).
        info: what `train_classifier` recorded (accuracy, split, timing).
    """

    def __init__(self, model, info):
        import keras

        self.model = model
        self.info = dict(info)
        features = model.get_layer(f"{model.name}_features").output
        self._both = keras.Model(
            model.inputs[0], [features, keras.ops.softmax(model.outputs[0])], name="features_probs"
        )

    @property
    def accuracy(self):
        """Accuracy on held-out images the classifier never trained on."""
        return self.info["accuracy"]

    @property
    def num_classes(self):
        return int(self.model.outputs[0].shape[-1])

    def features_and_probabilities(self, images, batch_size=500):
        """Returns `(features (N, D), probabilities (N, K))` as float64 arrays.

        Args:
            images: `(N, H, W, C)` floats in [-1, 1].
            batch_size: images per forward pass.
        """
        if not hasattr(self, "_forward"):
            self._forward = traced(self._both)
        features, probabilities = predict_batches(self._forward, images, batch_size)
        return features, probabilities


def traced(model):
    """`model` in inference mode as a `tf.function` (1.6x faster than eager on 2 CPU cores)."""
    import tensorflow as tf

    return tf.function(lambda batch: model(batch, training=False))


def predict_batches(forward, images, batch_size=500):
    """Runs `forward` over `images` in batches; returns its outputs as float64 arrays.

    Every batch has `batch_size` images (the last one padded, its padding
    dropped), so `forward` is traced once.

    Args:
        forward: `(batch_size, H, W, C) float32 -> tensor` or a tuple of tensors.
        images: `(N, H, W, C)` floats in [-1, 1].
        batch_size: images per call.

    Returns:
        One `(N, ...)` array per output of `forward` (a tuple when it returns one).
    """
    images = np.asarray(images, dtype=np.float32)
    batch_size = max(1, min(int(batch_size), len(images)))
    parts = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        size = len(batch)
        if size < batch_size:
            padding = np.zeros((batch_size - size, *batch.shape[1:]), np.float32)
            batch = np.concatenate([batch, padding])
        outputs = forward(batch)
        outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
        parts.append([np.asarray(out, dtype=np.float64)[:size] for out in outputs])
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def cache_key(data, epochs):
    """`<dataset name>-<hash>`: the hash covers the split images, labels and recipe."""
    digest = hashlib.sha256()
    recipe = (RECIPE_VERSION, FEATURE_DIM, BATCH_SIZE, LEARNING_RATE, epochs, data.image_shape)
    digest.update(repr(recipe).encode())
    for array in (data.train_images, data.train_labels, data.held_out_images):
        digest.update(np.ascontiguousarray(array).tobytes())
    base = os.path.basename(os.path.normpath(data.name)) or "dataset"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", base)[:40]
    return f"{slug}-{digest.hexdigest()[:16]}"


def train_classifier(data, epochs=None, seed=0):
    """Trains the classifier on `data.train_images` and measures it on held-out images.

    Seeds the global RNGs (`keras.utils.set_random_seed(seed)`), so the
    same data and recipe give the same classifier.

    Args:
        data: a labelled `kgan.quality.data.EvalData`.
        epochs: passes over the training images; default `default_epochs`.
        seed: the training seed.

    Returns:
        A `Classifier`.
    """
    import keras

    epochs = epochs or default_epochs(len(data.train_images))
    keras.utils.set_random_seed(seed)
    model = build_classifier(data.image_shape, data.num_classes)
    seconds = fit_classifier(model, data.train_images, data.train_labels, epochs)
    classifier = Classifier(model, {})
    _, probabilities = classifier.features_and_probabilities(to_float(data.held_out_images))
    accuracy = float(np.mean(probabilities.argmax(axis=1) == data.held_out_labels))
    classifier.info = {
        "dataset": data.name,
        "accuracy": accuracy,
        "held_out_images": int(len(data.held_out_images)),
        "train_images": int(len(data.train_images)),
        "epochs": int(epochs),
        "train_seconds": round(seconds, 1),
        "split": data.split,
        "recipe_version": RECIPE_VERSION,
    }
    return classifier


def fit_classifier(model, images, labels, epochs):
    """Fits `model` to uint8 `images` and integer `labels`; returns the seconds it took.

    Adam from `LEARNING_RATE`, cosine-decayed to 0 over the run, batches of
    `BATCH_SIZE`, softmax cross-entropy on the logits.
    """
    import keras

    steps = epochs * -(-len(images) // BATCH_SIZE)
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    start = time.time()
    model.fit(to_float(images), labels, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)
    return time.time() - start


def load_cached(folder):
    """`(model, info)` cached in `folder` by `write_cached`, or None if it holds none."""
    import keras

    model_path = os.path.join(folder, "classifier.keras")
    info_path = os.path.join(folder, "info.json")
    if not (os.path.exists(model_path) and os.path.exists(info_path)):
        return None
    with open(info_path) as f:
        info = json.load(f)
    return keras.saving.load_model(model_path, compile=False), info


def write_cached(folder, model, info, what="classifier"):
    """Writes `model` and `info` beside `folder`, then renames it into place.

    A cache that cannot be written is only logged: the classifier is
    trained again next time.
    """
    try:
        with atomic_folder(folder) as temporary:
            os.makedirs(temporary)
            model.save(os.path.join(temporary, "classifier.keras"))
            atomic_write(
                os.path.join(temporary, "info.json"), json.dumps(info, indent=2, sort_keys=True)
            )
    except OSError as e:
        logging.warning("could not cache the %s in %s (%s); it will be retrained", what, folder, e)


def load_or_train_classifier(data, cache_dir=None, epochs=None):
    """The classifier of `data`, from the cache or trained (and cached) now.

    Args:
        data: a labelled `EvalData`.
        cache_dir: the cache root; default `default_cache_dir()`.
        epochs: the recipe's epochs (part of the cache key); default
            `default_epochs`.

    Returns:
        A `Classifier`; `classifier.info["path"]` is its cache folder.
    """
    epochs = epochs or default_epochs(len(data.train_images))
    folder = os.path.join(cache_dir or default_cache_dir(), "classifiers", cache_key(data, epochs))
    cached = load_cached(folder)
    if cached is not None:
        classifier = Classifier(*cached)
        classifier.info["path"] = folder
        return classifier

    logging.info(
        "training the evaluation classifier of %s once (%d images, %d epochs); it is cached in %s",
        data.name,
        len(data.train_images),
        epochs,
        folder,
    )
    classifier = train_classifier(data, epochs)
    logging.info(
        "evaluation classifier: %.2f%% held-out accuracy on %d images, trained in %.0f s",
        100 * classifier.accuracy,
        classifier.info["held_out_images"],
        classifier.info["train_seconds"],
    )
    write_cached(folder, classifier.model, classifier.info, "evaluation classifier")
    classifier.info["path"] = folder
    return classifier
