"""Callbacks of a kgan run, one class per file."""

from kgan.callbacks.epoch_summary import EpochSummary
from kgan.callbacks.history_csv import HistoryCSV
from kgan.callbacks.label_noise_schedule import LabelNoiseSchedule
from kgan.callbacks.report_page import ReportPage
from kgan.callbacks.sample_snapshot import SampleSnapshot
from kgan.callbacks.tensorboard_logger import TensorBoardLogger

__all__ = [
    "EpochSummary",
    "HistoryCSV",
    "LabelNoiseSchedule",
    "ReportPage",
    "SampleSnapshot",
    "TensorBoardLogger",
]
