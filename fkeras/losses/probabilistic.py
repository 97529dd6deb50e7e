"""Losses between distributions or counts: Kullback-Leibler divergence and Poisson."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ..core.registry import register_serializable
from .base import EPSILON, BuiltinLoss, loss_function
from .base import prepare as _prepare

_register = register_serializable(package="fkeras")


@loss_function
def kl_divergence(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Per-sample `sum(y_true * log(y_true / y_pred))`, both clipped to `[1e-7, 1]`."""
    y_true, y_pred = _prepare(y_true, y_pred, "kl_divergence")
    y_true = jnp.clip(y_true, EPSILON, 1.0)
    y_pred = jnp.clip(y_pred, EPSILON, 1.0)
    return jnp.sum(y_true * jnp.log(y_true / y_pred), axis=-1)


@loss_function
def poisson(y_true: ArrayLike, y_pred: ArrayLike) -> Array:
    """Per-sample `mean(y_pred - y_true * log(y_pred + 1e-7))` over the last axis."""
    y_true, y_pred = _prepare(y_true, y_pred, "poisson")
    return jnp.mean(y_pred - y_true * jnp.log(y_pred + EPSILON), axis=-1)


kld = kl_divergence


@_register
class KLDivergence(BuiltinLoss):
    """Kullback-Leibler divergence `sum(y_true * log(y_true / y_pred))` over the last axis.

    Both arguments are clipped to `[1e-7, 1]` (as in Keras), so zero probabilities in
    `y_true` contribute a negligible `1e-7 * log(1e-7 / y_pred)` rather than exactly 0.

    **Arguments:** `reduction`, `name`, `dtype`, as for `fk.losses.Loss`.

    ```python
    loss = fk.losses.KLDivergence()
    value = loss(jnp.array([[0.2, 0.8]]), jnp.array([[0.4, 0.6]]))
    ```
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "kl_divergence",
        dtype: Any = None,
    ):
        super().__init__(kl_divergence, reduction, name, dtype)


@_register
class Poisson(BuiltinLoss):
    """Poisson loss `mean(y_pred - y_true * log(y_pred + 1e-7))` over the last axis.

    **Arguments:** `reduction`, `name`, `dtype`, as for `fk.losses.Loss`.

    ```python
    loss = fk.losses.Poisson()
    value = loss(jnp.array([[1.0, 3.0]]), jnp.array([[1.5, 2.5]]))
    ```
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "poisson",
        dtype: Any = None,
    ):
        super().__init__(poisson, reduction, name, dtype)
