"""The NumPy metrics against closed forms and constructed cases (no model involved)."""

import math

import numpy as np
import pytest

from kgan.quality import metrics


def _random_covariance(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_sqrtm_psd_squares_back_and_survives_round_off():
    rng = np.random.default_rng(0)
    sigma = _random_covariance(rng, 6)
    root = metrics.sqrtm_psd(sigma)
    np.testing.assert_allclose(root @ root, sigma, atol=1e-10)
    np.testing.assert_allclose(root, root.T)
    # A rank-1 matrix with a tiny negative eigenvalue from round-off stays real.
    v = rng.standard_normal((5, 1))
    singular = v @ v.T - 1e-14 * np.eye(5)
    assert np.isrealobj(metrics.sqrtm_psd(singular))
    np.testing.assert_allclose(
        metrics.sqrtm_psd(singular) @ metrics.sqrtm_psd(singular), v @ v.T, atol=1e-6
    )


def test_trace_sqrt_product_matches_the_2x2_closed_form():
    # For 2x2 A with eigenvalues l1, l2 >= 0: tr sqrt(A) = sqrt(tr A + 2 sqrt(det A)).
    rng = np.random.default_rng(1)
    for _ in range(5):
        s1, s2 = _random_covariance(rng, 2), _random_covariance(rng, 2)
        product = s1 @ s2
        expected = math.sqrt(np.trace(product) + 2 * math.sqrt(np.linalg.det(product)))
        assert metrics.trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_matches_the_closed_form_for_two_gaussians():
    # Commuting (diagonal) covariances: |m1 - m2|^2 + sum (sqrt(a) - sqrt(b))^2.
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    expected = 1.0 + 4.0 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 0.5) ** 2
    got = metrics.frechet_distance_from_statistics(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-12)

    # Non-commuting 2x2 covariances: the closed form of tr sqrt(S1 S2) above.
    rng = np.random.default_rng(2)
    s1, s2 = _random_covariance(rng, 2), _random_covariance(rng, 2)
    product = s1 @ s2
    cross = math.sqrt(np.trace(product) + 2 * math.sqrt(np.linalg.det(product)))
    expected = 0.25 + np.trace(s1) + np.trace(s2) - 2 * cross
    got = metrics.frechet_distance_from_statistics([0.5, 0.0], s1, [0.0, 0.0], s2)
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_of_samples_converges_to_the_closed_form():
    rng = np.random.default_rng(3)
    mu1, mu2 = np.zeros(4), np.full(4, 0.5)
    a, b = np.array([1.0, 2.0, 0.5, 1.0]), np.array([1.0, 0.5, 0.5, 3.0])
    x = mu1 + rng.standard_normal((50_000, 4)) * np.sqrt(a)
    y = mu2 + rng.standard_normal((50_000, 4)) * np.sqrt(b)
    expected = 4 * 0.25 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert metrics.frechet_distance(x, y) == pytest.approx(expected, rel=0.03)
    assert metrics.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_a_constant_set_is_finite():
    # A constant generator: zero covariance, the worst case for a matrix root.
    rng = np.random.default_rng(4)
    real = rng.standard_normal((500, 8))
    constant = np.ones((500, 8))
    mu, sigma = metrics.gaussian_statistics(real)
    expected = np.sum((mu - 1.0) ** 2) + np.trace(sigma)
    assert metrics.frechet_distance(constant, real) == pytest.approx(expected, rel=1e-9)


def test_kernel_distance_is_unbiased_near_zero_and_grows_with_a_shift():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((2000, 16)), rng.standard_normal((2000, 16))
    same, same_std = metrics.kernel_distance(x, y, num_subsets=20, subset_size=500)
    shifted, _ = metrics.kernel_distance(x, y + 0.5, num_subsets=20, subset_size=500)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 0.05 and shifted > 20 * abs(same)
    # Deterministic for a seed.
    assert metrics.kernel_distance(x, y, 5, 100, seed=1) == metrics.kernel_distance(
        x, y, 5, 100, seed=1
    )


def test_classifier_score_bounds():
    eye = np.eye(10)
    confident_balanced = np.tile(eye, (50, 1))
    assert metrics.classifier_score(confident_balanced)[0] == pytest.approx(10.0, rel=1e-6)
    one_class = np.tile(eye[3], (500, 1))
    assert metrics.classifier_score(one_class)[0] == pytest.approx(1.0, rel=1e-6)
    unsure = np.full((500, 10), 0.1)
    assert metrics.classifier_score(unsure)[0] == pytest.approx(1.0, rel=1e-6)


def test_class_coverage_counts_classes_and_kl():
    data = np.full(10, 0.1)
    balanced = np.tile(np.eye(10), (100, 1))
    assert metrics.class_coverage(balanced, data) == (10, 10, pytest.approx(0.0, abs=1e-9))
    one_class = np.tile(np.eye(10)[7], (1000, 1))
    covered, _, kl = metrics.class_coverage(one_class, data)
    assert covered == 1 and kl == pytest.approx(math.log(10), rel=1e-6)
    # Five stray samples of a class (0.5% < 10% of its 10% share) do not cover it.
    mostly_two = np.concatenate(
        [np.tile(np.eye(10)[0], (500, 1)), np.tile(np.eye(10)[1], (495, 1))]
    )
    mostly_two = np.concatenate([mostly_two, np.tile(np.eye(10)[2], (5, 1))])
    assert metrics.class_coverage(mostly_two, data)[0] == 2


def test_a_class_under_one_percent_of_the_data_neither_decides_coverage_nor_kl():
    # emoji64's mix: one class of 10 images in 7,572 (0.13%).
    counts = np.array([4522, 540, 528, 448, 436, 338, 318, 262, 170, 10], dtype=float)
    data = counts / counts.sum()
    # Samples in the data's mix, but the rare class never drawn.
    mix = np.round(data[:9] / data[:9].sum() * 2000).astype(int)
    samples = np.concatenate([np.tile(np.eye(10)[k], (n, 1)) for k, n in enumerate(mix)])
    covered, counted, kl = metrics.class_coverage(samples, data)
    assert (covered, counted) == (9, 9)
    assert kl < 0.002  # pooled, the missing 0.13% costs ~0.001 nats
    # The big classes still decide: lose the second largest and coverage drops.
    without = samples[samples.argmax(axis=1) != 1]
    assert metrics.class_coverage(without, data)[:2] == (8, 9)
    # Balanced data: every class is counted.
    assert metrics.class_coverage(samples, np.full(10, 0.1))[1] == 10


def test_precision_recall_separate_fidelity_from_diversity():
    rng = np.random.default_rng(6)
    real = rng.standard_normal((1000, 8))
    same = rng.standard_normal((1000, 8))
    precision, recall = metrics.precision_recall(real, same)
    assert precision > 0.6 and recall > 0.6
    # Every fake is one realistic point: perfect fidelity, no diversity.
    collapsed = np.repeat(real[:1], 1000, axis=0)
    precision, recall = metrics.precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.01
    # Far away: neither.
    assert metrics.precision_recall(real, same + 20.0) == (0.0, 0.0)


def test_diversity_and_duplicates_of_a_repeated_batch():
    rng = np.random.default_rng(7)
    varied = rng.uniform(-1, 1, (200, 8, 8, 1))
    repeated = np.repeat(varied[:1], 200, axis=0)
    assert metrics.pairwise_diversity(repeated) == pytest.approx(0.0, abs=1e-5)
    assert metrics.pairwise_diversity(varied) > 2.0
    threshold = np.percentile(metrics.nearest_neighbour_distances(varied), 1.0)
    assert metrics.duplicate_fraction(repeated, threshold) == 1.0
    assert metrics.duplicate_fraction(varied, threshold) <= 0.02
    # 64x64 images are pooled to 32x32 before distances are taken.
    big = rng.uniform(-1, 1, (10, 64, 64, 3))
    assert metrics._flatten(big).shape == (10, 32 * 32 * 3)
    pooled = big.reshape(10, 32, 2, 32, 2, 3).mean(axis=(2, 4))  # 2x2 average pooling
    np.testing.assert_allclose(metrics._flatten(big), pooled.reshape(10, -1), atol=1e-6)
    assert metrics.pairwise_diversity(big) == pytest.approx(
        metrics.pairwise_diversity(pooled), rel=1e-5
    )
    np.testing.assert_allclose(
        metrics.nearest_neighbour_distances(big),
        metrics.nearest_neighbour_distances(pooled),
        rtol=1e-4,
    )
