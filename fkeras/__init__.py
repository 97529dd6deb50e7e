"""fkeras: Keras ergonomics on immutable, pure-JAX (Equinox) modules."""

from . import (
    activations,
    callbacks,
    constraints,
    distribution,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    optimizers,
    regularizers,
    saving,
    training,
    utils,
)
from .core import (
    ImmutableModelError,
    NotBuiltError,
    combine,
    partition,
    trainable_mask,
)
from .layers import Input
from .models import Model, Sequential
from .training import Trainer, TrainState

__version__ = "0.1.0"

__all__ = [
    "ImmutableModelError",
    "Input",
    "Model",
    "NotBuiltError",
    "Sequential",
    "TrainState",
    "Trainer",
    "activations",
    "callbacks",
    "constraints",
    "combine",
    "distribution",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "mixed_precision",
    "models",
    "optimizers",
    "partition",
    "regularizers",
    "saving",
    "training",
    "trainable_mask",
    "utils",
]
