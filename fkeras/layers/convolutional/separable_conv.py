"""Depthwise-separable convolutions: SeparableConv1D, SeparableConv2D (Keras'
`BaseSeparableConv`): a depthwise convolution, then a pointwise (1x1) one."""

from __future__ import annotations

from typing import Any

import jax
from jax import lax
from jaxtyping import Array, PRNGKeyArray

from ... import constraints, initializers, regularizers
from ...core.layer import static
from ...core.registry import register_serializable
from .base_conv import BaseConvLayer, conv_output_length, dimension_numbers, positive_int
from .depthwise_conv import depthwise_conv

_register = register_serializable(package="fkeras")


class BaseSeparableConv(BaseConvLayer):
    """The common implementation of `SeparableConv1D` and `SeparableConv2D`."""

    depth_multiplier: int = static()
    filters: int = static()
    depthwise_initializer: Any = static()
    pointwise_initializer: Any = static()
    depthwise_regularizer: Any = static()
    pointwise_regularizer: Any = static()
    depthwise_constraint: Any = static()
    pointwise_constraint: Any = static()
    depthwise_kernel: Array | None
    pointwise_kernel: Array | None
    bias: Array | None

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate=1,
        depth_multiplier: int = 1,
        activation=None,
        use_bias: bool = True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
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
        self.depth_multiplier = positive_int(depth_multiplier, "depth_multiplier", owner)
        self.depthwise_initializer = initializers.get(depthwise_initializer, owner=owner)
        self.pointwise_initializer = initializers.get(pointwise_initializer, owner=owner)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer, owner=owner)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer, owner=owner)
        self.depthwise_constraint = constraints.get(depthwise_constraint, owner=owner)
        self.pointwise_constraint = constraints.get(pointwise_constraint, owner=owner)
        self.depthwise_kernel = None
        self.pointwise_kernel = None
        self.bias = None

    # The base layer finds each weight's penalty and projection as `<weight>_regularizer` /
    # `<weight>_constraint`; Keras names the arguments `depthwise_*` and `pointwise_*`.
    @property
    def depthwise_kernel_regularizer(self):
        return self.depthwise_regularizer

    @property
    def pointwise_kernel_regularizer(self):
        return self.pointwise_regularizer

    @property
    def depthwise_kernel_constraint(self):
        return self.depthwise_constraint

    @property
    def pointwise_kernel_constraint(self):
        return self.pointwise_constraint

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict[str, Array | None]:
        channels = self._input_channels(input_shape)
        lengths = [
            conv_output_length(size, k, s, self.padding, d)
            for size, k, s, d in zip(
                input_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate
            )
        ]
        self._check_output_size(input_shape, lengths)
        rank = type(self).rank
        depthwise_key, pointwise_key, bias_key = jax.random.split(key, 3)
        depthwise_shape = (*self.kernel_size, channels, self.depth_multiplier)
        pointwise_shape = (*(1,) * rank, channels * self.depth_multiplier, self.filters)
        bias = (
            self.bias_initializer(bias_key, (self.filters,), self.dtype) if self.use_bias else None
        )
        return {
            "depthwise_kernel": self.depthwise_initializer(
                depthwise_key, depthwise_shape, self.dtype
            ),
            "pointwise_kernel": self.pointwise_initializer(
                pointwise_key, pointwise_shape, self.dtype
            ),
            "bias": bias,
        }

    def __call__(self, x: Array) -> Array:
        x = self._check_call_input(x, self.depthwise_kernel.shape[-2])
        rank = type(self).rank
        y = depthwise_conv(
            x, self.depthwise_kernel, self.strides, self.padding, self.dilation_rate, rank
        )
        y = lax.conv_general_dilated(
            y,
            self.pointwise_kernel,
            window_strides=(1,) * rank,
            padding="VALID",
            dimension_numbers=dimension_numbers(rank),
        )
        return self._finish(y, self.bias)


@_register
class SeparableConv1D(BaseSeparableConv):
    """1-D depthwise-separable convolution (Keras' `SeparableConv1D`): a depthwise
    convolution (`depth_multiplier` filters per input channel), then a pointwise convolution
    mixing the channels into `filters` outputs.

    **Arguments:**

    - `filters`: the number of output channels.
    - `kernel_size`: an int or a tuple of 1 int, the depthwise window length.
    - `strides`: an int or a tuple of 1 int (default 1).
    - `padding`: `"valid"` or `"same"` (case-insensitive).
    - `data_format`: only `"channels_last"` (or `None`).
    - `dilation_rate`: an int or a tuple of 1 int (default 1).
    - `depth_multiplier`: depthwise filters per input channel (default 1).
    - `activation`: a Keras activation name or a callable; `None` means linear.
    - `use_bias`: whether to add `bias`.
    - `depthwise_initializer`, `pointwise_initializer`, `bias_initializer`: initializers.
    - `depthwise_regularizer`, `pointwise_regularizer`, `bias_regularizer`,
      `activity_regularizer`: training-loss penalties.
    - `depthwise_constraint`, `pointwise_constraint`, `bias_constraint`: projections applied
      after each update.

    **Weights:** `depthwise_kernel` `(kernel_size, channels, depth_multiplier)`,
    `pointwise_kernel` `(1, channels * depth_multiplier, filters)`, `bias` `(filters,)`.

    **Input shape:** `(batch, steps, channels)`. **Output shape:** `(batch, new_steps, filters)`.

    ```python
    layer = fk.layers.SeparableConv1D(8, 3, padding="same")
    layer = layer.build((None, 10, 4), key=jax.random.key(0))
    y = layer(jnp.ones((2, 10, 4)))  # (2, 10, 8)
    ```
    """

    rank = 1


@_register
class SeparableConv2D(BaseSeparableConv):
    """2-D depthwise-separable convolution (Keras' `SeparableConv2D`): a depthwise
    convolution (`depth_multiplier` filters per input channel), then a pointwise (1x1)
    convolution mixing the channels into `filters` outputs.

    **Arguments:** as `SeparableConv1D`, with `kernel_size`, `strides` and `dilation_rate` an
    int or a tuple of 2 ints.

    **Weights:** `depthwise_kernel` `(*kernel_size, channels, depth_multiplier)`,
    `pointwise_kernel` `(1, 1, channels * depth_multiplier, filters)`, `bias` `(filters,)`.

    **Input shape:** `(batch, height, width, channels)`. **Output shape:**
    `(batch, new_height, new_width, filters)`.

    ```python
    layer = fk.layers.SeparableConv2D(32, 3, activation="relu")
    layer = layer.build((None, 16, 16, 8), key=jax.random.key(0))
    y = layer(jnp.ones((2, 16, 16, 8)))  # (2, 14, 14, 32)
    ```
    """

    rank = 2
