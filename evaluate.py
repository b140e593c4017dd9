"""Scores a generator against a dataset: `python evaluate.py --generator=runs/kgan/generator`.

Intentionally kept short: the flags are defined in `kgan.evaluate` (also
runnable as `python -m kgan.evaluate`) and `kgan.evaluation` does the work.
`--real` scores real held-out images instead: the floor every number is
read against. `python evaluate.py --helpfull` lists every flag.
"""

import os

# Quiet TensorFlow's C++ start-up chatter; set TF_CPP_MIN_LOG_LEVEL=0 to see it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from kgan.evaluate import define_flags, main  # noqa: E402

define_flags(flags.FLAGS)

if __name__ == "__main__":
    app.run(main)
