"""Transposed convolutions: Conv1DTranspose, Conv2DTranspose, Conv3DTranspose (Keras'
`BaseConvTranspose`, with Keras' output-shape and padding arithmetic)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, PRNGKeyArray

from ... import constraints, initializers, regularizers
from ...core.layer import static
from ...core.registry import register_serializable
from .base_conv import (
    BaseConvLayer,
    conv_transpose_output_length,
    conv_transpose_padding,
    dimension_numbers,
    normalize_tuple,
    positive_int,
)

_register = register_serializable(package="fkeras")


class BaseConvTranspose(BaseConvLayer):
    """An N-D transposed convolution (the gradient of a convolution with respect to its
    input), plus bias and activation. The common implementation of `Conv1DTranspose`,
    `Conv2DTranspose` and `Conv3DTranspose`; see those for the arguments.
    """

    filters: int = static()
    output_padding: tuple | None = static()
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
        output_padding=None,
        data_format: str | None = None,
        dilation_rate=1,
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
        )
        self.filters = positive_int(filters, "filters", owner)
        if output_padding is not None:
            output_padding = normalize_tuple(
                output_padding, type(self).rank, "output_padding", owner, allow_zero=True
            )
            if any(p >= s for p, s in zip(output_padding, self.strides)):
                raise ValueError(
                    f"{owner} expects each value of `output_padding` to be less than the "
                    f"matching `strides`. Received: output_padding={output_padding}, "
                    f"strides={self.strides}"
                )
        self.output_padding = output_padding
        self._check_strides_with_dilation()
        self.kernel_initializer = initializers.get(kernel_initializer, owner=owner)
        self.kernel_regularizer = regularizers.get(kernel_regularizer, owner=owner)
        self.kernel_constraint = constraints.get(kernel_constraint, owner=owner)
        self.kernel = None
        self.bias = None

    def _axis_args(self):
        output_padding = self.output_padding or (None,) * type(self).rank
        return zip(self.kernel_size, self.strides, self.dilation_rate, output_padding)

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict[str, Array | None]:
        channels = self._input_channels(input_shape)
        lengths = [
            conv_transpose_output_length(size, k, s, self.padding, p, d)
            for size, (k, s, d, p) in zip(input_shape[1:-1], self._axis_args())
        ]
        self._check_output_size(input_shape, lengths)
        kernel_key, bias_key = jax.random.split(key)
        # Keras' layout: (*kernel_size, filters, in_channels).
        shape = (*self.kernel_size, self.filters, channels)
        kernel = self.kernel_initializer(kernel_key, shape, self.dtype)
        bias = (
            self.bias_initializer(bias_key, (self.filters,), self.dtype) if self.use_bias else None
        )
        return {"kernel": kernel, "bias": bias}

    def __call__(self, x: Array) -> Array:
        x = self._check_call_input(x, self.kernel.shape[-1])
        rank = type(self).rank
        padding = [
            conv_transpose_padding(k, s, d, self.padding, p) for k, s, d, p in self._axis_args()
        ]
        # A transposed convolution is a convolution of the stride-dilated input with the
        # spatially flipped kernel, read as (*kernel_size, out=filters, in=in_channels).
        kernel = jnp.flip(self.kernel, axis=tuple(range(rank)))
        y = lax.conv_general_dilated(
            x,
            kernel,
            window_strides=(1,) * rank,
            padding=padding,
            lhs_dilation=self.strides,
            rhs_dilation=self.dilation_rate,
            dimension_numbers=dimension_numbers(rank, kernel="OI"),
        )
        return self._finish(y, self.bias)


@_register
class Conv1DTranspose(BaseConvTranspose):
    """1-D transposed convolution ("deconvolution") over `(batch, steps, channels)` inputs
    (Keras' `Conv1DTranspose`).

    **Arguments:**

    - `filters`: the number of output channels.
    - `kernel_size`: an int or a tuple of 1 int.
    - `strides`: an int or a tuple of 1 int (default 1): the upsampling factor.
    - `padding`: `"valid"` or `"same"` (case-insensitive).
    - `output_padding`: `None` or an int / tuple of 1 int, each less than `strides`: extra
      length at the end of the output. With `None` the output length is
      `(steps - 1) * strides + max(kernel, strides)` for `"valid"` and `steps * strides` for
      `"same"`; otherwise `(steps - 1) * strides + kernel + output_padding` for `"valid"` and
      `(steps - 1) * strides + kernel % 2 + output_padding` for `"same"` (`kernel` being the
      dilated kernel size, as Keras).
    - `data_format`: only `"channels_last"` (or `None`).
    - `dilation_rate`: an int or a tuple of 1 int (default 1); Keras refuses it with
      `strides > 1`.
    - `activation`, `use_bias`, `kernel_initializer`, `bias_initializer`,
      `kernel_regularizer`, `bias_regularizer`, `activity_regularizer`, `kernel_constraint`,
      `bias_constraint`: as `Conv1D`.

    **Weights:** `kernel` `(kernel_size, filters, channels)` (Keras' transposed layout),
    `bias` `(filters,)`.

    **Input shape:** `(batch, steps, channels)`. **Output shape:** `(batch, new_steps, filters)`.

    ```python
    layer = fk.layers.Conv1DTranspose(4, 3, strides=2, padding="same")
    layer = layer.build((None, 10, 8), key=jax.random.key(0))
    y = layer(jnp.ones((2, 10, 8)))  # (2, 20, 4)
    ```
    """

    rank = 1


@_register
class Conv2DTranspose(BaseConvTranspose):
    """2-D transposed convolution ("deconvolution") over `(batch, height, width, channels)`
    images (Keras' `Conv2DTranspose`).

    **Arguments:** as `Conv1DTranspose`, with `kernel_size`, `strides`, `output_padding` and
    `dilation_rate` an int or a tuple of 2 ints; the output-size rules apply per axis.

    **Weights:** `kernel` `(*kernel_size, filters, channels)`, `bias` `(filters,)`.

    **Input shape:** `(batch, height, width, channels)`. **Output shape:**
    `(batch, new_height, new_width, filters)`.

    ```python
    layer = fk.layers.Conv2DTranspose(8, 3, strides=2, padding="same")
    layer = layer.build((None, 7, 7, 16), key=jax.random.key(0))
    y = layer(jnp.ones((2, 7, 7, 16)))  # (2, 14, 14, 8)
    ```
    """

    rank = 2


@_register
class Conv3DTranspose(BaseConvTranspose):
    """3-D transposed convolution over `(batch, depth, height, width, channels)` volumes
    (Keras' `Conv3DTranspose`).

    **Arguments:** as `Conv1DTranspose`, with `kernel_size`, `strides`, `output_padding` and
    `dilation_rate` an int or a tuple of 3 ints; the output-size rules apply per axis.

    **Weights:** `kernel` `(*kernel_size, filters, channels)`, `bias` `(filters,)`.

    **Input shape:** `(batch, depth, height, width, channels)`. **Output shape:**
    `(batch, new_depth, new_height, new_width, filters)`.

    ```python
    layer = fk.layers.Conv3DTranspose(2, 2, strides=2)
    layer = layer.build((None, 4, 4, 4, 3), key=jax.random.key(0))
    y = layer(jnp.ones((1, 4, 4, 4, 3)))  # (1, 8, 8, 8, 2)
    ```
    """

    rank = 3
