"""Saving: configs by registered class name, `.fkeras` model files, `.weights.npz` weights."""

from ..core.registry import (
    deserialize,
    get_registered_name,
    get_registered_object,
    register_serializable,
    serialize,
)
from .checkpoint import read_checkpoint_epoch, restore_checkpoint, save_checkpoint
from .files import load_model, load_weights, save_model, save_weights
from .sharded import (
    read_sharded_checkpoint_epoch,
    restore_sharded_checkpoint,
    save_sharded_checkpoint,
)

__all__ = [
    "read_checkpoint_epoch",
    "restore_checkpoint",
    "save_checkpoint",
    "read_sharded_checkpoint_epoch",
    "restore_sharded_checkpoint",
    "save_sharded_checkpoint",
    "load_model",
    "load_weights",
    "save_model",
    "save_weights",
    "deserialize",
    "get_registered_name",
    "get_registered_object",
    "register_serializable",
    "serialize",
]
