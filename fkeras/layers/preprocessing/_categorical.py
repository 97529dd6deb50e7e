"""Shared pieces of the categorical preprocessing layers (CategoryEncoding, Discretization,
Hashing, IntegerLookup): argument checks and Keras' `encode_categorical_inputs`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ...core.errors import describe

ENCODE_MODES = ("one_hot", "multi_hot", "count")


def check_sparse(layer, sparse) -> bool:
    """fkeras has no sparse tensors: `sparse=True` is refused (JAX arrays are dense)."""
    if sparse:
        raise ValueError(
            f"{describe(layer)} does not support sparse outputs: JAX arrays are dense, so "
            f"fkeras always returns dense encodings. Received: sparse={sparse!r}"
        )
    return False


def check_int(layer, arg: str, value, minimum: int, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or value < minimum
    ):
        raise ValueError(
            f"{describe(layer)} expects `{arg}` to be an integer >= {minimum}. "
            f"Received: {arg}={value!r}"
        )
    return int(value)


def is_concrete(x) -> bool:
    """Whether `x` holds values (not a tracer inside jit/grad/vmap): eager checks only."""
    return not isinstance(x, jax.core.Tracer)


def encode_shape(input_shape: tuple, output_mode: str, depth: int) -> tuple:
    """The output shape of `encode` for `input_shape` (Keras' rules for rank <= 2)."""
    shape = tuple(input_shape)
    if output_mode == "int":
        return shape
    if len(shape) == 0:
        return (depth,)
    if output_mode == "one_hot":
        if len(shape) > 1 and shape[-1] == 1:
            return (*shape[:-1], depth)
        return (*shape, depth)
    return (*shape[:-1], depth)


def encode(indices, output_mode: str, depth: int, dtype):
    """Keras' `encode_categorical_inputs` on dense integer `indices` in `[0, depth)`.

    Indices outside the range (negative or `>= depth`) encode as all zeros, as in Keras' JAX
    backend. `"one_hot"` squeezes a trailing axis of size 1; `"multi_hot"` (presence) and
    `"count"` reduce over the last input axis (Keras reduces axis 1, the same axis for the
    rank <= 2 inputs these layers are documented for).
    """
    if output_mode == "int":
        return indices
    if indices.ndim == 0:
        indices = indices[None]
    if output_mode == "one_hot":
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices = indices[..., 0]
        return jax.nn.one_hot(indices, depth, dtype=dtype)
    one_hot = jax.nn.one_hot(indices, depth, dtype=dtype)
    if output_mode == "multi_hot":
        return jnp.max(one_hot, axis=-2)
    return jnp.sum(one_hot, axis=-2)
