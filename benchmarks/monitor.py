"""The health monitor tried as a user would: does it name the naive first try, and only that?

Each run is `python train.py` in a subprocess, with the quality probe at its
defaults (every epoch, 1000 samples), and is judged by what the run wrote:
the failures in `health.jsonl` (the first one's epoch, evidence and
suggestion), the probe's share of the wall time, and the epoch that became
`generator/`.

Recipes: `naive` is the ladder's rung 0 (the issue's command: 7 epochs of
100 steps); `defaults` is kgan's defaults for the same 700 steps on the
digits and 10 epochs of one pass each on emoji64 (236 steps: 7,572 images in
batches of 32).

    python -m benchmarks.monitor --recipes=naive --datasets=mnist --seeds=0,1,2
    python -m benchmarks.monitor --report_only

Results append to benchmarks/results/monitor.jsonl (a rerun skips finished
runs); the table goes to monitor.md.
"""

import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from benchmarks.common import DATASETS, RESULTS, append_result, load_results, write_table

NAIVE_FLAGS = (
    "--noseparate_batches --g_activation=relu --d_activation=relu --g_output=sigmoid "
    "--upsample=upsample_conv --g_dropout=0.3 --d_dropout=0.0 --beta_1=0.9 --g_lr=1.5e-4 "
    "--d_lr=1.5e-4 --label_flip=0 --label_smoothing=0 --ema=0 --augment=off"
).split()
# (epochs, steps per epoch) of each dataset's runs.
# (An epoch is at most one pass: emoji64's 7,572 images give 236 steps.)
LENGTH = {"mnist": (7, 100), "fashion_mnist": (7, 100), "emoji64": (10, 236)}
RECIPES = {"naive": NAIVE_FLAGS, "defaults": []}
SIGN_KEYS = ("precision", "recall", "class_kl", "classes_covered")

flags.DEFINE_list("recipes", ["naive", "defaults"], "Recipes: naive, defaults.")
flags.DEFINE_list("datasets", ["mnist", "fashion_mnist"], "Datasets (keys of DATASETS).")
flags.DEFINE_list("seeds", [str(s) for s in range(10)], "Seeds.")
flags.DEFINE_string("out", os.path.join(RESULTS, "monitor.jsonl"), "Results file.")
flags.DEFINE_bool("report_only", False, "Only rebuild the table from the results file.")
FLAGS = flags.FLAGS


def command(recipe, dataset, seed, out_dir):
    """The `train.py` command line of one run."""
    epochs, steps = LENGTH[dataset]
    return [
        sys.executable,
        "train.py",
        f"--dataset={DATASETS[dataset]}",
        f"--out_dir={out_dir}",
        f"--seed={seed}",
        f"--epochs={epochs}",
        f"--steps_per_epoch={steps}",
        *RECIPES[recipe],
    ]


def run_one(recipe, dataset, seed):
    """Runs `train.py` once and returns what its folder says."""
    with tempfile.TemporaryDirectory() as out_dir:
        start = time.perf_counter()
        done = subprocess.run(
            command(recipe, dataset, seed, out_dir), capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - start
        if done.returncode:
            return {"error": done.stderr[-300:], "wall_seconds": wall}
        findings = []
        if os.path.exists(os.path.join(out_dir, "health.jsonl")):
            with open(os.path.join(out_dir, "health.jsonl")) as f:
                findings = [json.loads(line) for line in f if line.strip()]
        with open(os.path.join(out_dir, "history.csv")) as f:
            rows = list(csv.DictReader(f))
        best = {}
        if os.path.exists(os.path.join(out_dir, "generator.json")):
            with open(os.path.join(out_dir, "generator.json")) as f:
                best = json.load(f)
    # Each probe logs "epoch N quality (1000 samples, 1.8 s): ...".
    probe_seconds = sum(
        float(s) for s in re.findall(r"quality \(\d+ samples, ([\d.]+) s\)", done.stderr)
    )
    first = findings[0] if findings else {}
    return {
        "health": sorted({f["failure"] for f in findings}),
        "first_failure": first.get("failure"),
        "first_epoch": first.get("epoch"),
        "first_evidence": first.get("evidence"),
        "first_suggestion": first.get("suggestion"),
        "epochs": len(rows),
        "probe_fcd": [float(r["fcd"]) if r.get("fcd") else None for r in rows],
        # What the collapse check reads, per epoch: to tune its thresholds from records.
        "probe_signs": [
            {key: float(r[key]) if r.get(key) else None for key in SIGN_KEYS} for r in rows
        ],
        "best_epoch": best.get("epoch"),
        "wall_seconds": wall,
        "probe_seconds": probe_seconds,
    }


def report(records):
    lines = [
        "# The health monitor, tried as a user would",
        "",
        "`python train.py` runs (`python -m benchmarks.monitor`); the naive first try is "
        "the ladder's rung 0 (7 epochs of 100 steps on the digits), the defaults are kgan's "
        "for the same length (10 epochs of 236 steps, one pass each, on emoji64). *named* "
        "counts the runs whose `health.jsonl` names a failure; *probe share* is the quality "
        "probe's share of the wall time (the whole `train.py` process, start-up included).",
        "",
        "| recipe | dataset | seeds | named | what was named | first named at epoch | "
        "probe share | best epoch (generator/) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups = {}
    for r in records:
        groups.setdefault((r["recipe"], r["dataset"]), []).append(r)
    for (recipe, dataset), runs in sorted(groups.items()):
        ok = [r for r in runs if "error" not in r]
        named = [r for r in ok if r["health"]]
        kinds = {}
        for r in ok:
            for name in r["health"] or ["none"]:
                kinds[name] = kinds.get(name, 0) + 1
        what = ", ".join(f"{k} x{v}" for k, v in sorted(kinds.items()))
        epochs = sorted(r["first_epoch"] for r in named)
        first = f"{epochs[0]}-{epochs[-1]}" if epochs else "-"
        share = [r["probe_seconds"] / r["wall_seconds"] for r in ok if r.get("probe_seconds")]
        shares = f"{min(share):.1%}-{max(share):.1%}" if share else "-"
        bests = sorted(r["best_epoch"] for r in ok if r.get("best_epoch"))
        best = f"{bests[0]}-{bests[-1]}" if bests else "-"
        lines.append(
            f"| {recipe} | {dataset} | {len(ok)} | {len(named)}/{len(ok)} | {what} | {first} | "
            f"{shares} | {best} |"
        )
    examples = [r for r in records if r.get("first_evidence") and r["recipe"] == "naive"]
    if examples:
        r = examples[0]
        lines += [
            "",
            f"What the naive try on {r['dataset']} (seed {r['seed']}) was told at epoch "
            f"{r['first_epoch']}:",
            "",
            f"> {r['first_failure']}: {r['first_evidence']}. Try: {r['first_suggestion']}",
        ]
    write_table("monitor.md", "\n".join(lines) + "\n")


def main(argv):
    del argv
    records = load_results(FLAGS.out)
    if not FLAGS.report_only:
        done = {(r["recipe"], r["dataset"], r["seed"]) for r in records}
        for dataset in FLAGS.datasets:
            for recipe in FLAGS.recipes:
                for seed in map(int, FLAGS.seeds):
                    if (recipe, dataset, seed) in done:
                        continue
                    record = {
                        "benchmark": "monitor",
                        "recipe": recipe,
                        "dataset": dataset,
                        "seed": seed,
                        **run_one(recipe, dataset, seed),
                    }
                    append_result(FLAGS.out, record)
                    records.append(record)
                    print(
                        f"{recipe} {dataset} seed {seed}: {record.get('health')} "
                        f"(epoch {record.get('first_epoch')}), "
                        f"probe {record.get('probe_seconds', 0):.0f} of "
                        f"{record['wall_seconds']:.0f} s",
                        flush=True,
                    )
    report(records)


if __name__ == "__main__":
    app.run(main)
