"""Sample-quality metrics as pure NumPy functions of features and probabilities.

Every function takes arrays (features `(N, D)`, class probabilities
`(N, K)`, images `(N, H, W, C)`) and returns plain floats, so the same code
scores a generator, a real held-out set (the floor) or anything else, and
can be tested against closed forms without a model in sight.

- `frechet_distance`: FCD/FID (Heusel et al. 2017) from features.
- `kernel_distance`: KID, the unbiased polynomial-kernel MMD (Binkowski et
  al. 2018), mean and std over random subsets.
- `classifier_score`: the Inception Score of Salimans et al. 2016, computed
  with the dataset's own classifier.
- `class_coverage`: classes hit, and KL(generated class mix || data's).
- `precision_recall`: improved precision and recall with k-NN manifolds
  (Kynkaanniemi et al. 2019).
- `pairwise_diversity`, `duplicate_fraction`: label-free checks of a batch.
"""

import numpy as np


def _as_matrix(features, dtype=np.float64):
    features = np.asarray(features, dtype=dtype)
    if features.ndim != 2:
        raise ValueError(f"features must be (N, D), got shape {features.shape}")
    return features


def gaussian_statistics(features):
    """Returns `(mean (D,), covariance (D, D))` of `(N, D)` features, in float64."""
    features = _as_matrix(features)
    if len(features) < 2:
        raise ValueError("the covariance needs at least 2 samples")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def sqrtm_psd(matrix):
    """The symmetric square root of a symmetric positive semi-definite matrix.

    Eigen-decomposition `V diag(w) V^T`, negative round-off eigenvalues
    clipped to 0, so the result is real and symmetric (unlike a general
    `sqrtm`, which can return complex values for a nearly singular input).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    matrix = (matrix + matrix.T) / 2.0
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    roots = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * roots) @ eigenvectors.T


def trace_sqrt_product(sigma1, sigma2):
    """`tr(sqrtm(sigma1 @ sigma2))` for two covariance matrices, stably.

    `sigma1 @ sigma2` is not symmetric, but it is similar to the symmetric
    PSD matrix `sqrt(sigma1) @ sigma2 @ sqrt(sigma1)`, whose eigenvalues are
    therefore the same; the trace of the root is the sum of their roots.
    Working with the symmetric form avoids the complex round-off of a
    general matrix square root.
    """
    root1 = sqrtm_psd(sigma1)
    middle = root1 @ np.asarray(sigma2, dtype=np.float64) @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2):
    """Frechet distance between the Gaussians `N(mu1, sigma1)` and `N(mu2, sigma2)`.

    `|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrt(sigma1 sigma2))`
    (Dowson and Landau 1982), clipped at 0 against round-off.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    mean_term = float(np.sum((mu1 - mu2) ** 2))
    covariance_term = np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return max(mean_term + float(covariance_term), 0.0)


def frechet_distance(features1, features2):
    """Frechet distance between Gaussians fitted to two feature sets (FID, FCD).

    Args:
        features1: `(N1, D)` features, e.g. of generated images.
        features2: `(N2, D)` features, e.g. of the reference images.

    Returns:
        A float >= 0; lower is better. It is biased upwards by finite
        samples, so compare numbers computed with the same sample sizes.
    """
    return frechet_distance_from_statistics(
        *gaussian_statistics(features1), *gaussian_statistics(features2)
    )


def _polynomial_kernel(x, y):
    """`(x . y / D + 1) ** 3`, the kernel of KID (float32 inputs: 3x faster than float64)."""
    kernel = x @ y.T
    kernel /= x.shape[1]
    kernel += 1.0
    return kernel * kernel * kernel


def kernel_distance(features1, features2, num_subsets=20, subset_size=1000, seed=0):
    """Kernel distance (KID): unbiased squared MMD with a cubic polynomial kernel.

    Computed on `num_subsets` random subsets of `subset_size` samples drawn
    (without replacement) from each set, as Binkowski et al. 2018 do: the
    mean is an unbiased estimate, so it is ~0 for two samples of one
    distribution whatever the sample size, and the std says how much it
    moves between subsets.

    Args:
        features1: `(N1, D)` features.
        features2: `(N2, D)` features.
        num_subsets: number of subset pairs to average over.
        subset_size: samples per subset (capped at the smaller set's size).
        seed: seed of the subset draws.

    Returns:
        `(mean, std)` over the subsets.
    """
    x_all = _as_matrix(features1, np.float32)
    y_all = _as_matrix(features2, np.float32)
    m = min(subset_size, len(x_all), len(y_all))
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    estimates = np.empty(num_subsets)
    for i in range(num_subsets):
        x = x_all[rng.choice(len(x_all), m, replace=False)]
        y = y_all[rng.choice(len(y_all), m, replace=False)]
        k_xx = _polynomial_kernel(x, x)
        k_yy = _polynomial_kernel(y, y)
        k_xy = _polynomial_kernel(x, y)
        # Unbiased: the diagonals k(x_i, x_i) are left out of the within-set means.
        within = _off_diagonal_sum(k_xx) + _off_diagonal_sum(k_yy)
        estimates[i] = within / (m * (m - 1)) - 2.0 * k_xy.sum(dtype=np.float64) / (m * m)
    return float(estimates.mean()), float(estimates.std())


def _off_diagonal_sum(kernel):
    return kernel.sum(dtype=np.float64) - np.trace(kernel, dtype=np.float64)


def classifier_score(probabilities, splits=10):
    """The Inception Score with the dataset's classifier: `exp(E_x KL(p(y|x) || p(y)))`.

    High when each sample is classified confidently (low entropy of
    `p(y|x)`) and the classes are balanced (high entropy of `p(y)`); at most
    the number of classes. Computed on `splits` equal parts and averaged
    (Salimans et al. 2016).

    Args:
        probabilities: `(N, K)` class probabilities of the samples.
        splits: number of parts.

    Returns:
        `(mean, std)` over the parts.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    splits = max(1, min(splits, len(probabilities)))
    scores = []
    for part in np.array_split(probabilities, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(part + 1e-12) - np.log(marginal + 1e-12)), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def class_histogram(probabilities, num_classes=None):
    """Fraction of samples whose most probable class is each class, `(K,)`."""
    probabilities = np.asarray(probabilities)
    num_classes = num_classes or probabilities.shape[1]
    counts = np.bincount(probabilities.argmax(axis=1), minlength=num_classes)
    return counts / max(len(probabilities), 1)


def class_coverage(probabilities, data_histogram, min_share=0.1, min_class_share=0.01):
    """How many classes the samples hit, and how far their class mix is from the data's.

    Only classes holding at least `min_class_share` of the data are
    counted: a few thousand samples cannot say whether a class of 10
    images in 7,572 (emoji64's Component, 0.13%) is covered, and a
    classifier trained on so few of them rarely names it even for real
    images, so such a class would decide coverage by noise. A counted class
    is covered when its share of the samples is at least `min_share` times
    its share of the data (10 balanced classes and the default 0.1: at
    least 1% of the samples), so a few stray misclassifications do not
    count as coverage. For the KL, the classes below `min_class_share` are
    pooled into one bin, in both mixes.

    Args:
        probabilities: `(N, K)` class probabilities of the samples.
        data_histogram: `(K,)` class mix of the data (sums to 1).
        min_share: the fraction of a class's data share it must reach.
        min_class_share: the data share below which a class is not counted.

    Returns:
        `(classes_covered, classes_counted, kl)`: two ints, and KL(sample
        mix || data mix) in nats (0 for the same mix; log(K) for one class
        of K balanced ones).
    """
    data = np.asarray(data_histogram, dtype=np.float64)
    data = data / data.sum()
    generated = class_histogram(probabilities, len(data))
    counted = data >= min_class_share
    hit = (generated >= min_share * data) & (generated > 0)
    covered = int(np.sum(hit & counted))
    if not counted.all():
        # (K,) -> (counted + 1,): the rare classes pooled into one last bin.
        data = np.append(data[counted], data[~counted].sum())
        generated = np.append(generated[counted], generated[~counted].sum())
    present = generated > 0
    kl = float(np.sum(generated[present] * np.log(generated[present] / (data[present] + 1e-12))))
    return covered, int(counted.sum()), max(kl, 0.0)


def _squared_distances(a, b):
    """`(len(a), len(b))` squared Euclidean distances, clipped at 0."""
    squared = np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(squared, 0.0)


def _knn_radii(features, k):
    """Squared distance from each sample to its k-th nearest other sample."""
    squared = _squared_distances(features, features)
    # Column 0 of the sorted row is the sample itself (distance 0).
    return np.partition(squared, k, axis=1)[:, k]


def _inside_manifold(queries, support, radii, chunk=1024):
    """For each query: does it lie inside some support sample's k-NN ball?"""
    inside = np.empty(len(queries), dtype=bool)
    for start in range(0, len(queries), chunk):
        squared = _squared_distances(queries[start : start + chunk], support)
        inside[start : start + chunk] = np.any(squared <= radii[None, :], axis=1)
    return inside


def precision_recall(real_features, fake_features, k=3):
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each set's manifold is the union of balls around its samples, each ball
    reaching the sample's k-th nearest neighbour in its own set. Precision
    is the fraction of fakes inside the real manifold (fidelity); recall is
    the fraction of reals inside the fake manifold (diversity). The ball
    radii shrink as a set grows, so both sets should be the same size.

    Args:
        real_features: `(N, D)` reference features.
        fake_features: `(M, D)` generated features.
        k: the neighbour that sets each ball's radius (the paper uses 3).

    Returns:
        `(precision, recall)`, each in [0, 1].
    """
    real = _as_matrix(real_features, np.float32)
    fake = _as_matrix(fake_features, np.float32)
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set")
    precision = _inside_manifold(fake, real, _knn_radii(real, k)).mean()
    recall = _inside_manifold(real, fake, _knn_radii(fake, k)).mean()
    return float(precision), float(recall)


def _flatten(images, max_side=32):
    """`(N, H, W, C)` images -> `(N, D)` vectors, average-pooled to at most `max_side`."""
    images = np.asarray(images, dtype=np.float32)
    factor = 1
    while images.shape[1] // factor > max_side and images.shape[1] % (2 * factor) == 0:
        factor *= 2
    if factor > 1:
        n, h, w, c = images.shape
        images = images.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))
    return images.reshape(len(images), -1)


def pairwise_diversity(images):
    """Mean Euclidean distance between two different images of a batch (pixel space).

    Images larger than 32 pixels are average-pooled first, so the cost stays
    small. Divide by the same number for real images: ~1 is as diverse as
    the data, 0 is one image repeated.
    """
    vectors = _flatten(images)
    n = len(vectors)
    if n < 2:
        raise ValueError("diversity needs at least 2 images")
    distances = np.sqrt(_squared_distances(vectors, vectors))
    np.fill_diagonal(distances, 0.0)  # round-off, not spread
    return float(distances.sum(dtype=np.float64) / (n * (n - 1)))


def nearest_neighbour_distances(images):
    """Distance from each image of a batch to its nearest other image (pixel space)."""
    vectors = _flatten(images)
    squared = _squared_distances(vectors, vectors)
    np.fill_diagonal(squared, np.inf)
    return np.sqrt(squared.min(axis=1))


def duplicate_fraction(images, threshold):
    """Fraction of a batch's images that have a near-copy in the same batch.

    Args:
        images: `(N, H, W, C)` images.
        threshold: nearest-neighbour distance below which two images count
            as copies; `evaluate` uses the 1st percentile of the same
            distance among real images, so real data scores ~0.01.

    Returns:
        A float in [0, 1]; a collapsed generator scores near 1.
    """
    return float(np.mean(nearest_neighbour_distances(images) <= threshold))
