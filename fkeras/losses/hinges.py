"""Hinge losses for maximum-margin classifiers: hinge, squared hinge, categorical hinge.

(The module is `hinges`, not `hinge`, because `fk.losses.hinge` is the Keras function.)
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ..core.registry import register_serializable
from .base import BuiltinLoss, loss_function
from .base import prepare as _prepare

_register = register_serializable(package="fkeras")


def _to_signed_labels(y_true: Array) -> Array:
    # Keras: if *every* label in the batch is 0 or 1, map {0, 1} to {-1, 1}; otherwise the
    # labels are taken as given (expected in {-1, 1}). The test is over the whole array.
    is_binary = jnp.all((y_true == 0) | (y_true == 1))
    return jnp.where(is_binary, 2.0 * y_true - 1.0, y_true)


@loss_function
def hinge(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Per-sample `mean(max(1 - y_true * y_pred, 0))` over the last axis; labels in {-1, 1}
    (or all in {0, 1}, then mapped to {-1, 1})."""
    y_true, y_pred = _prepare(y_true, y_pred, "hinge")
    y_true = _to_signed_labels(y_true)
    return jnp.mean(jnp.maximum(1.0 - y_true * y_pred, 0.0), axis=-1)


@loss_function
def squared_hinge(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Per-sample `mean(max(1 - y_true * y_pred, 0)**2)` over the last axis; labels as for
    `hinge`."""
    y_true, y_pred = _prepare(y_true, y_pred, "squared_hinge")
    y_true = _to_signed_labels(y_true)
    return jnp.mean(jnp.square(jnp.maximum(1.0 - y_true * y_pred, 0.0)), axis=-1)


@loss_function
def categorical_hinge(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Per-sample `max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` for one-hot
    labels."""
    y_true, y_pred = _prepare(y_true, y_pred, "categorical_hinge")
    pos = jnp.sum(y_true * y_pred, axis=-1)
    neg = jnp.max((1.0 - y_true) * y_pred, axis=-1)
    return jnp.maximum(neg - pos + 1.0, 0.0)


@_register
class Hinge(BuiltinLoss):
    """Hinge loss `mean(max(1 - y_true * y_pred, 0))` over the last axis.

    Labels are expected in {-1, 1}. As in Keras, if every label of the batch is 0 or 1 they
    are mapped to {-1, 1} first; the check covers the whole `y_true` array.

    **Arguments:** `reduction`, `name`, `dtype`, as for `fk.losses.Loss`.

    ```python
    loss = fk.losses.Hinge()
    value = loss(jnp.array([[1.0], [-1.0]]), jnp.array([[0.3], [-2.0]]))  # 0.35
    ```
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "hinge",
        dtype: Any = None,
    ):
        super().__init__(hinge, reduction, name, dtype)


@_register
class SquaredHinge(BuiltinLoss):
    """Squared hinge loss `mean(max(1 - y_true * y_pred, 0)**2)` over the last axis.

    Labels as for `Hinge`: {-1, 1}, or all in {0, 1} (then mapped to {-1, 1}).

    **Arguments:** `reduction`, `name`, `dtype`, as for `fk.losses.Loss`.

    ```python
    loss = fk.losses.SquaredHinge()
    value = loss(jnp.array([[1.0], [-1.0]]), jnp.array([[0.3], [-2.0]]))  # 0.245
    ```
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "squared_hinge",
        dtype: Any = None,
    ):
        super().__init__(squared_hinge, reduction, name, dtype)


@_register
class CategoricalHinge(BuiltinLoss):
    """Categorical hinge loss `max(neg - pos + 1, 0)` for one-hot labels.

    `pos = sum(y_true * y_pred)` is the true class' score and
    `neg = max((1 - y_true) * y_pred)` the best other class' score.

    **Arguments:** `reduction`, `name`, `dtype`, as for `fk.losses.Loss`.

    ```python
    loss = fk.losses.CategoricalHinge()
    value = loss(jnp.array([[0.0, 1.0]]), jnp.array([[0.4, 0.9]]))  # 0.5
    ```
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_hinge",
        dtype: Any = None,
    ):
        super().__init__(categorical_hinge, reduction, name, dtype)
