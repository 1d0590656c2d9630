"""The one trainer."""

from emofuse.train.trainer import TrainConfig, Trainer, TrainResult, seed_everything

__all__ = ["TrainConfig", "TrainResult", "Trainer", "seed_everything"]
