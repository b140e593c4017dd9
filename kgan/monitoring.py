"""The quality and health callbacks a `kgan.training.train` run gets from its config.

- `QualityEvaluation` (when `eval_every > 0`): metrics into the epoch logs,
  the best generator by FCD in `out_dir/best_generator`.
- `GANHealthMonitor` (always): names failures in the log, the epoch logs
  (`health`) and `out_dir/health.jsonl`; `on_failure=stop` stops the run.
"""

import logging
import os

import numpy as np

from kgan.callbacks.gan_health_monitor import GANHealthMonitor
from kgan.callbacks.quality_evaluation import QualityEvaluation

REAL_SAMPLE = 256  # real images that scale the health monitor's diversity


def prepare_evaluator(config):
    """The `Evaluator` of `config.dataset` when `eval_every` asks for one, else None.

    Called before the run seeds its RNGs: training the classifier (once per
    dataset, then cached) seeds them itself, and a run must not depend on
    whether the classifier was cached.
    """
    if not config.eval_every:
        return None
    from kgan.evaluation import Evaluator

    evaluator = Evaluator.from_dataset(config.dataset, config.data_dir, config.image_size)
    if evaluator.classifier is None:
        logging.info(
            "%s has no labels: evaluation reports diversity and duplicates only", config.dataset
        )
    else:
        logging.info(
            "evaluation classifier: %.2f%% held-out accuracy (%s)",
            100 * evaluator.classifier.accuracy,
            evaluator.data.split,
        )
    return evaluator


def real_sample(source, count=REAL_SAMPLE, output="tanh"):
    """Up to `count` real images of `source`, scaled to the generator's range.

    Args:
        source: a `kgan.data.ImageSource`.
        count: how many images (the first ones: no randomness involved).
        output: `"tanh"` scales to [-1, 1], `"sigmoid"` to [0, 1].
    """
    from kgan.data import _square, scale_images

    size = source.image_shape[0]
    if source.images is not None:
        images = source.images[:count]
    else:
        images = np.concatenate(
            [batch for batch, _ in source.dataset.take(count).batch(count).as_numpy_iterator()]
        )
    if images.shape[1] != size or images.shape[2] != size:
        images = _square(images, size)
    return np.asarray(scale_images(images, output))


def monitoring_callbacks(config, source, evaluator=None, value_range=(-1.0, 1.0)):
    """`[QualityEvaluation (if evaluator), GANHealthMonitor]` for a run.

    They go after `SampleSnapshot` and before `HistoryCSV`, so their keys
    reach the history file, and the monitor reads the evaluation's metrics.
    """
    callbacks = []
    if evaluator is not None:
        callbacks.append(
            QualityEvaluation(
                evaluator,
                every=config.eval_every,
                num_samples=config.eval_samples,
                seed=config.seed,
                best_dir=os.path.join(config.out_dir, "best_generator"),
                value_range=value_range,
            )
        )
    callbacks.append(
        GANHealthMonitor(
            config.out_dir,
            on_failure=config.on_failure,
            real_images=real_sample(source, output=config.g_output),
        )
    )
    return callbacks
