"""Max and average pooling over 1, 2 or 3 spatial axes (channels last).

Output sizes follow Keras: `(size - pool) // stride + 1` with `padding="valid"`,
`ceil(size / stride)` with `padding="same"`.
"""

from __future__ import annotations

from ...core.registry import register_serializable
from .base_pooling import _Pooling

_register = register_serializable(package="fkeras")


@_register
class MaxPooling1D(_Pooling):
    """Maximum over windows of `pool_size` steps (Keras' `MaxPooling1D`).

    **Arguments:**

    - `pool_size`: the window length (default 2).
    - `strides`: the window step; `None` (default) means `pool_size`.
    - `padding`: `"valid"` (windows inside the input) or `"same"` (output length
      `ceil(steps / strides)`; padding never wins the maximum).
    - `data_format`: only `"channels_last"` (or `None`).

    **Input:** `(batch, steps, channels)`. **Output:** `(batch, pooled_steps, channels)`.

    ```python
    y = fk.layers.MaxPooling1D(2)(jnp.ones((8, 10, 4)))  # (8, 5, 4)
    ```
    """

    _rank, _mode = 1, "max"

    def __init__(
        self,
        pool_size=2,
        strides=None,
        padding="valid",
        data_format=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(
            pool_size, strides, padding, data_format, name=name, trainable=trainable, dtype=dtype
        )


@_register
class MaxPooling2D(_Pooling):
    """Maximum over `pool_size` windows of an image (Keras' `MaxPooling2D`).

    **Arguments:**

    - `pool_size`: an int or `(rows, cols)` (default `(2, 2)`).
    - `strides`: an int or `(rows, cols)`; `None` (default) means `pool_size`.
    - `padding`: `"valid"` or `"same"` (output size `ceil(size / strides)`).
    - `data_format`: only `"channels_last"` (or `None`).

    **Input:** `(batch, rows, cols, channels)`.
    **Output:** `(batch, pooled_rows, pooled_cols, channels)`.

    ```python
    y = fk.layers.MaxPooling2D()(jnp.ones((8, 28, 28, 3)))  # (8, 14, 14, 3)
    ```
    """

    _rank, _mode = 2, "max"

    def __init__(
        self,
        pool_size=(2, 2),
        strides=None,
        padding="valid",
        data_format=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(
            pool_size, strides, padding, data_format, name=name, trainable=trainable, dtype=dtype
        )


@_register
class MaxPooling3D(_Pooling):
    """Maximum over `pool_size` windows of a volume (Keras' `MaxPooling3D`).

    **Arguments:** `pool_size` (default `(2, 2, 2)`), `strides` (`None`: `pool_size`),
    `padding` (`"valid"` or `"same"`), `data_format` (only `"channels_last"`), as in
    `MaxPooling2D` with three spatial axes.

    **Input:** `(batch, dim1, dim2, dim3, channels)`.
    **Output:** `(batch, pooled_dim1, pooled_dim2, pooled_dim3, channels)`.

    ```python
    y = fk.layers.MaxPooling3D()(jnp.ones((2, 8, 8, 8, 1)))  # (2, 4, 4, 4, 1)
    ```
    """

    _rank, _mode = 3, "max"

    def __init__(
        self,
        pool_size=(2, 2, 2),
        strides=None,
        padding="valid",
        data_format=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(
            pool_size, strides, padding, data_format, name=name, trainable=trainable, dtype=dtype
        )


@_register
class AveragePooling1D(_Pooling):
    """Mean over windows of `pool_size` steps (Keras' `AveragePooling1D`).

    **Arguments:**

    - `pool_size`: the window length (required, as in Keras).
    - `strides`: the window step; `None` (default) means `pool_size`.
    - `padding`: `"valid"` or `"same"`. With `"same"`, each window's sum is divided by the
      number of real (not padded) elements in it, as in Keras.
    - `data_format`: only `"channels_last"` (or `None`).

    **Input:** `(batch, steps, channels)`. **Output:** `(batch, pooled_steps, channels)`.

    ```python
    y = fk.layers.AveragePooling1D(2)(jnp.ones((8, 10, 4)))  # (8, 5, 4)
    ```
    """

    _rank, _mode = 1, "average"

    def __init__(
        self,
        pool_size,
        strides=None,
        padding="valid",
        data_format=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(
            pool_size, strides, padding, data_format, name=name, trainable=trainable, dtype=dtype
        )


@_register
class AveragePooling2D(_Pooling):
    """Mean over `pool_size` windows of an image (Keras' `AveragePooling2D`).

    **Arguments:** `pool_size` (an int or `(rows, cols)`, required), `strides` (`None`:
    `pool_size`), `padding` (`"valid"` or `"same"`; with `"same"` each window is divided by
    its count of real, unpadded elements, as in Keras), `data_format` (only
    `"channels_last"`).

    **Input:** `(batch, rows, cols, channels)`.
    **Output:** `(batch, pooled_rows, pooled_cols, channels)`.

    ```python
    y = fk.layers.AveragePooling2D(2)(jnp.ones((8, 28, 28, 3)))  # (8, 14, 14, 3)
    ```
    """

    _rank, _mode = 2, "average"

    def __init__(
        self,
        pool_size,
        strides=None,
        padding="valid",
        data_format=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(
            pool_size, strides, padding, data_format, name=name, trainable=trainable, dtype=dtype
        )


@_register
class AveragePooling3D(_Pooling):
    """Mean over `pool_size` windows of a volume (Keras' `AveragePooling3D`).

    **Arguments:** as `AveragePooling2D`, with three spatial axes.

    **Input:** `(batch, dim1, dim2, dim3, channels)`.
    **Output:** `(batch, pooled_dim1, pooled_dim2, pooled_dim3, channels)`.

    ```python
    y = fk.layers.AveragePooling3D(2)(jnp.ones((2, 8, 8, 8, 1)))  # (2, 4, 4, 4, 1)
    ```
    """

    _rank, _mode = 3, "average"

    def __init__(
        self,
        pool_size,
        strides=None,
        padding="valid",
        data_format=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(
            pool_size, strides, padding, data_format, name=name, trainable=trainable, dtype=dtype
        )


# Keras' short aliases.
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
