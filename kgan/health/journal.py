"""What the health monitor reads and writes in a run folder: probe records and `health.jsonl`.

A probe record is one quality probe's metrics, `{"epoch": N, "step": S,
metric: value or None, ...}`; the probe checks (`checks.probe_findings`) read the list of
every record so far. A resumed run rebuilds that list from `history.csv`
(`replayed_probes`) and drops the findings of the epochs it redoes
(`keep_findings`), so it judges as the unbroken run did.
"""

import json
import os

from kgan.files import atomic_open


def probe_record(epoch, logs, keys, step=None):
    """This epoch's probe metrics from its logs, or None when the probe did not run.

    Args:
        epoch: the 1-based epoch.
        logs: the epoch logs (a `QualityEvaluation` before the monitor added the metrics).
        keys: the probe's metric names (`kgan.quality.evaluator.KEYS`).
        step: the training step the probe was taken at, or None (unknown).
    """
    record = {key: _number(logs.get(key)) for key in keys}
    if all(value is None for value in record.values()):
        return None
    return {"epoch": int(epoch), "step": None if step is None else int(step), **record}


def replayed_probes(rows, last_epoch, keys, steps_per_epoch=None):
    """The probe records of the epochs up to `last_epoch`, from `history.csv` rows.

    `history.csv` holds no step: a record's is its epoch times
    `steps_per_epoch` (None: unknown).
    """
    records = []
    for row in rows:
        epoch = _number(row.get("epoch"))
        if epoch is None or epoch > last_epoch:
            continue
        step = None if steps_per_epoch is None else int(epoch) * int(steps_per_epoch)
        record = probe_record(epoch, row, keys, step)
        if record is not None:
            records.append(record)
    return records


def keep_findings(path, last_epoch):
    """Keeps the findings of `health.jsonl` up to `last_epoch` (a resume), drops the rest."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        kept = [line for line in f if json.loads(line)["epoch"] <= last_epoch]
    with atomic_open(path) as f:
        f.writelines(kept)


def append_finding(path, record):
    """Appends one finding's record to `health.jsonl` at `path`."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def _number(value):
    """A log value or `history.csv` cell as a float, or None when empty or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # NaN included: a diverged probe is a finding
    except (TypeError, ValueError):
        return None
