"""Data efficiency: what augmentation buys when the dataset is small.

Each run trains kgan's defaults on a random subset of a dataset (the same
subset for every mode and seed) for one fixed step budget per dataset, with
augmentation off, at a fixed probability (DiffAugment as published, p = 1)
or adaptive (ADA), and is scored against the WHOLE dataset's held-out
reference set: FCD as a multiple of the real-data floor, classes covered,
and whether it collapsed. Each run also keeps its curves of ADA's
overfitting signal r_t = E[sign(D(real))] and of p.

    python -m benchmarks.data_efficiency                         # the full grid (hours)
    python -m benchmarks.data_efficiency --datasets=emoji64 --sizes=emoji64=500 --seeds=1
    python -m benchmarks.data_efficiency --report_only

Results append to benchmarks/results/data_efficiency.jsonl (a rerun skips
finished runs); the table goes to data_efficiency.md, the curves to
data_efficiency.png and the seed-0 sample grids to de_<dataset>.png (rows:
subset sizes, columns: modes).
"""

import os
import statistics
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from benchmarks.common import (  # noqa: E402
    DATASETS,
    RESULTS,
    append_result,
    load_results,
    pyplot,
    write_table,
)

MODES = ("off", "fixed", "adaptive")
MIN_EPOCH_STEPS = 100
# A run has collapsed when its fixed batch has lost most of the pixel spread
# of real images, or most of it are near-copies of each other.
COLLAPSE_DIVERSITY, COLLAPSE_DUPLICATES = 0.3, 0.5

flags.DEFINE_list("datasets", ["emoji64", "mnist"], "Datasets (keys of DATASETS).")
flags.DEFINE_list(
    "sizes",
    ["emoji64=500,2000,7572", "mnist=100,1000,10000"],
    "Subset sizes: dataset=size,size,... (flag entries split at commas, so give "
    "one dataset per --sizes entry group).",
)
flags.DEFINE_list("modes", list(MODES), "Augmentation modes (--augment values).")
flags.DEFINE_integer("seeds", 3, "Seeds per cell (0 .. seeds-1).")
flags.DEFINE_list(
    "steps", ["emoji64=3000", "mnist=2000"], "The step budget of each dataset: dataset=steps."
)
flags.DEFINE_integer("num_samples", 2000, "Generated images per score.")
flags.DEFINE_integer("curve_points", 40, "Points kept of each run's r_t and p curves.")
flags.DEFINE_string("out", os.path.join(RESULTS, "data_efficiency.jsonl"), "Results file.")
flags.DEFINE_bool("report_only", False, "Only rebuild the table and plots from the results.")
FLAGS = flags.FLAGS


def sizes_of(dataset):
    """The subset sizes of `dataset` from `--sizes` (entries `name=a`, then bare `b`, ...)."""
    table, current = {}, None
    for entry in FLAGS.sizes:
        name, _, value = entry.rpartition("=")
        current = name or current
        table.setdefault(current, []).append(int(value))
    return table.get(dataset, [])


def steps_of(dataset):
    return int(dict(entry.split("=") for entry in FLAGS.steps)[dataset])


def write_subset(source, size, folder):
    """Writes `size` images of `source` (a fixed random choice) to a .npz; returns its path."""
    import numpy as np

    count = min(size, source.num_examples)
    chosen = np.random.default_rng(1234).permutation(source.num_examples)[:count]
    path = os.path.join(folder, f"subset_{count}.npz")
    arrays = {"images": source.images[chosen]}
    if source.labels is not None:
        arrays["labels"] = source.labels[chosen]
    np.savez(path, **arrays)
    return path


def curves_callback(budget, points):
    """A Keras callback whose `rows` keep `[step, r_t, p]` at `points` steps of the run."""
    from kgan.callbacks.global_step import StepCallback

    class Curves(StepCallback):
        def __init__(self):
            super().__init__()
            self.every = max(budget // points, 1)
            self.rows = []

        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)
            latest = self.clock.latest
            if self.step % self.every == 0 and "d_real_sign" in latest:
                self.rows.append([self.step, latest["d_real_sign"], latest["augment_p"]])

    return Curves()


def run(dataset, size, mode, seed, subset_path):
    import json

    from benchmarks.budget import sample_grid, train_kgan
    from kgan.callbacks import GANHealthMonitor
    from kgan.config import Config
    from kgan.quality import evaluate_generator
    from kgan.quality.generators import Generator

    budget = steps_of(dataset)
    config = Config(dataset=subset_path, augment=mode, seed=seed)
    curves = curves_callback(budget, FLAGS.curve_points)

    def score(sample_fn):
        generator = Generator(lambda z, c=None: sample_fn(z), config.latent_dim, False, mode)
        return evaluate_generator(
            generator, DATASETS[dataset], num_samples=FLAGS.num_samples, seed=0
        )

    from kgan.callbacks.standard import real_sample
    from kgan.data import load_source
    from kgan.run_folder import steps_per_epoch

    subset = load_source(subset_path)
    with tempfile.TemporaryDirectory() as out_dir:
        # As train.py builds it: diversity judged against the real images'.
        monitor = GANHealthMonitor(out_dir=out_dir, real_images=real_sample(subset))
        # Epochs of at least 100 steps: the monitor checks samples at epoch ends.
        passes = steps_per_epoch(subset, config)
        results, gan = train_kgan(
            config,
            [budget],
            score,
            unit="steps",
            callbacks=[curves, monitor],
            epoch_steps=max(passes, MIN_EPOCH_STEPS),
        )
        findings_path = os.path.join(out_dir, "health.jsonl")
        findings = []
        if os.path.exists(findings_path):
            with open(findings_path) as f:
                findings = [json.loads(line) for line in f if line.strip()]
    scores = results[-1].scores
    collapsed = (
        scores["diversity"] < COLLAPSE_DIVERSITY or scores["duplicates"] > COLLAPSE_DUPLICATES
    )
    record = {
        "benchmark": "data_efficiency",
        "dataset": dataset,
        "size": size,
        "mode": mode,
        "seed": seed,
        "budget_steps": budget,
        "steps": results[-1].steps,
        "seconds": results[-1].seconds,
        "collapsed": bool(collapsed),
        "final_p": 0.0 if gan.augmenter is None else float(gan.augmenter.p.numpy()),
        "curves": curves.rows,
        # What the health monitor named, and whether it blamed D overfitting.
        "health": [[f["step"], f["failure"], f.get("cause", "")] for f in findings],
        **{k: v for k, v in scores.items() if not isinstance(v, (list, dict))},
    }
    grid = None
    if seed == 0:
        grid = sample_grid(lambda z: gan.sample(z).numpy(), config.latent_dim, count=25)
    return record, grid


def floors(datasets):
    from kgan.quality import real_floor

    return {d: real_floor(DATASETS[d]) for d in datasets}


def report(records, floor):
    lines = [
        "# Data efficiency",
        "",
        "kgan's defaults on subsets of each dataset, augmentation off / fixed "
        "(DiffAugment, p = 1) / adaptive (ADA), scored against the whole dataset's "
        "held-out images. FCD as a multiple of the real-data floor: median and range "
        "over seeds.",
        "",
        "| dataset | images | steps | augment | seeds | FCD / floor (median) | range | "
        "classes covered | collapsed | final p | health findings (cause: d_overfitting) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary = []
    for dataset in sorted({r["dataset"] for r in records}):
        floor_fcd = floor[dataset]["fcd"]
        for size in sorted({r["size"] for r in records if r["dataset"] == dataset}):
            medians = {}
            for mode in MODES:
                rows = [
                    r
                    for r in records
                    if (r["dataset"], r["size"], r["mode"]) == (dataset, size, mode)
                ]
                if not rows:
                    continue
                ratios = [r["fcd"] / floor_fcd for r in rows]
                medians[mode] = statistics.median(ratios)
                covered = ", ".join(str(r["classes_covered"]) for r in rows)
                covered += f" of {rows[0].get('classes_counted') or '?'}"
                lines.append(
                    f"| {dataset} | {size} | {rows[0]['budget_steps']} | {mode} | {len(rows)} | "
                    f"{medians[mode]:.1f}x | {min(ratios):.1f} - {max(ratios):.1f} | {covered} "
                    f"| {sum(r['collapsed'] for r in rows)}/{len(rows)} | "
                    f"{statistics.median(r['final_p'] for r in rows):.2f} | "
                    f"{_health(rows)} |"
                )
            if "off" in medians and "adaptive" in medians:
                summary.append(
                    f"- {dataset}, {size} images: adaptive augmentation reaches "
                    f"{medians['adaptive']:.1f}x the floor where none reaches "
                    f"{medians['off']:.1f}x: {_ratio(medians['off'], medians['adaptive'])}."
                )
    write_table("data_efficiency.md", "\n".join([*lines[:4], *summary, "", *lines[4:], ""]))
    _plot(records, floor)


def _ratio(off, adaptive):
    """How adaptive compares with off, in words: "2.10x lower" or "1.05x higher"."""
    if adaptive <= off:
        return f"{off / adaptive:.2f}x lower"
    return f"{adaptive / off:.2f}x higher"


def _health(rows):
    """`diminished_gradient x2 (2), ...`: findings over `rows`, and how many blamed overfitting."""
    import collections

    named, blamed = collections.Counter(), collections.Counter()
    for r in rows:
        for _, failure, cause in r.get("health", []):
            named[failure] += 1
            blamed[failure] += cause == "d_overfitting"
    return ", ".join(f"{k} x{v} ({blamed[k]})" for k, v in sorted(named.items())) or "-"


def _plot(records, floor):
    plt = pyplot()
    if plt is None:
        return
    datasets = sorted({r["dataset"] for r in records})
    fig, axes = plt.subplots(2, len(datasets), figsize=(6 * len(datasets), 8), squeeze=False)
    for column, dataset in enumerate(datasets):
        ax = axes[0][column]
        for mode in MODES:
            rows = [r for r in records if r["dataset"] == dataset and r["mode"] == mode]
            sizes = sorted({r["size"] for r in rows})
            if not sizes:
                continue
            medians = [
                statistics.median(r["fcd"] for r in rows if r["size"] == s) / floor[dataset]["fcd"]
                for s in sizes
            ]
            ax.plot(sizes, medians, marker="o", label=f"augment={mode}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training images")
        ax.set_ylabel("FCD / real-data floor (median over seeds)")
        ax.set_title(dataset)
        ax.legend()
        ax = axes[1][column]
        for r in records:
            if r["dataset"] != dataset or r["seed"] != 0 or not r.get("curves"):
                continue
            steps = [c[0] for c in r["curves"]]
            style = {"off": ":", "fixed": "--", "adaptive": "-"}[r["mode"]]
            line = ax.plot(steps, [c[1] for c in r["curves"]], style, linewidth=1)[0]
            line.set_label(f"r_t {r['size']} {r['mode']}")
            if r["mode"] == "adaptive":
                ax.plot(steps, [c[2] for c in r["curves"]], "-", linewidth=2.5,
                        color=line.get_color(), label=f"p {r['size']}")  # fmt: skip
        ax.axhline(0.6, color="grey", linewidth=1)
        ax.set_xlabel("step")
        ax.set_ylabel("r_t = E[sign(D(real))] (thin), p (thick)")
        ax.set_title(f"{dataset}: overfitting signal and p (seed 0)")
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, "data_efficiency.png"), dpi=100)


def save_montage(dataset, grids):
    """Writes de_<dataset>.png: one seed-0 grid per (size, mode), sizes down, modes across."""
    import numpy as np

    from kgan.images import save_png

    sizes = sorted({size for size, _ in grids})
    tiles = next(iter(grids.values()))
    blank = np.full_like(tiles, 255)
    rows = []
    for size in sizes:
        cells = [grids.get((size, mode), blank) for mode in MODES]
        gap = np.full((tiles.shape[0], 8, *tiles.shape[2:]), 255, tiles.dtype)
        rows.append(np.concatenate([cells[0], gap, cells[1], gap, cells[2]], axis=1))
        rows.append(np.full((8, rows[-1].shape[1], *tiles.shape[2:]), 255, tiles.dtype))
    save_png(np.concatenate(rows[:-1], axis=0), os.path.join(RESULTS, f"de_{dataset}.png"))


def main(argv):
    del argv
    import numpy as np

    from kgan.data import load_source
    from kgan.quiet import import_tensorflow

    import_tensorflow()
    done = {(r["dataset"], r["size"], r["mode"], r["seed"]): r for r in load_results(FLAGS.out)}
    if not FLAGS.report_only:
        for dataset in FLAGS.datasets:
            source = load_source(DATASETS[dataset])
            # Seed-0 grids of earlier (resumed) sweeps, kept out of the repository.
            grids = {}
            cache = os.path.join(os.path.expanduser("~"), ".cache", "kgan", "benchmarks")
            os.makedirs(cache, exist_ok=True)
            grid_path = os.path.join(cache, f"de_{dataset}_grids.npz")
            if os.path.exists(grid_path):
                with np.load(grid_path) as saved:
                    grids = {tuple(k.split(":")): saved[k] for k in saved.files}
                    grids = {(int(s), m): g for (s, m), g in grids.items()}
            with tempfile.TemporaryDirectory() as folder:
                for size in sizes_of(dataset):
                    subset = write_subset(source, size, folder)
                    for seed in range(FLAGS.seeds):
                        for mode in FLAGS.modes:
                            if (dataset, size, mode, seed) in done:
                                continue
                            print(f"{dataset} {size} images, augment={mode}, seed {seed}",
                                  flush=True)  # fmt: skip
                            record, grid = run(dataset, size, mode, seed, subset)
                            append_result(FLAGS.out, record)
                            if grid is not None:
                                grids[(size, mode)] = grid
                                arrays = {f"{s}:{m}": g for (s, m), g in grids.items()}
                                np.savez(grid_path, **arrays)
                                save_montage(dataset, grids)
    records = load_results(FLAGS.out)
    report(records, floors(sorted({r["dataset"] for r in records})))


if __name__ == "__main__":
    app.run(main)
