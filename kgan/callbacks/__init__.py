"""Callbacks of a kgan run, one class per file; `standard_callbacks` orders them for `train()`."""

from kgan.callbacks.checkpoint_saver import CheckpointSaver
from kgan.callbacks.epoch_summary import EpochSummary
from kgan.callbacks.gan_health_monitor import GANHealthMonitor, HealthStatus, HealthThresholds
from kgan.callbacks.global_step import GlobalStep, StepCallback
from kgan.callbacks.history_csv import HistoryCSV
from kgan.callbacks.label_noise_schedule import LabelNoiseSchedule
from kgan.callbacks.mid_epoch_resume import MidEpochResume
from kgan.callbacks.quality_evaluation import QualityEvaluation
from kgan.callbacks.report_page import ReportPage
from kgan.callbacks.sample_snapshot import SampleSnapshot
from kgan.callbacks.standard import standard_callbacks
from kgan.callbacks.stop_on_non_finite_loss import StopOnNonFiniteLoss
from kgan.callbacks.tensorboard_logger import TensorBoardLogger

__all__ = [
    "CheckpointSaver",
    "EpochSummary",
    "GANHealthMonitor",
    "GlobalStep",
    "HealthStatus",
    "HealthThresholds",
    "HistoryCSV",
    "LabelNoiseSchedule",
    "MidEpochResume",
    "QualityEvaluation",
    "ReportPage",
    "SampleSnapshot",
    "StepCallback",
    "StopOnNonFiniteLoss",
    "TensorBoardLogger",
    "standard_callbacks",
]
