"""Cropping and zero padding of the spatial axes (channels last)."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from ...core.shapes import TensorSpec
from ..pooling.base_pooling import (
    LAYOUTS,
    check_data_format,
    check_rank,
    single_spec,
    standardize_tuple,
)

_register = register_serializable(package="fkeras")


def _pairs(layer, value, n: int, arg: str) -> tuple:
    """Keras' `((before, after), ...)` for `n` axes from an int, `n` ints or `n` pairs."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (standardize_tuple(layer, value, 2, arg, allow_zero=True),) * n
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise ValueError(
            f"{describe(layer)} expects `{arg}` as an int, a tuple of {n} ints, or a tuple of "
            f"{n} (before, after) pairs. Received: {arg}={value!r}"
        )
    return tuple(standardize_tuple(layer, v, 2, arg, allow_zero=True) for v in value)


class _Cropping(Layer):
    cropping: tuple = static()
    has_weights = False
    _rank = 0

    def _crops(self) -> tuple:
        return (self.cropping,) if self._rank == 1 else self.cropping

    def _output_shape(self, shape) -> tuple:
        check_rank(self, shape, self._rank + 2, LAYOUTS[self._rank - 1])
        out = []
        for n, (before, after) in zip(shape[1:-1], self._crops()):
            if n is not None and before + after >= n:
                raise ValueError(
                    f"{describe(self)} cannot crop {before + after} of {n} positions: cropping "
                    f"must leave at least one. Received: input_shape={tuple(shape)}, "
                    f"cropping={self.cropping}"
                )
            out.append(None if n is None else n - before - after)
        return (shape[0], *out, shape[-1])

    def compute_output_spec(self, input_specs):
        spec = single_spec(self, input_specs)
        return TensorSpec(self._output_shape(spec.shape), spec.dtype)

    def __call__(self, x: Array) -> Array:
        self._output_shape(x.shape)
        index = tuple(slice(b, n - a) for n, (b, a) in zip(x.shape[1:-1], self._crops()))
        return x[(slice(None), *index, slice(None))]


@_register
class Cropping1D(_Cropping):
    """Removes steps at the start and end of each sequence (Keras' `Cropping1D`).

    **Arguments:** `cropping`: an int or `(start, end)`, the steps removed (default `(1, 1)`).

    **Input:** `(batch, steps, features)`. **Output:** `(batch, steps - start - end, features)`.

    ```python
    y = fk.layers.Cropping1D((1, 2))(jnp.ones((8, 10, 4)))  # (8, 7, 4)
    ```
    """

    _rank = 1

    def __init__(self, cropping=(1, 1), *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.cropping = standardize_tuple(self, cropping, 2, "cropping", allow_zero=True)


@_register
class Cropping2D(_Cropping):
    """Removes rows and columns at the borders of each image (Keras' `Cropping2D`).

    **Arguments:**

    - `cropping`: an int (all borders), `(rows, cols)` (symmetric) or
      `((top, bottom), (left, right))`; default no cropping.
    - `data_format`: only `"channels_last"` (or `None`).

    **Input:** `(batch, rows, cols, channels)`.
    **Output:** `(batch, rows - top - bottom, cols - left - right, channels)`.

    ```python
    y = fk.layers.Cropping2D(((2, 2), (4, 4)))(jnp.ones((8, 28, 28, 3)))  # (8, 24, 20, 3)
    ```
    """

    data_format: str = static()
    _rank = 2

    def __init__(
        self,
        cropping=((0, 0), (0, 0)),
        data_format=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.cropping = _pairs(self, cropping, 2, "cropping")
        self.data_format = check_data_format(self, data_format)


@_register
class Cropping3D(_Cropping):
    """Removes borders of each volume along its three spatial axes (Keras' `Cropping3D`).

    **Arguments:**

    - `cropping`: an int, three ints (symmetric) or three `(before, after)` pairs; default
      `((1, 1), (1, 1), (1, 1))`.
    - `data_format`: only `"channels_last"` (or `None`).

    **Input:** `(batch, dim1, dim2, dim3, channels)`. **Output:** each spatial size less its
    two croppings.

    ```python
    y = fk.layers.Cropping3D(1)(jnp.ones((2, 6, 6, 6, 1)))  # (2, 4, 4, 4, 1)
    ```
    """

    data_format: str = static()
    _rank = 3

    def __init__(
        self,
        cropping=((1, 1), (1, 1), (1, 1)),
        data_format=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.cropping = _pairs(self, cropping, 3, "cropping")
        self.data_format = check_data_format(self, data_format)


class _ZeroPadding(Layer):
    padding: tuple = static()
    data_format: str = static()
    has_weights = False
    _rank = 0

    def __call__(self, x: Array) -> Array:
        check_rank(self, x.shape, self._rank + 2, LAYOUTS[self._rank - 1])
        pads = (self.padding,) if self._rank == 1 else self.padding
        return jnp.pad(x, ((0, 0), *pads, (0, 0)))


@_register
class ZeroPadding1D(_ZeroPadding):
    """Adds zero steps at the start and end of each sequence (Keras' `ZeroPadding1D`).

    **Arguments:** `padding`: an int or `(start, end)` (default 1);
    `data_format`: only `"channels_last"` (or `None`).

    **Input:** `(batch, steps, features)`. **Output:** `(batch, start + steps + end, features)`.

    ```python
    y = fk.layers.ZeroPadding1D(2)(jnp.ones((8, 10, 4)))  # (8, 14, 4)
    ```
    """

    _rank = 1

    def __init__(self, padding=1, data_format=None, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.padding = standardize_tuple(self, padding, 2, "padding", allow_zero=True)
        self.data_format = check_data_format(self, data_format)


@_register
class ZeroPadding2D(_ZeroPadding):
    """Adds rows and columns of zeros around each image (Keras' `ZeroPadding2D`).

    **Arguments:**

    - `padding`: an int (all borders), `(rows, cols)` (symmetric) or
      `((top, bottom), (left, right))`; default `(1, 1)`.
    - `data_format`: only `"channels_last"` (or `None`).

    **Input:** `(batch, rows, cols, channels)`.
    **Output:** `(batch, top + rows + bottom, left + cols + right, channels)`.

    ```python
    y = fk.layers.ZeroPadding2D()(jnp.ones((8, 28, 28, 3)))  # (8, 30, 30, 3)
    ```
    """

    _rank = 2

    def __init__(self, padding=(1, 1), data_format=None, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.padding = _pairs(self, padding, 2, "padding")
        self.data_format = check_data_format(self, data_format)


@_register
class ZeroPadding3D(_ZeroPadding):
    """Adds zeros around each volume along its three spatial axes (Keras' `ZeroPadding3D`).

    **Arguments:** `padding`: an int, three ints (symmetric) or three `(before, after)`
    pairs (default `((1, 1), (1, 1), (1, 1))`); `data_format`: only `"channels_last"`.

    **Input:** `(batch, dim1, dim2, dim3, channels)`. **Output:** each spatial size plus its
    two paddings.

    ```python
    y = fk.layers.ZeroPadding3D(1)(jnp.ones((2, 4, 4, 4, 1)))  # (2, 6, 6, 6, 1)
    ```
    """

    _rank = 3

    def __init__(
        self,
        padding=((1, 1), (1, 1), (1, 1)),
        data_format=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.padding = _pairs(self, padding, 3, "padding")
        self.data_format = check_data_format(self, data_format)
