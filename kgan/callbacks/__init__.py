"""Callbacks of a kgan run, one class per file."""

from kgan.callbacks.history_csv import HistoryCSV
from kgan.callbacks.label_noise_schedule import LabelNoiseSchedule
from kgan.callbacks.sample_snapshot import SampleSnapshot

__all__ = ["HistoryCSV", "LabelNoiseSchedule", "SampleSnapshot"]
