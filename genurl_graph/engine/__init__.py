"""The GenURL engine: the GKL loss over P_X edges and sampled negatives, and the trainer."""
from .loss import gkl_loss, log_q
from .trainer import Trainer, TrainResult

__all__ = ["gkl_loss", "log_q", "Trainer", "TrainResult"]
