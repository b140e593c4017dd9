"""Writes the epoch history to CSV, one row per epoch, safe across resumes."""

import csv
import math
import os

import keras

from kgan.files import atomic_open


class HistoryCSV(keras.callbacks.Callback):
    """Keeps `path` holding one row per epoch with every logged metric.

    Unlike `keras.callbacks.CSVLogger`, a metric that appears only in some
    epochs (an evaluation every N epochs) widens the header instead of being
    dropped, no empty `val_*` columns are invented, and a resumed run
    replaces the rows of the epochs it repeats rather than duplicating them.
    The file is rewritten atomically (temporary file, then rename).

    Args:
        path: the CSV file.
        initial_epoch: epochs already done (a resumed run); rows after it are
            dropped at the start of training, rows up to it are kept.

    Example:

    >>> gan.fit(data, epochs=5, callbacks=[HistoryCSV("run/history.csv")])
    """

    def __init__(self, path, initial_epoch=0):
        super().__init__()
        self.path = path
        self.initial_epoch = int(initial_epoch)
        self.rows = {}

    def on_train_begin(self, logs=None):
        self.rows = {}
        if self.initial_epoch and os.path.exists(self.path):
            with open(self.path, newline="") as f:
                for row in csv.DictReader(f):
                    if int(row["epoch"]) <= self.initial_epoch:
                        self.rows[int(row["epoch"])] = row

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1}
        for key, value in (logs or {}).items():
            # Text, or a number with a label (the health monitor's status): the text.
            label = value if isinstance(value, str) else getattr(value, "label", None)
            if label is not None:
                row[key] = str(label)
                continue
            value = float(value)
            row[key] = repr(value) if math.isfinite(value) else str(value)
        self.rows[epoch + 1] = row
        # Drop rows after this epoch: they belong to a run this one replaces.
        self.rows = {e: r for e, r in self.rows.items() if e <= epoch + 1}
        keys = sorted({k for r in self.rows.values() for k in r} - {"epoch"})
        with atomic_open(self.path, newline="") as f:
            writer = csv.DictWriter(f, ["epoch", *keys], restval="")
            writer.writeheader()
            for e in sorted(self.rows):
                writer.writerow(self.rows[e])
