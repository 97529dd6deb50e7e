"""More merging layers: Subtract, Multiply, Average, Maximum, Minimum and Dot.

Each takes a list of tensors. The elementwise merges follow Keras: inputs of lower rank get
axes inserted after the batch axis, sizes broadcast where one of them is 1, and batch sizes
must agree. Their output mask follows Keras 3: the OR of the masks, none if any input is unmasked.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import register_serializable
from ..core.shapes import TensorSpec
from .merging import _merged_mask

_register = register_serializable(package="fkeras")


def _inputs(layer, inputs, count: int | None) -> list:
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise ValueError(
            f"{describe(layer)} expects a list of input tensors. Received: inputs={inputs!r}"
        )
    if count is not None and len(inputs) != count:
        raise ValueError(
            f"{describe(layer)} expects exactly {count} inputs. Received: {len(inputs)} inputs "
            f"with shapes {[tuple(getattr(x, 'shape', ())) for x in inputs]}"
        )
    return list(inputs)


def _merged_shape(layer, shapes: list[tuple]) -> tuple:
    """Keras' elementwise output shape: batch sizes agree; the other axes, aligned from the
    right, agree or are 1 (`None`: unknown)."""
    error = ValueError(
        f"{describe(layer)} expects inputs of the same shape (or shapes that broadcast, sizes "
        f"of 1 stretching) and the same batch size. Received: shapes={shapes}"
    )
    if any(len(s) < 1 for s in shapes):
        raise error
    batches = {s[0] for s in shapes} - {None}
    if len(batches) > 1:
        raise error
    out: list = []
    for shape in shapes:
        tail = list(shape[1:])
        if len(tail) > len(out):
            out, tail = tail, out
        offset = len(out) - len(tail)
        for i, d in enumerate(tail):
            o = out[offset + i]
            if o is None or d is None:
                out[offset + i] = None
            elif o == 1:
                out[offset + i] = d
            elif d != 1 and d != o:
                raise error
    return (batches.pop() if batches else None, *out)


def _filled(shape: tuple, batch: int | None) -> tuple:
    """`shape` made concrete for `jax.eval_shape`: unknown sizes become 1 (which broadcasts
    with anything), an unknown batch the known one."""
    first = shape[0] if shape[0] is not None else (batch or 2)
    return (first,) + tuple(1 if d is None else d for d in shape[1:])


class _ElementwiseMerge(Layer):
    """Checks and aligns a list of inputs, then merges them elementwise."""

    has_weights = False
    supports_masking = True
    _count: ClassVar[int | None] = None

    def _align(self, inputs) -> list:
        inputs = _inputs(self, inputs, self._count)
        _merged_shape(self, [tuple(x.shape) for x in inputs])
        rank = max(x.ndim for x in inputs)
        return [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in inputs]

    def compute_output_spec(self, input_specs):
        specs = _inputs(self, input_specs, self._count)
        if not all(isinstance(s, TensorSpec) for s in specs):
            raise ValueError(
                f"{describe(self)} expects a list of tensors. Received: {input_specs!r}"
            )
        out = _merged_shape(self, [s.shape for s in specs])
        fake = [jax.ShapeDtypeStruct(_filled(s.shape, out[0]), s.dtype) for s in specs]
        dtype = jax.eval_shape(lambda xs: self._merge(self._align(xs), None), fake).dtype
        return TensorSpec(out, dtype)

    def __call__(self, inputs, *, mask=None) -> Array:
        aligned = self._align(inputs)
        same_rank = all(x.ndim == aligned[0].ndim for x in inputs)
        masks = None
        if mask is not None and same_rank and any(m is not None for m in mask):
            masks = [None if m is None else _expand_mask(m, x) for m, x in zip(mask, aligned)]
        return self._merge(aligned, masks)

    def compute_mask(self, inputs, mask=None):
        return _merged_mask(inputs, mask)

    def _merge(self, inputs: list, masks: list | None) -> Array:
        raise NotImplementedError


def _expand_mask(mask, x):
    mask = jnp.asarray(mask, bool)
    if mask.ndim < x.ndim:
        mask = mask[..., None]
    return jnp.broadcast_to(mask, x.shape)


@_register
class Subtract(_ElementwiseMerge):
    """Subtracts the second input from the first: `inputs[0] - inputs[1]` (Keras' `Subtract`).

    **Input:** a list of exactly two tensors of the same (or broadcastable) shape.
    **Output:** their difference.

    ```python
    y = fk.layers.Subtract()([jnp.ones((8, 16)), jnp.ones((8, 16))])  # zeros (8, 16)
    ```
    """

    _count = 2

    def _merge(self, inputs, masks):
        return inputs[0] - inputs[1]


@_register
class Average(_ElementwiseMerge):
    """The elementwise mean of a list of tensors (Keras' `Average`).

    **Input:** a list of tensors of the same (or broadcastable) shape. **Output:** their mean.

    ```python
    y = fk.layers.Average()([jnp.ones((8, 16)), jnp.zeros((8, 16))])  # 0.5, (8, 16)
    ```
    """

    def _merge(self, inputs, masks):
        return functools.reduce(jnp.add, inputs) / len(inputs)


@_register
class Multiply(_ElementwiseMerge):
    """The elementwise product of a list of tensors (Keras' `Multiply`).

    **Input:** a list of tensors of the same (or broadcastable) shape. With masks (Keras'
    rule), masked entries count as 1, and entries masked in every input give 0.
    **Output:** their product.

    ```python
    y = fk.layers.Multiply()([jnp.full((8, 16), 2.0), jnp.full((8, 16), 3.0)])  # 6.0
    ```
    """

    def _merge(self, inputs, masks):
        if masks is None:
            return functools.reduce(jnp.multiply, inputs)
        output, any_valid = None, None
        for x, m in zip(inputs, masks):
            if m is not None:
                x = jnp.where(m, x, jnp.ones((), x.dtype))
                any_valid = m if any_valid is None else any_valid | m
            output = x if output is None else output * x
        if all(m is not None for m in masks):
            output = jnp.where(any_valid, output, jnp.zeros((), output.dtype))
        return output


def _masked_extremum(op, inputs: list, masks: list | None):
    """Keras' `_apply_merge_op_and_or_mask`: masked entries never win."""
    if masks is None:
        return functools.reduce(op, inputs)
    output, output_mask = inputs[0], masks[0]
    for x, m in zip(inputs[1:], masks[1:]):
        if m is not None:
            x = jnp.where(m, x, output)
        if output_mask is not None:
            output = jnp.where(output_mask, output, x)
        output_mask = output_mask | m if (m is not None and output_mask is not None) else None
        output = op(output, x)
    return output


@_register
class Maximum(_ElementwiseMerge):
    """The elementwise maximum of a list of tensors (Keras' `Maximum`).

    **Input:** a list of tensors of the same (or broadcastable) shape; masked entries (Keras'
    rule) never win. **Output:** their maximum.

    ```python
    y = fk.layers.Maximum()([jnp.ones((8, 16)), jnp.zeros((8, 16))])  # ones
    ```
    """

    def _merge(self, inputs, masks):
        return _masked_extremum(jnp.maximum, inputs, masks)


@_register
class Minimum(_ElementwiseMerge):
    """The elementwise minimum of a list of tensors (Keras' `Minimum`).

    **Input:** a list of tensors of the same (or broadcastable) shape; masked entries (Keras'
    rule) never win. **Output:** their minimum.

    ```python
    y = fk.layers.Minimum()([jnp.ones((8, 16)), jnp.zeros((8, 16))])  # zeros
    ```
    """

    def _merge(self, inputs, masks):
        return _masked_extremum(jnp.minimum, inputs, masks)


def _l2_normalize(x, axis: int, epsilon: float = 1e-7):
    # Keras' ops.normalize for order 2: x * min(rsqrt(sum(x**2)), 1 / epsilon).
    inv = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axis, keepdims=True))
    return x * jnp.minimum(inv, 1.0 / epsilon)


@_register
class Dot(Layer):
    """Per-example dot product of two tensors along `axes` (Keras' `Dot`, `batch_dot`).

    **Arguments:**

    - `axes`: an int (the same axis of both inputs) or `(axis_of_first, axis_of_second)`;
      negative values count from the end; the batch axis 0 cannot be used.
    - `normalize`: L2-normalize both inputs along their `axes` first, so that the output is
      the cosine similarity.

    **Input:** a list of two tensors `x` `(batch, ...)` and `y` `(batch, ...)` whose `axes`
    have the same size. **Output:** `x`'s other axes followed by `y`'s other non-batch axes,
    e.g. `(batch, 3, 5)` and `(batch, 10, 3)` with `axes=(1, 2)` give `(batch, 5, 10)`;
    an output with only the batch axis becomes `(batch, 1)`. The output carries no mask.

    ```python
    y = fk.layers.Dot(axes=1)([jnp.ones((8, 16)), jnp.ones((8, 16))])  # 16.0, (8, 1)
    ```
    """

    axes: Any = static()
    normalize: bool = static()
    has_weights = False

    def __init__(self, axes, normalize=False, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if isinstance(axes, (list, tuple)):
            axes = tuple(axes)
        valid = (isinstance(axes, int) and not isinstance(axes, bool)) or (
            isinstance(axes, tuple)
            and len(axes) == 2
            and all(isinstance(a, int) and not isinstance(a, bool) for a in axes)
        )
        if not valid or 0 in (axes if isinstance(axes, tuple) else (axes,)):
            raise ValueError(
                f"{describe(self)} expects `axes` as an int or a pair of ints, not the batch "
                f"axis 0. Received: axes={axes!r}"
            )
        self.axes = axes
        self.normalize = bool(normalize)

    def __call__(self, inputs) -> Array:
        x, y = _inputs(self, inputs, 2)
        shapes = [tuple(x.shape), tuple(y.shape)]
        pair = self.axes if isinstance(self.axes, tuple) else (self.axes, self.axes)
        if x.ndim < 2 or y.ndim < 2 or not all(-a.ndim < p < a.ndim for a, p in zip((x, y), pair)):
            raise ValueError(
                f"{describe(self)} expects two inputs of rank >= 2 with non-batch axes={self.axes}."
                f" Received: shapes={shapes}"
            )
        ax, ay = pair[0] % x.ndim, pair[1] % y.ndim
        if x.shape[0] != y.shape[0] or x.shape[ax] != y.shape[ay]:
            raise ValueError(
                f"{describe(self)} expects the same batch size and equal sizes on axes "
                f"({ax}, {ay}). Received: shapes={shapes}"
            )
        if self.normalize:
            x, y = _l2_normalize(x, ax), _l2_normalize(y, ay)
        out = jax.lax.dot_general(x, y, (((ax,), (ay,)), ((0,), (0,))))
        return out.reshape(out.shape[0], 1) if out.ndim == 1 else out

    def compute_mask(self, inputs, mask=None):
        return None
