"""The technique table: what each trick of the mission buys, over seeds.

Every setting changes one thing from kgan's defaults and trains under one
fixed budget of steps (a step budget, not wall-clock: the table does not
depend on what else the machine is doing), on MNIST and Fashion-MNIST, for
several seeds. A run succeeds when its FCD falls below `--success_factor`
times the dataset's real-data floor AND all 10 classes are covered. Failed
runs are labelled with what `GANHealthMonitor` named during training.

    python -m benchmarks.ablation                          # everything (hours)
    python -m benchmarks.ablation --settings=defaults,flip_0 --seeds=3
    python -m benchmarks.ablation --report_only            # table and plot only

Results append to benchmarks/results/ablation.jsonl (a rerun skips finished
runs); the table goes to ablation.md and the plot to ablation.png.
"""

import collections
import os
import statistics

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

# name -> (technique, Config overrides). Names state the value tried.
SETTINGS = {
    "defaults": ("kgan defaults", {}),
    "mixed_batches": ("real/fake batches", {"separate_batches": False}),
    "flip_0": ("label flipping", {"label_flip": 0.0}),
    "flip_0.05": ("label flipping", {"label_flip": 0.05}),
    "flip_0.1": ("label flipping", {"label_flip": 0.1}),
    "flip_0.2": ("label flipping", {"label_flip": 0.2}),
    "smoothing_0": ("label smoothing", {"label_smoothing": 0.0}),
    "smoothing_0.1_two_sided": (
        "label smoothing",
        {"label_smoothing": 0.1, "one_sided_smoothing": False},
    ),
    "smoothing_0.1_one_sided": (
        "label smoothing",
        {"label_smoothing": 0.1, "one_sided_smoothing": True},
    ),
    "d_dropout_off": ("dropout in D", {"d_dropout": 0.0}),
    "d_dropout_0.3": ("dropout in D", {"d_dropout": 0.3}),
    "g_dropout_off": ("dropout in G", {"g_dropout": 0.0}),
    "g_dropout_0.3": ("dropout in G", {"g_dropout": 0.3}),
    "conv_transpose": ("upsampling", {"upsample": "conv_transpose"}),
    "upsample_conv": ("upsampling", {"upsample": "upsample_conv"}),
    "tanh": ("output activation", {"g_output": "tanh"}),
    "sigmoid": ("output activation", {"g_output": "sigmoid"}),
    "leaky_relu": ("activation", {"g_activation": "leaky_relu", "d_activation": "leaky_relu"}),
    "relu": ("activation", {"g_activation": "relu", "d_activation": "relu"}),
    "beta1_0.5": ("Adam beta_1", {"beta_1": 0.5}),
    "beta1_0.9": ("Adam beta_1", {"beta_1": 0.9}),
    **{
        f"lr_{lr}": ("learning rate (G and D)", {"g_lr": float(lr), "d_lr": float(lr)})
        for lr in ("5e-5", "1e-4", "1.5e-4", "2e-4", "5e-4", "1e-3")
    },
    "dcgan_head": ("discriminator head", {"discriminator": "dcgan"}),
    "patchgan_head": ("discriminator head", {"discriminator": "patchgan"}),
    "schedule_constant": ("label-noise schedule", {"label_noise_schedule": "constant"}),
    "schedule_linear": ("label-noise schedule", {"label_noise_schedule": "linear"}),
    "schedule_step": ("label-noise schedule", {"label_noise_schedule": "step"}),
    "ema_off": ("generator EMA", {"ema": 0.0}),
    "ema_0.999": ("generator EMA", {"ema": 0.999}),
}

flags.DEFINE_list("settings", list(SETTINGS), "Settings to run (keys of SETTINGS).")
flags.DEFINE_list("datasets", list(DIGITS), "Datasets (keys of DATASETS).")
flags.DEFINE_integer("seeds", 3, "Seeds per setting (0 .. seeds-1).")
flags.DEFINE_integer("default_seeds", 10, "Seeds for the `defaults` setting.")
flags.DEFINE_list(
    "steps",
    ["mnist=700", "fashion_mnist=1500"],
    "Training steps per run (the fixed budget); one number for every dataset or "
    "dataset=steps entries.",
)
flags.DEFINE_integer("epoch_steps", 312, "Steps per epoch (schedules act at epoch starts).")
flags.DEFINE_integer("num_samples", 2000, "Generated images per score.")
flags.DEFINE_list(
    "success_factor",
    ["mnist=100", "fashion_mnist=200"],
    "Success: FCD below this many times the floor; one number for every dataset or "
    "dataset=factor entries. The evidence: python -m benchmarks.threshold.",
)
flags.DEFINE_string("out", os.path.join(RESULTS, "ablation.jsonl"), "Results file.")
flags.DEFINE_string("table", "ablation", "Name of the table (.md) and plot (.png) written.")
flags.DEFINE_bool("report_only", False, "Only rebuild the table and plot from the results.")
FLAGS = flags.FLAGS


def per_dataset(values, dataset, flag):
    """The value of `dataset` in a list flag of `number` or `dataset=number` entries."""
    table = {}
    for entry in values:
        name, _, value = entry.rpartition("=")
        table[name or None] = float(value)
    if dataset in table:
        return table[dataset]
    if None in table:
        return table[None]
    raise app.UsageError(f"--{flag} has no entry for {dataset}")


def budget_steps(dataset):
    return int(per_dataset(FLAGS.steps, dataset, "steps"))


def success_factor(dataset):
    """The success threshold of `dataset`, as a multiple of its real-data floor."""
    return per_dataset(FLAGS.success_factor, dataset, "success_factor")


def config_for(setting, dataset, seed):
    import dataclasses

    from kgan.config import Config

    fields = {f.name for f in dataclasses.fields(Config)}
    overrides = {k: v for k, v in SETTINGS[setting][1].items() if k in fields}
    return Config(
        dataset=DATASETS[dataset],
        seed=seed,
        steps_per_epoch=FLAGS.epoch_steps,
        label_noise_decay_epochs=max(budget_steps(dataset) // FLAGS.epoch_steps // 2, 1),
        **overrides,
    )


def same_as_defaults(setting):
    """True when a setting's value is kgan's default: its runs are the defaults' runs."""
    return setting != "defaults" and config_for(setting, "mnist", 0) == config_for(
        "defaults", "mnist", 0
    )


def run(setting, dataset, seed):
    from benchmarks.budget import train_and_score

    config = config_for(setting, dataset, seed)
    return train_and_score(config, budget_steps(dataset), FLAGS.num_samples, name=setting)


def succeeded(record, floor):
    fcd = record.get("fcd")
    return (
        fcd is not None
        and fcd == fcd  # not NaN
        and fcd < success_factor(record["dataset"]) * floor
        and record.get("classes_covered") == 10
    )


def report(records, floors):
    groups = collections.defaultdict(list)
    for r in records:
        groups[(r["setting"], r["dataset"])].append(r)
    budgets = "; ".join(
        f"{d}: {budget_steps(d)} steps, FCD < {success_factor(d):g}x the floor"
        for d in DIGITS
        if d in {r["dataset"] for r in records}
    )
    lines = [
        f"Success: FCD below a multiple of the dataset's real-data floor and all 10 classes "
        f"covered, after a fixed number of steps ({budgets}). The evidence for each "
        "threshold is in threshold.md.",
        "",
        "| technique | setting | dataset | seeds | success | median FCD (x floor) "
        "| FCD range (x floor) | failures named by the health monitor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for setting in SETTINGS:
        for dataset in DIGITS:
            key = ("defaults" if same_as_defaults(setting) else setting, dataset)
            rows = groups.get(key)
            if not rows:
                continue
            floor = floors[dataset]
            fcds = [r["fcd"] / floor for r in rows if r.get("fcd") is not None]
            wins = sum(succeeded(r, floor) for r in rows)
            named = collections.Counter(
                name for r in rows if not succeeded(r, floor) for name in r["health"] or ["none"]
            )
            label = (
                f"{setting} (default)"
                if key[0] == "defaults" and setting != "defaults"
                else setting
            )
            lines.append(
                f"| {SETTINGS[setting][0]} | {label} | {dataset} | {len(rows)} | "
                f"{wins}/{len(rows)} | {statistics.median(fcds):.1f} | "
                f"{min(fcds):.1f} - {max(fcds):.1f} | "
                f"{', '.join(f'{k} x{v}' for k, v in sorted(named.items())) or '-'} |"
            )
    text = "\n".join(["# Technique table", "", *lines, ""])
    write_table(f"{FLAGS.table}.md", text)
    _plot(groups, floors)


def _plot(groups, floors):
    plt = pyplot()
    if plt is None:
        return
    settings = [s for s in SETTINGS if any((s, d) in groups for d in DIGITS)]
    # Settings equal to the defaults are plotted once, as `defaults`.
    fig, ax = plt.subplots(figsize=(12, 0.3 * len(settings) + 1.5))
    for offset, dataset, marker in zip((-0.15, 0.15), DIGITS, "os", strict=True):
        labelled = False  # a dataset is in the legend once, and only if it has runs
        for i, setting in enumerate(settings):
            rows = groups.get((setting, dataset), [])
            values = [r["fcd"] / floors[dataset] for r in rows if r.get("fcd") is not None]
            ax.scatter(
                values,
                [i + offset] * len(values),
                marker=marker,
                alpha=0.6,
                color="C0" if dataset == "mnist" else "C1",
                label=None if labelled or not values else dataset,
            )
            labelled = labelled or bool(values)
    for dataset, style in zip(DIGITS, ("--", ":"), strict=True):
        if any(d == dataset for _, d in groups):
            ax.axvline(
                success_factor(dataset),
                color="C0" if dataset == "mnist" else "C1",
                linestyle=style,
                label=f"success threshold, {dataset}",
            )
    ax.set_yticks(range(len(settings)), settings)
    ax.set_xscale("log")
    ax.set_xlabel("FCD / real-data floor (lower is better)")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, f"{FLAGS.table}.png"), dpi=100)


def main(argv):
    del argv
    from kgan.quality import real_floor
    from kgan.quiet import import_tensorflow

    import_tensorflow()
    done = {
        (r["setting"], r["dataset"], r["seed"])
        for r in load_results(FLAGS.out)
        if r["budget_steps"] == budget_steps(r["dataset"])
    }
    if not FLAGS.report_only:
        # Seed-major order: a sweep stopped early still has every setting
        # with as many seeds as the others.
        settings = [s for s in FLAGS.settings if not same_as_defaults(s)]  # others: defaults'
        most = max(FLAGS.default_seeds, FLAGS.seeds)
        for dataset in FLAGS.datasets:
            for seed in range(most):
                for setting in settings:
                    seeds = FLAGS.default_seeds if setting == "defaults" else FLAGS.seeds
                    if seed >= seeds or (setting, dataset, seed) in done:
                        continue
                    record = run(setting, dataset, seed)
                    append_result(
                        FLAGS.out,
                        {
                            "benchmark": "ablation",
                            "setting": setting,
                            "dataset": dataset,
                            "seed": seed,
                            "budget_steps": budget_steps(dataset),
                            **record,
                        },
                    )
                    print(
                        f"{dataset} {setting} seed {seed}: FCD {record.get('fcd')}, "
                        f"classes {record.get('classes_covered')}, health {record['health']}",
                        flush=True,
                    )
    records = [
        r for r in load_results(FLAGS.out) if r["budget_steps"] == budget_steps(r["dataset"])
    ]
    floors = {d: real_floor(DATASETS[d])["fcd"] for d in sorted({r["dataset"] for r in records})}
    report(records, floors)


if __name__ == "__main__":
    app.run(main)
