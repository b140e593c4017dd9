"""Samples from a trained generator: `python sample.py --generator=runs/kgan/generator`.

Intentionally kept short: `kgan.sampling.write_samples` does the work, on any
SavedModel with the `serve` contract (latent size and class conditioning are
read from its signature).

    python sample.py --generator=G --num=64 --out=grid.png        # an 8x8 grid
    python sample.py --generator=G --num=16 --out=s.png --separate  # s_000.png ...
    python sample.py --generator=G --num=8 --interpolate=10 --out=walk.png
    python sample.py --generator=G --num=16 --interpolate=24 --out=walk.gif
    python sample.py --generator=G --label=3 --out=threes.png     # conditional
"""

import os
import sys

# Quiet TensorFlow's C++ start-up chatter; set TF_CPP_MIN_LOG_LEVEL=0 to see it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from kgan.errors import UserError  # noqa: E402
from kgan.quiet import import_tensorflow  # noqa: E402

flags.DEFINE_string("generator", None, "The generator SavedModel folder (a run's generator/).")
flags.DEFINE_integer("num", 64, "Images to draw; with --interpolate, walks to draw.")
flags.DEFINE_string("out", "samples.png", "A .png or .gif file (a grid unless --separate).")
flags.DEFINE_boolean("separate", False, "One file per image (or walk): <out stem>_NNN<ext>.")
flags.DEFINE_integer("seed", 0, "Seed of the latents: the same seed draws the same pictures.")
flags.DEFINE_integer(
    "interpolate", 0, "Steps of spherical walks between random latents (0 = plain samples)."
)
flags.DEFINE_float(
    "truncation", 0.0, "Redraw latent components beyond this magnitude (0 = no truncation)."
)
flags.DEFINE_integer("label", None, "Class of every image (conditional generators only).")
flags.DEFINE_integer(
    "num_classes", 10, "Conditional generators without --label: one column per class."
)
flags.mark_flag_as_required("generator")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    f = flags.FLAGS
    try:
        import_tensorflow()
        from kgan.sampling import write_samples

        paths = write_samples(
            f.generator,
            f.out,
            num=f.num,
            seed=f.seed,
            separate=f.separate,
            interpolate=f.interpolate,
            truncation=f.truncation,
            label=f.label,
            num_classes=f.num_classes,
        )
    except UserError as e:
        sys.exit(f"error: {e}")
    logging.info("wrote %s", paths[0] if len(paths) == 1 else f"{len(paths)} files: {paths[0]} ...")


if __name__ == "__main__":
    app.run(main)
