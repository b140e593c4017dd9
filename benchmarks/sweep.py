"""Step-budget sweeps: named settings x datasets x seeds, resumable, summarised.

The engine of the ladder (`benchmarks.ladder`) and the robustness grid
(`benchmarks.robustness`). Each run trains kgan with a dict of
`kgan.config.Config` overrides for the dataset's step budget (the technique
table's: MNIST 700 steps, Fashion-MNIST 1500) and is scored once at the
end. It succeeds, as in the technique table, when its FCD is below a
multiple of the dataset's real-data floor (100x MNIST, 200x Fashion-MNIST;
the evidence is `benchmarks/results/threshold.md`) and all 10 classes are
covered. Failed runs carry what `GANHealthMonitor` named during training.

Runs go seed-major (every setting's seed 0, then every setting's seed 1,
...), so a sweep stopped early has the same seeds for every setting, and
each run appends one JSON line: a rerun skips what is recorded. Two sweeps
may share a results file (one per core, say): each rereads it before every
run, so give them the settings in opposite orders.
"""

import collections
import os
import statistics

from benchmarks.common import DATASETS, append_result, load_results

BUDGET_STEPS = {"mnist": 700, "fashion_mnist": 1500, "emoji64": 3000}
SUCCESS_FACTOR = {"mnist": 100.0, "fashion_mnist": 200.0}
# The ladder's rung 0, the naive first try, as Config overrides (the
# robustness grid runs it too).
RUNG0 = dict(
    separate_batches=False,
    g_activation="relu",
    d_activation="relu",
    g_output="sigmoid",
    upsample="upsample_conv",
    g_dropout=0.3,
    d_dropout=0.0,
    beta_1=0.9,
    g_lr=1.5e-4,
    d_lr=1.5e-4,
    label_flip=0.0,
    label_smoothing=0.0,
    discriminator="dcgan",
    ema=0.0,
    augment="off",
    balance="off",
)
# The ladder's rung 2 on top of rung 1: the DCGAN architecture's choices.
DCGAN_MODEL = dict(
    g_activation="leaky_relu",
    d_activation="leaky_relu",
    g_output="tanh",
    upsample="conv_transpose",
    g_dropout=0.0,
    d_dropout=0.3,
)
# Steps per Keras epoch: the per-epoch callbacks (the monitor's sample
# check, the label-noise schedule) act every this many steps.
EPOCH_STEPS = 312


def make_config(overrides, dataset, seed, steps):
    """The `Config` of one run: kgan's defaults with `overrides`."""
    from kgan.config import Config

    return Config(
        dataset=DATASETS[dataset],
        seed=seed,
        steps_per_epoch=EPOCH_STEPS,
        label_noise_decay_epochs=max(steps // EPOCH_STEPS // 2, 1),
        **overrides,
    )


def succeeded(record, floor):
    """True when a run's FCD is under its dataset's success factor and it covers every class."""
    fcd = record.get("fcd")
    factor = SUCCESS_FACTOR.get(record["dataset"])
    return (
        factor is not None
        and fcd is not None
        and fcd == fcd  # not NaN
        and fcd < factor * floor
        and record.get("classes_covered") == 10
    )


def floors(datasets):
    """Each dataset's real-data FCD floor (cached by `kgan.quality`)."""
    from kgan.quality import real_floor

    return {d: real_floor(DATASETS[d])["fcd"] for d in datasets}


def run_one(name, overrides, dataset, seed, steps, num_samples, grid, floor_fcd):
    """Trains and scores one run; a run that crashes (NaN weights, say) is a failed record.

    `floor_fcd` (this machine's real-data floor) is stamped on the record.
    """
    from benchmarks.budget import train_and_score

    config = make_config(overrides, dataset, seed, steps)
    floor = {"floor_fcd": floor_fcd}
    try:
        return {**train_and_score(config, steps, num_samples, grid=grid, name=name), **floor}
    except Exception as e:  # noqa: BLE001 - a diverged run is a result, not the end of the sweep
        return {"fcd": None, "health": [], "error": f"{type(e).__name__}: {e}"[:300], **floor}


def pick(names, known, flag):
    """`{name: known[name]}` for the names of a list flag, in the order given.

    Raises:
        absl.app.UsageError: naming the unknown names and the known ones.
    """
    from absl import app

    unknown = [n for n in names if n not in known]
    if unknown:
        raise app.UsageError(f"--{flag}: unknown {unknown}; known: {', '.join(known)}")
    return {n: known[n] for n in names}


def sweep(benchmark, settings, datasets, seeds, out, grids_dir=None, num_samples=2000):
    """Runs every (setting, dataset, seed) not yet in `out`, seed-major.

    Args:
        benchmark: the name stamped on each record.
        settings: `{name: Config overrides}`, in the order to run.
        datasets: dataset names (keys of `benchmarks.common.DATASETS`).
        seeds: seeds per setting (0 .. seeds-1).
        out: the results file (JSON lines).
        grids_dir: if set, seed 0's sample grid of each run is saved there
            as `<dataset>_<setting>.png`.
        num_samples: generated images per score.
    """
    from kgan.images import save_png

    for dataset in datasets:
        steps = BUDGET_STEPS[dataset]
        # The floor of this machine's classifier, the runs' own yardstick: records
        # from machines whose classifiers differ a little stay comparable.
        floor_fcd = None
        for seed in range(seeds):
            for name, overrides in settings.items():
                # Read before every run: two sweeps may share one results file
                # (run them over the settings in opposite orders).
                if (name, dataset, seed) in _done(out):
                    continue
                grid = grids_dir is not None and seed == 0
                if floor_fcd is None:
                    floor_fcd = floors([dataset])[dataset]
                record = run_one(
                    name, overrides, dataset, seed, steps, num_samples, grid, floor_fcd
                )
                image = record.pop("grid", None)
                if image is not None:
                    os.makedirs(grids_dir, exist_ok=True)
                    save_png(image, os.path.join(grids_dir, f"{dataset}_{name}.png"))
                record = {
                    "benchmark": benchmark,
                    "setting": name,
                    "dataset": dataset,
                    "seed": seed,
                    "budget_steps": steps,
                    "overrides": overrides,
                    **record,
                }
                append_result(out, record)
                print(
                    f"{benchmark} {dataset} {name} seed {seed}: FCD {record.get('fcd')}, "
                    f"classes {record.get('classes_covered')}, health {record['health']}"
                    + (f", error {record['error']}" if "error" in record else ""),
                    flush=True,
                )


def _done(out):
    return {
        (r["setting"], r["dataset"], r["seed"])
        for r in load_results(out)
        if r.get("budget_steps") == BUDGET_STEPS[r["dataset"]]
    }


Summary = collections.namedtuple("Summary", "runs wins median low high named")


def summarise(records, floor_of):
    """`{(setting, dataset): Summary}` over the records of the current budgets.

    `median`, `low` and `high` are FCD as a multiple of the floor over the
    runs that produced one (None if none did): the record's own
    `floor_fcd` where it has one, else `floor_of[dataset]`; `named` counts what the
    monitor named in the failed runs (`"none"` when it named nothing,
    `"diverged"` when the run crashed).
    """
    groups = collections.defaultdict(list)
    seen = set()
    for r in records:
        key = (r["setting"], r["dataset"], r["seed"])
        if r.get("budget_steps") == BUDGET_STEPS[r["dataset"]] and key not in seen:
            seen.add(key)  # the first record of a run counts; a duplicate does not
            groups[(r["setting"], r["dataset"])].append(r)
    out = {}
    for key, rows in groups.items():

        def floor(r, dataset=key[1]):
            return r.get("floor_fcd") or floor_of[dataset]

        fcds = [
            r["fcd"] / floor(r) for r in rows if r.get("fcd") is not None and r["fcd"] == r["fcd"]
        ]
        named = collections.Counter()
        for r in rows:
            if succeeded(r, floor(r)):
                continue
            names = ["diverged"] if "error" in r else (r["health"] or ["none"])
            named.update(names)
        out[key] = Summary(
            runs=len(rows),
            wins=sum(succeeded(r, floor(r)) for r in rows),
            median=statistics.median(fcds) if fcds else None,
            low=min(fcds) if fcds else None,
            high=max(fcds) if fcds else None,
            named=named,
        )
    return out


def describe_named(named):
    """`"diminished_gradient x2, none x1"`, or `"-"`."""
    return ", ".join(f"{k} x{v}" for k, v in sorted(named.items())) or "-"


def fmt(value, spec=".1f"):
    return "-" if value is None else format(value, spec)
