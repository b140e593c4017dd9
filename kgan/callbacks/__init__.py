"""Callbacks of a kgan run, one class per file."""

from kgan.callbacks.gan_health_monitor import GANHealthMonitor, HealthStatus, HealthThresholds
from kgan.callbacks.history_csv import HistoryCSV
from kgan.callbacks.label_noise_schedule import LabelNoiseSchedule
from kgan.callbacks.quality_evaluation import QualityEvaluation
from kgan.callbacks.sample_snapshot import SampleSnapshot

__all__ = [
    "GANHealthMonitor",
    "HealthStatus",
    "HealthThresholds",
    "HistoryCSV",
    "LabelNoiseSchedule",
    "QualityEvaluation",
    "SampleSnapshot",
]
