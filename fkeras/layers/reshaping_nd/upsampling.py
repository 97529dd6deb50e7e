"""Upsampling of the spatial axes (channels last): repeat, or resize with interpolation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from ..pooling.base_pooling import LAYOUTS, check_data_format, check_rank, standardize_tuple

_register = register_serializable(package="fkeras")


def _repeat(layer, x: Array, sizes: tuple) -> Array:
    check_rank(layer, x.shape, len(sizes) + 2, LAYOUTS[len(sizes) - 1])
    for axis, size in enumerate(sizes, start=1):
        x = jnp.repeat(x, size, axis=axis)
    return x


@_register
class UpSampling1D(Layer):
    """Repeats each step `size` times (Keras' `UpSampling1D`).

    **Arguments:** `size`: the repetition factor, a positive int (default 2).

    **Input:** `(batch, steps, features)`. **Output:** `(batch, steps * size, features)`.

    ```python
    y = fk.layers.UpSampling1D(2)(jnp.ones((8, 10, 4)))  # (8, 20, 4)
    ```
    """

    size: int = static()
    has_weights = False

    def __init__(self, size=2, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(
                f"{describe(self)} expects a positive int `size`. Received: size={size!r}"
            )
        self.size = size

    def __call__(self, x: Array) -> Array:
        return _repeat(self, x, (self.size,))


_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5")


@_register
class UpSampling2D(Layer):
    """Enlarges each image by `size` (Keras' `UpSampling2D`).

    **Arguments:**

    - `size`: an int or `(rows, cols)` upsampling factors (default `(2, 2)`).
    - `data_format`: only `"channels_last"` (or `None`).
    - `interpolation`: `"nearest"` (repeat rows and columns; default), `"bilinear"`,
      `"bicubic"`, `"lanczos3"` or `"lanczos5"` (`jax.image.resize`, as Keras' JAX backend).

    **Input:** `(batch, rows, cols, channels)`.
    **Output:** `(batch, rows * size[0], cols * size[1], channels)`.

    ```python
    y = fk.layers.UpSampling2D(2, interpolation="bilinear")(jnp.ones((8, 7, 7, 3)))
    # (8, 14, 14, 3)
    ```
    """

    size: tuple = static()
    data_format: str = static()
    interpolation: str = static()
    has_weights = False

    def __init__(
        self,
        size=(2, 2),
        data_format=None,
        interpolation="nearest",
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.size = standardize_tuple(self, size, 2, "size")
        self.data_format = check_data_format(self, data_format)
        if not isinstance(interpolation, str) or interpolation.lower() not in _INTERPOLATIONS:
            raise ValueError(
                f"{describe(self)} expects `interpolation` in {_INTERPOLATIONS}. "
                f"Received: interpolation={interpolation!r}"
            )
        self.interpolation = interpolation.lower()

    def __call__(self, x: Array) -> Array:
        if self.interpolation == "nearest":
            return _repeat(self, x, self.size)
        check_rank(self, x.shape, 4, LAYOUTS[1])
        b, rows, cols, c = x.shape
        shape = (b, rows * self.size[0], cols * self.size[1], c)
        return jax.image.resize(x, shape, method=self.interpolation, antialias=False)


@_register
class UpSampling3D(Layer):
    """Repeats each volume's entries `size` times along its three spatial axes
    (Keras' `UpSampling3D`).

    **Arguments:** `size`: an int or three ints (default `(2, 2, 2)`); `data_format`: only
    `"channels_last"` (or `None`).

    **Input:** `(batch, dim1, dim2, dim3, channels)`. **Output:** each spatial size times its
    factor.

    ```python
    y = fk.layers.UpSampling3D()(jnp.ones((2, 4, 4, 4, 1)))  # (2, 8, 8, 8, 1)
    ```
    """

    size: tuple = static()
    data_format: str = static()
    has_weights = False

    def __init__(self, size=(2, 2, 2), data_format=None, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.size = standardize_tuple(self, size, 3, "size")
        self.data_format = check_data_format(self, data_format)

    def __call__(self, x: Array) -> Array:
        return _repeat(self, x, self.size)
