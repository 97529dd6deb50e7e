"""Activation layers with arguments: ReLU, LeakyReLU, PReLU (with weights), ELU, Softmax.

They pass masks on unchanged; Softmax also uses an incoming mask (Keras' rule).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .. import constraints, initializers, regularizers
from ..core.autocast import upcast_16bit
from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import register_serializable

_register = register_serializable(package="fkeras")


def _number(layer, value, arg: str, *, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(
            f"{describe(layer)} expects `{arg}` to be a number >= 0"
            f"{' or None' if allow_none else ''}. Received: {arg}={value!r}"
        )
    return float(value)


@_register
class ReLU(Layer):
    """Rectified linear unit with Keras' options (Keras' `ReLU` layer):

    `f(x) = max_value` for `x >= max_value`, `x` for `threshold <= x < max_value`,
    `negative_slope * (x - threshold)` otherwise.

    **Arguments:** `max_value` (a float >= 0 or `None`: no cap), `negative_slope` (>= 0,
    default 0), `threshold` (>= 0, default 0).

    **Input/Output:** any shape, unchanged.

    ```python
    y = fk.layers.ReLU(max_value=6.0)(jnp.array([[-1.0, 3.0, 8.0]]))  # [[0., 3., 6.]]
    ```
    """

    max_value: float | None = static()
    negative_slope: float = static()
    threshold: float = static()
    has_weights = False
    supports_masking = True

    def __init__(
        self,
        max_value=None,
        negative_slope=0.0,
        threshold=0.0,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.max_value = _number(self, max_value, "max_value", allow_none=True)
        self.negative_slope = _number(self, negative_slope, "negative_slope")
        self.threshold = _number(self, threshold, "threshold")

    def __call__(self, x: Array) -> Array:
        # Keras' ReLU.static_call, operation by operation.
        slope, cap, threshold = self.negative_slope, self.max_value, self.threshold
        if slope != 0.0:
            if cap is None and threshold == 0:
                return jax.nn.leaky_relu(x, negative_slope=slope)
            negative_part = jax.nn.relu(-x + threshold) if threshold != 0 else jax.nn.relu(-x)
        if threshold != 0:
            x = jnp.where(x > jnp.asarray(threshold, x.dtype), x, 0)
        elif cap == 6:
            x, cap = jax.nn.relu6(x), None
        else:
            x = jax.nn.relu(x)
        if cap is not None:
            x = jnp.clip(x, jnp.asarray(0.0, x.dtype), jnp.asarray(cap, x.dtype))
        if slope != 0.0:
            x = x - slope * negative_part
        return x


@_register
class LeakyReLU(Layer):
    """`x` for `x >= 0`, `negative_slope * x` otherwise (Keras' `LeakyReLU` layer).

    **Arguments:** `negative_slope`: the slope below 0, >= 0 (default 0.3, Keras 3's layer
    default; the `leaky_relu` activation function's default is 0.2).

    **Input/Output:** any shape, unchanged.

    ```python
    y = fk.layers.LeakyReLU()(jnp.array([[-1.0, 2.0]]))  # [[-0.3, 2.]]
    ```
    """

    negative_slope: float = static()
    has_weights = False
    supports_masking = True

    def __init__(self, negative_slope=0.3, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.negative_slope = _number(self, negative_slope, "negative_slope")

    def __call__(self, x: Array) -> Array:
        return jax.nn.leaky_relu(x, negative_slope=self.negative_slope)


@_register
class PReLU(Layer):
    """Leaky ReLU with a learned slope: `x` for `x >= 0`, `alpha * x` otherwise (Keras'
    `PReLU`).

    **Arguments:**

    - `alpha_initializer`: the initial slopes (default `"zeros"`: starts as ReLU).
    - `alpha_regularizer`, `alpha_constraint`: as in `Dense`.
    - `shared_axes`: axes (>= 1) along which one slope is shared, e.g. `[1, 2]` for one
      slope per channel of `(batch, rows, cols, channels)` images.

    **Weights:** `alpha`, of the input shape without the batch axis, with size 1 on
    `shared_axes`.

    ```python
    layer = fk.layers.PReLU(shared_axes=[1, 2]).build((None, 28, 28, 8), key=jax.random.key(0))
    layer.alpha.shape  # (1, 1, 8)
    ```
    """

    supports_masking = True

    alpha_initializer: Any = static()
    alpha_regularizer: Any = static()
    alpha_constraint: Any = static()
    shared_axes: tuple | None = static()
    alpha: Array | None

    def __init__(
        self,
        alpha_initializer="Zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        self.alpha_initializer = initializers.get(alpha_initializer, owner=owner)
        self.alpha_regularizer = regularizers.get(alpha_regularizer, owner=owner)
        self.alpha_constraint = constraints.get(alpha_constraint, owner=owner)
        if shared_axes is not None:
            axes = shared_axes if isinstance(shared_axes, (list, tuple)) else (shared_axes,)
            if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in axes):
                raise ValueError(
                    f"{owner} expects `shared_axes` as an int or a list of ints >= 1 (axis 0 is "
                    f"the batch). Received: shared_axes={shared_axes!r}"
                )
            shared_axes = tuple(axes)
        self.shared_axes = shared_axes
        self.alpha = None

    def create_weights(self, input_shape, key) -> dict[str, Array]:
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if axis >= len(input_shape):
                raise ValueError(
                    f"{describe(self)}: shared_axes={list(self.shared_axes)} names an axis "
                    f"beyond the input's rank {len(input_shape)}. "
                    f"Received: input_shape={tuple(input_shape)}"
                )
            shape[axis - 1] = 1
        if any(d is None for d in shape):
            raise ValueError(
                f"{describe(self)} needs every non-batch size that is not in shared_axes to be "
                f"known. Received: input_shape={tuple(input_shape)}, "
                f"shared_axes={self.shared_axes}"
            )
        return {"alpha": self.alpha_initializer(key, tuple(shape), self.dtype)}

    def __call__(self, x: Array) -> Array:
        alpha = self.alpha
        if x.ndim != alpha.ndim + 1 or any(
            a not in (1, d) for a, d in zip(alpha.shape, x.shape[1:])
        ):
            raise ValueError(
                f"{describe(self)} was built for inputs of shape (batch, *{alpha.shape}) (sizes "
                f"of 1 shared). Received: x.shape={tuple(x.shape)}"
            )
        return jax.nn.relu(x) - alpha * jax.nn.relu(-x)


@_register
class ELU(Layer):
    """Exponential linear unit: `x` for `x > 0`, `alpha * (exp(x) - 1)` otherwise (Keras'
    `ELU` layer).

    **Arguments:** `alpha`: the scale of the negative part (default 1.0).

    **Input/Output:** any shape, unchanged.

    ```python
    y = fk.layers.ELU(alpha=0.5)(jnp.array([[-1.0, 2.0]]))  # [[-0.316, 2.]]
    ```
    """

    alpha: float = static()
    has_weights = False
    supports_masking = True

    def __init__(self, alpha=1.0, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)):
            raise ValueError(
                f"{describe(self)} expects a number `alpha`. Received: alpha={alpha!r}"
            )
        self.alpha = float(alpha)

    def __call__(self, x: Array) -> Array:
        return jax.nn.elu(x, alpha=self.alpha)


@_register
class Softmax(Layer):
    """Softmax along `axis` (Keras' `Softmax` layer), optionally under a mask.

    **Arguments:** `axis`: an int or a tuple of ints (default -1, the last axis).

    **Call:** `layer(x, mask=None)`: `mask` (bool, or numbers where > 0.5 means kept)
    broadcasts against `x`; masked positions get a large negative logit (-1e9, -3e4 in
    float16) before the softmax and exactly 0 after it, as in Keras. Inside a model the
    incoming mask is used the same way.

    **Input/Output:** any shape, unchanged.

    ```python
    scores = jnp.array([[1.0, 2.0, 3.0]])
    p = fk.layers.Softmax()(scores, mask=jnp.array([[True, True, False]]))  # [[.27, .73, 0.]]
    ```
    """

    axis: Any = static()
    has_weights = False
    supports_masking = True

    def __init__(self, axis=-1, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
        if not axes or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
            raise ValueError(
                f"{describe(self)} expects `axis` as an int or a tuple of ints. "
                f"Received: axis={axis!r}"
            )
        self.axis = axes if isinstance(axis, (list, tuple)) else axis

    def __call__(self, x: Array, *, mask=None) -> Array:
        axes = self.axis if isinstance(self.axis, tuple) else (self.axis,)
        if not all(-x.ndim <= a < x.ndim for a in axes):
            raise ValueError(
                f"{describe(self)}: axis={self.axis} is out of range for inputs of rank "
                f"{x.ndim}. Received: x.shape={tuple(x.shape)}"
            )
        # In float32 under mixed precision (Keras' advice for the final softmax); the output
        # comes back in the input's dtype.
        out_dtype = x.dtype
        x = upcast_16bit(x)
        if mask is not None:
            mask = jnp.asarray(mask)
            if mask.ndim > x.ndim or any(
                m != 1 and m != d for m, d in zip(mask.shape[::-1], x.shape[::-1])
            ):
                raise ValueError(
                    f"{describe(self)} expects a mask that broadcasts to the inputs. "
                    f"Received: mask.shape={tuple(mask.shape)}, x.shape={tuple(x.shape)}"
                )
            if mask.dtype != jnp.bool_:
                mask = mask > 0.5
            big_negative = -3e4 if x.dtype == jnp.float16 else -1e9
            x = jnp.where(mask, x, jnp.asarray(big_negative, x.dtype))
        if len(axes) > 1:
            out = jnp.exp(x - jax.nn.logsumexp(x, axis=axes, keepdims=True))
        else:
            out = jax.nn.softmax(x, axis=axes[0])
        if mask is not None:
            out = jnp.where(mask, out, jnp.zeros((), out.dtype))
        return out.astype(out_dtype)
