"""Training: the `TrainState`, the pure steps and the Keras-style trainer facade."""

from .state import TrainState
from .trainer import Trainer

__all__ = ["TrainState", "Trainer"]
