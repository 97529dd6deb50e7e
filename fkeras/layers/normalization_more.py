"""More normalization layers: GroupNormalization, RMSNormalization, UnitNormalization (Keras
formulas, defaults and weight names)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .. import constraints, initializers, regularizers
from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import register_serializable
from .normalization import _as_axis_config, _broadcast

_register = register_serializable(package="fkeras")


def _check_epsilon(owner: str, epsilon) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon <= 0:
        raise ValueError(f"{owner} expects epsilon > 0. Received: epsilon={epsilon!r}")
    return float(epsilon)


def _check_axis_type(owner: str, axis) -> Any:
    ok = isinstance(axis, int) or (
        isinstance(axis, (list, tuple)) and len(axis) > 0 and all(isinstance(a, int) for a in axis)
    )
    if isinstance(axis, bool) or not ok:
        raise TypeError(
            f"{owner} expects `axis` to be an int or a list/tuple of ints. Received: axis={axis!r}"
        )
    return _as_axis_config(axis)


def _resolve_axes(layer, axis, shape) -> tuple[int, ...]:
    """`axis` as sorted non-negative axes of `shape`; the batch axis 0 is not allowed."""
    ndim = len(shape)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:
        if not -ndim <= a < ndim or a % ndim == 0:
            raise ValueError(
                f"{describe(layer)} expects `axis` to name a non-batch axis of its inputs (rank "
                f"{ndim}). Received: axis={axis!r}, input_shape={tuple(shape)}"
            )
    return tuple(sorted({a % ndim for a in axes}))


def _compute_dtype(x):
    return jnp.result_type(x.dtype, jnp.float32)


@_register
class GroupNormalization(Layer):
    """Group normalization: normalizes each example over groups of channels (Wu & He, 2018).

    The `C` channels on `axis` are split into `groups` groups of `C // groups`; each group is
    normalized over its channels and all other non-batch axes, `(x - mean) / sqrt(var + eps)`,
    then `* gamma + beta` per channel.

    `groups=1` is close to LayerNormalization; `groups=-1` (one group per channel) is instance
    normalization.

    **Arguments:**

    - `groups`: the number of groups (default 32); it must divide the number of channels.
    - `axis`: the channel axis (an int, default -1).
    - `epsilon`: added to the variance (default 1e-3).
    - `center`, `scale`: whether to learn `beta` and `gamma`.
    - `beta_initializer`, `gamma_initializer`, `beta_regularizer`, `gamma_regularizer`,
      `beta_constraint`, `gamma_constraint`: as for Dense's weights.

    **Weights:** `gamma`, `beta` of shape `(channels,)` (Keras order).

    **Input/Output shapes:** any rank >= 2; the output has the input's shape.

    ```python
    layer = fk.layers.GroupNormalization(groups=4).build((None, 8, 8, 16), key=jax.random.key(0))
    y = layer(jnp.ones((2, 8, 8, 16)))  # (2, 8, 8, 16)
    ```
    """

    supports_masking = True
    # Weights stay float32 in the call: the normalization runs in float32 (Keras).
    _autocast_weights = False

    groups: int = static()
    axis: int = static()
    epsilon: float = static()
    center: bool = static()
    scale: bool = static()
    beta_initializer: Any = static()
    gamma_initializer: Any = static()
    beta_regularizer: Any = static()
    gamma_regularizer: Any = static()
    beta_constraint: Any = static()
    gamma_constraint: Any = static()
    gamma: Array | None
    beta: Array | None

    def __init__(
        self,
        groups: int = 32,
        axis: int = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        if (
            isinstance(groups, bool)
            or not isinstance(groups, int)
            or (groups <= 0 and groups != -1)
        ):
            raise ValueError(
                f"{owner} expects `groups` to be a positive integer (or -1 for instance "
                f"normalization). Received: groups={groups!r}"
            )
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"{owner} expects `axis` to be an int. Received: axis={axis!r}")
        self.groups = groups
        self.axis = axis
        self.epsilon = _check_epsilon(owner, epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer, owner=owner)
        self.gamma_initializer = initializers.get(gamma_initializer, owner=owner)
        self.beta_regularizer = regularizers.get(beta_regularizer, owner=owner)
        self.gamma_regularizer = regularizers.get(gamma_regularizer, owner=owner)
        self.beta_constraint = constraints.get(beta_constraint, owner=owner)
        self.gamma_constraint = constraints.get(gamma_constraint, owner=owner)
        self.gamma = self.beta = None

    def _channels_and_groups(self, input_shape) -> tuple[int, int, int]:
        (axis,) = _resolve_axes(self, self.axis, input_shape)
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(
                f"{describe(self)} needs the size of the channel axis {self.axis} to be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        groups = channels if self.groups == -1 else self.groups
        if channels % groups != 0:
            raise ValueError(
                f"{describe(self)} expects the number of channels ({channels}) to be a multiple "
                f"of groups ({groups}). Received: input_shape={tuple(input_shape)}"
            )
        return axis, channels, groups

    def create_weights(self, input_shape, key):
        _, channels, _ = self._channels_and_groups(input_shape)
        gamma_key, beta_key = jax.random.split(key)
        shape = (channels,)
        return {
            "gamma": self.gamma_initializer(gamma_key, shape, self.dtype) if self.scale else None,
            "beta": self.beta_initializer(beta_key, shape, self.dtype) if self.center else None,
        }

    def __call__(self, x: Array) -> Array:
        axis, channels, groups = self._channels_and_groups(x.shape)
        for weight in (self.gamma, self.beta):
            if weight is not None and weight.shape != (channels,):
                raise ValueError(
                    f"{describe(self)} was built for {weight.shape[0]} channels on axis "
                    f"{self.axis}. Received: x.shape={tuple(x.shape)}"
                )
        # Split the channel axis into (groups, channels // groups), in place.
        grouped = (*x.shape[:axis], groups, channels // groups, *x.shape[axis + 1 :])
        xg = x.reshape(grouped).astype(_compute_dtype(x))
        reduce_axes = tuple(i for i in range(1, xg.ndim) if i != axis)
        mean = jnp.mean(xg, axis=reduce_axes, keepdims=True)
        variance = jnp.var(xg, axis=reduce_axes, keepdims=True)
        param_shape = [1] * xg.ndim
        param_shape[axis], param_shape[axis + 1] = groups, channels // groups
        # Keras' arrangement of the arithmetic, so results agree to float32 rounding.
        inv = jax.lax.rsqrt(variance + self.epsilon)
        if self.gamma is not None:
            inv = inv * self.gamma.reshape(param_shape).astype(xg.dtype)
        res = -mean * inv
        if self.beta is not None:
            res = res + self.beta.reshape(param_shape).astype(xg.dtype)
        return (xg * inv + res).reshape(x.shape).astype(x.dtype)


@_register
class RMSNormalization(Layer):
    """Root-mean-square normalization: `x * rsqrt(mean(x**2, axis) + epsilon) * scale`.

    As Keras computes it (Zhang & Sennrich, 2019): no centering and no bias; unlike
    `LayerNormalization(rms_scaling=True)`, the variance is not used, only the mean square.

    **Arguments:**

    - `axis`: the axis or axes to normalize over (default -1).
    - `epsilon`: added to the mean square (default 1e-6).

    **Weights:** `scale` (initialized to ones) of the normalized axes' shape.

    **Input/Output shapes:** any; the output has the input's shape.

    ```python
    layer = fk.layers.RMSNormalization().build((None, 10), key=jax.random.key(0))
    y = layer(jnp.ones((2, 10)))  # (2, 10)
    ```
    """

    # The scale stays float32 in the call: the normalization runs in float32 (Keras).
    _autocast_weights = False

    axis: Any = static()
    epsilon: float = static()
    scale: Array | None

    def __init__(self, axis=-1, epsilon: float = 1e-6, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        self.axis = _check_axis_type(owner, axis)
        self.epsilon = _check_epsilon(owner, epsilon)
        self.scale = None

    def create_weights(self, input_shape, key):
        axes = _resolve_axes(self, self.axis, input_shape)
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(
                f"{describe(self)} needs the size of the normalized axis {self.axis} to be known. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        return {"scale": jnp.ones(shape, self.dtype)}

    def __call__(self, x: Array) -> Array:
        axes = _resolve_axes(self, self.axis, x.shape)
        scale = _broadcast(self, self.axis, x, self.scale)
        xc = x.astype(_compute_dtype(x))
        rrms = jax.lax.rsqrt(jnp.mean(jnp.square(xc), axis=axes, keepdims=True) + self.epsilon)
        return (xc * rrms * scale.astype(xc.dtype)).astype(x.dtype)


@_register
class UnitNormalization(Layer):
    """Scales each example to unit L2 norm over `axis`.

    Keras' formula, `x * min(rsqrt(sum(x**2, axis)), 1e12)`: an all-zero example stays zero.

    **Arguments:** `axis`: the axis or axes to normalize over (default -1).

    **Input/Output shapes:** any; the output has the input's shape.

    ```python
    y = fk.layers.UnitNormalization()(jnp.array([[3.0, 4.0]]))  # [[0.6, 0.8]]
    ```
    """

    supports_masking = True
    has_weights = False

    axis: Any = static()

    def __init__(self, axis=-1, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.axis = _check_axis_type(describe(self), axis)

    def __call__(self, x: Array) -> Array:
        axes = _resolve_axes(self, self.axis, x.shape)
        inv_norm = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=axes, keepdims=True))
        return x * jnp.minimum(inv_norm, 1e12)
