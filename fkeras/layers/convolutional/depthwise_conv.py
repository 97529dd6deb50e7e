"""Depthwise convolutions: DepthwiseConv1D, DepthwiseConv2D (Keras' `BaseDepthwiseConv`)."""

from __future__ import annotations

from typing import Any

import jax
from jax import lax
from jaxtyping import Array, PRNGKeyArray

from ... import constraints, initializers, regularizers
from ...core.layer import static
from ...core.registry import register_serializable
from .base_conv import BaseConvLayer, conv_output_length, dimension_numbers, positive_int

_register = register_serializable(package="fkeras")


def depthwise_conv(x, kernel, strides, padding: str, dilation_rate, rank: int):
    """Convolve each input channel with its own `depth_multiplier` filters.

    `kernel` has Keras' layout `(*kernel_size, channels, depth_multiplier)`; output channel
    `c * depth_multiplier + m` is channel `c` convolved with `kernel[..., c, m]`.
    """
    channels, multiplier = kernel.shape[-2:]
    kernel = kernel.reshape(*kernel.shape[:-2], 1, channels * multiplier)
    return lax.conv_general_dilated(
        x,
        kernel,
        window_strides=strides,
        padding=padding.upper(),
        rhs_dilation=dilation_rate,
        dimension_numbers=dimension_numbers(rank),
        feature_group_count=channels,
    )


class BaseDepthwiseConv(BaseConvLayer):
    """The common implementation of `DepthwiseConv1D` and `DepthwiseConv2D`."""

    depth_multiplier: int = static()
    depthwise_initializer: Any = static()
    depthwise_regularizer: Any = static()
    depthwise_constraint: Any = static()
    kernel: Array | None
    bias: Array | None

    def __init__(
        self,
        kernel_size,
        strides=1,
        padding: str = "valid",
        depth_multiplier: int = 1,
        data_format: str | None = None,
        dilation_rate=1,
        activation=None,
        use_bias: bool = True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
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
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", owner)
        self.depthwise_initializer = initializers.get(depthwise_initializer, owner=owner)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer, owner=owner)
        self.depthwise_constraint = constraints.get(depthwise_constraint, owner=owner)
        self.kernel = None
        self.bias = None

    # The weight is Keras' `kernel`; the base layer finds its penalty and projection as
    # `kernel_regularizer` / `kernel_constraint`.
    @property
    def kernel_regularizer(self):
        return self.depthwise_regularizer

    @property
    def kernel_constraint(self):
        return self.depthwise_constraint

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict[str, Array | None]:
        channels = self._input_channels(input_shape)
        lengths = [
            conv_output_length(size, k, s, self.padding, d)
            for size, k, s, d in zip(
                input_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate
            )
        ]
        self._check_output_size(input_shape, lengths)
        kernel_key, bias_key = jax.random.split(key)
        shape = (*self.kernel_size, channels, self.depth_multiplier)
        kernel = self.depthwise_initializer(kernel_key, shape, self.dtype)
        out_channels = channels * self.depth_multiplier
        bias = (
            self.bias_initializer(bias_key, (out_channels,), self.dtype) if self.use_bias else None
        )
        return {"kernel": kernel, "bias": bias}

    def __call__(self, x: Array) -> Array:
        x = self._check_call_input(x, self.kernel.shape[-2])
        y = depthwise_conv(
            x, self.kernel, self.strides, self.padding, self.dilation_rate, type(self).rank
        )
        return self._finish(y, self.bias)


@_register
class DepthwiseConv1D(BaseDepthwiseConv):
    """1-D depthwise convolution: each input channel is convolved with its own
    `depth_multiplier` filters, with no mixing across channels (Keras' `DepthwiseConv1D`).

    **Arguments:**

    - `kernel_size`: an int or a tuple of 1 int, the window length.
    - `strides`: an int or a tuple of 1 int (default 1).
    - `padding`: `"valid"` or `"same"` (case-insensitive).
    - `depth_multiplier`: the number of filters per input channel (default 1).
    - `data_format`: only `"channels_last"` (or `None`).
    - `dilation_rate`: an int or a tuple of 1 int (default 1).
    - `activation`: a Keras activation name or a callable; `None` means linear.
    - `use_bias`: whether to add `bias`.
    - `depthwise_initializer`, `bias_initializer`: Keras initializer names or objects.
    - `depthwise_regularizer`, `bias_regularizer`, `activity_regularizer`: training-loss
      penalties.
    - `depthwise_constraint`, `bias_constraint`: projections applied after each update.

    **Weights:** `kernel` `(kernel_size, channels, depth_multiplier)`, `bias`
    `(channels * depth_multiplier,)`. Output channel `c * depth_multiplier + m` comes from
    input channel `c` and filter `m`.

    **Input shape:** `(batch, steps, channels)`. **Output shape:**
    `(batch, new_steps, channels * depth_multiplier)`.

    ```python
    layer = fk.layers.DepthwiseConv1D(3, depth_multiplier=2)
    layer = layer.build((None, 10, 4), key=jax.random.key(0))
    y = layer(jnp.ones((2, 10, 4)))  # (2, 8, 8)
    ```
    """

    rank = 1


@_register
class DepthwiseConv2D(BaseDepthwiseConv):
    """2-D depthwise convolution: each input channel is convolved with its own
    `depth_multiplier` filters, with no mixing across channels (Keras' `DepthwiseConv2D`).

    **Arguments:** as `DepthwiseConv1D`, with `kernel_size`, `strides` and `dilation_rate` an
    int or a tuple of 2 ints.

    **Weights:** `kernel` `(*kernel_size, channels, depth_multiplier)`, `bias`
    `(channels * depth_multiplier,)`.

    **Input shape:** `(batch, height, width, channels)`. **Output shape:**
    `(batch, new_height, new_width, channels * depth_multiplier)`.

    ```python
    layer = fk.layers.DepthwiseConv2D(3, padding="same")
    layer = layer.build((None, 8, 8, 16), key=jax.random.key(0))
    y = layer(jnp.ones((2, 8, 8, 16)))  # (2, 8, 8, 16)
    ```
    """

    rank = 2
