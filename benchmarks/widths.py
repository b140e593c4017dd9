"""Network widths at 64x64: speed and early quality of candidate plans on emoji64.

Each candidate (Config overrides) trains for a wall-clock budget with
augmentation off and is scored (FCD of 2000 samples, as a multiple of the
real-data floor) at half the budget and at its end. This is the measurement
behind `kgan.networks.plan_widths` for 64x64 images.

    python -m benchmarks.widths                          # the candidates below, 150 s each
    python -m benchmarks.widths --seconds=60 --candidates=plan

Results append to benchmarks/results/widths.jsonl; the table goes to widths.md.
"""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from benchmarks.common import DATASETS, RESULTS, append_result, load_results, write_table  # noqa: E402

_K4 = {"g_extra_layers": 0, "g_kernel_size": 4, "d_kernel_size": 4}
CANDIDATES = {
    "plan": {"g_filters": 256, "d_filters": 32, **_K4},
    "narrow_g": {"g_filters": 128, "d_filters": 32, **_K4},
    "wide_d": {"g_filters": 256, "d_filters": 64, **_K4},
}

flags.DEFINE_list("candidates", list(CANDIDATES), "Candidates to run (keys of CANDIDATES).")
flags.DEFINE_string("dataset", "emoji64", "Dataset (a key of DATASETS or a path).")
flags.DEFINE_float("seconds", 150, "Training seconds per candidate.")
flags.DEFINE_string("out", os.path.join(RESULTS, "widths.jsonl"), "Results file.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from benchmarks.budget import train_kgan
    from kgan.config import Config
    from kgan.quality import evaluate_generator, real_floor
    from kgan.quality.generators import Generator
    from kgan.quiet import import_tensorflow

    import_tensorflow()
    path = DATASETS.get(FLAGS.dataset, FLAGS.dataset)
    floor = real_floor(path)["fcd"]
    for name in FLAGS.candidates:
        config = Config(dataset=path, augment="off", **CANDIDATES[name])

        def score(sample_fn, config=config):
            generator = Generator(lambda z, c=None: sample_fn(z), config.latent_dim, False, "g")
            return evaluate_generator(generator, path, num_samples=2000, seed=0)

        marks, gan = train_kgan(config, [FLAGS.seconds / 2, FLAGS.seconds], score)
        for mark in marks:
            append_result(
                FLAGS.out,
                {
                    "benchmark": "widths",
                    "candidate": name,
                    "overrides": CANDIDATES[name],
                    "g_params": gan.generator.count_params(),
                    "d_params": gan.discriminator.count_params(),
                    "seconds": mark.seconds,
                    "steps": mark.steps,
                    "fcd": mark.scores["fcd"],
                    "fcd_over_floor": mark.scores["fcd"] / floor,
                    "classes_covered": mark.scores["classes_covered"],
                },
            )
    lines = [
        "| candidate | overrides | G params | D params | seconds | steps | steps/s | "
        "FCD / floor | classes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in load_results(FLAGS.out):
        lines.append(
            f"| {r['candidate']} | `{json.dumps(r['overrides'])}` | {r['g_params']:,} | "
            f"{r['d_params']:,} | {r['seconds']:.0f} | {r['steps']} | "
            f"{r['steps'] / r['seconds']:.1f} | {r['fcd_over_floor']:.1f}x | "
            f"{r['classes_covered']} |"
        )
    write_table("widths.md", "# Widths at 64x64\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    app.run(main)
