"""What the health checks say: the failure names, a finding, its cause, an epoch's status."""

import dataclasses

from kgan.health import advice

# Ascending severity: an epoch's `health` is the most severe failure seen in it.
# "getting_worse" is not one of the four failures: the quality probe's distance rose
# for several probes in a row, and the best generator so far is what the run exports.
FAILURES = ("getting_worse", "unstable", "diminished_gradient", "mode_collapse", "non_convergence")


@dataclasses.dataclass(frozen=True)
class Cause:
    """Why a failure happened, where a check can tell: its evidence and what to try instead.

    Attributes:
        name: what `health.jsonl` records as the finding's `cause`.
        evidence: what was measured, in words.
        suggestion: what to try; it replaces the failure's own suggestion.
    """

    name: str
    evidence: str
    suggestion: str


@dataclasses.dataclass(frozen=True)
class Finding:
    """A failure seen in a window of measurements: the evidence, and the advice to take.

    Attributes:
        failure: one of `FAILURES`.
        evidence: what was measured, against which threshold, in words.
        advice: the key of its suggestion in `advice.SUGGESTIONS`; a caller
            that knows the learning rates may name them (`advice.suggest`).
        may_be_overfitting: whether D memorising the training images
            (`checks.d_overfitting`) can be the cause.
    """

    failure: str
    evidence: str
    advice: str
    may_be_overfitting: bool = False

    @property
    def suggestion(self):
        """The advice as text, naming no learning rate."""
        return advice.SUGGESTIONS[self.advice]

    def record(self, epoch, step, suggestion=None, cause=None):
        """The finding as one line of `health.jsonl`.

        Args:
            epoch: the epoch it was seen in, counted from 1.
            step: the global step it was seen at.
            suggestion: what to try, if not `self.suggestion`.
            cause: a `Cause`, or None: its evidence is appended to the
                finding's, and its suggestion replaces it.

        Returns:
            `{"epoch", "step", "failure", "evidence", "suggestion"}`, and
            `"cause"` when one is given.
        """
        evidence = self.evidence
        suggestion = suggestion or self.suggestion
        if cause is not None:
            evidence = f"{evidence}; the cause: {cause.evidence}"
            suggestion = cause.suggestion
        record = {
            "epoch": epoch,
            "step": step,
            "failure": self.failure,
            "evidence": evidence,
            "suggestion": suggestion,
        }
        if cause is not None:
            record["cause"] = cause.name
        return record


class HealthStatus(float):
    """An epoch's `health`: reads and compares as `"ok"` or a failure name.

    Keras' progress bar and TensorBoard accept only numbers in the epoch
    logs, so the status is also a float: 0 for ok, 1 to 4 for the failures
    in `FAILURES` order (TensorBoard plots it). `str()` gives the name and
    `status == "mode_collapse"` compares names; `HistoryCSV` writes the name.
    """

    def __new__(cls, label):
        code = 0 if label == "ok" else FAILURES.index(label) + 1
        status = super().__new__(cls, code)
        status.label = label
        return status

    def __str__(self):
        return self.label

    __repr__ = __str__

    def __eq__(self, other):
        if isinstance(other, str):
            return self.label == other
        return float(self) == other

    def __ne__(self, other):  # float's own __ne__ would otherwise answer for strings
        return not self == other

    __hash__ = float.__hash__

    @classmethod
    def worst(cls, failures):
        """The status of an epoch in which `failures` were seen: the most severe, or ok."""
        return cls(max(failures, key=FAILURES.index, default="ok"))
