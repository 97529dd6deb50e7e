"""Which leaves are trainable parameters, which are state, and Keras' weight order.

One walk along each leaf's key path decides both: a leaf is state when it sits in a
`state_field()` or under a layer with `trainable=False`, or is not a float array; it is a
parameter otherwise. Foreign modules (Equinox, any pytree) have all their float arrays as
parameters.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.tree_util import DictKey, GetAttrKey, SequenceKey

Kind = Literal["param", "state", "static"]


@functools.cache
def field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


@functools.cache
def _field_info(cls: type) -> dict[str, tuple[int, bool]]:
    return {
        f.name: (i, bool(f.metadata.get("fk_state"))) for i, f in enumerate(dataclasses.fields(cls))
    }


def _is_array(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray, np.generic))


def _is_container(x: Any) -> bool:
    return isinstance(x, (eqx.Module, list, tuple, dict))


def _walk(root: Any, path: tuple) -> tuple[bool, bool, tuple]:
    """(frozen, in_state_field, keras_order_key) for the leaf at `path`."""
    from .layer import Layer  # the walk is about Layers; import late to avoid a cycle

    obj, frozen, in_state, order = root, False, False, []
    for k in path:
        if isinstance(obj, Layer) and not obj.trainable:
            frozen = True
        if isinstance(k, GetAttrKey):
            child = getattr(obj, k.name)
            info = _field_info(type(obj)).get(k.name) if dataclasses.is_dataclass(obj) else None
            if info is None:
                order.append((0, 0))
            else:
                index, is_state = info
                in_state = in_state or is_state
                # Keras: a layer's own trainable weights, then its own non-trainable ones, then
                # those of its sub-layers, each in creation (= field) order.
                group = 2 if _is_container(child) else (1 if is_state else 0)
                order.append((group, index) if isinstance(obj, Layer) else (0, index))
        elif isinstance(k, SequenceKey):
            child = obj[k.idx]
            order.append((0, k.idx))
        elif isinstance(k, DictKey):
            child = obj[k.key]
            order.append((0, 0))  # a stable sort keeps JAX's (sorted) dict order
        else:  # a custom pytree node we cannot look into: keep what we know so far
            break
        obj = child
    return frozen, in_state, tuple(order)


def leaf_kind(root: Any, path: tuple, leaf: Any) -> Kind:
    if not _is_array(leaf):
        return "static"
    frozen, in_state, _ = _walk(root, path)
    if frozen or in_state or not jnp.issubdtype(jnp.result_type(leaf), jnp.inexact):
        return "state"
    return "param"


class Partitioned(NamedTuple):
    params: Any
    state: Any
    static: Any


def partition(model: Any) -> Partitioned:
    """Split a model into `(params, state, static)`, three trees of the model's structure with
    `None` where a leaf belongs elsewhere (as `equinox.partition`). `params` are what gradients
    and optimizers see; `state` holds moving statistics and frozen weights; `static` holds
    non-array leaves. `fk.combine(params, state, static)` joins them back.
    """
    flat, treedef = jax.tree_util.tree_flatten_with_path(model)
    kinds = [leaf_kind(model, path, leaf) for path, leaf in flat]
    leaves = [leaf for _, leaf in flat]

    def pick(kind):
        return jax.tree_util.tree_unflatten(
            treedef, [leaf if k == kind else None for leaf, k in zip(leaves, kinds)]
        )

    return Partitioned(pick("param"), pick("state"), pick("static"))


def combine(*trees: Any) -> Any:
    """Join trees from `partition` back into one model."""
    return eqx.combine(*trees)


def trainable_mask(model: Any) -> Any:
    """A tree of bools, True at trainable parameters (for `optax.masked` or `eqx.partition`)."""
    flat, treedef = jax.tree_util.tree_flatten_with_path(model)
    return jax.tree_util.tree_unflatten(
        treedef, [leaf_kind(model, path, leaf) == "param" for path, leaf in flat]
    )


def _keras_order(model: Any, kind: Kind | None = None):
    flat, treedef = jax.tree_util.tree_flatten_with_path(model)
    indexed = []
    for i, (path, leaf) in enumerate(flat):
        if not _is_array(leaf):
            continue
        if kind is not None and leaf_kind(model, path, leaf) != kind:
            continue
        indexed.append((_walk(model, path)[2], i))
    indexed.sort(key=lambda t: t[0])  # stable
    return [i for _, i in indexed], flat, treedef


def keras_ordered_weights(model: Any, kind: Kind | None = None) -> list:
    order, flat, _ = _keras_order(model, kind)
    return [flat[i][1] for i in order]


def set_keras_ordered_weights(model: Any, weights: Any, *, owner: str) -> Any:
    """A copy of `model` with `weights` in Keras order; checked whole before anything changes."""
    order, flat, treedef = _keras_order(model)
    weights = list(weights)
    if len(weights) != len(order):
        raise ValueError(
            f"{owner}.set_weights expects a list of {len(order)} arrays (Keras' get_weights() "
            f"order). Received: a list of {len(weights)} arrays"
        )
    leaves = [leaf for _, leaf in flat]
    for position, (i, new) in enumerate(zip(order, weights)):
        expected = tuple(leaves[i].shape)
        received = tuple(np.shape(new))
        if received != expected:
            raise ValueError(
                f"{owner}.set_weights: weight {position} "
                f"({jax.tree_util.keystr(flat[i][0])}) expects shape {expected}. "
                f"Received: shape={received}"
            )
    new_leaves = list(leaves)
    for i, new in zip(order, weights):
        new_leaves[i] = jnp.asarray(new, dtype=leaves[i].dtype)
    return jax.tree_util.tree_unflatten(treedef, new_leaves)
