"""Trains a DCGAN with kgan: `python train.py --dataset=mnist --epochs=20`.

Intentionally kept short: every flag is a field of `kgan.config.Config`
(same name, same default, its reason as help), and `kgan.training.train`
does the work. `python train.py --helpfull` lists them all.
"""

import os
import sys

# Quiet TensorFlow's C++ start-up chatter; set TF_CPP_MIN_LOG_LEVEL=0 to see it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from kgan.config import Config  # noqa: E402
from kgan.errors import UserError  # noqa: E402
from kgan.flags import config_from_flags, define_config_flags  # noqa: E402
from kgan.quiet import import_tensorflow  # noqa: E402

define_config_flags(Config, flags.FLAGS)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        config = config_from_flags(Config, flags.FLAGS)
        # Imported after the flags are checked: a bad flag fails in a blink.
        import_tensorflow()
        from kgan.training import train

        result = train(config)
    except UserError as e:
        sys.exit(f"error: {e}")
    logging.info("done: samples in %s, generator in %s", config.out_dir, result.generator_path)


if __name__ == "__main__":
    app.run(main)
