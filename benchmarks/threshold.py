"""The evidence behind the technique table's success threshold.

The table calls a run a success when its FCD falls below some multiple of the
real-data floor. This script shows what a multiple looks like: it trains
kgan's defaults once per dataset, scores the generator at several step marks
exactly as `ablation.py` scores a run (same number of samples), and draws the
sample grid at each mark labelled with its FCD as a multiple of the floor.
Pick the threshold where every class is first recognisable to a person.

    python -m benchmarks.threshold                        # MNIST + Fashion-MNIST
    python -m benchmarks.threshold --datasets=fashion_mnist --marks=100,400,1500

Results append to benchmarks/results/threshold.jsonl; the table goes to
threshold.md and the grids to threshold_<dataset>.png.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from benchmarks.common import (  # noqa: E402
    DATASETS,
    DIGITS,
    RESULTS,
    append_result,
    load_results,
    pyplot,
    write_table,
)

flags.DEFINE_list("datasets", list(DIGITS), "Datasets (keys of DATASETS).")
flags.DEFINE_list("marks", ["50", "100", "200", "400", "700", "1000", "1500"], "Steps to score at.")
flags.DEFINE_integer("seed", 0, "Training seed.")
flags.DEFINE_integer("num_samples", 2000, "Generated images per score (ablation.py's default).")
flags.DEFINE_string("out", os.path.join(RESULTS, "threshold.jsonl"), "Results file.")
flags.DEFINE_bool("report_only", False, "Only rebuild the table from the results file.")
FLAGS = flags.FLAGS


def run(dataset, floor):
    from benchmarks.budget import train_kgan
    from kgan.config import Config
    from kgan.quality import evaluate_generator
    from kgan.quality.generators import Generator

    config = Config(dataset=DATASETS[dataset], seed=FLAGS.seed)

    def score(sample_fn):
        generator = Generator(lambda z, c=None: sample_fn(z), config.latent_dim, False, "kgan")
        return evaluate_generator(generator, config.dataset, num_samples=FLAGS.num_samples, seed=0)

    marks, _ = train_kgan(config, [int(m) for m in FLAGS.marks], score, unit="steps", grids=True)
    for mark in marks:
        append_result(
            FLAGS.out,
            {
                "benchmark": "threshold",
                "dataset": dataset,
                "seed": FLAGS.seed,
                "steps": mark.steps,
                "num_samples": FLAGS.num_samples,
                **{k: v for k, v in mark.scores.items() if not isinstance(v, (list, dict))},
            },
        )
    _plot(dataset, marks, floor)


def _plot(dataset, marks, floor):
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, len(marks), figsize=(2.6 * len(marks), 3.0), squeeze=False)
    for ax, mark in zip(axes[0], marks, strict=True):
        ax.imshow(mark.samples.squeeze(), cmap="gray", vmin=0, vmax=255)
        ax.set_title(
            f"{mark.steps} steps\nFCD {mark.scores['fcd'] / floor:.0f}x floor, "
            f"{mark.scores['classes_covered']} cl.",
            fontsize=9,
        )
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, f"threshold_{dataset}.png"), dpi=100, bbox_inches="tight")


def report(records, floors):
    lines = [
        "# Success threshold evidence",
        "",
        "kgan's defaults scored at step marks, as `ablation.py` scores a run; the grids "
        "are in threshold_<dataset>.png.",
        "",
        "| dataset | steps | FCD | FCD / floor | classes covered |",
        "|---|---|---|---|---|",
    ]
    for r in sorted(records, key=lambda r: (r["dataset"], r["steps"])):
        lines.append(
            f"| {r['dataset']} | {r['steps']} | {r['fcd']:.2f} | "
            f"{r['fcd'] / floors[r['dataset']]:.0f}x | {r['classes_covered']} |"
        )
    write_table("threshold.md", "\n".join([*lines, ""]))


def main(argv):
    del argv
    from kgan.quality import real_floor
    from kgan.quiet import import_tensorflow

    import_tensorflow()
    floors = {d: real_floor(DATASETS[d])["fcd"] for d in FLAGS.datasets}
    done = {(r["dataset"], r["seed"]) for r in load_results(FLAGS.out)}
    if not FLAGS.report_only:
        for dataset in FLAGS.datasets:
            if (dataset, FLAGS.seed) in done:
                print(f"{dataset}: already recorded, skipped")
                continue
            run(dataset, floors[dataset])
    records = [r for r in load_results(FLAGS.out) if r["seed"] == FLAGS.seed]
    floors.update(
        {d: real_floor(DATASETS[d])["fcd"] for d in {r["dataset"] for r in records} - set(floors)}
    )
    report(records, floors)


if __name__ == "__main__":
    app.run(main)
