"""Shapes with an unknown batch (`None`) and shape inference through `jax.eval_shape`."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Shape = tuple  # of int | None; the first entry is the batch dimension


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """Shape (with `None` for unknown sizes) and dtype of a tensor; a pytree leaf."""

    shape: Shape
    dtype: Any = jnp.float32

    def __post_init__(self):
        object.__setattr__(self, "shape", normalize_shape(self.shape))
        object.__setattr__(self, "dtype", jnp.dtype(self.dtype))


def is_shape(x: Any) -> bool:
    """A single shape (a tuple/list of ints and Nones), as opposed to a list of shapes."""
    return isinstance(x, (tuple, list)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in x
    )


def normalize_shape(shape: Any) -> Shape:
    if not is_shape(shape):
        raise TypeError(f"A shape must be a tuple of ints or None. Received: shape={shape!r}")
    dims = tuple(None if d is None else int(d) for d in shape)
    if any(d is not None and d < 0 for d in dims):
        raise ValueError(f"Shape dimensions must be >= 0 or None. Received: shape={shape!r}")
    return dims


def to_specs(shapes: Any, dtype=jnp.float32) -> Any:
    """A shape or a (nested) list of shapes -> TensorSpecs; TensorSpecs pass through."""
    if isinstance(shapes, TensorSpec):
        return shapes
    if isinstance(shapes, jax.ShapeDtypeStruct):
        return TensorSpec(shapes.shape, shapes.dtype)
    if is_shape(shapes):
        return TensorSpec(shapes, dtype)
    if isinstance(shapes, dict):
        return {k: to_specs(v, dtype) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)):
        return [to_specs(s, dtype) for s in shapes]
    raise TypeError(f"Expected a shape or a list of shapes. Received: {shapes!r}")


def spec_shapes(specs: Any) -> Any:
    """TensorSpecs -> the plain shapes layers see in `create_weights`."""
    return jax.tree_util.tree_map(lambda s: s.shape, specs, is_leaf=_is_spec)


def _is_spec(x) -> bool:
    return isinstance(x, TensorSpec)


def _concrete(specs: Any, fill: int) -> Any:
    return jax.tree_util.tree_map(
        lambda s: jax.ShapeDtypeStruct(tuple(fill if d is None else d for d in s.shape), s.dtype),
        specs,
        is_leaf=_is_spec,
    )


def infer_output_spec(fn, input_specs: Any) -> Any:
    """Output specs of `fn(inputs)` without running it.

    Unknown dimensions are filled with two different sizes; an output dimension that differs
    between the two traces depends on an unknown one and is reported as `None`. Only
    `jax.eval_shape` runs, so nothing is computed or allocated.
    """
    outs = [jax.eval_shape(fn, _concrete(input_specs, fill)) for fill in (2, 3)]

    def merge(a, b):
        shape = tuple(da if da == db else None for da, db in zip(a.shape, b.shape))
        return TensorSpec(shape, a.dtype)

    return jax.tree_util.tree_map(merge, outs[0], outs[1])


def shape_matches(expected: Shape, received: Shape) -> bool:
    """`received` fits `expected`: same rank, equal wherever `expected` is known."""
    return len(expected) == len(received) and all(
        e is None or e == r for e, r in zip(expected, received)
    )
