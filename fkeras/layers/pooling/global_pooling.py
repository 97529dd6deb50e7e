"""Global max and average pooling: one value per channel over all spatial axes."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from .base_pooling import LAYOUTS, check_data_format, check_rank

_register = register_serializable(package="fkeras")


class _GlobalPooling(Layer):
    data_format: str = static()
    keepdims: bool = static()
    has_weights = False
    _rank = 0

    def __init__(self, data_format=None, keepdims=False, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.data_format = check_data_format(self, data_format)
        if not isinstance(keepdims, bool):
            raise ValueError(
                f"{describe(self)} expects a bool `keepdims`. Received: keepdims={keepdims!r}"
            )
        self.keepdims = keepdims

    def _axes(self, x) -> tuple[int, ...]:
        check_rank(self, x.shape, self._rank + 2, LAYOUTS[self._rank - 1])
        return tuple(range(1, self._rank + 1))


def _check_mask(layer, x, mask):
    mask = jnp.asarray(mask)
    if tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(
            f"{describe(layer)} expects a mask of shape (batch, steps) = {tuple(x.shape[:2])}. "
            f"Received: mask.shape={tuple(mask.shape)}, x.shape={tuple(x.shape)}"
        )
    return mask.astype(bool)[:, :, None]


@_register
class GlobalMaxPooling1D(_GlobalPooling):
    """Maximum over the steps of each sequence (Keras' `GlobalMaxPooling1D`).

    **Arguments:** `data_format` (only `"channels_last"`), `keepdims` (keep the steps axis
    with length 1; default `False`).

    **Input:** `(batch, steps, features)`; an optional `mask` of shape `(batch, steps)`
    (from `Masking` or `Embedding(mask_zero=True)`) excludes padded steps; an example whose
    steps are all masked gives 0. (Keras 3 ignores the mask here; fkeras honours it.)
    **Output:** `(batch, features)`, or `(batch, 1, features)` with `keepdims=True`.

    ```python
    y = fk.layers.GlobalMaxPooling1D()(jnp.ones((8, 10, 4)))  # (8, 4)
    ```
    """

    _rank = 1

    def __call__(self, x: Array, *, mask=None) -> Array:
        axes = self._axes(x)
        if mask is None:
            return jnp.max(x, axis=axes, keepdims=self.keepdims)
        keep = _check_mask(self, x, mask)
        lowest = -jnp.inf if jnp.issubdtype(x.dtype, jnp.inexact) else jnp.iinfo(x.dtype).min
        pooled = jnp.max(jnp.where(keep, x, lowest), axis=axes, keepdims=self.keepdims)
        any_kept = jnp.any(keep, axis=axes, keepdims=self.keepdims)
        return jnp.where(any_kept, pooled, jnp.zeros((), x.dtype))


@_register
class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps of each sequence (Keras' `GlobalAveragePooling1D`).

    **Arguments:** `data_format` (only `"channels_last"`), `keepdims` (keep the steps axis
    with length 1; default `False`).

    **Input:** `(batch, steps, features)`; an optional `mask` of shape `(batch, steps)`
    excludes padded steps: the mean is over the unmasked steps only (as in Keras, an
    example with every step masked gives NaN). The output carries no mask.
    **Output:** `(batch, features)`, or `(batch, 1, features)` with `keepdims=True`.

    ```python
    y = fk.layers.GlobalAveragePooling1D()(jnp.ones((8, 10, 4)))  # (8, 4)
    ```
    """

    _rank = 1

    def __call__(self, x: Array, *, mask=None) -> Array:
        axes = self._axes(x)
        if mask is None:
            return jnp.mean(x, axis=axes, keepdims=self.keepdims)
        keep = _check_mask(self, x, mask)
        total = jnp.sum(jnp.where(keep, x, 0), axis=axes, keepdims=self.keepdims)
        count = jnp.sum(keep.astype(total.dtype), axis=axes, keepdims=self.keepdims)
        return total / count


@_register
class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over the rows and columns of each image (Keras' `GlobalMaxPooling2D`).

    **Arguments:** `data_format` (only `"channels_last"`), `keepdims` (default `False`).

    **Input:** `(batch, rows, cols, channels)`.
    **Output:** `(batch, channels)`, or `(batch, 1, 1, channels)` with `keepdims=True`.

    ```python
    y = fk.layers.GlobalMaxPooling2D()(jnp.ones((8, 7, 7, 32)))  # (8, 32)
    ```
    """

    _rank = 2

    def __call__(self, x: Array) -> Array:
        return jnp.max(x, axis=self._axes(x), keepdims=self.keepdims)


@_register
class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over the rows and columns of each image (Keras' `GlobalAveragePooling2D`).

    **Arguments:** `data_format` (only `"channels_last"`), `keepdims` (default `False`).

    **Input:** `(batch, rows, cols, channels)`.
    **Output:** `(batch, channels)`, or `(batch, 1, 1, channels)` with `keepdims=True`.

    ```python
    y = fk.layers.GlobalAveragePooling2D()(jnp.ones((8, 7, 7, 32)))  # (8, 32)
    ```
    """

    _rank = 2

    def __call__(self, x: Array) -> Array:
        return jnp.mean(x, axis=self._axes(x), keepdims=self.keepdims)


@_register
class GlobalMaxPooling3D(_GlobalPooling):
    """Maximum over the three spatial axes of each volume (Keras' `GlobalMaxPooling3D`).

    **Arguments:** `data_format` (only `"channels_last"`), `keepdims` (default `False`).

    **Input:** `(batch, dim1, dim2, dim3, channels)`.
    **Output:** `(batch, channels)`, or `(batch, 1, 1, 1, channels)` with `keepdims=True`.

    ```python
    y = fk.layers.GlobalMaxPooling3D()(jnp.ones((2, 4, 4, 4, 8)))  # (2, 8)
    ```
    """

    _rank = 3

    def __call__(self, x: Array) -> Array:
        return jnp.max(x, axis=self._axes(x), keepdims=self.keepdims)


@_register
class GlobalAveragePooling3D(_GlobalPooling):
    """Mean over the three spatial axes of each volume (Keras' `GlobalAveragePooling3D`).

    **Arguments:** `data_format` (only `"channels_last"`), `keepdims` (default `False`).

    **Input:** `(batch, dim1, dim2, dim3, channels)`.
    **Output:** `(batch, channels)`, or `(batch, 1, 1, 1, channels)` with `keepdims=True`.

    ```python
    y = fk.layers.GlobalAveragePooling3D()(jnp.ones((2, 4, 4, 4, 8)))  # (2, 8)
    ```
    """

    _rank = 3

    def __call__(self, x: Array) -> Array:
        return jnp.mean(x, axis=self._axes(x), keepdims=self.keepdims)


# Keras' short aliases.
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = (
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
)
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = (
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
)
