"""Argument checks and the base class shared by the spatial (pooling and reshaping) layers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.shapes import TensorSpec

#: The channels-last input layouts with 1, 2 and 3 spatial axes (for error messages).
LAYOUTS = (
    "(batch, steps, features)",
    "(batch, rows, cols, channels)",
    "(batch, dim1, dim2, dim3, channels)",
)


def standardize_tuple(layer, value, n: int, arg: str, *, allow_zero: bool = False) -> tuple:
    """`value` (an int or `n` ints) as a tuple of `n` ints, each > 0 (>= 0 with `allow_zero`)."""
    values = (value,) * n if isinstance(value, int) else value
    try:
        values = tuple(values)
    except TypeError:
        values = None
    lowest = 0 if allow_zero else 1
    if (
        values is None
        or len(values) != n
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in values)
        or any(v < lowest for v in values)
    ):
        raise ValueError(
            f"{describe(layer)} expects `{arg}` as an int or a tuple of {n} ints, each "
            f"{'>= 0' if allow_zero else '> 0'}. Received: {arg}={value!r}"
        )
    return values


def check_data_format(layer, data_format) -> str:
    """fkeras is channels-last only: accept `None` and `"channels_last"`."""
    if data_format in (None, "channels_last"):
        return "channels_last"
    raise ValueError(
        f"{describe(layer)} supports only data_format='channels_last' (fkeras is channels-last; "
        "transpose channels-first data with jnp.moveaxis). "
        f"Received: data_format={data_format!r}"
    )


def check_rank(layer, shape, rank: int, what: str) -> None:
    if len(shape) != rank:
        raise ValueError(
            f"{describe(layer)} expects {rank}-D inputs {what}. "
            f"Received: input_shape={tuple(shape)}"
        )


def single_spec(layer, specs) -> TensorSpec:
    if not isinstance(specs, TensorSpec):
        raise ValueError(f"{describe(layer)} expects a single input tensor. Received: {specs!r}")
    return specs


class _Pooling(Layer):
    """Max or average pooling over `_rank` spatial axes with `jax.lax.reduce_window`."""

    pool_size: tuple = static()
    strides: tuple = static()
    padding: str = static()
    data_format: str = static()
    has_weights = False
    _rank = 0
    _mode = "max"

    def __init__(self, pool_size, strides, padding, data_format, *, name, trainable, dtype):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.pool_size = standardize_tuple(self, pool_size, self._rank, "pool_size")
        strides = self.pool_size if strides is None else strides
        self.strides = standardize_tuple(self, strides, self._rank, "strides")
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ValueError(
                f"{describe(self)} expects padding='valid' or 'same'. Received: padding={padding!r}"
            )
        self.padding = padding.lower()
        self.data_format = check_data_format(self, data_format)

    def _output_shape(self, shape) -> tuple:
        """Keras' pooling arithmetic; `None` (unknown) sizes stay `None`."""
        rank = self._rank
        check_rank(self, shape, rank + 2, LAYOUTS[rank - 1])
        out = []
        for n, p, s in zip(shape[1:-1], self.pool_size, self.strides):
            if n is None:
                out.append(None)
            elif self.padding == "same":
                out.append((n - 1) // s + 1)
            elif n < p:
                raise ValueError(
                    f"{describe(self)} with padding='valid' needs every spatial size to be at "
                    f"least pool_size={self.pool_size}. Received: input_shape={tuple(shape)}"
                )
            else:
                out.append((n - p) // s + 1)
        return (shape[0], *out, shape[-1])

    def compute_output_spec(self, input_specs):
        spec = single_spec(self, input_specs)
        dtype = spec.dtype
        if self._mode == "average" and not jnp.issubdtype(dtype, jnp.inexact):
            dtype = jnp.dtype(jnp.float32)
        return TensorSpec(self._output_shape(spec.shape), dtype)

    def __call__(self, x: Array) -> Array:
        self._output_shape(x.shape)
        window = (1, *self.pool_size, 1)
        strides = (1, *self.strides, 1)
        padding = self.padding.upper()
        if self._mode == "max":
            if jnp.issubdtype(x.dtype, jnp.inexact):
                init = np.array(-np.inf, x.dtype)
            else:
                init = np.array(np.iinfo(x.dtype).min, x.dtype)
            # A NumPy (not traced) init value lets JAX see the max monoid, whose gradient it
            # knows; a traced one falls back to a reduce_window without a derivative.
            return jax.lax.reduce_window(x, init, jax.lax.max, window, strides, padding)
        if not jnp.issubdtype(x.dtype, jnp.inexact):
            x = x.astype(jnp.float32)
        zero = np.array(0, x.dtype)
        summed = jax.lax.reduce_window(x, zero, jax.lax.add, window, strides, padding)
        if self.padding == "valid":
            size = 1
            for p in self.pool_size:
                size *= p
            return summed / size
        # Keras divides by the number of real (not padded) elements in each window.
        ones = jnp.ones((1, *x.shape[1:-1], 1), x.dtype)
        counts = jax.lax.reduce_window(ones, zero, jax.lax.add, window, strides, padding)
        return summed / counts
