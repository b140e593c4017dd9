"""Time to quality: kgan's defaults against the standard recipe of each dataset.

The standard recipes: for 28x28 digits the TF DCGAN tutorial's
(`benchmarks/tutorial.py`); for 64x64 colour images (emoji64) the DCGAN
paper's 64x64 networks as the PyTorch DCGAN tutorial trains CelebA
(`benchmarks.common.DCGAN64`).

Each recipe trains for a wall-clock budget on real data and is scored at
fixed marks (1, 2, 4, 8, 16 minutes of training; scoring time excluded)
with `kgan.quality` (FCD and class coverage from a classifier trained on
the dataset's own labels). Every FCD is also given as a multiple of the
real-data floor (`evaluate.py --real`): real held-out images scored the
same way.

    python -m benchmarks.time_to_quality                       # MNIST + Fashion-MNIST
    python -m benchmarks.time_to_quality --datasets=mnist --minutes=1,2
    python -m benchmarks.time_to_quality --datasets=emoji64 --recipes=kgan,dcgan64

Fashion-MNIST comes from Debian: `apt-get install -y dataset-fashion-mnist`.
Results append to benchmarks/results/time_to_quality.jsonl (a rerun skips
finished runs), each naming the precision that ran (`mixed_precision`: `auto` is
bfloat16 on CPUs with AMX or AVX512-BF16, float32 elsewhere); the table goes
to time_to_quality.md, the curves to time_to_quality.png and the sample grids at the last mark to
ttq_<dataset>_<recipe>.png (with --out=X.jsonl: ttq_X_<dataset>_<recipe>.png, so two
tables never overwrite each other's grids; a seed other than 0 adds _seed<N>).
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from benchmarks.common import (  # noqa: E402
    DATASETS,
    DCGAN64,
    IDENTITY_KEYS,
    RESULTS,
    append_result,
    load_results,
    pyplot,
    write_table,
)
from benchmarks.records import (  # noqa: E402
    label,
    newest,
    parse_set,
    run_base,
    set_label,
    with_scores,
)

flags.DEFINE_list(
    "datasets", ["mnist", "fashion_mnist"], "Datasets to run (keys of DATASETS or paths)."
)
flags.DEFINE_list("recipes", ["kgan", "tutorial"], "Recipes to compare: kgan, tutorial, dcgan64.")
flags.DEFINE_list("minutes", ["1", "2", "4", "8", "16"], "Training minutes at which to score.")
flags.DEFINE_integer("seed", 0, "Seed of both recipes.")
flags.DEFINE_integer("num_samples", 5000, "Generated images per score.")
flags.DEFINE_string("out", os.path.join(RESULTS, "time_to_quality.jsonl"), "Results file.")
flags.DEFINE_bool("report_only", False, "Only rebuild the table and plot from the results file.")
flags.DEFINE_bool("rerun", False, "Run again what is recorded (the table keeps the newest run).")
flags.DEFINE_list(
    "set",
    [],
    "Config fields changed for the kgan recipe, field=value (a lever: "
    "--set=d_batch_norm=true); its records carry them as `set` and its grid is "
    "ttq_[<out>_]<dataset>_kgan_<field>-<value>.png. Give lever runs their own --out.",
)
flags.DEFINE_string(
    "keep_generators",
    "",
    "Folder in which to export each kgan-built recipe's generator at the last mark (as SavedModel "
    "<dataset>_<recipe>/), to score it again later with other yardsticks, and its per-epoch "
    "history beside it (<dataset>_<recipe>.history.csv: losses, D's gradient norm, r_t, p); "
    "empty keeps none.",
)
FLAGS = flags.FLAGS


def _path(dataset):
    return DATASETS.get(dataset, dataset)


def run(dataset, recipe, overrides):
    """Trains `recipe` on `dataset` to the last mark, scoring at each; `overrides` are --set's."""
    from benchmarks.budget import train_kgan, train_tutorial
    from kgan.config import Config
    from kgan.images import save_png
    from kgan.precision import resolve_precision
    from kgan.quality import evaluate_generator
    from kgan.quality.generators import Generator

    path = _path(dataset)
    identity_key = IDENTITY_KEYS.get(dataset)
    marks = [float(m) * 60 for m in FLAGS.minutes]

    def score(sample_fn, latent_dim):
        generator = Generator(lambda z, c=None: sample_fn(z), latent_dim, False, recipe)
        return evaluate_generator(
            generator, path, num_samples=FLAGS.num_samples, seed=0, identity_key=identity_key
        )

    lever = set_label(overrides) if recipe == "kgan" else ""
    name = f"{dataset}_{recipe}"
    if lever:
        name += "_" + lever.replace(",", "_").replace("=", "-")
    if FLAGS.seed:  # seeds keep their own grids and generators
        name += f"_seed{FLAGS.seed}"
    probe = None
    if recipe in ("kgan", "dcgan64"):
        config = Config(
            dataset=path, seed=FLAGS.seed, **(DCGAN64 if recipe == "dcgan64" else overrides)
        )
        callbacks = []
        if recipe == "kgan" and config.eval_every:
            # As train.py runs it: the quality probe every epoch, keeping the best generator.
            from kgan.callbacks import QualityEvaluation
            from kgan.quality.evaluator import get_evaluator

            best_dir = os.path.join(tempfile.mkdtemp(), "generator")
            probe = QualityEvaluation(
                get_evaluator(path),
                every=config.eval_every,
                num_samples=config.eval_samples or None,
                seed=config.seed,
                best_dir=best_dir,
            )
            callbacks.append(probe)
        if FLAGS.keep_generators:
            from kgan.callbacks import HistoryCSV

            history = os.path.join(FLAGS.keep_generators, f"{name}.history.csv")
            # After the probe, so its scores are in the row.
            callbacks.append(HistoryCSV(history))
        results, gan = train_kgan(
            config, marks, lambda fn: score(fn, config.latent_dim), grids=True, callbacks=callbacks
        )
    else:
        results = train_tutorial(
            path, marks, lambda fn: score(fn, 100), seed=FLAGS.seed, grids=True
        )
    precision = (
        resolve_precision(config.mixed_precision, log=False)
        if recipe in ("kgan", "dcgan64")
        else "none"  # the tutorial's networks run in float32
    )
    base = run_base(dataset, recipe, FLAGS.seed, lever, precision)
    for mark, minutes in zip(results, FLAGS.minutes, strict=True):
        append_result(
            FLAGS.out,
            with_scores(
                {
                    **base,
                    "minutes": float(minutes),
                    "train_seconds": mark.seconds,
                    "steps": mark.steps,
                },
                mark.scores,
            ),
        )
    save_png(results[-1].samples, os.path.join(RESULTS, _grid(name)))
    if FLAGS.keep_generators and recipe in ("kgan", "dcgan64"):
        gan.export_generator(os.path.join(FLAGS.keep_generators, name))
    if probe is not None and probe.best_weights is not None:
        # What the user gets as generator/: the probe's best epoch, scored like the marks.
        best = probe.export_best()
        scores = evaluate_generator(
            best, path, num_samples=FLAGS.num_samples, seed=0, identity_key=identity_key
        )
        append_result(
            FLAGS.out,
            with_scores(
                {
                    **base,
                    "generator": "best",
                    "minutes": float(FLAGS.minutes[-1]),
                    "best_epoch": probe.best_epoch,
                    "steps": probe.best_summary["step"],
                    "probe_fcd": probe.best_fcd,
                },
                scores,
            ),
        )


def floors(datasets):
    from kgan.quality import real_floor

    return {d: real_floor(_path(d))["fcd"] for d in datasets}


def minutes_to_reach(rows, target):
    """Minutes of training after which `rows` (sorted) first score FCD <= target."""
    for row in rows:
        if row["fcd"] <= target:
            return row["minutes"]
    return None


def report(records, floor_fcd):
    records, best = newest(records)
    lines = [
        "| dataset | recipe | minutes | steps | FCD | FCD / floor | classes covered "
        "| recognisable | rejected |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    summary = []
    for dataset in sorted({r["dataset"] for r in records}):
        floor = floor_fcd[dataset]
        by_recipe = {name: [] for name in RECIPES}
        here = [r for r in records if r["dataset"] == dataset]
        names = sorted({label(r) for r in here}, key=lambda n: (n.split(" ")[0] == "kgan", n))
        for name in names:
            rows = sorted((r for r in here if label(r) == name), key=lambda r: r["minutes"])
            by_recipe[name] = rows
            for r in rows:
                lines.append(
                    f"| {dataset} | {name} | {r['minutes']:g} | {r['steps']} | "
                    f"{r['fcd']:.2f} | {r['fcd'] / floor:.1f}x | {r['classes_covered']} | "
                    f"{_share(r.get('recognisable'))} | {_share(r.get('rejected'))} |"
                )
        baseline = next((name for name in RECIPES if name != "kgan" and by_recipe[name]), None)
        if baseline and by_recipe["kgan"]:
            target = by_recipe[baseline][-1]["fcd"]
            reached = minutes_to_reach(by_recipe["kgan"], target)
            reached = "more than the budget" if reached is None else f"{reached:g}"
            summary.append(
                f"- {dataset}: real-data floor FCD {floor:.3f}; the {RECIPES[baseline]}'s "
                f"{by_recipe[baseline][-1]['minutes']:g}-minute FCD {target:.2f} is reached by "
                f"kgan's defaults after {reached} minute(s); kgan at "
                f"{by_recipe['kgan'][-1]['minutes']:g} minutes: "
                f"{by_recipe['kgan'][-1]['fcd'] / floor:.1f}x the floor, "
                f"{by_recipe['kgan'][-1]['classes_covered']} classes."
            )
    for r in best:
        floor = floor_fcd[r["dataset"]]
        marks = [m for m in records if (m["dataset"], label(m)) == (r["dataset"], label(r))]
        top = min(marks, key=lambda m: m["fcd"])
        summary.append(
            f"- {r['dataset']}, {label(r)}: `generator/` (the quality probe's best, epoch "
            f"{r['best_epoch']}, step {r['steps']}) scores FCD {r['fcd']:.2f} "
            f"({r['fcd'] / floor:.1f}x the floor); the best mark, {top['minutes']:g} minutes, "
            f"{top['fcd']:.2f}."
        )
    title = "# Time to quality" + ("" if _stem() == "time_to_quality" else f": {_stem()}")
    text = "\n".join([title, "", *summary, "", *lines, ""])
    write_table(f"{_stem()}.md", text)
    _plot(records, floor_fcd)


def _grid(name):
    """The file of a run's last grid: results files other than the default add their stem."""
    stem = "" if _stem() == "time_to_quality" else _stem() + "_"
    return f"ttq_{stem}{name}.png"


def _stem():
    """The table and plot are named after the results file: time_to_quality.md and .png."""
    return os.path.splitext(os.path.basename(FLAGS.out))[0]


def _share(value):
    return "-" if value is None else f"{100 * value:.1f}%"


# Recipe -> its name in the summary; kgan last (the others are baselines).
RECIPES = {"tutorial": "TF tutorial", "dcgan64": "64x64 DCGAN recipe", "kgan": "kgan"}


def _plot(records, floor_fcd):
    plt = pyplot()
    if plt is None:
        return
    datasets = sorted({r["dataset"] for r in records})
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        here = [r for r in records if r["dataset"] == dataset]
        for name in sorted({label(r) for r in here}):
            rows = sorted((r for r in here if label(r) == name), key=lambda r: r["minutes"])
            ax.plot(
                [r["minutes"] for r in rows],
                [r["fcd"] / floor_fcd[dataset] for r in rows],
                marker="o",
                label=name,
            )
        ax.axhline(4, color="grey", linestyle="--", linewidth=1, label="4x floor")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("training minutes (2 CPU cores)")
        ax.set_ylabel("FCD / real-data floor")
        ax.set_title(dataset)
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, f"{_stem()}.png"), dpi=100)


def main(argv):
    del argv
    from kgan.quiet import import_tensorflow

    import_tensorflow()
    try:
        overrides = parse_set(FLAGS.set)
    except ValueError as e:
        raise app.UsageError(str(e)) from None
    lever = set_label(overrides)
    done = {
        (r["dataset"], r["recipe"], r["seed"])
        for r in load_results(FLAGS.out)
        if r["minutes"] == float(FLAGS.minutes[-1])
        and r.get("set", "") == (lever if r["recipe"] == "kgan" else "")
        and not FLAGS.rerun
    }
    if not FLAGS.report_only:
        for dataset in FLAGS.datasets:
            for recipe in FLAGS.recipes:
                if (dataset, recipe, FLAGS.seed) in done:
                    print(f"{dataset}/{recipe}: already recorded, skipped")
                    continue
                print(f"{dataset}/{recipe}: training for {FLAGS.minutes[-1]} minutes", flush=True)
                run(dataset, recipe, overrides)
    # Every seed: a seed other than 0 is its own row ("kgan [lever] seed 1").
    records = load_results(FLAGS.out)
    report(records, floors(sorted({r["dataset"] for r in records})))


if __name__ == "__main__":
    app.run(main)
