"""The robustness grid: does kgan work whatever the first try's optimiser settings?

Learning rates 1e-5 .. 1e-2 (both networks) x Adam beta_1 0.5 and 0.9, with
kgan's fixed defaults and with the balance controller (`--balance=auto`);
plus D's rate 10x G's, the PatchGAN head and the ladder's naive rung 0,
each with and without the controller. Each run: one step budget per
dataset, success as in the technique table (`benchmarks.sweep`).

    python -m benchmarks.robustness                       # 3 seeds, MNIST (hours)
    python -m benchmarks.robustness --datasets=mnist,fashion_mnist
    python -m benchmarks.robustness --report_only

Results append to benchmarks/results/robustness.jsonl (a rerun skips
finished runs); the table goes to robustness.md and one heatmap per dataset
to robustness_<dataset>.png.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from benchmarks.common import DIGITS, RESULTS, load_results, pyplot, write_table  # noqa: E402
from benchmarks.sweep import (  # noqa: E402
    BUDGET_STEPS,
    RUNG0,
    SUCCESS_FACTOR,
    describe_named,
    floors,
    fmt,
    pick,
    summarise,
    sweep,
)

LEARNING_RATES = ("1e-5", "3e-5", "1e-4", "3e-4", "1e-3", "3e-3", "1e-2")
BETAS = ("0.5", "0.9")
CONTROLLER = ("off", "auto")
# Settings beside the learning-rate grid: (name, Config overrides).
EXTRAS = (
    ("d_lr_10x", "D's rate 10x G's (2e-3 and 2e-4)", dict(d_lr=2e-3, g_lr=2e-4)),
    ("patchgan", "the PatchGAN head", dict(discriminator="patchgan")),
    ("rung0", "the ladder's naive rung 0", RUNG0),
)


def cell(lr, beta, balance):
    return f"lr{lr}_b{beta}_{balance}"


def settings():
    """`{name: Config overrides}`: the grid and the extras, without and with the controller."""
    out = {}
    for balance in CONTROLLER:
        for beta in BETAS:
            for lr in LEARNING_RATES:
                out[cell(lr, beta, balance)] = dict(
                    g_lr=float(lr), d_lr=float(lr), beta_1=float(beta), balance=balance
                )
        for name, _, overrides in EXTRAS:
            out[f"{name}_{balance}"] = {**overrides, "balance": balance}
    return out


SETTINGS = settings()

flags.DEFINE_list("datasets", ["mnist"], "Datasets (keys of benchmarks.common.DATASETS).")
flags.DEFINE_list("settings", list(SETTINGS), "Settings to run (keys of SETTINGS).")
flags.DEFINE_integer("seeds", 3, "Seeds per setting (0 .. seeds-1).")
flags.DEFINE_integer("num_samples", 2000, "Generated images per score.")
flags.DEFINE_string("out", os.path.join(RESULTS, "robustness.jsonl"), "Results file.")
flags.DEFINE_bool("report_only", False, "Only rebuild the table and heatmaps from the results.")
FLAGS = flags.FLAGS


def report(records):
    datasets = [d for d in DIGITS if any(r["dataset"] == d for r in records)]
    summary = summarise(records, floors(datasets))
    lines = ["# The robustness grid", ""]
    for dataset in datasets:
        lines += [
            f"## {dataset}: {BUDGET_STEPS[dataset]} steps, success = FCD < "
            f"{SUCCESS_FACTOR[dataset]:g}x the floor and all 10 classes",
            "",
            "Each cell: successes / seeds, median FCD as a multiple of the floor.",
            "",
            "| lr | "
            + " | ".join(f"beta_1 {b}, balance {c}" for c in CONTROLLER for b in BETAS)
            + " |",
            "|---" * (1 + len(BETAS) * len(CONTROLLER)) + "|",
        ]
        for lr in LEARNING_RATES:
            cells = []
            for balance in CONTROLLER:
                for beta in BETAS:
                    s = summary.get((cell(lr, beta, balance), dataset))
                    cells.append("" if s is None else f"{s.wins}/{s.runs}, {fmt(s.median)}x")
            if any(cells):  # a rate not run on this dataset gets no row
                lines.append(f"| {lr} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "| setting | balance | seeds | success | median FCD (x floor) | range | "
            "failures named by the health monitor |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, description, _ in EXTRAS:
            for balance in CONTROLLER:
                s = summary.get((f"{name}_{balance}", dataset))
                if s is not None:
                    lines.append(
                        f"| {description} | {balance} | {s.runs} | {s.wins}/{s.runs} | "
                        f"{fmt(s.median)} | {fmt(s.low)} - {fmt(s.high)} | "
                        f"{describe_named(s.named)} |"
                    )
        failures = [
            (name, s) for (name, d), s in summary.items() if d == dataset and s.wins < s.runs
        ]
        if failures:
            lines += ["", "Failures named by the monitor, per grid cell:", ""]
            for name, s in sorted(failures):
                lines.append(f"- {name}: {describe_named(s.named)}")
        lines.append("")
    write_table("robustness.md", "\n".join(lines))
    for dataset in datasets:
        _heatmap(summary, dataset)


def _heatmap(summary, dataset):
    plt = pyplot()
    if plt is None:
        return
    import numpy as np

    columns = [(b, c) for c in CONTROLLER for b in BETAS]
    rows = [(lr, None) for lr in LEARNING_RATES] + [(None, name) for name, _, _ in EXTRAS]
    rate = np.full((len(rows), len(columns)), np.nan)
    text = [["" for _ in columns] for _ in rows]
    extra_beta = {name: str(o.get("beta_1", 0.5)) for name, _, o in EXTRAS}
    for i, (lr, extra) in enumerate(rows):
        for j, (beta, balance) in enumerate(columns):
            if extra is not None and beta != extra_beta[extra]:
                continue  # an extra sits in the column of its own beta_1
            name = cell(lr, beta, balance) if extra is None else f"{extra}_{balance}"
            s = summary.get((name, dataset))
            if s is None:
                continue
            rate[i, j] = s.wins / s.runs
            text[i][j] = f"{s.wins}/{s.runs}\n{fmt(s.median, '.0f')}x"
    fig, ax = plt.subplots(figsize=(7, 0.55 * len(rows) + 1.5))
    image = ax.imshow(rate, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(columns)):
            if text[i][j]:
                ax.text(j, i, text[i][j], ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(columns)), [f"beta_1 {b}\nbalance {c}" for b, c in columns])
    ax.set_yticks(range(len(rows)), [f"lr {lr}" if lr else extra for lr, extra in rows])
    ax.set_title(
        f"{dataset}: success rate and median FCD / floor ({BUDGET_STEPS[dataset]} steps)\n"
        "the extras sit in the column of their beta_1",
        fontsize=9,
    )
    fig.colorbar(image, ax=ax, label="success rate")
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, f"robustness_{dataset}.png"), dpi=100)


def main(argv):
    del argv
    from kgan.quiet import import_tensorflow

    import_tensorflow()
    if not FLAGS.report_only:
        chosen = pick(FLAGS.settings, SETTINGS, "settings")
        sweep("robustness", chosen, FLAGS.datasets, FLAGS.seeds, FLAGS.out,
              num_samples=FLAGS.num_samples)  # fmt: skip
    report(load_results(FLAGS.out))


if __name__ == "__main__":
    app.run(main)
