"""Scores images against a dataset's held-out reference set.

`Evaluator` holds what is fixed for a dataset (the split real images, the
classifier, the reference features) so scoring a generator only runs the
generator and the classifier on its samples: a few seconds for 5000
MNIST samples on 2 CPU cores once the classifier is cached.
"""

import functools
import logging
import math

import numpy as np

from kgan.errors import UserError
from kgan.quality import metrics
from kgan.quality.data import load_eval_data, to_float
from kgan.quality.generators import as_generator, generate

# The keys every evaluation reports (None where a dataset has no labels).
LABELLED_KEYS = (
    "fcd",
    "kid",
    "kid_std",
    "classifier_score",
    "classes_covered",
    "classes_counted",
    "class_kl",
    "precision",
    "recall",
)
UNLABELLED_KEYS = ("diversity", "duplicates")
# Where the dataset names each image's identity (`identity_key`): kgan.quality.identity.
IDENTITY_KEYS = ("recognisable", "identities", "rejected")
FEATURES = ("auto", "classifier", "ssl")  # the feature extractors `from_dataset` can use
KEYS = LABELLED_KEYS + UNLABELLED_KEYS + IDENTITY_KEYS

DIVERSITY_BATCH = 1000  # the fixed batch the label-free checks look at
DUPLICATE_PERCENTILE = 1.0  # real images closer than this percentile count as copies


class Evaluator:
    """The fixed side of an evaluation: a dataset's reference set and classifier.

    Args:
        data: a `kgan.quality.data.EvalData`.
        classifier: its `Classifier`; None for an unlabelled dataset (only
            `diversity` and `duplicates` are then computed).
        kid_subsets: KID subsets (Binkowski et al. 2018 use 100; 20 keep it fast).
        kid_subset_size: samples per KID subset.
        k: the neighbour setting the radii of precision and recall.
        identity: a `kgan.quality.identity.IdentityJudge` adding
            `recognisable`, `identities` and `rejected`; None leaves them None.

    Example:

    >>> evaluator = Evaluator.from_dataset("../shared/data/mnist")
    >>> evaluator.evaluate("runs/kgan/generator", num_samples=5000)["fcd"]
    """

    def __init__(
        self, data, classifier=None, kid_subsets=20, kid_subset_size=1000, k=3, identity=None
    ):
        self.data = data
        self.classifier = classifier
        self.identity = identity
        self.kid_subsets = int(kid_subsets)
        self.kid_subset_size = int(kid_subset_size)
        self.k = int(k)

        # === Reference statistics, computed once ===
        reference = to_float(data.reference_images)
        self.reference_features = self.reference_probabilities = None
        self.reference_histogram = None
        if classifier is not None:
            features, self.reference_probabilities = classifier.features_and_probabilities(
                reference
            )
            # One fixed scale: the reference features get unit mean square, so
            # KID's kernel (x.y/D + 1)^3 sees values of order 1 whatever the
            # classifier, and FCD reads in those units.
            self.feature_scale = float(np.sqrt(np.mean(features**2)))
            self.reference_features = features / self.feature_scale
            self.reference_histogram = metrics.class_histogram(self.reference_probabilities)
        batch = reference[:DIVERSITY_BATCH]
        self.reference_diversity = metrics.pairwise_diversity(batch)
        self.duplicate_threshold = float(
            np.percentile(metrics.nearest_neighbour_distances(batch), DUPLICATE_PERCENTILE)
        )

    @classmethod
    def from_dataset(
        cls,
        dataset,
        data_dir=None,
        image_size=0,
        cache_dir=None,
        classifier_epochs=None,
        features="auto",
        identity_key=None,
        **kwargs,
    ):
        """Loads and splits `dataset` and loads (or trains once) its feature extractor.

        Args:
            dataset: a TFDS name or a local IDX folder, `.npz` or image folder.
            data_dir: TFDS data folder.
            image_size: side of the square images; 0 keeps the dataset's.
            cache_dir: classifier cache root (default `$KGAN_CACHE_DIR` or
                `~/.cache/kgan`).
            classifier_epochs: the classifier's training epochs (part of its
                cache key); None: the recipe's (`default_epochs`).
            features: `"classifier"` (the dataset classifier; an unlabelled
                dataset gets the label-free checks only), `"ssl"` (the
                label-free contrastive extractor of `kgan.quality.ssl`) or
                `"auto"` (the classifier where there are labels, else ssl).
            identity_key: the `.npz` key of each image's identity (emoji64:
                `"emoji"`), for `recognisable`; None: no identity judge.
            **kwargs: passed to `Evaluator`.
        """
        from kgan.quality.classifier import load_or_train_classifier
        from kgan.quality.ssl import load_or_train_ssl_extractor

        if features not in FEATURES:
            raise ValueError(f"features={features!r} is not one of {', '.join(FEATURES)}")
        data = load_eval_data(dataset, data_dir, image_size)
        extractor = None
        if features == "ssl" or (features == "auto" and not data.labelled):
            extractor = load_or_train_ssl_extractor(data, cache_dir)
        elif data.labelled:
            extractor = load_or_train_classifier(data, cache_dir, classifier_epochs)
        if identity_key:
            from kgan.quality.identity import IdentityJudge

            kwargs["identity"] = IdentityJudge.from_dataset(
                dataset, identity_key, image_size, cache_dir
            )
        return cls(data, extractor, **kwargs)

    @property
    def features(self):
        """What the feature-space metrics use: `"classifier"`, `"self-supervised"` or None."""
        if self.classifier is None:
            return None
        return getattr(self.classifier, "kind", "classifier")

    @property
    def labelled(self):
        return self.classifier is not None

    def score_images(self, images, seed=0, kid=True):
        """Scores `(N, H, W, C)` images in [-1, 1] against the reference set.

        Args:
            images: generated (or real) images.
            seed: seed of KID's random subsets.
            kid: compute KID (the slowest metric; None when False).

        Returns:
            A dict with the `KEYS` (label-based ones None for an unlabelled
            dataset), plus `num_samples` and `reference_size`.
        """
        images = np.asarray(images, dtype=np.float32)
        if images.shape[1:] != tuple(self.data.image_shape):
            raise UserError(
                f"the generator makes {_shape(images.shape[1:])} images but "
                f"--dataset={self.data.name} holds {_shape(self.data.image_shape)} images; "
                "evaluate it on the dataset it was trained on (or pass --image_size)."
            )
        result = dict.fromkeys(KEYS)
        result.update(num_samples=len(images), reference_size=len(self.data.reference_images))
        if not np.isfinite(images).all():
            logging.warning("the images contain NaN or Inf; every metric is NaN")
            for key in KEYS:
                result[key] = math.nan
            result["classes_covered"] = 0
            return result
        if len(images) < 2 * self.k + 2:
            raise UserError(f"--num_samples={len(images)} is too small; use at least 100.")

        # === Label-free: the fixed batch ===
        batch = images[:DIVERSITY_BATCH]
        result["diversity"] = metrics.pairwise_diversity(batch) / self.reference_diversity
        result["duplicates"] = metrics.duplicate_fraction(batch, self.duplicate_threshold)
        if self.identity is not None:
            result.update(self.identity.score_images(images))
        if not self.labelled:
            return result

        # === In the classifier's feature space ===
        features, probabilities = self.classifier.features_and_probabilities(images)
        features = features / self.feature_scale
        reference = self.reference_features
        result["fcd"] = metrics.frechet_distance(features, reference)
        if kid:
            result["kid"], result["kid_std"] = metrics.kernel_distance(
                features, reference, self.kid_subsets, self.kid_subset_size, seed
            )
        result["classifier_score"], _ = metrics.classifier_score(probabilities)
        covered, counted, kl = metrics.class_coverage(probabilities, self.reference_histogram)
        result.update(classes_covered=covered, classes_counted=counted, class_kl=kl)
        # Equal set sizes: k-NN radii shrink as a set grows.
        size = min(len(features), len(reference))
        result["precision"], result["recall"] = metrics.precision_recall(
            reference[:size], features[:size], self.k
        )
        return result

    def evaluate(self, generator, num_samples=5000, seed=0):
        """Draws `num_samples` images from fixed latents and scores them.

        Args:
            generator: anything `kgan.quality.generators.as_generator`
                accepts (a SavedModel path, a `GAN`, a Keras generator).
            num_samples: images to draw.
            seed: seed of the latents and of KID's subsets.

        Returns:
            The dict of `score_images`.
        """
        generator = as_generator(generator)
        images = generate(generator, num_samples, seed, self.data.num_classes)
        return self.score_images(images, seed)

    def floor(self, num_samples=None, seed=0, kid=True):
        """Scores real held-out images (never in the reference) like a generator.

        Args:
            num_samples: real images to score; at most the floor part's size
                (2000 for MNIST's t10k split), which is the default.
            seed: seed of KID's subsets.
        """
        images = self.data.floor_images
        if num_samples:
            images = images[:num_samples]
        result = self.score_images(to_float(images), seed, kid)
        if self.identity is not None:
            # The identity classifier has its own split: its held-out half is the ceiling.
            result.update(self.identity.floor())
        return result


def _shape(shape):
    return "x".join(str(int(d)) for d in shape)


@functools.lru_cache(maxsize=4)
def get_evaluator(
    dataset, data_dir=None, image_size=0, cache_dir=None, classifier_epochs=None, identity_key=None
):
    """An `Evaluator` per dataset (arguments as `Evaluator.from_dataset`), kept for the process."""
    return Evaluator.from_dataset(
        dataset, data_dir, image_size, cache_dir, classifier_epochs, identity_key=identity_key
    )


def evaluate_generator(
    generator_or_path,
    dataset,
    num_samples=5000,
    seed=0,
    data_dir=None,
    image_size=0,
    cache_dir=None,
    identity_key=None,
):
    """Scores a generator against `dataset`'s held-out reference set.

    Deterministic for a seed: the same latents, the same KID subsets. The
    dataset's split and classifier are kept in memory between calls.

    Args:
        generator_or_path: a SavedModel folder (any SavedModel whose `serve`
            maps float32 `(B, latent_dim)` noise to `(B, H, W, C)` images in
            [-1, 1]), a loaded SavedModel, a `kgan.GAN` or a Keras generator.
        dataset: the dataset it imitates (TFDS name or local path).
        num_samples: images to draw.
        seed: seed of the latents and of KID's subsets.
        data_dir: TFDS data folder.
        image_size: side of the square images; 0 keeps the dataset's own.
        cache_dir: classifier cache root.
        identity_key: the `.npz` key of each image's identity, for
            `recognisable` (`kgan.quality.identity`).

    Returns:
        A dict: `fcd`, `kid`, `kid_std`, `classifier_score`,
        `classes_covered`, `class_kl`, `precision`, `recall` (None for an
        unlabelled dataset), `diversity`, `duplicates`, `recognisable`,
        `identities`, `rejected` (None without `identity_key`),
        `num_samples`, `reference_size`.

    Example:

    >>> evaluate_generator("runs/kgan/generator", "../shared/data/mnist")["fcd"]
    """
    evaluator = get_evaluator(dataset, data_dir, image_size, cache_dir, identity_key=identity_key)
    return evaluator.evaluate(generator_or_path, num_samples, seed)


def real_floor(dataset, num_samples=None, seed=0, data_dir=None, image_size=0, cache_dir=None):
    """Scores real held-out images against the reference set: the floor of every metric.

    Args:
        dataset: the dataset (TFDS name or local path).
        num_samples: real images to score (default and maximum: the floor
            part, 2000 images for MNIST's t10k split).
        seed: seed of KID's subsets.
        data_dir: TFDS data folder.
        image_size: side of the square images; 0 keeps the dataset's own.
        cache_dir: classifier cache root.

    Returns:
        The same dict as `evaluate_generator`.
    """
    evaluator = get_evaluator(dataset, data_dir, image_size, cache_dir)
    return evaluator.floor(num_samples, seed)
