"""Scores the generator every few epochs and keeps the best one by FCD."""

import json
import logging
import math
import os

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
    epoch logs, so they reach `history.csv`, `fit`'s history, and any
    TensorBoard callback placed after this one. A labelled dataset's
    generator with the lowest FCD so far is exported to `best_dir`
    (atomically), with its scores in `best_dir + ".json"`.

    Args:
        evaluator: a `kgan.quality.Evaluator` for the training dataset.
        every: evaluate every this many epochs.
        num_samples: images per evaluation.
        seed: seed of the fixed latents and of KID's subsets.
        best_dir: where the best generator goes; None keeps none.

    Example:

    >>> evaluator = Evaluator.from_dataset("../shared/data/mnist")
    >>> gan.fit(data, epochs=20, callbacks=[QualityEvaluation(evaluator, every=2)])
    """

    def __init__(
        self,
        evaluator,
        every=1,
        num_samples=2000,
        seed=0,
        best_dir=None,
    ):
        super().__init__()
        self.evaluator = evaluator
        self.every = max(int(every), 1)
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.best_dir = best_dir
        self.best_fcd = math.inf
        self.best_epoch = None

    def on_train_begin(self, logs=None):
        self.epochs = self.params.get("epochs") if self.params else None
        # A resumed run must beat the best generator it already exported.
        summary_path = f"{self.best_dir}.json" if self.best_dir else None
        if summary_path and os.path.exists(summary_path) and os.path.isdir(self.best_dir):
            with open(summary_path) as f:
                summary = json.load(f)
            if summary.get("fcd") is not None and summary["fcd"] < self.best_fcd:
                self.best_fcd, self.best_epoch = summary["fcd"], summary.get("epoch")

    def _generator(self):
        model = self.model

        def sample(latents, labels=None):
            return np.asarray(model.sample(latents, labels), dtype=np.float32)  # in [-1, 1]

        conditional = len(model.generator.inputs) > 1
        return Generator(sample, int(model.latent_dim), conditional, "the generator")

    def on_epoch_end(self, epoch, logs=None):
        last = self.epochs is not None and epoch + 1 == self.epochs
        if (epoch + 1) % self.every and not last:
            return
        images = generate(
            self._generator(), self.num_samples, self.seed, self.evaluator.data.num_classes
        )
        result = self.evaluator.score_images(images, self.seed)
        if logs is not None:
            logs.update({key: result[key] for key in KEYS if result[key] is not None})
        shown = ", ".join(
            f"{key} {result[key]:.4g}" for key in KEYS if isinstance(result[key], (int, float))
        )
        logging.info("epoch %d quality (%d samples): %s", epoch + 1, self.num_samples, shown)
        fcd = result["fcd"]
        if self.best_dir and fcd is not None and math.isfinite(fcd) and fcd < self.best_fcd:
            self.best_fcd, self.best_epoch = fcd, epoch + 1
            self._export_best(result)

    def _export_best(self, result):
        # What was scored: the EMA copy when on, with standing statistics.
        self.model.export_generator(self.best_dir)
        summary = {"epoch": self.best_epoch, **{k: result[k] for k in KEYS}}
        atomic_write(f"{self.best_dir}.json", json.dumps(summary, indent=2, sort_keys=True))
        logging.info(
            "best generator so far (FCD %.4g) exported to %s", self.best_fcd, self.best_dir
        )
