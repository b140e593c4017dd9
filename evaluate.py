"""Scores a generator against a dataset: `python evaluate.py --generator=runs/kgan/generator`.

Intentionally kept short: every flag is a field of `kgan.config.EvaluateConfig`,
and `kgan.evaluate_program.main` (also `python -m kgan.evaluate_program`) has
`kgan.quality` do the work.
`--real` scores real held-out images instead: the floor every number is
read against. `python evaluate.py --helpfull` lists every flag.
"""

import os

# Quiet TensorFlow's C++ start-up chatter; set TF_CPP_MIN_LOG_LEVEL=0 to see it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from kgan.config import EvaluateConfig  # noqa: E402
from kgan.evaluate_program import main  # noqa: E402
from kgan.flags import define_config_flags  # noqa: E402

define_config_flags(EvaluateConfig, flags.FLAGS)

if __name__ == "__main__":
    app.run(main)
