"""Convolutions: Conv1D, Conv2D, Conv3D (Keras' `BaseConv`)."""

from __future__ import annotations

from typing import Any

import jax
from jax import lax
from jaxtyping import Array, PRNGKeyArray

from ... import constraints, initializers, regularizers
from ...core.errors import describe
from ...core.layer import static
from ...core.registry import register_serializable
from .base_conv import BaseConvLayer, conv_output_length, dimension_numbers, positive_int

_register = register_serializable(package="fkeras")


class BaseConv(BaseConvLayer):
    """An N-D convolution (cross-correlation) with `filters` outputs, plus bias and activation.

    The common implementation of `Conv1D`, `Conv2D` and `Conv3D`; see those for the
    arguments.
    """

    filters: int = static()
    groups: int = static()
    kernel_initializer: Any = static()
    kernel_regularizer: Any = static()
    kernel_constraint: Any = static()
    kernel: Array | None
    bias: Array | None

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate=1,
        groups: int = 1,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = self._init_common(
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            bias_initializer,
            bias_regularizer,
            activity_regularizer,
            bias_constraint,
            allow_causal=type(self).rank == 1,
        )
        self.filters = positive_int(filters, "filters", owner)
        self.groups = positive_int(groups, "groups", owner)
        if self.filters % self.groups:
            raise ValueError(
                f"{owner} expects `filters` to be divisible by `groups`. "
                f"Received: filters={filters}, groups={groups}"
            )
        self._check_strides_with_dilation()
        self.kernel_initializer = initializers.get(kernel_initializer, owner=owner)
        self.kernel_regularizer = regularizers.get(kernel_regularizer, owner=owner)
        self.kernel_constraint = constraints.get(kernel_constraint, owner=owner)
        self.kernel = None
        self.bias = None

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict[str, Array | None]:
        channels = self._input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(
                f"{describe(self)} expects input channels divisible by groups={self.groups}. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        lengths = [
            conv_output_length(size, k, s, self.padding, d)
            for size, k, s, d in zip(
                input_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate
            )
        ]
        self._check_output_size(input_shape, lengths)
        kernel_key, bias_key = jax.random.split(key)
        shape = (*self.kernel_size, channels // self.groups, self.filters)
        kernel = self.kernel_initializer(kernel_key, shape, self.dtype)
        bias = (
            self.bias_initializer(bias_key, (self.filters,), self.dtype) if self.use_bias else None
        )
        return {"kernel": kernel, "bias": bias}

    def __call__(self, x: Array) -> Array:
        x = self._check_call_input(x, self.kernel.shape[-2] * self.groups)
        if self.padding == "causal":  # pad the past only, then a valid convolution
            padding = [((self.kernel_size[0] - 1) * self.dilation_rate[0], 0)]
        else:
            padding = self.padding.upper()
        y = lax.conv_general_dilated(
            x,
            self.kernel,
            window_strides=self.strides,
            padding=padding,
            rhs_dilation=self.dilation_rate,
            dimension_numbers=dimension_numbers(type(self).rank),
            feature_group_count=self.groups,
        )
        return self._finish(y, self.bias)


@_register
class Conv1D(BaseConv):
    """1-D convolution over `(batch, steps, channels)` inputs (Keras' `Conv1D`).

    **Arguments:**

    - `filters`: the number of output channels.
    - `kernel_size`: an int or a tuple of 1 int, the window length.
    - `strides`: an int or a tuple of 1 int (default 1).
    - `padding`: `"valid"` (none), `"same"` (output length `ceil(steps / strides)`, the odd
      step padded at the end) or `"causal"` (`dilation_rate * (kernel_size - 1)` steps padded
      at the start, so `output[t]` depends only on `input[:t + 1]`).
    - `data_format`: only `"channels_last"` (or `None`).
    - `dilation_rate`: an int or a tuple of 1 int (default 1); Keras refuses it with
      `strides > 1`.
    - `groups`: split the channels into this many groups, each convolved with
      `filters // groups` filters; it must divide the input channels and `filters`.
    - `activation`: a Keras activation name or a callable; `None` means linear.
    - `use_bias`: whether to add `bias`.
    - `kernel_initializer`, `bias_initializer`: Keras initializer names or objects.
    - `kernel_regularizer`, `bias_regularizer`, `activity_regularizer`: training-loss
      penalties.
    - `kernel_constraint`, `bias_constraint`: projections applied after each update.

    **Weights:** `kernel` `(kernel_size, channels // groups, filters)`, `bias` `(filters,)`.

    **Input shape:** `(batch, steps, channels)`. **Output shape:** `(batch, new_steps, filters)`.

    ```python
    layer = fk.layers.Conv1D(8, 3, padding="causal")
    layer = layer.build((None, 20, 4), key=jax.random.key(0))
    y = layer(jnp.ones((2, 20, 4)))  # (2, 20, 8)
    ```
    """

    rank = 1


@_register
class Conv2D(BaseConv):
    """2-D convolution over `(batch, height, width, channels)` images (Keras' `Conv2D`).

    **Arguments:**

    - `filters`: the number of output channels.
    - `kernel_size`: an int or a tuple of 2 ints, the window size.
    - `strides`: an int or a tuple of 2 ints (default 1).
    - `padding`: `"valid"` (none) or `"same"` (output size `ceil(input / strides)`; an odd
      total padding puts the extra pixel at the end, as TensorFlow and Keras do).
    - `data_format`: only `"channels_last"` (or `None`).
    - `dilation_rate`: an int or a tuple of 2 ints (default 1); Keras refuses it with
      `strides > 1`.
    - `groups`: split the channels into this many groups, each convolved with
      `filters // groups` filters; it must divide the input channels and `filters`.
    - `activation`: a Keras activation name or a callable; `None` means linear.
    - `use_bias`: whether to add `bias`.
    - `kernel_initializer`, `bias_initializer`: Keras initializer names or objects.
    - `kernel_regularizer`, `bias_regularizer`, `activity_regularizer`: training-loss
      penalties.
    - `kernel_constraint`, `bias_constraint`: projections applied after each update.

    **Weights:** `kernel` `(*kernel_size, channels // groups, filters)`, `bias` `(filters,)`.

    **Input shape:** `(batch, height, width, channels)`. **Output shape:**
    `(batch, new_height, new_width, filters)`.

    ```python
    layer = fk.layers.Conv2D(16, 3, activation="relu")
    layer = layer.build((None, 28, 28, 1), key=jax.random.key(0))
    y = layer(jnp.ones((2, 28, 28, 1)))  # (2, 26, 26, 16)
    ```
    """

    rank = 2


@_register
class Conv3D(BaseConv):
    """3-D convolution over `(batch, depth, height, width, channels)` volumes (Keras'
    `Conv3D`).

    **Arguments:** as `Conv2D`, with `kernel_size`, `strides` and `dilation_rate` an int or a
    tuple of 3 ints.

    **Weights:** `kernel` `(*kernel_size, channels // groups, filters)`, `bias` `(filters,)`.

    **Input shape:** `(batch, depth, height, width, channels)`. **Output shape:**
    `(batch, new_depth, new_height, new_width, filters)`.

    ```python
    layer = fk.layers.Conv3D(4, 3, padding="same")
    layer = layer.build((None, 8, 8, 8, 2), key=jax.random.key(0))
    y = layer(jnp.ones((2, 8, 8, 8, 2)))  # (2, 8, 8, 8, 4)
    ```
    """

    rank = 3
