"""Does the label-free probe rank generators as the labelled classifier does?

On a labelled dataset both feature spaces exist: the dataset classifier's
(what `evaluate.py` uses) and the label-free extractor's
(`kgan.quality.ssl`, what the probe uses on a folder without labels). A
few of the ladder's rungs train on MNIST and are scored every 100 steps in
both spaces (2000 samples each); the table gives the rank correlation of
the two FCDs over all those generators, and how much of the classes the
label-free features see (k-NN accuracy on held-out labels).

    python -m benchmarks.probe_agreement
    python -m benchmarks.probe_agreement --report_only

Results append to benchmarks/results/probe_agreement.jsonl; the table goes
to probe_agreement.md.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from benchmarks.common import DATASETS, RESULTS, append_result, load_results, write_table  # noqa: E402
from benchmarks.sweep import DCGAN_MODEL, RUNG0  # noqa: E402

flags.DEFINE_string("dataset", "mnist", "Dataset (a key of DATASETS).")
# Four of the ladder's rungs (benchmarks.ladder), from the naive try to kgan's defaults.
MODEL = {"separate_batches": True, **DCGAN_MODEL}
RUNGS = {
    "0_naive": RUNG0,
    "2_model": {**RUNG0, **MODEL},
    "3_adam": {**RUNG0, **MODEL, "g_lr": 2e-4, "d_lr": 2e-4, "beta_1": 0.5},
    "7_augment": {},
}
flags.DEFINE_list("rungs", list(RUNGS), "Ladder rungs.")
flags.DEFINE_integer("steps", 500, "Training steps per rung.")
flags.DEFINE_integer("every", 100, "Score every this many steps.")
flags.DEFINE_integer("num_samples", 2000, "Samples per score.")
flags.DEFINE_string("out", os.path.join(RESULTS, "probe_agreement.jsonl"), "Results file.")
flags.DEFINE_bool("report_only", False, "Only rebuild the table from the results file.")
FLAGS = flags.FLAGS


def spearman(x, y):
    """Spearman's rank correlation of two equal-length sequences (no ties assumed)."""
    import numpy as np

    rx = np.argsort(np.argsort(x)).astype(float)
    ry = np.argsort(np.argsort(y)).astype(float)
    return float(np.corrcoef(rx, ry)[0, 1])


def run():
    from benchmarks.budget import train_kgan
    from benchmarks.sweep import make_config
    from kgan.quality import Evaluator
    from kgan.quality.generators import Generator

    path = DATASETS[FLAGS.dataset]
    spaces = {
        "classifier": Evaluator.from_dataset(path, features="classifier"),
        "ssl": Evaluator.from_dataset(path, features="ssl"),
    }
    knn = spaces["ssl"].classifier.accuracy
    marks = list(range(FLAGS.every, FLAGS.steps + 1, FLAGS.every))
    for name in FLAGS.rungs:
        config = make_config({**RUNGS[name], "eval_every": 0}, FLAGS.dataset, 0, FLAGS.steps)

        def score(sample_fn, config=config, name=name):
            generator = Generator(lambda z, c=None: sample_fn(z), config.latent_dim, False, name)
            return {
                space: evaluator.evaluate(generator, FLAGS.num_samples, seed=0)["fcd"]
                for space, evaluator in spaces.items()
            }

        results, _ = train_kgan(config, marks, score, unit="steps")
        for mark in results:
            record = {"benchmark": "probe_agreement", "dataset": FLAGS.dataset, "rung": name}
            record.update(steps=mark.steps, knn_accuracy=knn, **mark.scores)
            append_result(FLAGS.out, record)
            print(record, flush=True)


def report(records):
    if not records:
        return
    classifier = [r["classifier"] for r in records]
    ssl = [r["ssl"] for r in records]
    rho = spearman(classifier, ssl)
    lines = [
        "# The label-free probe against the labelled classifier",
        "",
        f"{len(records)} generators ({', '.join(sorted({r['rung'] for r in records}))}, "
        f"every 100 steps) on {records[0]['dataset']}, FCD in each feature space "
        f"(`python -m benchmarks.probe_agreement`). Spearman rank correlation of the two "
        f"FCDs: **{rho:.2f}**. The label-free features' k-NN accuracy on held-out labels "
        f"(never trained on them): {100 * records[0]['knn_accuracy']:.1f}%.",
        "",
        "| rung | steps | FCD, classifier | FCD, label-free |",
        "|---|---|---|---|",
    ]
    for r in records:
        lines.append(f"| {r['rung']} | {r['steps']} | {r['classifier']:.2f} | {r['ssl']:.2f} |")
    write_table("probe_agreement.md", "\n".join(lines) + "\n")


def main(argv):
    del argv
    if not FLAGS.report_only:
        run()
    report(load_results(FLAGS.out))


if __name__ == "__main__":
    app.run(main)
