"""The GenURL engine: the GKL loss over P_X edges and sampled negatives, and the trainer."""

from .loss import gkl_loss, log_q
from .trainer import EdgeStream, Trainer, TrainConfig, TrainResult

__all__ = ["EdgeStream", "gkl_loss", "log_q", "Trainer", "TrainConfig", "TrainResult"]
