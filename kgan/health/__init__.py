"""Is the GAN healthy? The checks behind `GANHealthMonitor`, in plain Python and NumPy.

- `kgan.health.checks`: the checks, pure functions of a window of
  measurements returning a `Finding` or None, and `HealthThresholds`;
- `kgan.health.advice`: what to try for each finding (`SUGGESTIONS`), in
  the words of train.py's flags;
- `kgan.health.findings`: the failure names, `Finding`, `Cause` and an
  epoch's `HealthStatus`;
- `kgan.health.journal`: the probe records and `health.jsonl` in a run
  folder (and their replay when a run resumes);
- `kgan.health.facts`: what the advice reads off a model (learning rates,
  Adam's beta_1, the augmentation), by duck typing.

No Keras and no TensorFlow: the checks are tested on windows built by hand.

    from kgan.health import HealthThresholds, checks

    finding = checks.unstable({"d_loss": d_losses}, HealthThresholds())
"""

from kgan.health import advice, checks
from kgan.health.advice import SUGGESTIONS
from kgan.health.checks import OVERFITTING_KEYS, STEP_KEYS, HealthThresholds
from kgan.health.findings import FAILURES, Cause, Finding, HealthStatus

__all__ = [
    "FAILURES",
    "OVERFITTING_KEYS",
    "STEP_KEYS",
    "SUGGESTIONS",
    "Cause",
    "Finding",
    "HealthStatus",
    "HealthThresholds",
    "advice",
    "checks",
]
