"""What every convolution layer shares: argument checks, input-shape checks, Keras' output
arithmetic, and the bias-plus-activation ending.

Layouts are Keras' (channels last): inputs `(batch, *spatial, channels)`, kernels
`(*kernel_size, in, out)`. The layers call `jax.lax.conv_general_dilated` with string
dimension numbers (`"NHWC"`, `"HWIO"`, ...).
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax.numpy as jnp
import numpy as np

from ... import activations, constraints, initializers, regularizers
from ...core.errors import describe
from ...core.layer import Layer, static

_SPATIAL_NAMES = {1: "steps", 2: "height, width", 3: "depth, height, width"}
_SPATIAL_LETTERS = {1: "W", 2: "HW", 3: "DHW"}


def dimension_numbers(rank: int, kernel: str = "IO") -> tuple[str, str, str]:
    """`("NHWC", "HWIO", "NHWC")` for rank 2; `kernel="OI"` for transposed kernels."""
    spatial = _SPATIAL_LETTERS[rank]
    return f"N{spatial}C", f"{spatial}{kernel}", f"N{spatial}C"


def normalize_tuple(value, rank: int, arg: str, owner: str, *, allow_zero=False) -> tuple:
    """An int or `rank` ints -> a tuple of `rank` ints (Keras' `standardize_tuple`)."""
    items = (value,) * rank if _is_int(value) else value
    try:
        items = tuple(items)
    except TypeError:
        items = None
    if items is None or len(items) != rank or not all(_is_int(v) for v in items):
        raise ValueError(
            f"{owner} expects `{arg}` to be an int or a tuple of {rank} ints. "
            f"Received: {arg}={value!r}"
        )
    items = tuple(int(v) for v in items)
    if any(v < 0 or (v == 0 and not allow_zero) for v in items):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"{owner} expects every value of `{arg}` to be {bound}. Received: {arg}={value!r}"
        )
    return items


def positive_int(value, arg: str, owner: str) -> int:
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{owner} expects a positive integer `{arg}`. Received: {arg}={value!r}")
    return int(value)


def normalize_padding(value, owner: str, *, allow_causal: bool = False) -> str:
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        hint = "" if allow_causal else " (causal padding exists only for Conv1D)"
        raise ValueError(
            f"{owner} expects padding to be one of {allowed}{hint}. Received: padding={value!r}"
        )
    return padding


def normalize_data_format(value, owner: str) -> str:
    data_format = "channels_last" if value is None else str(value).lower()
    if data_format != "channels_last":
        raise ValueError(
            f"{owner} supports only data_format='channels_last' (fkeras is channels-last: move "
            "the channel axis last with `jnp.moveaxis(x, 1, -1)`). "
            f"Received: data_format={value!r}"
        )
    return data_format


def conv_output_length(size, kernel: int, stride: int, padding: str, dilation: int):
    """Keras' output length of a convolution along one axis (`None` stays `None`)."""
    if size is None:
        return None
    if padding == "valid":
        return (size - dilation * (kernel - 1) - 1) // stride + 1
    return (size - 1) // stride + 1  # "same" and "causal"


def conv_transpose_padding(kernel, stride, dilation, padding, output_padding) -> tuple[int, int]:
    """The `(low, high)` padding of the stride-dilated input for Keras' transposed convolution
    (backend/common/backend_utils.py, `_convert_conv_transpose_padding_args_from_keras_to_jax`):
    the input is dilated by `stride`, padded, then convolved with the flipped kernel."""
    kernel = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(kernel, stride) - kernel if output_padding is None else output_padding
        return kernel - 1, kernel - 1 + extra
    if output_padding is None:
        total = stride + kernel - 2  # output length input * stride
    else:
        total = kernel + kernel % 2 - 2 + output_padding
    low = min(total // 2 + total % 2, kernel - 1)
    return low, total - low


def conv_transpose_output_length(size, kernel, stride, padding, output_padding, dilation):
    """Keras' output length of a transposed convolution along one axis."""
    if size is None:
        return None
    low, high = conv_transpose_padding(kernel, stride, dilation, padding, output_padding)
    return (size - 1) * stride + 1 + low + high - (kernel - 1) * dilation


class BaseConvLayer(Layer):
    """The fields and checks every convolution layer shares (not a layer by itself).

    Subclasses set `rank`, declare their own weight fields (Keras' creation order), call
    `_init_common` from `__init__`, `_input_channels` from `create_weights` and
    `_check_call_input` / `_finish` around their convolution in `__call__`.
    """

    rank: ClassVar[int] = 0

    kernel_size: tuple = static()
    strides: tuple = static()
    padding: str = static()
    data_format: str = static()
    dilation_rate: tuple = static()
    activation: Any = static()
    use_bias: bool = static()
    bias_initializer: Any = static()
    bias_regularizer: Any = static()
    activity_regularizer: Any = static()
    bias_constraint: Any = static()

    def _init_common(
        self,
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
        *,
        allow_causal: bool = False,
    ) -> str:
        owner = describe(self)
        rank = type(self).rank
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size", owner)
        self.strides = normalize_tuple(strides, rank, "strides", owner)
        self.padding = normalize_padding(padding, owner, allow_causal=allow_causal)
        self.data_format = normalize_data_format(data_format, owner)
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate", owner)
        activations.get(activation, owner=owner)
        self.activation = "linear" if activation is None else activation
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer, owner=owner)
        self.bias_regularizer = regularizers.get(bias_regularizer, owner=owner)
        self.activity_regularizer = regularizers.get(activity_regularizer, owner=owner)
        self.bias_constraint = constraints.get(bias_constraint, owner=owner)
        return owner

    def _check_strides_with_dilation(self) -> None:
        """Keras refuses `strides > 1` together with `dilation_rate > 1` for Conv and
        ConvTranspose layers (not for the depthwise and separable ones)."""
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{describe(self)} does not support strides > 1 together with "
                f"dilation_rate > 1 (as Keras). Received: strides={self.strides}, "
                f"dilation_rate={self.dilation_rate}"
            )

    # ------------------------------------------------------------------ checks
    def _expected_rank_text(self) -> str:
        rank = type(self).rank
        return f"rank {rank + 2} (batch, {_SPATIAL_NAMES[rank]}, channels)"

    def _input_channels(self, input_shape) -> int:
        """Checks the rank and the channel dimension at build time; returns the channels."""
        input_shape = tuple(input_shape)
        if len(input_shape) != type(self).rank + 2:
            raise ValueError(
                f"{describe(self)} expects inputs of {self._expected_rank_text()}. "
                f"Received: input_shape={input_shape}"
            )
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                f"{describe(self)} needs inputs whose channel (last) dimension is known. "
                f"Received: input_shape={input_shape}"
            )
        return channels

    def _check_output_size(self, input_shape, output_lengths) -> None:
        """Build-time check that no known spatial output length is zero or negative."""
        input_shape = tuple(input_shape)
        for size, length in zip(input_shape[1:-1], output_lengths):
            if size is not None and length <= 0:
                if self.padding == "valid":
                    window = tuple(
                        (k - 1) * d + 1 for k, d in zip(self.kernel_size, self.dilation_rate)
                    )
                    expectation = (
                        "each spatial dimension of the input to be at least the (dilated) "
                        f"kernel size {window} with padding='valid'"
                    )
                else:
                    expectation = "inputs that give an output of positive size"
                raise ValueError(
                    f"{describe(self)} expects {expectation}. Received: input_shape={input_shape}"
                )

    def _check_call_input(self, x, channels: int):
        """Checks the rank and channels of a call's input; returns it in the weights' dtype
        (Keras converts inputs to the kernel's dtype)."""
        shape = tuple(getattr(x, "shape", ()))
        if len(shape) != type(self).rank + 2 or shape[-1] != channels:
            raise ValueError(
                f"{describe(self)} expects inputs of {self._expected_rank_text()} with "
                f"{channels} channels. Received: x.shape={shape}"
            )
        return jnp.asarray(x, self.compute_dtype)

    def _finish(self, y, bias):
        if bias is not None:
            y = y + bias
        return activations.get(self.activation)(y)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
