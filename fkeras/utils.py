"""Utilities under Keras' names."""

from .core.rng import set_random_seed

__all__ = ["set_random_seed"]
