"""How `RNN` and `StackedRNNCells` drive any cell: its zero states, its output size, and the
per-timestep function a `lax.scan` runs. Built-in cells provide `_sequence_step` (dropout
masks drawn once per sequence); any other fkeras layer with `state_size` is simply called as
`cell(x_t, states, training=..., key=...)` (the arguments its `__call__` takes)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ...core.errors import describe
from ...core.layer import Layer


def check_cell(owner: str, cell, arg: str = "cell") -> None:
    """Refuse what cannot serve as a cell: not an fkeras layer, or no `state_size`."""
    if not isinstance(cell, Layer):
        raise ValueError(
            f"{owner} expects `{arg}` to be an fkeras layer (a cell such as "
            "`fk.layers.LSTMCell(32)`, or your own Layer with `state_size` and "
            f"`__call__(inputs, states) -> (output, new_states)`). Received: {arg}={cell!r}"
        )
    state_size = getattr(cell, "state_size", None)
    if not _valid_state_size(state_size):
        raise ValueError(
            f"{owner}: the cell {describe(cell)} needs a `state_size` attribute (an int, or a "
            f"list of ints, one per state). Received: state_size={state_size!r}"
        )


def _valid_state_size(size) -> bool:
    if isinstance(size, bool):
        return False
    if isinstance(size, int):
        return size > 0
    if isinstance(size, (list, tuple)):
        return len(size) > 0 and all(_valid_state_size(s) for s in size)
    return False


def output_size(cell) -> int:
    """Keras: the cell's `output_size`, else its (first) state size."""
    size = getattr(cell, "output_size", None)
    if size is not None:
        return size
    state_size = cell.state_size
    return state_size[0] if isinstance(state_size, (list, tuple)) else state_size


def initial_states(cell, batch: int) -> list:
    """The cell's zero states as a list (Keras' `RNN.get_initial_state`)."""
    get = getattr(cell, "get_initial_state", None)
    if get is not None:
        states = get(batch)
        return list(states) if isinstance(states, (list, tuple)) else [states]
    sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
    return [jnp.zeros((batch, d), cell.compute_dtype) for d in sizes]


def cell_step(cell, input_shape: tuple, dtype, training: bool, key):
    """`step(x_t, states) -> (output, new_states)` for one sequence of `input_shape` steps."""
    make = getattr(cell, "_sequence_step", None)
    if make is not None:
        return make(tuple(input_shape), dtype, training, key)
    kwargs = {}
    if "training" in cell._call_kwargs:
        kwargs["training"] = training
    if "key" in cell._call_kwargs:
        kwargs["key"] = key

    def step(x_t, states):
        return cell(x_t, states, **kwargs)

    return step


def as_structure(owner: str, states, like):
    """`states` (a list, or one array for a single state) in the pytree structure of `like`,
    checked leaf by leaf against `like`'s shapes; `owner` starts the error message."""
    if not isinstance(states, (list, tuple)):
        states = [states]
    leaves = jax.tree_util.tree_leaves(list(states))
    ref_leaves, treedef = jax.tree_util.tree_flatten(like)
    shapes = [tuple(jnp.shape(s)) for s in leaves]
    expected = [tuple(s.shape) for s in ref_leaves]
    if shapes != expected:
        raise ValueError(f"{owner}: expected {expected}. Received: shapes {shapes}")
    return jax.tree_util.tree_unflatten(
        treedef, [jnp.asarray(s, r.dtype) for s, r in zip(leaves, ref_leaves)]
    )
