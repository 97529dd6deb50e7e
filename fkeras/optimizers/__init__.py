"""Keras 3's optimizers as optax `GradientTransformation`s, and Keras' learning-rate schedules.

`fk.optimizers.Adam(...)` and friends return plain optax transformations whose learning rate
lives in the optimizer state (`fk.optimizers.get_learning_rate` / `set_learning_rate`), with
Keras' defaults and update rules. `fk.optimizers.get("adam")` maps Keras names to them.
Keras' `gradient_accumulation_steps` and `use_ema` options wrap the optimizer inside the
injected learning rate; `fk.optimizers.finalize_params` returns the averaged weights at the end
of training.
"""

from . import schedules
from .accumulation import GradientAccumulationState
from .base import get_learning_rate, set_learning_rate
from .ema import ParamsEmaState, finalize_params
from .optimizers import (
    SGD,
    Adagrad,
    AdagradState,
    Adam,
    Adamax,
    AdamaxState,
    AdamState,
    AdamW,
    Lion,
    LionState,
    Nadam,
    NadamState,
    RMSprop,
    RMSpropState,
    SGDState,
    get,
)

__all__ = [
    "SGD",
    "Adagrad",
    "AdagradState",
    "Adam",
    "AdamState",
    "AdamW",
    "Adamax",
    "AdamaxState",
    "GradientAccumulationState",
    "Lion",
    "LionState",
    "Nadam",
    "NadamState",
    "ParamsEmaState",
    "RMSprop",
    "RMSpropState",
    "SGDState",
    "finalize_params",
    "get",
    "get_learning_rate",
    "schedules",
    "set_learning_rate",
]
