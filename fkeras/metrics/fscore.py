"""F-scores: `FBetaScore` and `F1Score` with Keras 3 semantics (one-hot / multi-hot labels)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .base import (
    EPSILON,
    Metric,
    _register,
    as_array,
    as_float,
    broadcast_weights,
    check_choice,
)

_AVERAGES = (None, "micro", "macro", "weighted")


@functools.partial(jax.jit, static_argnames=("average", "threshold"))
def _fbeta_update(state, y_true, y_pred, sample_weight, average, threshold):
    y_true, y_pred = as_float(y_true), as_float(y_pred)
    if threshold is None:  # 1 at the row maximum (all tied maxima), unless it is ~0
        row_max = jnp.max(y_pred, axis=-1, keepdims=True)
        pred = (y_pred >= row_max) & (jnp.abs(y_pred) > 1e-9)
    else:
        pred = y_pred > threshold
    pred = as_float(pred)
    if sample_weight is None:
        w = jnp.ones(y_pred.shape, jnp.float32)
    else:
        w = broadcast_weights(sample_weight, y_pred.shape)
    axis = None if average == "micro" else 0

    def weighted_sum(values):
        return jnp.sum(jnp.where(w == 0, 0.0, values * w), axis=axis)

    return {
        "tp": state["tp"] + weighted_sum(pred * y_true),
        "fp": state["fp"] + weighted_sum(pred * (1 - y_true)),
        "fn": state["fn"] + weighted_sum((1 - pred) * y_true),
        "support": state["support"] + weighted_sum(y_true),
    }


@functools.partial(jax.jit, static_argnames=("beta", "average"))
def _fbeta_result(state, beta, average):
    tp, fp, fn = state["tp"], state["fp"], state["fn"]
    precision = tp / (tp + fp + EPSILON)
    recall = tp / (tp + fn + EPSILON)
    b2 = beta**2
    score = (1 + b2) * (precision * recall / (b2 * precision + recall + EPSILON))
    if average == "weighted":
        weights = state["support"] / (jnp.sum(state["support"]) + EPSILON)
        return jnp.sum(score * weights)
    if average is not None:
        return jnp.mean(score)
    return score


@_register
class FBetaScore(Metric):
    """F-beta score `(1 + beta^2) * precision * recall / (beta^2 * precision + recall)`.

    Predictions are binarized first: `y_pred > threshold`, or, if `threshold` is `None`, 1 at
    the row's maximum (every tied maximum) and 0 elsewhere. Inputs have shape
    `(batch, num_classes)` with one-hot or multi-hot `y_true`.

    **Arguments:**

    - `average`: `None` (the result is one score per class), `"micro"` (global counts),
        `"macro"` (unweighted mean of the class scores) or `"weighted"` (mean weighted by each
        class's support).
    - `beta`: weight of recall relative to precision (> 0).
    - `threshold`: the binarization threshold in (0, 1], or `None` for the row maximum.
    - `name`, `dtype`: as for every metric (default name `"fbeta_score"`).
    - `num_classes` (fkeras only, keyword): the number of classes, for a fixed-shape state from
        `init()`. If omitted (as in Keras), per-class counts have size 0 until the first update.

    ```python
    m = fk.metrics.FBetaScore(beta=2.0, threshold=0.5, average="macro")
    m.update_state(jnp.array([[1, 0], [0, 1]]), jnp.array([[0.9, 0.2], [0.6, 0.7]]))
    m.result()
    ```
    """

    def __init__(
        self,
        average: str | None = None,
        beta: float = 1.0,
        threshold: float | None = None,
        name: str = "fbeta_score",
        dtype=None,
        *,
        num_classes: int | None = None,
    ):
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        check_choice(owner, "average", average, _AVERAGES)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta <= 0:
            raise ValueError(f"{owner}: `beta` must be a float > 0. Received: beta={beta!r}")
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not 0.0 < threshold <= 1.0
        ):
            raise ValueError(
                f"{owner}: `threshold` must be a float with 0 < threshold <= 1, or None. "
                f"Received: threshold={threshold!r}"
            )
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
        ):
            raise ValueError(
                f"{owner}: `num_classes` must be a positive int or None. "
                f"Received: num_classes={num_classes!r}"
            )
        self.average = average
        self.beta = float(beta)
        self.threshold = None if threshold is None else float(threshold)
        self.num_classes = num_classes

    def init(self):
        shape = () if self.average == "micro" else (self.num_classes or 0,)
        return {k: jnp.zeros(shape, jnp.float32) for k in ("tp", "fp", "fn", "support")}

    def update(self, state, y_true, y_pred, sample_weight=None):
        owner = type(self).__name__
        y_true, y_pred = as_array(y_true), as_array(y_pred)
        if y_pred.ndim != 2 or y_true.shape != y_pred.shape:
            raise ValueError(
                f"{owner} expects 2D inputs of the same shape (batch_size, num_classes). "
                f"Received: y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
            )
        n_classes = y_pred.shape[-1]
        if self.average != "micro":
            if state["tp"].shape[0] == 0:  # not sized yet (num_classes was not given)
                state = jax.tree.map(lambda s: jnp.zeros((n_classes,), jnp.float32), state)
            if state["tp"].shape[0] != n_classes:
                raise ValueError(
                    f"{owner} was set up for {state['tp'].shape[0]} classes. "
                    f"Received: y_pred.shape={tuple(y_pred.shape)}"
                )
        return _fbeta_update(
            state, y_true, y_pred, as_array(sample_weight), self.average, self.threshold
        )

    def merge(self, a, b):
        if self.average != "micro" and a["tp"].shape[0] == 0:
            return b
        if self.average != "micro" and b["tp"].shape[0] == 0:
            return a
        return super().merge(a, b)

    def _result(self, state) -> Array:
        return _fbeta_result(state, self.beta, self.average)

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }
        if self.num_classes is not None:
            config["num_classes"] = self.num_classes
        return config


@_register
class F1Score(FBetaScore):
    """F1 score, the harmonic mean of precision and recall (`FBetaScore` with `beta=1`).

    **Arguments:**

    - `average`: `None` (one score per class), `"micro"`, `"macro"` or `"weighted"`.
    - `threshold`: the binarization threshold in (0, 1], or `None` for the row maximum.
    - `name`, `dtype`: as for every metric (default name `"f1_score"`).
    - `num_classes` (fkeras only, keyword): for a fixed-shape state from `init()`.

    ```python
    m = fk.metrics.F1Score(threshold=0.5)
    m.update_state(jnp.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]]),
                   jnp.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]))
    m.result()  # [0.5, 0.8, 0.6666667] up to float32 rounding
    ```
    """

    def __init__(
        self,
        average: str | None = None,
        threshold: float | None = None,
        name: str = "f1_score",
        dtype=None,
        *,
        num_classes: int | None = None,
    ):
        super().__init__(
            average=average,
            beta=1.0,
            threshold=threshold,
            name=name,
            dtype=dtype,
            num_classes=num_classes,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config
