"""Casting at a layer's call boundary, as Keras 3 does for dtype policies.

Floating inputs are cast to the layer's compute dtype; under a mixed policy the layer's own
floating weights are cast to it for the call too (Keras' variable autocasting), so gradients
still reach the float32 weights. Sub-layers are left alone: each casts its own weights.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def _is_float(x) -> bool:
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return False
    try:
        return bool(jnp.issubdtype(dtype, jnp.floating))
    except TypeError:  # PRNG key dtypes and other extended dtypes
        return False


def cast_floats(tree: Any, dtype) -> Any:
    """`tree` with every floating array cast to `dtype` (other leaves unchanged)."""

    def cast(x):
        if not _is_float(x) or x.dtype == dtype:
            return x
        if isinstance(x, np.ndarray):
            return jnp.asarray(x, dtype)
        return x.astype(dtype)

    return jax.tree_util.tree_map(cast, tree)


@functools.cache
def _dynamic_fields(cls: type) -> tuple[str, ...]:
    """The fields that may hold arrays (static fields hold hyperparameters)."""
    return tuple(f.name for f in dataclasses.fields(cls) if not f.metadata.get("static"))


def _is_layer(x) -> bool:
    from .layer import Layer

    return isinstance(x, Layer)


def cast_own_weights(layer, dtype):
    """A copy of `layer` whose own floating arrays are in `dtype` (sub-layers unchanged)."""
    changes = {}
    for name in _dynamic_fields(type(layer)):
        value = getattr(layer, name)
        if value is None or _is_layer(value):
            continue
        new = jax.tree_util.tree_map(
            lambda v: v if _is_layer(v) else cast_floats(v, dtype), value, is_leaf=_is_layer
        )
        if new is not value:
            changes[name] = new
    return layer._replace(**changes) if changes else layer


def restore_own_weights(updated, original):
    """`updated` (a layer returned by a call on autocast weights) with its own floating arrays
    back in the dtypes `original` holds them in, so layer state keeps its variable dtype."""
    if type(updated) is not type(original):
        return updated
    changes = {}
    for name in _dynamic_fields(type(original)):
        before, after = getattr(original, name), getattr(updated, name)
        if before is None or after is None or _is_layer(before):
            continue
        before_leaves, treedef = jax.tree_util.tree_flatten(before, is_leaf=_is_layer)
        after_leaves, after_def = jax.tree_util.tree_flatten(after, is_leaf=_is_layer)
        if treedef != after_def:
            continue
        leaves = [
            a.astype(b.dtype) if _is_float(b) and _is_float(a) and a.dtype != b.dtype else a
            for a, b in zip(after_leaves, before_leaves)
        ]
        changes[name] = jax.tree_util.tree_unflatten(treedef, leaves)
    return updated._replace(**changes) if changes else updated


def upcast_16bit(x):
    """`x` in float32 when it is float16 or bfloat16, else unchanged: the numerically sensitive
    part of a layer (normalization statistics, softmax) runs in float32 under mixed precision,
    as in Keras; the caller casts its result back to `x.dtype`."""
    if getattr(x, "dtype", None) in (jnp.float16, jnp.bfloat16):
        return x.astype(jnp.float32)
    return x
