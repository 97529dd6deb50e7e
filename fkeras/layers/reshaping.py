"""Reshaping layers: Flatten, Reshape. The batch dimension is always kept."""

from __future__ import annotations

import math

from jaxtyping import Array

from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import register_serializable

_register = register_serializable(package="fkeras")


@_register
class Flatten(Layer):
    """Flattens each example: `(batch, d1, d2, ...) -> (batch, d1 * d2 * ...)`."""

    has_weights = False

    def __call__(self, x: Array) -> Array:
        if x.ndim < 1:
            raise ValueError(
                f"{describe(self)} expects inputs with a batch dimension. Received: x.shape=()"
            )
        return x.reshape(x.shape[0], -1)


@_register
class Reshape(Layer):
    """Reshapes each example to `target_shape` (batch kept); one entry may be `-1`.

    **Arguments:** `target_shape`: the new shape of one example, e.g. `(7, 7, 16)`.
    """

    target_shape: tuple = static()
    has_weights = False

    def __init__(self, target_shape, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if isinstance(target_shape, int):
            target_shape = (target_shape,)
        target = tuple(target_shape)
        if (
            not all(isinstance(d, int) and (d > 0 or d == -1) for d in target)
            or target.count(-1) > 1
        ):
            raise ValueError(
                f"{describe(self)} expects target_shape of positive ints with at most one -1. "
                f"Received: target_shape={target_shape!r}"
            )
        self.target_shape = target

    def __call__(self, x: Array) -> Array:
        size = math.prod(x.shape[1:])
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 in self.target_shape and size % known) or (
            -1 not in self.target_shape and size != known
        ):
            raise ValueError(
                f"{describe(self)} cannot reshape examples of shape {tuple(x.shape[1:])} "
                f"({size} values) to target_shape={self.target_shape}. "
                f"Received: x.shape={tuple(x.shape)}"
            )
        return x.reshape((x.shape[0], *self.target_shape))
