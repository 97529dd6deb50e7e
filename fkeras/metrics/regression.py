"""Regression metrics: mean squared / absolute error and root mean squared error."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .base import _register, as_float, squeeze_or_expand_to_same_rank
from .reduction import METRIC_FUNCTIONS, Mean, MeanMetricWrapper


def _aligned(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[Array, Array]:
    return squeeze_or_expand_to_same_rank(as_float(y_true), as_float(y_pred))


def _mean_last_axis(x: Array) -> Array:
    # Keras averages over the last axis; for rank-1 inputs (one scalar per sample) fkeras keeps
    # one value per sample instead of collapsing the batch to a single value.
    return jnp.mean(x, axis=-1) if x.ndim > 1 else x


@jax.jit
def mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Per-sample `mean(square(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = _aligned(y_true, y_pred)
    return _mean_last_axis(jnp.square(y_true - y_pred))


@jax.jit
def mean_absolute_error(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Per-sample `mean(abs(y_true - y_pred), axis=-1)`."""
    y_true, y_pred = _aligned(y_true, y_pred)
    return _mean_last_axis(jnp.abs(y_true - y_pred))


@jax.jit
def _squared_error(y_true, y_pred):
    y_true, y_pred = _aligned(y_true, y_pred)
    return jnp.square(y_pred - y_true)


METRIC_FUNCTIONS.update(
    mean_squared_error=mean_squared_error,
    mean_absolute_error=mean_absolute_error,
)


@_register
class MeanSquaredError(MeanMetricWrapper):
    """The mean squared error between `y_true` and `y_pred`.

    **Arguments:**

    - `name`, `dtype`: as for every metric (default name `"mean_squared_error"`).

    ```python
    m = fk.metrics.MeanSquaredError()
    m.update_state(jnp.array([[0.0, 1.0], [0.0, 0.0]]), jnp.array([[1.0, 1.0], [0.0, 0.0]]))
    m.result()  # 0.25
    ```
    """

    def __init__(self, name: str = "mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


@_register
class MeanAbsoluteError(MeanMetricWrapper):
    """The mean absolute error between `y_true` and `y_pred`.

    **Arguments:**

    - `name`, `dtype`: as for every metric (default name `"mean_absolute_error"`).

    ```python
    m = fk.metrics.MeanAbsoluteError()
    m.update_state(jnp.array([[0.0, 1.0], [0.0, 0.0]]), jnp.array([[1.0, 1.0], [0.0, 0.0]]))
    m.result()  # 0.25
    ```
    """

    def __init__(self, name: str = "mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


@_register
class RootMeanSquaredError(Mean):
    """The square root of the (weighted) mean squared error over all samples seen.

    **Arguments:**

    - `name`, `dtype`: as for every metric (default name `"root_mean_squared_error"`).

    ```python
    m = fk.metrics.RootMeanSquaredError()
    m.update_state(jnp.array([[0.0, 1.0], [0.0, 0.0]]), jnp.array([[1.0, 1.0], [0.0, 0.0]]))
    m.result()  # 0.5
    ```
    """

    def __init__(self, name: str = "root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update(self, state, y_true, y_pred, sample_weight=None):
        return super().update(state, _squared_error(y_true, y_pred), sample_weight=sample_weight)

    def _result(self, state) -> Array:
        return jnp.sqrt(super()._result(state))
