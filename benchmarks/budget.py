"""Training under a budget, scored at marks: the engine of the quality benchmarks.

`train_kgan` and `train_tutorial` train one recipe until a budget (wall-clock
seconds or steps) runs out and call `score(sample_fn)` at each mark. The
clock stops while scoring, so scoring never eats into the training budget.
"""

import dataclasses
import time

import numpy as np


@dataclasses.dataclass
class Mark:
    """One scored point of a run."""

    seconds: float  # training wall-clock seconds so far (scoring excluded)
    steps: int  # training steps so far
    scores: dict  # whatever `score` returned
    samples: object = None  # uint8 grid of the fixed latents, if asked for


class _Budget:
    """Tracks training time (minus scoring time), steps, and the next mark."""

    def __init__(self, marks, unit):
        self.marks = sorted(marks)
        self.unit = unit  # "seconds" or "steps"
        self.start = time.perf_counter()
        self.paused = 0.0
        self.steps = 0
        self.results = []

    def seconds(self):
        return time.perf_counter() - self.start - self.paused

    def due(self):
        value = self.seconds() if self.unit == "seconds" else self.steps
        return bool(self.marks) and value >= self.marks[0]

    def record(self, score, sample_fn, grid_fn):
        began = time.perf_counter()
        seconds = self.seconds()
        scores = score(sample_fn)
        grid = grid_fn(sample_fn) if grid_fn else None
        self.results.append(Mark(seconds, self.steps, scores, grid))
        self.marks.pop(0)
        self.paused += time.perf_counter() - began

    @property
    def done(self):
        return not self.marks


def sample_grid(sample_fn, latent_dim, count=64, seed=1234, value_range=(-1.0, 1.0)):
    """A uint8 grid of `count` samples from fixed latents."""
    from kgan.images import make_grid, to_uint8

    latents = np.random.default_rng(seed).standard_normal((count, latent_dim)).astype("float32")
    return make_grid(to_uint8(np.asarray(sample_fn(latents)), value_range))


def train_kgan(
    config,
    marks,
    score,
    unit="seconds",
    gan_class=None,
    callbacks=(),
    grids=False,
    epoch_steps=None,
):
    """Trains kgan's recipe for `config` and scores it at each mark.

    Args:
        config: a `kgan.config.Config` (dataset, networks, techniques).
        marks: increasing budgets at which to score; the last ends the run.
        score: `score(sample_fn) -> dict`, with `sample_fn(latents) -> images`
            in [-1, 1].
        unit: `"seconds"` of training wall-clock, or `"steps"`.
        gan_class: a `kgan.GAN` subclass, default `kgan.GAN`.
        callbacks: extra Keras callbacks (e.g. a health monitor).
        grids: also keep a sample grid at each mark.
        epoch_steps: steps per Keras epoch; default one pass over the data
            (a tiny dataset's passes of a few steps would run the per-epoch
            callbacks, such as the health monitor's sample check, every
            few steps).

    Returns:
        `(marks, gan)`: a list of `Mark` and the trained model.
    """
    import keras

    from kgan.callbacks.standard import label_noise_schedule
    from kgan.data import load_source, make_dataset
    from kgan.gan import GAN
    from kgan.run_folder import steps_per_epoch
    from kgan.training import build_gan

    keras.utils.set_random_seed(config.seed)
    source = load_source(config.dataset, config.data_dir, config.image_size)
    dataset, _ = make_dataset(source, config.batch_size, seed=config.seed, output=config.g_output)
    gan = build_gan(config, source.image_shape, gan_class=gan_class or GAN)

    def sample_fn(latents):
        return np.asarray(gan.sample(latents))  # in [-1, 1], whatever the output activation

    def grid_fn(fn):
        return sample_grid(fn, config.latent_dim)

    budget = _Budget(marks, unit)

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            budget.steps += config.steps_per_execution
            if budget.due():
                budget.record(score, sample_fn, grid_fn if grids else None)
            if budget.done:
                self.model.stop_training = True

    budget.start = time.perf_counter()
    gan.fit(
        dataset,
        epochs=10**6,
        steps_per_epoch=epoch_steps or steps_per_epoch(source, config),
        # The label-noise schedule as train.py runs it (`--label_noise_schedule`).
        callbacks=[Clock(), label_noise_schedule(config), *callbacks],
        verbose=0,
        shuffle=False,
    )
    return budget.results, gan


def train_tutorial(dataset, marks, score, unit="seconds", seed=0, batch_size=256, grids=False):
    """Trains the TF DCGAN tutorial's recipe and scores it at each mark."""
    import keras

    from benchmarks.tutorial import LATENT_DIM, tutorial_step
    from kgan.data import load_source, make_dataset

    keras.utils.set_random_seed(seed)
    source = load_source(dataset)
    data, _ = make_dataset(source, batch_size, seed=seed)
    train_step, (generator, _) = tutorial_step(batch_size)

    def sample_fn(latents):
        return np.asarray(generator(latents, training=False))

    def grid_fn(fn):
        return sample_grid(fn, LATENT_DIM)

    budget = _Budget(marks, unit)
    budget.start = time.perf_counter()
    for images in data:
        train_step(images)
        budget.steps += 1
        if budget.due():
            budget.record(score, sample_fn, grid_fn if grids else None)
        if budget.done:
            break
    return budget.results


PROBE_SIGNS = ("step", "precision", "recall", "class_kl", "classes_covered")


def train_and_score(config, steps, num_samples=2000, grid=False, name="kgan"):
    """Trains `config` for `steps` steps with the probe and health monitor on, then scores it.

    The engine of the step-budget tables (ablation, ladder, robustness):
    one run, one score at the end, and what the monitor named on the way,
    judging with the quality probe as `train.py` does (every epoch,
    `config.eval_samples` samples).

    Returns:
        A dict: `seconds`, `steps`, `health` (the sorted failure names the
        monitor logged), the scalar scores of `kgan.quality`, and with
        `grid` a uint8 sample grid of 64 fixed latents under `"grid"`.
    """
    import json
    import os
    import tempfile

    from kgan.callbacks import GANHealthMonitor, QualityEvaluation
    from kgan.quality import evaluate_generator
    from kgan.quality.evaluator import get_evaluator
    from kgan.quality.generators import Generator

    with tempfile.TemporaryDirectory() as out_dir:
        probe = None
        if config.eval_every:
            probe = QualityEvaluation(
                get_evaluator(config.dataset),
                every=config.eval_every,
                num_samples=config.eval_samples or None,
                seed=config.seed,
            )
        monitor = GANHealthMonitor(out_dir=out_dir, on_failure="warn", probe=probe)

        def score(sample_fn):
            generator = Generator(lambda z, c=None: sample_fn(z), config.latent_dim, False, name)
            return evaluate_generator(generator, config.dataset, num_samples=num_samples, seed=0)

        callbacks = [c for c in (probe, monitor) if c is not None]
        marks, _ = train_kgan(config, [steps], score, unit="steps", callbacks=callbacks, grids=grid)
        findings_path = os.path.join(out_dir, "health.jsonl")
        findings = []
        if os.path.exists(findings_path):
            with open(findings_path) as f:
                findings = [json.loads(line)["failure"] for line in f if line.strip()]
    mark = marks[-1]
    record = {
        "seconds": mark.seconds,
        "steps": mark.steps,
        "health": sorted(set(findings)),
        # What the collapse check read at each probe: to tune its thresholds from records.
        "probe_signs": [{key: p.get(key) for key in PROBE_SIGNS} for p in monitor.probes],
        **{k: v for k, v in mark.scores.items() if not isinstance(v, (list, dict))},
    }
    if grid:
        record["grid"] = mark.samples
    return record
