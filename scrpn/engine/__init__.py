"""Training engine: schedule, seeding, checkpoints, the training loop and proposal evaluation."""
from scrpn.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from scrpn.engine.evaluator import evaluate_model, write_metrics
from scrpn.engine.schedule import lr_at, scaled_lr
from scrpn.engine.seeding import configure_torch, make_generator, seed_everything
from scrpn.engine.trainer import Trainer, TrainingError, TrainingInterrupted, TrainResult

__all__ = [
    "CheckpointError",
    "TrainResult",
    "Trainer",
    "TrainingError",
    "TrainingInterrupted",
    "configure_torch",
    "evaluate_model",
    "load_checkpoint",
    "lr_at",
    "make_generator",
    "save_checkpoint",
    "scaled_lr",
    "seed_everything",
    "write_metrics",
]
