"""Adaptive max and average pooling: a fixed output size whatever the input's spatial size.

Output bin `i` of an axis of length `L` pooled to `out` bins covers the input positions
`floor(i * L / out)` to `ceil((i + 1) * L / out)` (exclusive), as in PyTorch and Keras 3. The
bins are computed in Python from the static input shape, so the computation is a fixed gather
and reduction that `jax.jit`, `jax.grad` and `jax.vmap` handle like any other.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from ...core.shapes import TensorSpec
from .base_pooling import check_rank, single_spec, standardize_tuple

_register = register_serializable(package="fkeras")

_SPATIAL = ("steps", "rows, cols", "dim1, dim2, dim3")


@functools.cache
def adaptive_bins(length: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Gather indices `(out, k)` and averaging weights `(out, k)` for one axis.

    `k` is the widest bin; a narrower bin repeats its first index in the extra slots (harmless
    for a max) and gives those slots weight 0 (so they do not count in a mean).
    """
    # Integer arithmetic: floor(i*L/out) and ceil((i+1)*L/out) without float rounding.
    starts = [(i * length) // out for i in range(out)]
    ends = [-((-(i + 1) * length) // out) for i in range(out)]
    width = max(e - s for s, e in zip(starts, ends))
    index = np.empty((out, width), np.int32)
    weight = np.zeros((out, width), np.float64)
    for i, (s, e) in enumerate(zip(starts, ends)):
        index[i] = s
        index[i, : e - s] = np.arange(s, e)
        weight[i, : e - s] = 1.0 / (e - s)
    return index, weight


def adaptive_pool(x: Array, output_size: tuple[int, ...], mode: str) -> Array:
    """Adaptive `"max"` or `"average"` pooling of channels-last `x` over its spatial axes.

    **Arguments:** `x` of shape `(batch, *spatial, channels)`; `output_size`, one int per
    spatial axis; `mode`, `"max"` or `"average"`.

    **Returns:** an array of shape `(batch, *output_size, channels)`. Averages of integer
    inputs are float32.

    A box's max (mean) is the max (mean) over each axis in turn, so each spatial axis is
    reduced separately: gather its bins into a new axis, then reduce that axis.
    """
    if mode == "average" and not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.float32)
    for axis, out in enumerate(output_size, start=1):
        index, weight = adaptive_bins(int(x.shape[axis]), out)
        windows = jnp.take(x, index, axis=axis)  # the axis becomes (out, width)
        if mode == "max":
            x = jnp.max(windows, axis=axis + 1)
        else:
            w = weight.reshape(weight.shape + (1,) * (x.ndim - axis - 1)).astype(x.dtype)
            x = jnp.sum(windows * w, axis=axis + 1)
    return x


class _AdaptivePooling(Layer):
    """Shared argument checks, shapes and call of the six adaptive pooling layers."""

    output_size: tuple = static()
    data_format: str = static()
    has_weights = False
    _rank = 0
    _mode = "max"

    def __init__(
        self,
        output_size,
        data_format: str | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.output_size = standardize_tuple(self, output_size, self._rank, "output_size")
        if data_format is None:
            data_format = "channels_last"
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                f"{describe(self)} expects data_format 'channels_last' or 'channels_first'. "
                f"Received: data_format={data_format!r}"
            )
        self.data_format = data_format

    def _check(self, shape) -> None:
        spatial = _SPATIAL[self._rank - 1]
        layout = (
            f"(batch, {spatial}, channels)"
            if self.data_format == "channels_last"
            else f"(batch, channels, {spatial})"
        )
        check_rank(self, shape, self._rank + 2, layout)

    def compute_output_spec(self, input_specs):
        spec = single_spec(self, input_specs)
        shape = tuple(spec.shape)
        self._check(shape)
        if self.data_format == "channels_last":
            out = (shape[0], *self.output_size, shape[-1])
        else:
            out = (shape[0], shape[1], *self.output_size)
        dtype = spec.dtype
        if self._mode == "average" and not jnp.issubdtype(dtype, jnp.inexact):
            dtype = jnp.dtype(jnp.float32)
        return TensorSpec(out, dtype)

    def __call__(self, x: Array) -> Array:
        self._check(x.shape)
        spatial = x.shape[1:-1] if self.data_format == "channels_last" else x.shape[2:]
        if any(n < 1 for n in spatial):
            raise ValueError(
                f"{describe(self)} needs every spatial size to be at least 1. "
                f"Received: input_shape={tuple(x.shape)}"
            )
        if self.data_format == "channels_first":
            x = jnp.moveaxis(x, 1, -1)
        y = adaptive_pool(x, self.output_size, self._mode)
        if self.data_format == "channels_first":
            y = jnp.moveaxis(y, -1, 1)
        return y


@_register
class AdaptiveMaxPooling1D(_AdaptivePooling):
    """Max over `output_size` adaptive bins of the steps (Keras' `AdaptiveMaxPooling1D`).

    **Arguments:**

    - `output_size`: the output's spatial size: an int or a tuple of 1 int, each > 0.
    - `data_format`: `"channels_last"` (default; inputs `(batch, steps, channels)`) or
      `"channels_first"` (inputs `(batch, channels, steps)`).

    Bin `i` of an axis of length `L` covers positions `floor(i*L/out)` up to
    `ceil((i+1)*L/out)` (exclusive), as in Keras 3 and PyTorch; neighbouring bins may overlap.

    **Returns:** `(batch, *output_size, channels)`, or `(batch, channels, *output_size)` with
    `"channels_first"`.

    ```python
    y = fk.layers.AdaptiveMaxPooling1D(4)(jnp.ones((8, 10, 3)))  # (8, 4, 3)
    ```
    """

    _rank = 1
    _mode = "max"


@_register
class AdaptiveAveragePooling1D(_AdaptivePooling):
    """Mean over `output_size` adaptive bins of the steps (Keras' `AdaptiveAveragePooling1D`).

    **Arguments:**

    - `output_size`: the output's spatial size: an int or a tuple of 1 int, each > 0.
    - `data_format`: `"channels_last"` (default; inputs `(batch, steps, channels)`) or
      `"channels_first"` (inputs `(batch, channels, steps)`).

    Bin `i` of an axis of length `L` covers positions `floor(i*L/out)` up to
    `ceil((i+1)*L/out)` (exclusive), as in Keras 3 and PyTorch; neighbouring bins may overlap.

    **Returns:** `(batch, *output_size, channels)`, or `(batch, channels, *output_size)` with
    `"channels_first"`.

    ```python
    y = fk.layers.AdaptiveAveragePooling1D(4)(jnp.ones((8, 10, 3)))  # (8, 4, 3)
    ```
    """

    _rank = 1
    _mode = "average"


@_register
class AdaptiveMaxPooling2D(_AdaptivePooling):
    """Max over adaptive bins of rows and columns (Keras' `AdaptiveMaxPooling2D`).

    **Arguments:**

    - `output_size`: the output's spatial size: an int or a tuple of 2 ints, each > 0.
    - `data_format`: `"channels_last"` (default; inputs `(batch, rows, cols, channels)`) or
      `"channels_first"` (inputs `(batch, channels, rows, cols)`).

    Bin `i` of an axis of length `L` covers positions `floor(i*L/out)` up to
    `ceil((i+1)*L/out)` (exclusive), as in Keras 3 and PyTorch; neighbouring bins may overlap.

    **Returns:** `(batch, *output_size, channels)`, or `(batch, channels, *output_size)` with
    `"channels_first"`.

    ```python
    y = fk.layers.AdaptiveMaxPooling2D((3, 4))(jnp.ones((8, 7, 10, 3)))  # (8, 3, 4, 3)
    ```
    """

    _rank = 2
    _mode = "max"


@_register
class AdaptiveAveragePooling2D(_AdaptivePooling):
    """Mean over adaptive bins of rows and columns (Keras' `AdaptiveAveragePooling2D`).

    **Arguments:**

    - `output_size`: the output's spatial size: an int or a tuple of 2 ints, each > 0.
    - `data_format`: `"channels_last"` (default; inputs `(batch, rows, cols, channels)`) or
      `"channels_first"` (inputs `(batch, channels, rows, cols)`).

    Bin `i` of an axis of length `L` covers positions `floor(i*L/out)` up to
    `ceil((i+1)*L/out)` (exclusive), as in Keras 3 and PyTorch; neighbouring bins may overlap.

    **Returns:** `(batch, *output_size, channels)`, or `(batch, channels, *output_size)` with
    `"channels_first"`.

    ```python
    y = fk.layers.AdaptiveAveragePooling2D(2)(jnp.ones((8, 7, 7, 3)))  # (8, 2, 2, 3)
    ```
    """

    _rank = 2
    _mode = "average"


@_register
class AdaptiveMaxPooling3D(_AdaptivePooling):
    """Max over adaptive bins of three spatial axes (Keras' `AdaptiveMaxPooling3D`).

    **Arguments:**

    - `output_size`: the output's spatial size: an int or a tuple of 3 ints, each > 0.
    - `data_format`: `"channels_last"` (default; inputs `(batch, dim1, dim2, dim3, channels)`) or
      `"channels_first"` (inputs `(batch, channels, dim1, dim2, dim3)`).

    Bin `i` of an axis of length `L` covers positions `floor(i*L/out)` up to
    `ceil((i+1)*L/out)` (exclusive), as in Keras 3 and PyTorch; neighbouring bins may overlap.

    **Returns:** `(batch, *output_size, channels)`, or `(batch, channels, *output_size)` with
    `"channels_first"`.

    ```python
    y = fk.layers.AdaptiveMaxPooling3D(2)(jnp.ones((2, 5, 4, 3, 8)))  # (2, 2, 2, 2, 8)
    ```
    """

    _rank = 3
    _mode = "max"


@_register
class AdaptiveAveragePooling3D(_AdaptivePooling):
    """Mean over adaptive bins of three spatial axes (Keras' `AdaptiveAveragePooling3D`).

    **Arguments:**

    - `output_size`: the output's spatial size: an int or a tuple of 3 ints, each > 0.
    - `data_format`: `"channels_last"` (default; inputs `(batch, dim1, dim2, dim3, channels)`) or
      `"channels_first"` (inputs `(batch, channels, dim1, dim2, dim3)`).

    Bin `i` of an axis of length `L` covers positions `floor(i*L/out)` up to
    `ceil((i+1)*L/out)` (exclusive), as in Keras 3 and PyTorch; neighbouring bins may overlap.

    **Returns:** `(batch, *output_size, channels)`, or `(batch, channels, *output_size)` with
    `"channels_first"`.

    ```python
    y = fk.layers.AdaptiveAveragePooling3D(2)(jnp.ones((2, 5, 4, 3, 8)))  # (2, 2, 2, 2, 8)
    ```
    """

    _rank = 3
    _mode = "average"
