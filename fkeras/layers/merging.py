"""Merging layers: Add, Concatenate. They take a list of inputs."""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np

from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import register_serializable

_register = register_serializable(package="fkeras")


def _check_list(layer, inputs) -> list:
    if not isinstance(inputs, (list, tuple)) or len(inputs) < 1:
        raise ValueError(
            f"{describe(layer)} expects a list of input tensors. Received: inputs={inputs!r}"
        )
    return list(inputs)


def _merged_mask(inputs, mask):
    """Keras 3's mask of an elementwise merge: the OR of the inputs' masks, or no mask at all
    when any input is unmasked."""
    if mask is None or any(m is None for m in mask):
        return None
    return functools.reduce(jnp.logical_or, [jnp.asarray(m, bool) for m in mask])


def _concatenated_mask(inputs, mask, axis: int):
    """Keras 3's mask of a concatenation: each mask widened to its input's shape (missing
    ones as all-True), concatenated along `axis`, then reduced with `any` over the last axis."""
    if mask is None or all(m is None for m in mask):
        return None
    masks = []
    for x, m in zip(inputs, mask):
        if m is None:
            masks.append(jnp.ones(x.shape, bool))
        else:
            m = jnp.asarray(m, bool)
            masks.append(jnp.broadcast_to(m[..., None], x.shape) if m.ndim < x.ndim else m)
    return jnp.any(jnp.concatenate(masks, axis=axis), axis=-1)


def _shapes(inputs) -> list[tuple]:
    return [tuple(x.shape) for x in inputs]


@_register
class Add(Layer):
    """Adds a list of inputs of the same (or broadcast-compatible) shape."""

    has_weights = False

    def __call__(self, inputs):
        inputs = _check_list(self, inputs)
        try:
            np.broadcast_shapes(*_shapes(inputs))
        except ValueError:
            raise ValueError(
                f"{describe(self)} expects inputs of the same shape. "
                f"Received: shapes={_shapes(inputs)}"
            ) from None
        return functools.reduce(jnp.add, inputs)

    def compute_mask(self, inputs, mask=None):
        return _merged_mask(inputs, mask)


@_register
class Concatenate(Layer):
    """Concatenates a list of inputs along `axis` (default the last)."""

    axis: int = static()
    has_weights = False

    def __init__(self, axis: int = -1, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.axis = int(axis)

    def __call__(self, inputs):
        inputs = _check_list(self, inputs)
        shapes = _shapes(inputs)
        rank = len(shapes[0])
        error = ValueError(
            f"{describe(self)} expects inputs with matching shapes except on the concatenation "
            f"axis {self.axis}. Received: shapes={shapes}"
        )
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            raise error
        axis = self.axis % rank
        for s in shapes[1:]:
            if any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis):
                raise error
        return jnp.concatenate(inputs, axis=axis)

    def compute_mask(self, inputs, mask=None):
        return _concatenated_mask(inputs, mask, self.axis)
