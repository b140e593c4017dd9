"""The mission's ladder: what each technique buys, starting from a naive first try.

Rung 0 is the first try the mission's author started from: D sees one mixed
real+fake batch, ReLU, a sigmoid output, Upsampling+Conv, dropout in G and
none in D, Adam with its default beta_1 0.9 at lr 1.5e-4, no label noise,
a scalar head, no weight average, no augmentation. Each further rung adds
the next technique, cumulatively, in the mission's order, up to kgan's own
additions. The PatchGAN head is a branch off the label-smoothing rung (it
is a choice, not a step everybody takes). The mission's own story is run
too: rung 0 at lr 1e-4, and kgan's defaults at 1e-4 and 1.5e-4.

Each run: one step budget per dataset, scored at the end, success as in the
technique table (`benchmarks.sweep`).

    python -m benchmarks.ladder                                # 10 seeds, both datasets (hours)
    python -m benchmarks.ladder --datasets=mnist --seeds=3
    python -m benchmarks.ladder --report_only

Results append to benchmarks/results/ladder.jsonl (a rerun skips finished
runs); the table goes to ladder.md, the plot to ladder.png and the seed-0
sample grids, one per rung, to ladder_<dataset>.png.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from benchmarks.common import DIGITS, RESULTS, load_results, pyplot, write_table  # noqa: E402
from benchmarks.sweep import (  # noqa: E402
    BUDGET_STEPS,
    DCGAN_MODEL,
    RUNG0,
    SUCCESS_FACTOR,
    describe_named,
    floors,
    fmt,
    pick,
    summarise,
    sweep,
)

# (name, what the rung adds, its overrides on top of the rung before).
STEPS = (
    ("0_naive", "the naive first try", RUNG0),
    ("1_separate", "+ separate real and fake batches", dict(separate_batches=True)),
    (
        "2_model",
        "+ Conv2DTranspose, tanh, LeakyReLU, dropout in D not G",
        DCGAN_MODEL,
    ),
    ("3_adam", "+ Adam lr 2e-4, beta_1 0.5", dict(g_lr=2e-4, d_lr=2e-4, beta_1=0.5)),
    ("4_flip", "+ label flipping 10%", dict(label_flip=0.1)),
    ("5_smoothing", "+ label smoothing 0.1", dict(label_smoothing=0.1)),
    ("6_ema", "+ generator EMA 0.999", dict(ema=0.999)),
    ("7_augment", "+ adaptive augmentation (= kgan's defaults)", dict(augment="adaptive")),
    ("8_balance", "+ the balance controller (--balance=auto)", dict(balance="auto")),
)


def rungs():
    """`{name: (description, cumulative overrides)}`, the branch and the story included."""
    out, overrides = {}, {}
    for name, description, added in STEPS:
        overrides = {**overrides, **added}
        out[name] = (description, dict(overrides))
    smoothing = out["5_smoothing"][1]
    out["5b_patchgan"] = (
        "branch: rung 5 + the PatchGAN head",
        {**smoothing, "discriminator": "patchgan"},
    )
    out["story_0_lr1e-4"] = ("story: rung 0 at lr 1e-4", {**RUNG0, "g_lr": 1e-4, "d_lr": 1e-4})
    defaults = out["7_augment"][1]
    for lr in ("1.5e-4", "1e-4"):
        out[f"story_7_lr{lr}"] = (
            f"story: kgan's defaults (rung 7) at lr {lr}",
            {**defaults, "g_lr": float(lr), "d_lr": float(lr)},
        )
    return out


RUNGS = rungs()

flags.DEFINE_list("datasets", list(DIGITS), "Datasets (keys of benchmarks.common.DATASETS).")
flags.DEFINE_list("rungs", list(RUNGS), "Rungs to run (keys of RUNGS).")
flags.DEFINE_integer("seeds", 10, "Seeds per rung (0 .. seeds-1).")
flags.DEFINE_integer("num_samples", 2000, "Generated images per score.")
flags.DEFINE_string("out", os.path.join(RESULTS, "ladder.jsonl"), "Results file.")
flags.DEFINE_bool("report_only", False, "Only rebuild the table and plots from the results.")
FLAGS = flags.FLAGS


def report(records):
    datasets = [d for d in DIGITS if any(r["dataset"] == d for r in records)]
    summary = summarise(records, floors(datasets))
    budgets = "; ".join(
        f"{d}: {BUDGET_STEPS[d]} steps, FCD < {SUCCESS_FACTOR[d]:g}x the floor" for d in datasets
    )
    lines = [
        "# The ladder",
        "",
        "Each rung adds one technique to the rung above it, from a naive first try to kgan's "
        f"defaults and beyond. Success as in the technique table ({budgets}; all 10 classes "
        "covered).",
        "",
        "| rung | adds | dataset | seeds | success | median FCD (x floor) | range | "
        "failures named by the health monitor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, (description, _) in RUNGS.items():
        for dataset in datasets:
            s = summary.get((name, dataset))
            if s is None:
                continue
            lines.append(
                f"| {name} | {description} | {dataset} | {s.runs} | {s.wins}/{s.runs} | "
                f"{fmt(s.median)} | {fmt(s.low)} - {fmt(s.high)} | {describe_named(s.named)} |"
            )
    write_table("ladder.md", "\n".join(lines) + "\n")
    _plot(summary, datasets)
    _montages(datasets)


def _plot(summary, datasets):
    plt = pyplot()
    if plt is None:
        return
    names = [n for n in RUNGS if any((n, d) in summary for d in datasets)]
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.35 * len(names) + 1.8), sharey=True)
    for dataset, color in zip(datasets, ("C0", "C1"), strict=False):
        ys = [i for i, n in enumerate(names) if (n, dataset) in summary]
        rows = [summary[(names[i], dataset)] for i in ys]
        offset = 0.15 if dataset == "fashion_mnist" else -0.15
        axes[0].barh([y + offset for y in ys], [r.wins / r.runs for r in rows], height=0.3,
                     color=color, label=dataset)  # fmt: skip
        medians = [(y + offset, r.median, r.low, r.high) for y, r in zip(ys, rows, strict=True)
                   if r.median is not None]  # fmt: skip
        if medians:
            y, m, lo, hi = zip(*medians, strict=True)
            axes[1].errorbar(m, y, xerr=[[a - b for a, b in zip(m, lo, strict=True)],
                             [b - a for a, b in zip(m, hi, strict=True)]], fmt="o",
                             color=color, label=dataset)  # fmt: skip
            axes[1].axvline(SUCCESS_FACTOR[dataset], color=color, linestyle=":")
    axes[0].set_yticks(range(len(names)), [f"{n}: {RUNGS[n][0]}" for n in names], fontsize=8)
    axes[0].invert_yaxis()
    axes[0].set_xlim(0, 1)
    axes[0].set_xlabel("success rate")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("FCD / floor: median, range (dotted: success)")
    axes[0].legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, "ladder.png"), dpi=100)


def grids_dir():
    """Where the seed-0 grids of each run are kept (outside the repository)."""
    return os.path.join(os.path.expanduser("~"), ".cache", "kgan", "benchmarks", "ladder")


def _montages(datasets):
    """ladder_<dataset>.png: the first 16 samples of each rung's seed-0 grid, titled."""
    plt = pyplot()
    if plt is None:
        return
    import matplotlib.image

    for dataset in datasets:
        paths = [(n, os.path.join(grids_dir(), f"{dataset}_{n}.png")) for n in RUNGS]
        paths = [(n, p) for n, p in paths if os.path.exists(p)]
        if not paths:
            continue
        columns = 4
        rows = -(-len(paths) // columns)
        fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.3 * rows), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, (name, path) in zip(axes.flat, paths, strict=False):
            image = matplotlib.image.imread(path)
            # The grid is 8x8 tiles with 2-pixel padding: keep its top-left 4x4.
            h = image.shape[0]
            ax.imshow(image[: h // 2 + 1, : image.shape[1] // 2 + 1], cmap="gray")
            ax.set_title(name, fontsize=9)
        fig.suptitle(f"{dataset}: 16 samples of seed 0 per rung ({BUDGET_STEPS[dataset]} steps)")
        fig.tight_layout()
        fig.savefig(os.path.join(RESULTS, f"ladder_{dataset}.png"), dpi=80)


def main(argv):
    del argv
    from kgan.quiet import import_tensorflow

    import_tensorflow()
    if not FLAGS.report_only:
        settings = {n: overrides for n, (_, overrides) in pick(FLAGS.rungs, RUNGS, "rungs").items()}
        sweep("ladder", settings, FLAGS.datasets, FLAGS.seeds, FLAGS.out, grids_dir(),
              FLAGS.num_samples)  # fmt: skip
    report(load_results(FLAGS.out))


if __name__ == "__main__":
    app.run(main)
