"""Rewrites the run's self-contained report page after every epoch."""

import logging

import keras

from kgan.report_page import write_report


class ReportPage(keras.callbacks.Callback):
    """Keeps `out_dir/report.html` (and `progress.gif`) up to date.

    The page is built from the files of the run (sample grids, history.csv,
    health.jsonl, config.json; see `kgan.report_page`), so place this callback
    after the ones that write them. It is written again when training ends,
    to pick up anything written after it in the last epoch. A page that
    cannot be written is a warning, never the end of a training run.

    Args:
        out_dir: the run's folder.

    Example:

    >>> gan.fit(data, epochs=5, callbacks=[HistoryCSV("run/history.csv"), ReportPage("run")])
    """

    def __init__(self, out_dir):
        super().__init__()
        self.out_dir = out_dir
        self.path = None

    def on_epoch_end(self, epoch, logs=None):
        self._write()

    def on_train_end(self, logs=None):
        self._write()

    def _write(self):
        try:
            self.path = write_report(self.out_dir)
        except (OSError, ValueError) as e:
            logging.warning("could not write the report page in %s: %s", self.out_dir, e)
