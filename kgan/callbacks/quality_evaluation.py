"""The quality probe: scores the generator every epoch and keeps the best one by FCD."""

import io
import json
import logging
import math
import os
import time

import keras
import numpy as np

from kgan.files import atomic_write
from kgan.quality.evaluator import KEYS
from kgan.quality.generators import Generator, generate


class QualityEvaluation(keras.callbacks.Callback):
    """Adds sample-quality metrics to the epoch logs and exports the best generator.

    Every `every` epochs (and after the last), `num_samples` images drawn
    from fixed latents (the same in every evaluation, so the numbers are
    comparable) are scored by a `kgan.quality.Evaluator`; `fcd`, `kid`,
    `kid_std`, `classifier_score`, `classes_covered`, `class_kl`,
    `precision`, `recall`, `diversity` and `duplicates` are added to the
    epoch logs, so they reach `history.csv`, `fit`'s history, the health
    monitor and any TensorBoard callback placed after this one; `seconds`
    adds up the time the probe took (each probe's is logged). The
    generator with the lowest FCD so far is exported to `best_dir`
    (atomically), with its epoch and scores in `best_dir + ".json"`.
    `floor` holds real held-out images' scores under the same settings:
    what the health monitor judges recall and precision against.

    Args:
        evaluator: a `kgan.quality.Evaluator` for the training dataset.
        every: evaluate every this many epochs.
        num_samples: images per evaluation; None: `default_samples` for
            the dataset's image size.
        seed: seed of the fixed latents and of KID's subsets.
        best_dir: where the best generator goes (its weights as soon as it
            is best, `best_dir + ".weights.npz"`; the SavedModel when training
            ends); None keeps none.
        kid: also compute KID (0.6 s per 1000 samples on 2 CPU cores; FCD
            alone decides the best generator).
        budget: the largest share of the wall time (since training began)
            the probe may take: an epoch whose probe would go past it is
            skipped (the last epoch never is); None: no limit.

    Example:

    >>> evaluator = Evaluator.from_dataset("../shared/data/mnist")
    >>> gan.fit(data, epochs=20, callbacks=[QualityEvaluation(evaluator, every=2)])
    """

    def __init__(
        self,
        evaluator,
        every=1,
        num_samples=None,
        seed=0,
        best_dir=None,
        kid=False,
        budget=None,
    ):
        super().__init__()
        self.evaluator = evaluator
        self.every = max(int(every), 1)
        if num_samples is None:
            num_samples = default_samples(evaluator.data.image_shape)
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.best_dir = best_dir
        self.kid = bool(kid)
        self.budget = budget
        self.best_summary = None
        self.seconds = 0.0
        self.best_fcd = math.inf
        self.best_epoch = None
        self._floor = None

    @property
    def floor(self):
        """Real held-out images scored as `num_samples` generated ones would be (computed once)."""
        if self._floor is None:
            start = time.perf_counter()
            size = min(self.num_samples, len(self.evaluator.data.floor_images))
            self._floor = self.evaluator.floor(size, self.seed, kid=self.kid)
            self.seconds += time.perf_counter() - start
        return self._floor

    # === The best generator: its weights on disk as soon as it is best, exported at the end ===

    @property
    def weights_path(self):
        """Where the best generator's weights wait for the export (`<best_dir>.weights.npz`)."""
        return f"{self.best_dir}.weights.npz"

    @property
    def summary_path(self):
        return f"{self.best_dir}.json"

    def on_train_begin(self, logs=None):
        self.epochs = self.params.get("epochs") if self.params else None
        self.best_weights = None
        self.started = time.perf_counter()
        self.last_cost = None
        # A resumed run must beat the best generator it already kept.
        if self.best_dir and os.path.exists(self.summary_path):
            with open(self.summary_path) as f:
                summary = json.load(f)
            if summary.get("fcd") is not None and summary["fcd"] < self.best_fcd:
                self.best_fcd, self.best_epoch = summary["fcd"], summary.get("epoch")
                self.best_summary = summary
            if os.path.exists(self.weights_path):
                self.best_weights = load_weights(self.weights_path)

    def _generator(self):
        model = self.model

        def sample(latents, labels=None):
            return np.asarray(model.sample(latents, labels), dtype=np.float32)  # in [-1, 1]

        conditional = len(model.generator.inputs) > 1
        return Generator(sample, int(model.latent_dim), conditional, "the generator")

    def over_budget(self):
        """Whether one more probe would take the probe's share of the wall time past `budget`."""
        if not self.budget or self.last_cost is None:
            return False
        elapsed = time.perf_counter() - self.started
        return self.seconds + self.last_cost > self.budget * (elapsed + self.last_cost)

    def on_epoch_end(self, epoch, logs=None):
        last = self.epochs is not None and epoch + 1 == self.epochs
        if ((epoch + 1) % self.every or self.over_budget()) and not last:
            return
        start = time.perf_counter()
        images = generate(
            self._generator(), self.num_samples, self.seed, self.evaluator.data.num_classes
        )
        result = self.evaluator.score_images(images, self.seed, kid=self.kid)
        if logs is not None:
            logs.update({key: result[key] for key in KEYS if result[key] is not None})
        self.last_cost = time.perf_counter() - start
        self.seconds += self.last_cost
        shown = ", ".join(
            f"{key} {result[key]:.4g}" for key in KEYS if isinstance(result[key], (int, float))
        )
        logging.info(
            "epoch %d quality (%d samples, %.1f s): %s",
            epoch + 1,
            self.num_samples,
            time.perf_counter() - start,
            shown,
        )
        fcd = result["fcd"]
        if self.best_dir and fcd is not None and math.isfinite(fcd) and fcd < self.best_fcd:
            self.best_fcd, self.best_epoch = fcd, epoch + 1
            self._keep_best(result)

    def _keep_best(self, result):
        # What was scored: the EMA copy when on, with standing statistics.
        network = self.model.inference_generator()
        self.best_weights = [np.asarray(w) for w in network.get_weights()]
        self.best_summary = {
            "epoch": self.best_epoch,
            "step": int(keras.ops.convert_to_numpy(self.model.g_optimizer.iterations)),
            "chosen_by": f"the lowest FCD of the quality probe ({self.num_samples} samples)",
            "features": self.evaluator.features,
            **{k: result[k] for k in KEYS},
        }
        # Small and fast: the SavedModel export waits for the end of training.
        folder = os.path.dirname(self.weights_path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        buffer = io.BytesIO()
        np.savez(buffer, **{f"w{i}": w for i, w in enumerate(self.best_weights)})
        atomic_write(self.weights_path, buffer.getvalue())
        atomic_write(self.summary_path, json.dumps(self.best_summary, indent=2, sort_keys=True))
        logging.info("epoch %d is the best so far (probe FCD %.4g)", self.best_epoch, self.best_fcd)

    def on_train_end(self, logs=None):
        self.export_best()

    def export_best(self):
        """Exports the best generator kept so far to `best_dir`; returns its path, or None."""
        if not self.best_dir or self.best_weights is None:
            return None
        path = export_with_weights(self.model, self.best_weights, self.best_dir)
        logging.info(
            "the best generator (epoch %s, probe FCD %.4g) exported to %s",
            self.best_epoch,
            self.best_fcd,
            path,
        )
        return path


def default_samples(image_shape):
    """Probe samples for `(H, W, C)` images: 1000 up to 32x32 pixels, else 500.

    Generating and featurising a 64x64 colour image costs twice a 28x28
    digit's (1000 images on 2 busy CPU cores: 6.2 s on emoji64, 3.0 s on
    MNIST), and the colour datasets users bring are small, so their epochs
    are short: 500 keeps a 64x64 probe near 5% of an emoji64 epoch.
    """
    height, width = image_shape[:2]
    return 1000 if height * width <= 32 * 32 else 500


def load_weights(path):
    """The weight list `QualityEvaluation` saved at `path` (`<best_dir>.weights.npz`)."""
    with np.load(path) as arrays:
        return [arrays[f"w{i}"] for i in range(len(arrays.files))]


def export_with_weights(gan, weights, path):
    """Exports `gan`'s inference generator holding `weights` to `path`, then puts its own back."""
    network = gan.inference_generator()
    current = network.get_weights()
    network.set_weights(weights)
    try:
        return gan.export_generator(path)
    finally:
        network.set_weights(current)
