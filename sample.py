"""Samples from a trained generator: `python sample.py --generator=runs/kgan/generator`.

Intentionally kept short: every flag is a field of `kgan.config.SampleConfig`,
and `kgan.sampling.write_samples` does the work, on any SavedModel with the
`serve` contract (latent size and class conditioning are read from its
signature).

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

from kgan.config import SampleConfig  # noqa: E402
from kgan.errors import UserError  # noqa: E402
from kgan.flags import config_from_flags, define_config_flags  # noqa: E402
from kgan.quiet import import_tensorflow  # noqa: E402

define_config_flags(SampleConfig, flags.FLAGS)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        options = config_from_flags(SampleConfig, flags.FLAGS).to_dict()
        import_tensorflow()
        from kgan.sampling import write_samples

        # Every other field is a keyword of write_samples of the same name.
        paths = write_samples(options.pop("generator"), **options)
    except UserError as e:
        sys.exit(f"error: {e}")
    logging.info("wrote %s", paths[0] if len(paths) == 1 else f"{len(paths)} files: {paths[0]} ...")


if __name__ == "__main__":
    app.run(main)
