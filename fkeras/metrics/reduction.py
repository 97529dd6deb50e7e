"""Reduction metrics: `Mean`, `Sum` and `MeanMetricWrapper` (the mean of a per-sample function)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ..core.registry import get_registered_object
from .base import (
    Metric,
    _register,
    as_array,
    as_float,
    divide_no_nan,
    squeeze_or_expand_to_same_rank,
    weighted,
)


def reduce_to_samplewise_values(values, sample_weight, reduce_fn):
    """Keras' reduction of `values` to one (weighted) value per sample.

    Returns `(values, sample_weight)`, both of shape `(batch,)` (or scalars for scalar values).
    Axes of `values` beyond the weight's rank are reduced first, then the weight is applied,
    then the remaining non-batch axes are reduced (for values and weights alike).
    """
    values = as_float(values)
    if sample_weight is not None:
        sample_weight = as_float(sample_weight)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        w_ndim, v_ndim = sample_weight.ndim, values.ndim
        if v_ndim > w_ndim:
            values = reduce_fn(values, axis=tuple(range(w_ndim, v_ndim)))
        sample_weight = jnp.broadcast_to(sample_weight, values.shape)
        values = weighted(values, sample_weight)
        if w_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, w_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


@functools.partial(jax.jit, static_argnames=("reduce",))
def _accumulate(state, values, sample_weight, reduce: str):
    """The state of `Sum` (`reduce="sum"`) or `Mean` (`reduce="mean"`) after one batch."""
    values, sample_weight = reduce_to_samplewise_values(
        values, sample_weight, jnp.sum if reduce == "sum" else jnp.mean
    )
    new = {"total": state["total"] + jnp.sum(values)}
    if "count" in state:
        if sample_weight is not None:
            count = jnp.sum(sample_weight)
        else:
            count = jnp.float32(values.shape[0] if values.ndim >= 1 else 1)
        new["count"] = state["count"] + count
    return new


@_register
class Sum(Metric):
    """The (weighted) sum of the given values.

    **Arguments:**

    - `name`, `dtype`: as for every metric (default name `"sum"`).

    ```python
    m = fk.metrics.Sum()
    m.update_state(jnp.array([1.0, 3.0, 5.0, 7.0]), sample_weight=jnp.array([1, 1, 0, 0]))
    m.result()  # 4.0
    ```
    """

    def __init__(self, name: str = "sum", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def init(self):
        return {"total": jnp.zeros((), jnp.float32)}

    def update(self, state, values, sample_weight=None):
        return _accumulate(state, as_array(values), as_array(sample_weight), "sum")

    def _result(self, state) -> Array:
        return state["total"]


@_register
class Mean(Metric):
    """The (weighted) mean of the given values: `total / count`.

    **Arguments:**

    - `name`, `dtype`: as for every metric (default name `"mean"`).

    ```python
    m = fk.metrics.Mean()
    m.update_state(jnp.array([1.0, 3.0, 5.0, 7.0]), sample_weight=jnp.array([1, 1, 0, 0]))
    m.result()  # 2.0
    ```
    """

    def __init__(self, name: str = "mean", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def init(self):
        return {"total": jnp.zeros((), jnp.float32), "count": jnp.zeros((), jnp.float32)}

    def update(self, state, values, sample_weight=None):
        return _accumulate(state, as_array(values), as_array(sample_weight), "mean")

    def _result(self, state) -> Array:
        return divide_no_nan(state["total"], state["count"])


# Per-sample metric functions that `MeanMetricWrapper` configs may name; filled by the modules
# that define them (accuracy, regression).
METRIC_FUNCTIONS: dict[str, Callable] = {}


def _function_name(fn: Callable) -> str:
    for key, value in METRIC_FUNCTIONS.items():
        if value is fn:
            return key
    key = getattr(fn, "_registered_name", None)
    if key is not None and get_registered_object(key) is fn:
        return key
    raise TypeError(
        f"Cannot serialize MeanMetricWrapper(fn={fn!r}): the function is neither a built-in "
        "fkeras metric function nor registered. Register it with "
        "`@fk.saving.register_serializable(package=...)`."
    )


def _lookup_function(name: str) -> Callable:
    fn = METRIC_FUNCTIONS.get(name) or get_registered_object(name)
    if fn is None or isinstance(fn, type):
        raise ValueError(
            f"Unknown metric function '{name}' in a MeanMetricWrapper config. Built-in: "
            f"{', '.join(sorted(METRIC_FUNCTIONS))}. Received: fn={name!r}"
        )
    return fn


@_register
class MeanMetricWrapper(Mean):
    """The mean of a per-sample function `fn(y_true, y_pred, **kwargs)` over all samples seen.

    **Arguments:**

    - `fn`: a function `(y_true, y_pred, **kwargs) -> values` with one value (or a block of
        values, averaged) per sample.
    - `name`: defaults to `fn.__name__`.
    - `dtype`: the dtype of `result()`.
    - `**kwargs`: passed on to `fn`.

    ```python
    def abs_error(y_true, y_pred):
        return jnp.abs(y_true - y_pred)

    m = fk.metrics.MeanMetricWrapper(abs_error)
    m.update_state(jnp.array([0.0, 1.0]), jnp.array([1.0, 1.0]))
    m.result()  # 0.5
    ```
    """

    def __init__(self, fn: Callable, name: str | None = None, dtype=None, **kwargs):
        if isinstance(fn, str):
            fn = _lookup_function(fn)
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper expects a callable `fn`. Received: fn={fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", None) or "mean", dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    @property
    def fn(self) -> Callable:
        return self._fn

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_true, y_pred = as_array(y_true), as_array(y_pred)
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        return super().update(state, values, sample_weight=sample_weight)

    def get_config(self) -> dict:
        config = super().get_config()
        if type(self) is MeanMetricWrapper:
            config = {**config, "fn": _function_name(self._fn), **self._fn_kwargs}
        return config
