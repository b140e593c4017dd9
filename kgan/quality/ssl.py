"""A feature extractor that needs no labels: contrastive training on the real images.

A user's own folder of images rarely has class labels, so the dataset
classifier behind FCD cannot be trained. `train_ssl_extractor` trains the
same small CNN (`kgan.quality.classifier.build_classifier`) without labels,
SimCLR-style (Chen et al. 2020): two augmented views of each real image
(kgan's own DiffAugment transforms, `kgan.augment.diff_augment`, at p = 1)
must be told apart from the other images of the batch (the NT-Xent loss on
a linear projection of the features). Its 128 features then play the role
of the classifier's: FCD, KID and precision/recall are computed in them,
and k-means clusters of the training images' features stand in for the
classes (coverage and KL against the real mix).

Like the classifier it trains once per dataset and is cached, under
`<cache>/ssl/<key>/`. docs/quality-metrics.md gives how well it agrees
with the labelled classifier on MNIST, where both exist.
"""

import hashlib
import json
import logging
import os
import re
import time

import numpy as np

from kgan.files import atomic_folder, atomic_write
from kgan.quality.classifier import (
    FEATURE_DIM,
    build_classifier,
    default_cache_dir,
    predict_batches,
    traced,
)
from kgan.quality.data import to_float

RECIPE_VERSION = 1  # bump when the architecture or training changes
PROJECTION_DIM = 64
BATCH_SIZE = 128
PASSES = 13  # passes over the training images: MNIST's 6000 take 600 steps
MIN_STEPS, STEPS = 50, 600
LEARNING_RATE = 2e-3
TEMPERATURE = 0.2
CLUSTERS = 10  # the stand-in classes
KMEANS_ITERATIONS = 30
SEED = 0


def default_steps(num_images):
    """Training steps for `num_images`: `PASSES` passes, within [`MIN_STEPS`, `STEPS`]."""
    return int(min(STEPS, max(MIN_STEPS, round(PASSES * num_images / BATCH_SIZE))))


def kmeans(points, k, iterations=KMEANS_ITERATIONS, seed=SEED):
    """Lloyd's k-means with k-means++ seeding; returns the `(k, D)` centroids.

    Args:
        points: `(N, D)` floats, N >= k.
        k: number of clusters.
        iterations: Lloyd iterations.
        seed: seed of the k-means++ draws.
    """
    points = np.asarray(points, dtype=np.float64)
    rng = np.random.default_rng(seed)
    centroids = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        distances = np.min(_squared(points, np.asarray(centroids)), axis=1)
        total = distances.sum()
        weights = distances / total if total > 0 else None
        centroids.append(points[rng.choice(len(points), p=weights)])
    centroids = np.asarray(centroids)
    for _ in range(iterations):
        assignment = np.argmin(_squared(points, centroids), axis=1)
        for j in range(k):
            members = points[assignment == j]
            if len(members):
                centroids[j] = members.mean(axis=0)
    return centroids


def _squared(a, b):
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


class SelfSupervisedExtractor:
    """Features of the contrastive CNN, and the nearest k-means cluster as the "class".

    It has the interface of `kgan.quality.classifier.Classifier`
    (`features_and_probabilities`, `num_classes`, `info`), so an
    `Evaluator` uses either; its "probabilities" are one-hot clusters.

    Args:
        model: the trained `build_classifier` model (its logits are the projection).
        centroids: `(clusters, FEATURE_DIM)` k-means centroids of training features.
        info: what `train_ssl_extractor` recorded.
    """

    kind = "self-supervised"

    def __init__(self, model, centroids, info):
        import keras

        self.model = model
        self.centroids = np.asarray(centroids, dtype=np.float64)
        self.info = dict(info)
        features = model.get_layer(f"{model.name}_features").output
        self._features = keras.Model(model.inputs[0], features, name="ssl_features")

    @property
    def accuracy(self):
        """k-NN accuracy of the features on held-out labels (where there are labels), else None."""
        return self.info.get("knn_accuracy")

    @property
    def num_classes(self):
        return len(self.centroids)

    def features(self, images, batch_size=500):
        """`(N, FEATURE_DIM)` float64 features of images in [-1, 1]."""
        if not len(images):
            return np.zeros((0, FEATURE_DIM))
        if not hasattr(self, "_forward"):
            self._forward = traced(self._features)
        (features,) = predict_batches(self._forward, images, batch_size)
        return features

    def features_and_probabilities(self, images, batch_size=500):
        """Returns `(features (N, D), one-hot clusters (N, clusters))` as float64 arrays."""
        features = self.features(images, batch_size)
        nearest = np.argmin(_squared(features, self.centroids), axis=1)
        return features, np.eye(len(self.centroids))[nearest]


def nt_xent(z1, z2, temperature=TEMPERATURE):
    """SimCLR's NT-Xent loss of two `(B, P)` batches of projections, row i of each a pair."""
    from keras import ops

    z = ops.concatenate([z1, z2], axis=0)
    z = z / (ops.norm(z, axis=1, keepdims=True) + 1e-8)
    n = ops.shape(z)[0]
    similarity = ops.matmul(z, ops.transpose(z)) / temperature
    similarity = similarity - 1e9 * ops.eye(n)  # an image is not its own pair
    half = n // 2
    targets = ops.concatenate([ops.arange(half, n), ops.arange(0, half)])
    losses = ops.sparse_categorical_crossentropy(targets, similarity, from_logits=True)
    return ops.mean(losses)


def train_ssl_extractor(images, steps=None, seed=SEED, clusters=CLUSTERS):
    """Trains the contrastive CNN on uint8 `images` and clusters their features.

    Seeds the global RNGs (`keras.utils.set_random_seed(seed)`).

    Args:
        images: `(N, H, W, C)` uint8 real images (N >= `clusters`).
        steps: training steps of `BATCH_SIZE` images (two views each);
            default `default_steps`.
        seed: the training seed.
        clusters: k-means clusters standing in for classes.

    Returns:
        A `SelfSupervisedExtractor`.
    """
    import keras
    import tensorflow as tf

    from kgan.augment import diff_augment

    keras.utils.set_random_seed(seed)
    steps = steps or default_steps(len(images))
    x = to_float(images)
    model = build_classifier(x.shape[1:], PROJECTION_DIM, name="ssl")
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps))
    augment_seed = keras.random.SeedGenerator(seed)
    batch = min(BATCH_SIZE, len(x))

    @tf.function
    def step(images):
        with tf.GradientTape() as tape:
            z1 = model(diff_augment(images, 1.0, augment_seed), training=True)
            z2 = model(diff_augment(images, 1.0, augment_seed), training=True)
            loss = nt_xent(z1, z2)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        return loss

    rng = np.random.default_rng(seed)
    start = time.time()
    loss = None
    for _ in range(steps):
        loss = float(step(tf.constant(x[rng.choice(len(x), batch, replace=False)])))
    seconds = time.time() - start
    extractor = SelfSupervisedExtractor(model, np.zeros((1, FEATURE_DIM)), {})
    features = extractor.features(x[:5000])
    extractor.centroids = kmeans(features, min(clusters, len(features)), seed=seed)
    extractor.info = {
        "kind": extractor.kind,
        "train_images": int(len(x)),
        "steps": int(steps),
        "final_loss": round(loss, 4) if loss is not None else None,
        "train_seconds": round(seconds, 1),
        "clusters": int(len(extractor.centroids)),
        "recipe_version": RECIPE_VERSION,
    }
    return extractor


def knn_accuracy(train_features, train_labels, test_features, test_labels, k=5):
    """Accuracy of a `k`-nearest-neighbour vote (cosine) of train features on test ones."""

    def unit(f):
        f = np.asarray(f, np.float64)
        return f / (np.linalg.norm(f, axis=1, keepdims=True) + 1e-12)

    similarity = unit(test_features) @ unit(train_features).T
    nearest = np.argsort(-similarity, axis=1)[:, :k]
    votes = np.asarray(train_labels)[nearest]
    predicted = np.array([np.bincount(row).argmax() for row in votes])
    return float(np.mean(predicted == np.asarray(test_labels)))


def ssl_images(data):
    """The images the extractor trains on: `data.train_images` if any, else the held-out ones."""
    if data.train_images is not None and len(data.train_images):
        return data.train_images
    return data.held_out_images


def cache_key(data, steps):
    digest = hashlib.sha256()
    recipe = (RECIPE_VERSION, FEATURE_DIM, PROJECTION_DIM, BATCH_SIZE, LEARNING_RATE, steps)
    digest.update(repr((recipe, data.image_shape)).encode())
    digest.update(np.ascontiguousarray(ssl_images(data)).tobytes())
    base = os.path.basename(os.path.normpath(data.name)) or "dataset"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", base)[:40]
    return f"{slug}-{digest.hexdigest()[:16]}"


def load_or_train_ssl_extractor(data, cache_dir=None, steps=None):
    """The label-free extractor of `data` (a `kgan.quality.data.EvalData`), cached or trained now.

    Where the dataset has labels, the extractor's k-NN accuracy on the
    held-out images (training features vote) is recorded as its `accuracy`:
    how much of the classes its features see without ever being told them.
    """
    import keras

    steps = steps or default_steps(len(ssl_images(data)))
    folder = os.path.join(cache_dir or default_cache_dir(), "ssl", cache_key(data, steps))
    model_path, info_path = (os.path.join(folder, n) for n in ("ssl.keras", "info.json"))
    centroids_path = os.path.join(folder, "centroids.npy")
    if all(os.path.exists(p) for p in (model_path, info_path, centroids_path)):
        with open(info_path) as f:
            info = json.load(f)
        model = keras.saving.load_model(model_path, compile=False)
        extractor = SelfSupervisedExtractor(model, np.load(centroids_path), info)
        extractor.info["path"] = folder
        return extractor

    images = ssl_images(data)
    logging.info(
        "training the label-free feature extractor of %s once (%d images, %d steps); "
        "it is cached in %s",
        data.name,
        len(images),
        steps,
        folder,
    )
    extractor = train_ssl_extractor(images, steps)
    if data.train_labels is not None and data.held_out_labels is not None:
        extractor.info["knn_accuracy"] = knn_accuracy(
            extractor.features(to_float(data.train_images[:5000])),
            data.train_labels[:5000],
            extractor.features(to_float(data.held_out_images)),
            data.held_out_labels,
        )
    logging.info(
        "label-free feature extractor trained in %.0f s (contrastive loss %.3g)%s",
        extractor.info["train_seconds"],
        extractor.info["final_loss"],
        ""
        if extractor.accuracy is None
        else f"; k-NN accuracy on held-out labels {100 * extractor.accuracy:.1f}%",
    )
    try:
        with atomic_folder(folder) as temporary:
            os.makedirs(temporary)
            extractor.model.save(os.path.join(temporary, "ssl.keras"))
            np.save(os.path.join(temporary, "centroids.npy"), extractor.centroids)
            atomic_write(
                os.path.join(temporary, "info.json"),
                json.dumps(extractor.info, indent=2, sort_keys=True),
            )
    except OSError as e:
        logging.warning("could not cache the feature extractor in %s (%s)", folder, e)
    extractor.info["path"] = folder
    return extractor
