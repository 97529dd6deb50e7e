"""Regression losses: squared, absolute, percentage, logarithmic, Huber, log-cosh, cosine."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ..core.registry import register_serializable
from .base import EPSILON, BuiltinLoss, loss_function
from .base import prepare as _prepare

_register = register_serializable(package="fkeras")


@loss_function
def mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Per-sample `mean((y_true - y_pred)**2)` over the last axis."""
    y_true, y_pred = _prepare(y_true, y_pred, "mean_squared_error")
    return jnp.mean(jnp.square(y_true - y_pred), axis=-1)


@loss_function
def mean_absolute_error(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Per-sample `mean(|y_true - y_pred|)` over the last axis."""
    y_true, y_pred = _prepare(y_true, y_pred, "mean_absolute_error")
    return jnp.mean(jnp.abs(y_true - y_pred), axis=-1)


@loss_function
def mean_absolute_percentage_error(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Per-sample `100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))` over the last axis."""
    y_true, y_pred = _prepare(y_true, y_pred, "mean_absolute_percentage_error")
    diff = jnp.abs((y_true - y_pred) / jnp.maximum(jnp.abs(y_true), EPSILON))
    return 100.0 * jnp.mean(diff, axis=-1)


@loss_function
def mean_squared_logarithmic_error(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Per-sample `mean((log(1 + max(y_pred, 1e-7)) - log(1 + max(y_true, 1e-7)))**2)`."""
    y_true, y_pred = _prepare(y_true, y_pred, "mean_squared_logarithmic_error")
    first = jnp.log1p(jnp.maximum(y_pred, EPSILON))
    second = jnp.log1p(jnp.maximum(y_true, EPSILON))
    return jnp.mean(jnp.square(first - second), axis=-1)


@loss_function
def huber(y_true: ArrayLike, y_pred: ArrayLike, delta: float = 1.0) -> Array:
    """Per-sample Huber loss: quadratic for `|error| <= delta`, linear beyond; mean over the
    last axis."""
    y_true, y_pred = _prepare(y_true, y_pred, "huber")
    error = y_pred - y_true
    abs_error = jnp.abs(error)
    quadratic = 0.5 * jnp.square(error)
    linear = delta * abs_error - 0.5 * delta**2
    return jnp.mean(jnp.where(abs_error <= delta, quadratic, linear), axis=-1)


@loss_function
def log_cosh(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Per-sample `mean(log(cosh(y_pred - y_true)))`, computed without overflow."""
    y_true, y_pred = _prepare(y_true, y_pred, "log_cosh")
    x = y_pred - y_true
    return jnp.mean(x + jax.nn.softplus(-2.0 * x) - math.log(2.0), axis=-1)


def _l2_normalize(x: Array, axis: int) -> Array:
    # Keras: x * min(rsqrt(sum(x**2)), 1 / eps). Clamping the sum instead keeps the gradient
    # of an all-zero vector finite (0, not NaN).
    square_sum = jnp.sum(jnp.square(x), axis=axis, keepdims=True)
    return x * jax.lax.rsqrt(jnp.maximum(square_sum, EPSILON**2))


@loss_function
def cosine_similarity(y_true: ArrayLike, y_pred: ArrayLike, axis: int = -1) -> Array:
    """Per-sample negative cosine similarity `-sum(l2_normalize(y_true) *
    l2_normalize(y_pred))` over `axis`: -1 for aligned vectors, 0 for orthogonal ones."""
    y_true, y_pred = _prepare(y_true, y_pred, "cosine_similarity")
    return -jnp.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


mse = mean_squared_error
mae = mean_absolute_error
mape = mean_absolute_percentage_error
msle = mean_squared_logarithmic_error


@_register
class MeanSquaredError(BuiltinLoss):
    """Mean of squared errors over the last axis: `mean((y_true - y_pred)**2)`.

    **Arguments:** `reduction`, `name`, `dtype`, as for `fk.losses.Loss`.

    ```python
    loss = fk.losses.MeanSquaredError()
    value = loss(jnp.array([[0.0, 1.0]]), jnp.array([[0.5, 0.5]]))  # 0.25
    ```
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_squared_error",
        dtype: Any = None,
    ):
        super().__init__(mean_squared_error, reduction, name, dtype)


@_register
class MeanAbsoluteError(BuiltinLoss):
    """Mean of absolute errors over the last axis: `mean(|y_true - y_pred|)`.

    **Arguments:** `reduction`, `name`, `dtype`, as for `fk.losses.Loss`.

    ```python
    loss = fk.losses.MeanAbsoluteError()
    value = loss(jnp.array([[0.0, 1.0]]), jnp.array([[0.5, 0.5]]))  # 0.5
    ```
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_absolute_error",
        dtype: Any = None,
    ):
        super().__init__(mean_absolute_error, reduction, name, dtype)


@_register
class MeanAbsolutePercentageError(BuiltinLoss):
    """Mean absolute percentage error: `100 * mean(|y_true - y_pred| / |y_true|)`.

    The denominator is clamped to at least `1e-7`, so zero targets give huge (finite) losses.

    **Arguments:** `reduction`, `name`, `dtype`, as for `fk.losses.Loss`.

    ```python
    loss = fk.losses.MeanAbsolutePercentageError()
    value = loss(jnp.array([[2.0, 4.0]]), jnp.array([[1.0, 5.0]]))  # 37.5
    ```
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_absolute_percentage_error",
        dtype: Any = None,
    ):
        super().__init__(mean_absolute_percentage_error, reduction, name, dtype)


@_register
class MeanSquaredLogarithmicError(BuiltinLoss):
    """Mean squared logarithmic error: `mean((log(1 + y_pred) - log(1 + y_true))**2)`.

    Values below `1e-7` are raised to `1e-7` first (as in Keras).

    **Arguments:** `reduction`, `name`, `dtype`, as for `fk.losses.Loss`.

    ```python
    loss = fk.losses.MeanSquaredLogarithmicError()
    value = loss(jnp.array([[1.0, 3.0]]), jnp.array([[2.0, 3.0]]))
    ```
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_squared_logarithmic_error",
        dtype: Any = None,
    ):
        super().__init__(mean_squared_logarithmic_error, reduction, name, dtype)


@_register
class Huber(BuiltinLoss):
    """Huber loss: `0.5 * e**2` for `|e| <= delta`, else `delta * |e| - 0.5 * delta**2`.

    Averaged over the last axis. Keras' default name for this class is `"huber_loss"`.

    **Arguments:**

    - `delta`: where the loss turns from quadratic to linear.
    - `reduction`, `name`, `dtype`: as for `fk.losses.Loss`.

    ```python
    loss = fk.losses.Huber(delta=1.0)
    value = loss(jnp.array([[0.0, 0.0]]), jnp.array([[0.5, 3.0]]))
    ```
    """

    def __init__(
        self,
        delta: float = 1.0,
        reduction: str | None = "sum_over_batch_size",
        name: str = "huber_loss",
        dtype: Any = None,
    ):
        delta = float(delta)
        if delta < 0:
            raise ValueError(f"Huber expects `delta >= 0`. Received: delta={delta}")
        super().__init__(huber, reduction, name, dtype, delta=delta)


@_register
class LogCosh(BuiltinLoss):
    """Log-cosh loss `mean(log(cosh(y_pred - y_true)))`: about `e**2 / 2` for small errors and
    `|e| - log(2)` for large ones.

    **Arguments:** `reduction`, `name`, `dtype`, as for `fk.losses.Loss`.

    ```python
    loss = fk.losses.LogCosh()
    value = loss(jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 1.0]]))
    ```
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "log_cosh",
        dtype: Any = None,
    ):
        super().__init__(log_cosh, reduction, name, dtype)


@_register
class CosineSimilarity(BuiltinLoss):
    """Negative cosine similarity between labels and predictions along `axis`.

    The loss is in `[-1, 1]`: -1 when the vectors point the same way (so minimizing it aligns
    them), 0 when orthogonal or when either vector is zero.

    **Arguments:**

    - `axis`: the axis the similarity is computed along.
    - `reduction`, `name`, `dtype`: as for `fk.losses.Loss`.

    ```python
    loss = fk.losses.CosineSimilarity(axis=-1)
    value = loss(jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 1.0]]))  # -0.7071
    ```
    """

    def __init__(
        self,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "cosine_similarity",
        dtype: Any = None,
    ):
        super().__init__(cosine_similarity, reduction, name, dtype, axis=int(axis))
