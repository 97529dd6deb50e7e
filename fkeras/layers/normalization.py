"""Normalization layers: BatchNormalization, LayerNormalization (Keras formulas and defaults)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .. import initializers
from ..core.autocast import upcast_16bit
from ..core.errors import describe
from ..core.layer import Layer, StatefulLayer, state_field, static
from ..core.registry import register_serializable

_register = register_serializable(package="fkeras")


def _normalize_axes(layer, axis, ndim: int) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{describe(layer)}: axis {a} is out of range for inputs of rank {ndim}. "
                f"Received: axis={axis!r}"
            )
        out.append(a % ndim)
    return tuple(sorted(set(out)))


def _param_shape(layer, axis, input_shape) -> tuple[int, ...]:
    axes = _normalize_axes(layer, axis, len(input_shape))
    shape = tuple(input_shape[a] for a in axes)
    if any(d is None for d in shape):
        raise ValueError(
            f"{describe(layer)} needs the size of the normalized axis {axis} to be known. "
            f"Received: input_shape={tuple(input_shape)}"
        )
    return shape


def _broadcast(layer, axis, x, value):
    """Reshape a weight of the normalized axes' shape to broadcast against `x`."""
    if value is None:
        return None
    axes = _normalize_axes(layer, axis, x.ndim)
    expected = tuple(x.shape[a] for a in axes)
    if value.shape != expected:
        raise ValueError(
            f"{describe(layer)} was built for size {value.shape} on axis {axis}. "
            f"Received: x.shape={tuple(x.shape)}"
        )
    shape = [1] * x.ndim
    for a in axes:
        shape[a] = x.shape[a]
    return value.reshape(shape)


def _normalize(x, mean, variance, gamma, beta, epsilon):
    # Keras' arrangement of the arithmetic, so results agree to float32 rounding.
    inv = jax.lax.rsqrt(variance + epsilon)
    if gamma is not None:
        inv = inv * gamma
    res = -mean * inv
    if beta is not None:
        res = res + beta
    return x * inv + res


def _as_axis_config(axis):
    return axis if isinstance(axis, int) else tuple(axis)


@_register
class BatchNormalization(StatefulLayer):
    """Normalizes with batch statistics in training and moving statistics in inference.

    **Arguments:** `axis=-1` (the feature axis), `momentum=0.99`, `epsilon=1e-3`, `center`,
    `scale`, and initializers for `beta`, `gamma`, `moving_mean`, `moving_variance`.

    **Weights:** trainable `gamma`, `beta`; state `moving_mean`, `moving_variance` (Keras order).

    **Training mode:** `y, layer = layer.apply(x, training=True)` returns the layer with
    updated moving statistics, `moving = moving * momentum + batch * (1 - momentum)`. A frozen
    layer (`trainable=False`) runs in inference mode even when `training=True`, as in Keras.
    """

    supports_masking = True
    # Weights stay float32 in the call: the normalization runs in float32 (Keras).
    _autocast_weights = False

    axis: Any = static()
    momentum: float = static()
    epsilon: float = static()
    center: bool = static()
    scale: bool = static()
    beta_initializer: Any = static()
    gamma_initializer: Any = static()
    moving_mean_initializer: Any = static()
    moving_variance_initializer: Any = static()
    gamma: Array | None
    beta: Array | None
    moving_mean: Array | None = state_field()
    moving_variance: Array | None = state_field()

    def __init__(
        self,
        axis=-1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{owner} expects momentum in [0, 1]. Received: momentum={momentum}")
        if epsilon <= 0:
            raise ValueError(f"{owner} expects epsilon > 0. Received: epsilon={epsilon}")
        self.axis = _as_axis_config(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer, owner=owner)
        self.gamma_initializer = initializers.get(gamma_initializer, owner=owner)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer, owner=owner)
        self.moving_variance_initializer = initializers.get(
            moving_variance_initializer, owner=owner
        )
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def create_weights(self, input_shape, key):
        shape = _param_shape(self, self.axis, input_shape)
        keys = jax.random.split(key, 4)
        return {
            "gamma": self.gamma_initializer(keys[0], shape, self.dtype) if self.scale else None,
            "beta": self.beta_initializer(keys[1], shape, self.dtype) if self.center else None,
            "moving_mean": self.moving_mean_initializer(keys[2], shape, self.dtype),
            "moving_variance": self.moving_variance_initializer(keys[3], shape, self.dtype),
        }

    def apply(self, x: Array, *, training: bool = False, key=None):
        # Statistics in float32 under mixed precision (Keras); the output in the input's dtype.
        out_dtype = x.dtype
        x = upcast_16bit(x)
        moving_mean = _broadcast(self, self.axis, x, self.moving_mean)
        moving_variance = _broadcast(self, self.axis, x, self.moving_variance)
        gamma = _broadcast(self, self.axis, x, self.gamma)
        beta = _broadcast(self, self.axis, x, self.beta)
        if not (training and self.trainable):
            y = _normalize(x, moving_mean, moving_variance, gamma, beta, self.epsilon)
            return y.astype(out_dtype), self
        axes = _normalize_axes(self, self.axis, x.ndim)
        reduce_axes = tuple(i for i in range(x.ndim) if i not in axes)
        mean = jnp.mean(x, axis=reduce_axes, keepdims=True)
        variance = jnp.mean(jnp.square(x - mean), axis=reduce_axes, keepdims=True)
        y = _normalize(x, mean, variance, gamma, beta, self.epsilon).astype(out_dtype)
        m = self.momentum
        updated = self._replace(
            moving_mean=self.moving_mean * m + mean.reshape(self.moving_mean.shape) * (1 - m),
            moving_variance=self.moving_variance * m
            + variance.reshape(self.moving_variance.shape) * (1 - m),
        )
        return y, updated


@_register
class LayerNormalization(Layer):
    """Normalizes each example over `axis` (default the last): `(x - mean) / sqrt(var + eps)`,
    then `* gamma + beta`. With `rms_scaling=True`, `x / sqrt(var + eps) * gamma` (Keras).

    **Arguments:** `axis=-1` (int or list), `epsilon=1e-3`, `center`, `scale`, `rms_scaling`,
    `beta_initializer`, `gamma_initializer`.
    """

    supports_masking = True
    # Weights stay float32 in the call: the normalization runs in float32 (Keras).
    _autocast_weights = False

    axis: Any = static()
    epsilon: float = static()
    center: bool = static()
    scale: bool = static()
    rms_scaling: bool = static()
    beta_initializer: Any = static()
    gamma_initializer: Any = static()
    gamma: Array | None
    beta: Array | None

    def __init__(
        self,
        axis=-1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        rms_scaling: bool = False,
        beta_initializer="zeros",
        gamma_initializer="ones",
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        if epsilon <= 0:
            raise ValueError(f"{owner} expects epsilon > 0. Received: epsilon={epsilon}")
        self.axis = _as_axis_config(axis)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.rms_scaling = bool(rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer, owner=owner)
        self.gamma_initializer = initializers.get(gamma_initializer, owner=owner)
        self.gamma = self.beta = None

    def create_weights(self, input_shape, key):
        shape = _param_shape(self, self.axis, input_shape)
        gamma_key, beta_key = jax.random.split(key)
        use_beta = self.center and not self.rms_scaling
        use_gamma = self.scale or self.rms_scaling
        return {
            # Keras: rms_scaling always learns a scale, even with scale=False.
            "gamma": self.gamma_initializer(gamma_key, shape, self.dtype) if use_gamma else None,
            "beta": self.beta_initializer(beta_key, shape, self.dtype) if use_beta else None,
        }

    def __call__(self, x: Array) -> Array:
        out_dtype = x.dtype  # statistics in float32 under mixed precision, as in Keras
        x = upcast_16bit(x)
        axes = _normalize_axes(self, self.axis, x.ndim)
        gamma = _broadcast(self, self.axis, x, self.gamma)
        beta = _broadcast(self, self.axis, x, self.beta)
        mean = jnp.mean(x, axis=axes, keepdims=True)
        variance = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
        if self.rms_scaling:
            y = x * jax.lax.rsqrt(variance + self.epsilon)
            return (y * gamma if gamma is not None else y).astype(out_dtype)
        return _normalize(x, mean, variance, gamma, beta, self.epsilon).astype(out_dtype)
