"""The reproduction study: rows trained or loaded from cache (:mod:`.runs`) and the paper's tables
rebuilt from them beside the paper's numbers (:mod:`.tables`)."""
from .runs import Study, config_fingerprint, run_cost, training_config

__all__ = ["Study", "config_fingerprint", "run_cost", "training_config"]
