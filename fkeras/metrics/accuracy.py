"""Accuracy metrics: per-sample match functions and their `MeanMetricWrapper` classes."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .base import _register, as_float, squeeze_or_expand_to_same_rank
from .reduction import METRIC_FUNCTIONS, MeanMetricWrapper


@jax.jit
def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """1.0 where `y_pred == y_true`, else 0.0."""
    y_pred = jnp.asarray(y_pred)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return as_float(y_true == y_pred)


@functools.partial(jax.jit, static_argnames=("threshold",))
def binary_accuracy(y_true: ArrayLike, y_pred: ArrayLike, threshold: float = 0.5) -> Array:
    """1.0 where `(y_pred > threshold) == y_true`, else 0.0."""
    y_true, y_pred = squeeze_or_expand_to_same_rank(as_float(y_true), as_float(y_pred))
    return as_float(as_float(y_pred > threshold) == y_true)


def _sparse_labels(y_true: Array, y_pred: Array) -> Array:
    """Integer labels of shape `y_pred.shape[:-1]` from `(batch,)` or `(batch, 1)` labels."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = jnp.squeeze(y_true, -1)
    return y_true


@jax.jit
def categorical_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """1.0 where `argmax(y_pred) == argmax(y_true)` (one-hot labels), else 0.0."""
    return as_float(jnp.argmax(jnp.asarray(y_true), -1) == jnp.argmax(jnp.asarray(y_pred), -1))


@jax.jit
def sparse_categorical_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """1.0 where `argmax(y_pred) == y_true` (integer labels), else 0.0."""
    y_pred = jnp.asarray(y_pred)
    y_true = _sparse_labels(jnp.asarray(y_true), y_pred)
    return as_float(y_true.astype(y_pred.dtype) == jnp.argmax(y_pred, -1).astype(y_pred.dtype))


def _in_top_k(labels: Array, scores: Array, k: int) -> Array:
    # Keras' JAX `in_top_k`: rank = 1 + number of strictly larger scores; NaN scores never win.
    at_label = jnp.take_along_axis(scores, labels[..., None].astype(jnp.int32), axis=-1)
    at_label = jnp.where(jnp.isnan(at_label), -jnp.inf, at_label)
    rank = 1 + jnp.sum(scores > at_label, axis=-1)
    return rank <= k


@functools.partial(jax.jit, static_argnames=("k",))
def top_k_categorical_accuracy(y_true: ArrayLike, y_pred: ArrayLike, k: int = 5) -> Array:
    """1.0 where the one-hot label's class is among the `k` largest scores, else 0.0."""
    y_pred = as_float(y_pred)
    return as_float(_in_top_k(jnp.argmax(jnp.asarray(y_true), -1), y_pred, k))


@functools.partial(jax.jit, static_argnames=("k", "from_sorted_ids"))
def sparse_top_k_categorical_accuracy(
    y_true: ArrayLike, y_pred: ArrayLike, k: int = 5, from_sorted_ids: bool = False
) -> Array:
    """1.0 where the integer label is among the `k` largest scores, else 0.0.

    With `from_sorted_ids=True`, `y_pred` holds class ids sorted by decreasing score.
    """
    y_pred = jnp.asarray(y_pred)
    y_true = _sparse_labels(jnp.asarray(y_true), y_pred)
    if from_sorted_ids:
        hits = jnp.any(y_true[..., None].astype(y_pred.dtype) == y_pred[..., :k], axis=-1)
    else:
        hits = _in_top_k(y_true, as_float(y_pred), k)
    return as_float(hits)


# (Each function is one compiled computation, also when called eagerly.)
METRIC_FUNCTIONS.update(
    accuracy=accuracy,
    binary_accuracy=binary_accuracy,
    categorical_accuracy=categorical_accuracy,
    sparse_categorical_accuracy=sparse_categorical_accuracy,
    top_k_categorical_accuracy=top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy=sparse_top_k_categorical_accuracy,
)


@_register
class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly.

    **Arguments:**

    - `name`, `dtype`: as for every metric (default name `"accuracy"`).

    ```python
    m = fk.metrics.Accuracy()
    m.update_state(jnp.array([1, 2, 3, 4]), jnp.array([0, 2, 3, 4]))
    m.result()  # 0.75
    ```
    """

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


@_register
class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` matches binary labels.

    **Arguments:**

    - `threshold`: predictions above it count as 1.
    - `name`, `dtype`: as for every metric (default name `"binary_accuracy"`).

    ```python
    m = fk.metrics.BinaryAccuracy()
    m.update_state(jnp.array([1, 1, 0, 0]), jnp.array([0.98, 1.0, 0.0, 0.6]))
    m.result()  # 0.75
    ```
    """

    def __init__(self, name: str = "binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}


@_register
class CategoricalAccuracy(MeanMetricWrapper):
    """How often `argmax(y_pred)` matches one-hot labels (logits work too).

    **Arguments:**

    - `name`, `dtype`: as for every metric (default name `"categorical_accuracy"`).

    ```python
    m = fk.metrics.CategoricalAccuracy()
    m.update_state(jnp.array([[0, 0, 1], [0, 1, 0]]), jnp.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
    m.result()  # 0.5
    ```
    """

    def __init__(self, name: str = "categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


@_register
class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often `argmax(y_pred)` matches integer labels of shape `(batch,)` or `(batch, 1)`.

    **Arguments:**

    - `name`, `dtype`: as for every metric (default name `"sparse_categorical_accuracy"`).

    ```python
    m = fk.metrics.SparseCategoricalAccuracy()
    m.update_state(jnp.array([2, 1]), jnp.array([[0.1, 0.6, 0.3], [0.05, 0.95, 0]]))
    m.result()  # 0.5
    ```
    """

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


@_register
class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot label's class is among the `k` highest scores.

    **Arguments:**

    - `k`: how many top scores to look at.
    - `name`, `dtype`: as for every metric (default name `"top_k_categorical_accuracy"`).

    ```python
    m = fk.metrics.TopKCategoricalAccuracy(k=1)
    m.update_state(jnp.array([[0, 0, 1], [0, 1, 0]]), jnp.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
    m.result()  # 0.5
    ```
    """

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def get_config(self) -> dict:
        return {**super().get_config(), "k": self.k}


@_register
class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the `k` highest scores.

    **Arguments:**

    - `k`: how many top scores to look at.
    - `from_sorted_ids`: `y_pred` holds class ids sorted by decreasing score instead of scores.
    - `name`, `dtype`: as for every metric (default name `"sparse_top_k_categorical_accuracy"`).

    ```python
    m = fk.metrics.SparseTopKCategoricalAccuracy(k=1)
    m.update_state(jnp.array([2, 1]), jnp.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
    m.result()  # 0.5
    ```
    """

    def __init__(
        self,
        k: int = 5,
        name: str = "sparse_top_k_categorical_accuracy",
        dtype=None,
        from_sorted_ids: bool = False,
    ):
        super().__init__(
            sparse_top_k_categorical_accuracy,
            name=name,
            dtype=dtype,
            k=k,
            from_sorted_ids=from_sorted_ids,
        )
        self.k = k
        self.from_sorted_ids = from_sorted_ids

    def get_config(self) -> dict:
        config = {**super().get_config(), "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config
