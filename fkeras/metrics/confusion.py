"""Confusion-matrix metrics: `Precision`, `Recall` and `AUC`, with Keras' algorithms.

Counts at each threshold use a strict comparison (`y_pred > threshold`), as in Keras. Evenly
spaced thresholds (always the case for `AUC` unless `thresholds=` is given) use Keras' bucketed
O(T + N) algorithm: each prediction lands in bucket `ceil(p * (T - 1)) - 1`, and the counts are
reversed cumulative sums over buckets.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .base import (
    EPSILON,
    Metric,
    _register,
    as_array,
    as_float,
    broadcast_weights,
    check_choice,
    divide_no_nan,
    squeeze_or_expand_to_same_rank,
)

NEG_INF = -1e10  # Keras' threshold when `top_k` is set


def _parse_thresholds(owner: str, thresholds, default: float) -> list[float]:
    if thresholds is None:
        return [default]
    values = [thresholds] if isinstance(thresholds, (int, float)) else list(thresholds)
    bad = [t for t in values if t is None or not 0 <= t <= 1]
    if bad or not values:
        raise ValueError(
            f"{owner}: threshold values must be in [0, 1]. Received: thresholds={thresholds!r}"
        )
    return [float(t) for t in values]


def _is_evenly_distributed(thresholds: Sequence[float]) -> bool:
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=EPSILON))


def _filter_top_k(x: Array, k: int) -> Array:
    """Keep the `k` largest values of the last axis; set the others to `NEG_INF`."""
    _, idx = jax.lax.top_k(x, k)
    mask = jnp.sum(jax.nn.one_hot(idx, x.shape[-1], dtype=x.dtype), axis=-2)
    return x * mask + NEG_INF * (1 - mask)


def _prepare(owner, y_true, y_pred, sample_weight, top_k=None, class_id=None):
    """Align labels, predictions and weights to one shape, as Keras does."""
    y_pred, y_true = squeeze_or_expand_to_same_rank(as_float(y_pred), as_float(y_true))
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{owner} expects y_true and y_pred of the same shape. Received: "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
        )
    if sample_weight is None:
        weights = jnp.ones(y_pred.shape, jnp.float32)
    else:
        weights = broadcast_weights(sample_weight, y_pred.shape)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim < 2:
            raise ValueError(
                f"{owner}: with class_id, y_pred must have shape (num_samples, num_classes). "
                f"Received: y_pred.shape={tuple(y_pred.shape)}"
            )
        y_true, y_pred, weights = (a[..., class_id, None] for a in (y_true, y_pred, weights))
    return y_true, y_pred, weights


def confusion_counts(y_true, y_pred, weights, thresholds, *, multi_label=False) -> dict:
    """Weighted `tp`, `fp`, `tn`, `fn` at each threshold (Keras' algorithm).

    Inputs share one shape; they are flattened unless `multi_label` (then `(N, L)`, and counts
    have shape `(T, L)`). A zero weight contributes nothing, whatever the values.
    """
    thresholds = np.asarray(thresholds, dtype=np.float32)
    n_thr = len(thresholds)
    if multi_label:
        shape = (-1, y_pred.shape[-1])
    else:
        shape = (-1,)
    y_true, y_pred, weights = (jnp.reshape(a, shape) for a in (y_true, y_pred, weights))
    is_pos = y_true != 0
    true_w = jnp.where(is_pos, weights, 0.0)
    false_w = jnp.where(is_pos, 0.0, weights)
    total_true, total_false = jnp.sum(true_w, axis=0), jnp.sum(false_w, axis=0)

    with_eps = bool(thresholds[0] < 0.0 or thresholds[-1] > 1.0)
    edges = thresholds if not with_eps else np.concatenate([[0.0], thresholds[1:-1], [1.0]])
    if _is_evenly_distributed(edges):
        p = jnp.clip(y_pred, 0.0, 1.0)
        bucket = jnp.ceil(p * jnp.float32(n_thr - 1)) - 1.0
        if with_eps:
            bucket = jnp.maximum(bucket, 0.0)
        keep = (bucket >= 0) & (weights != 0)
        bucket = jnp.where(keep, bucket, 0.0).astype(jnp.int32)
        true_w, false_w = jnp.where(keep, true_w, 0.0), jnp.where(keep, false_w, 0.0)

        # One scatter-add into (threshold, label) buckets for both classes, then one reversed
        # cumulative sum over thresholds: tp / fp at t_i = weight of predictions above t_i.
        n_labels = y_pred.shape[-1] if multi_label else 1
        labels = jnp.arange(n_labels) if multi_label else 0
        cells = jnp.reshape(bucket * n_labels + labels, (-1,))
        data = jnp.stack([jnp.reshape(true_w, (-1,)), jnp.reshape(false_w, (-1,))], axis=-1)
        buckets = jax.ops.segment_sum(data, cells, num_segments=n_thr * n_labels)
        counts = jax.lax.cumsum(jnp.reshape(buckets, (n_thr, n_labels, 2)), axis=0, reverse=True)
        if not multi_label:
            counts = counts[:, 0]
        tp, fp = counts[..., 0], counts[..., 1]
        return {"tp": tp, "fp": fp, "tn": total_false - fp, "fn": total_true - tp}

    pred_pos = y_pred[None] > jnp.reshape(jnp.asarray(thresholds), (n_thr,) + (1,) * y_pred.ndim)

    def count(mask, w):
        return jnp.sum(jnp.where(mask, w[None], 0.0), axis=1)

    return {
        "tp": count(pred_pos, true_w),
        "fp": count(pred_pos, false_w),
        "tn": count(~pred_pos, false_w),
        "fn": count(~pred_pos, true_w),
    }


@functools.partial(
    jax.jit,
    static_argnames=(
        "owner",
        "thresholds",
        "top_k",
        "class_id",
        "multi_label",
        "from_logits",
        "label_weights",
    ),
)
def _update_counts(
    state,
    y_true,
    y_pred,
    sample_weight,
    *,
    owner: str,
    thresholds: tuple[float, ...],
    top_k=None,
    class_id=None,
    multi_label=False,
    from_logits=False,
    label_weights=None,
):
    """`state` (a dict of some of `tp`, `fp`, `tn`, `fn`) plus one batch's counts; one compiled
    computation, also when called eagerly (as by the stateful wrapper)."""
    y_true, y_pred, w = _prepare(owner, y_true, y_pred, sample_weight, top_k, class_id)
    if from_logits:
        y_pred = jax.nn.sigmoid(y_pred)
    if multi_label:
        n_labels = next(iter(state.values())).shape[-1]
        if y_pred.ndim != 2 or y_pred.shape[-1] != n_labels:
            raise ValueError(
                f"{owner}(multi_label=True) expects y_pred of shape (batch, {n_labels}). "
                f"Received: y_pred.shape={tuple(y_pred.shape)}"
            )
    elif label_weights is not None:
        w = w * jnp.broadcast_to(jnp.asarray(label_weights, jnp.float32), w.shape)
    counts = confusion_counts(y_true, y_pred, w, thresholds, multi_label=multi_label)
    return {key: state[key] + counts[key] for key in state}


@functools.partial(jax.jit, static_argnames=("single",))
def _ratio(tp, other, single: bool):
    value = divide_no_nan(tp, tp + other)
    return value[0] if single else value


class _PrecisionRecallBase(Metric):
    _counts: tuple[str, str] = ("tp", "fp")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        if top_k is not None and (
            isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1
        ):
            raise ValueError(f"{owner}: top_k must be a positive int. Received: top_k={top_k!r}")
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, int)):
            raise ValueError(f"{owner}: class_id must be an int. Received: class_id={class_id!r}")
        self.init_thresholds = list(thresholds) if isinstance(thresholds, tuple) else thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = _parse_thresholds(owner, thresholds, 0.5 if top_k is None else NEG_INF)

    def init(self):
        n = len(self.thresholds)
        return {key: jnp.zeros((n,), jnp.float32) for key in self._counts}

    def update(self, state, y_true, y_pred, sample_weight=None):
        return _update_counts(
            state,
            as_array(y_true),
            as_array(y_pred),
            as_array(sample_weight),
            owner=type(self).__name__,
            thresholds=tuple(self.thresholds),
            top_k=self.top_k,
            class_id=self.class_id,
        )

    def _result(self, state) -> Array:
        tp, other = (state[key] for key in self._counts)
        return _ratio(tp, other, single=len(self.thresholds) == 1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


@_register
class Precision(_PrecisionRecallBase):
    """Precision `tp / (tp + fp)` of predictions `y_pred > threshold` against binary labels.

    **Arguments:**

    - `thresholds`: a float or a list of floats in [0, 1] (one result per threshold); default
        0.5, or, with `top_k`, every top-k prediction counts as positive.
    - `top_k`: only the `k` largest predictions of each row can be positive.
    - `class_id`: only this class (column of `y_pred`) is scored.
    - `name`, `dtype`: as for every metric (default name `"precision"`).

    ```python
    m = fk.metrics.Precision()
    m.update_state(jnp.array([0, 1, 1, 1]), jnp.array([1.0, 0.0, 1.0, 1.0]))
    m.result()  # 0.6666667
    ```
    """

    _counts = ("tp", "fp")


@_register
class Recall(_PrecisionRecallBase):
    """Recall `tp / (tp + fn)` of predictions `y_pred > threshold` against binary labels.

    **Arguments:**

    - `thresholds`: a float or a list of floats in [0, 1] (one result per threshold); default
        0.5, or, with `top_k`, every top-k prediction counts as positive.
    - `top_k`: only the `k` largest predictions of each row can be positive.
    - `class_id`: only this class (column of `y_pred`) is scored.
    - `name`, `dtype`: as for every metric (default name `"recall"`).

    ```python
    m = fk.metrics.Recall()
    m.update_state(jnp.array([0, 1, 1, 1]), jnp.array([1.0, 0.0, 1.0, 1.0]))
    m.result()  # 0.6666667
    ```
    """

    _counts = ("tp", "fn")


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


@_register
class AUC(Metric):
    """Area under the ROC or PR curve, from a confusion matrix at `num_thresholds` thresholds.

    Thresholds are `[-eps, 1/(T-1), ..., (T-2)/(T-1), 1 + eps]` (Keras' values), so predictions
    of exactly 0 and 1 are counted correctly. The result approximates the exact AUC (scikit-learn's
    `roc_auc_score`) more closely as `num_thresholds` grows.

    **Arguments:**

    - `num_thresholds`: number of thresholds (> 1).
    - `curve`: `"ROC"`, `"PR"` (precision-recall) or `"PRGAIN"`.
    - `summation_method`: `"interpolation"` (trapezoids; Davis & Goadrich interpolation for
        PR), `"minoring"` or `"majoring"`.
    - `name`, `dtype`: as for every metric (default name `"auc"`).
    - `thresholds`: explicit thresholds in [0, 1] instead of `num_thresholds`.
    - `multi_label`: score each column of a `(batch, num_labels)` input separately and average
        the per-label AUCs; otherwise all entries are flattened into one curve.
    - `num_labels`: the number of labels when `multi_label=True`. Give it to have a fixed-shape
        state from `init()`; if omitted, the state's label axis has size 0 until the first
        update.
    - `label_weights`: per-label weights (of the averaged AUCs if `multi_label`, of the counts
        otherwise).
    - `from_logits`: apply a sigmoid to `y_pred` first.

    ```python
    m = fk.metrics.AUC()
    m.update_state(jnp.array([0, 0, 1, 1]), jnp.array([0.0, 0.5, 0.3, 0.9]))
    m.result()  # 0.75
    ```
    """

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype=None,
        thresholds: Sequence[float] | None = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Sequence[float] | None = None,
        from_logits: bool = False,
    ):
        super().__init__(name=name, dtype=dtype)
        key = curve.lower() if isinstance(curve, str) else curve
        check_choice("AUC", "curve", key, _CURVES)
        summation = summation_method.lower() if isinstance(summation_method, str) else None
        check_choice("AUC", "summation_method", summation, _SUMMATIONS)
        self.curve = _CURVES[key]
        self.summation_method = summation
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_parse_thresholds("AUC", thresholds, 0.5))
            self.num_thresholds = len(inner) + 2
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int):
                raise ValueError(
                    f"AUC: num_thresholds must be an int > 1. Received: "
                    f"num_thresholds={num_thresholds!r}"
                )
            if num_thresholds <= 1:
                raise ValueError(
                    "AUC: num_thresholds must be an integer > 1. "
                    f"Received: num_thresholds={num_thresholds}"
                )
            self.num_thresholds = num_thresholds
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        self.multi_label = bool(multi_label)
        if num_labels is not None and not self.multi_label:
            raise ValueError(
                "AUC: `num_labels` is needed only when `multi_label` is True. "
                f"Received: num_labels={num_labels!r}"
            )
        if label_weights is not None:
            label_weights = [float(v) for v in np.asarray(label_weights).reshape(-1)]
            if self.multi_label and num_labels is None:
                num_labels = len(label_weights)
        self.label_weights = label_weights
        self.num_labels = num_labels
        self.from_logits = bool(from_logits)

    @property
    def thresholds(self) -> list[float]:
        return [float(t) for t in self._thresholds]

    def init(self):
        shape = (self.num_thresholds,)
        if self.multi_label:
            shape += (self.num_labels or 0,)
        return {key: jnp.zeros(shape, jnp.float32) for key in ("tp", "fp", "tn", "fn")}

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_pred = as_array(y_pred)
        if self.multi_label and state["tp"].shape[-1] == 0:  # size the label axis now
            n_labels = y_pred.shape[-1] if y_pred.ndim == 2 else 0
            state = jax.tree.map(lambda s: jnp.zeros(s.shape[:-1] + (n_labels,)), state)
        return _update_counts(
            state,
            as_array(y_true),
            y_pred,
            as_array(sample_weight),
            owner="AUC",
            thresholds=tuple(float(t) for t in self._thresholds),
            multi_label=self.multi_label,
            from_logits=self.from_logits,
            label_weights=None if self.label_weights is None else tuple(self.label_weights),
        )

    def merge(self, a, b):
        if self.multi_label and a["tp"].shape[-1] == 0:
            return b
        if self.multi_label and b["tp"].shape[-1] == 0:
            return a
        return super().merge(a, b)

    def _result(self, state) -> Array:
        label_weights = None if self.label_weights is None else tuple(self.label_weights)
        return _auc_result(
            state, self.curve, self.summation_method, self.multi_label, label_weights
        )

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": self.label_weights,
            "from_logits": self.from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


def _average(by_label: Array, multi_label: bool, label_weights) -> Array:
    if not multi_label:
        return jnp.sum(by_label)
    by_label = jnp.sum(by_label, axis=0)
    if by_label.shape[0] == 0:  # multi-label state not sized yet
        return jnp.float32(0.0)
    if label_weights is None:
        return jnp.mean(by_label)
    lw = jnp.asarray(label_weights, jnp.float32)
    return divide_no_nan(jnp.sum(by_label * lw), jnp.sum(lw))


def _interpolate_pr_auc(tp, fp, fn, multi_label, label_weights) -> Array:
    """Davis & Goadrich interpolation of the PR curve (Keras' closed form)."""
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = p[:-1] - p[1:]
    prec_slope = divide_no_nan(dtp, jnp.maximum(dp, 0))
    intercept = tp[1:] - prec_slope * p[1:]
    safe_p_ratio = jnp.where(
        (p[:-1] > 0) & (p[1:] > 0),
        divide_no_nan(p[:-1], jnp.maximum(p[1:], 0)),
        jnp.ones_like(p[1:]),
    )
    increment = divide_no_nan(
        prec_slope * (dtp + intercept * jnp.log(safe_p_ratio)),
        jnp.maximum(tp[1:] + fn[1:], 0),
    )
    return _average(increment, multi_label, label_weights)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _auc_result(state, curve, summation_method, multi_label, label_weights) -> Array:
    tp, fp, tn, fn = (state[k] for k in ("tp", "fp", "tn", "fn"))
    if curve == "PR" and summation_method == "interpolation":
        return _interpolate_pr_auc(tp, fp, fn, multi_label, label_weights)
    recall = divide_no_nan(tp, tp + fn)
    if curve == "ROC":
        x, y = divide_no_nan(fp, fp + tn), recall
    elif curve == "PR":
        x, y = recall, divide_no_nan(tp, tp + fp)
    else:  # PRGAIN
        scale = divide_no_nan(tp + fn, tn + fp)
        recall_gain = 1.0 - scale * divide_no_nan(fn, tp)
        precision_gain = 1.0 - scale * divide_no_nan(fp, tp)
        x = jnp.maximum(jnp.where(tp == 0, 0.0, recall_gain), 0.0)
        y = jnp.where(tp == 0, 1.0, precision_gain)
    if summation_method == "interpolation":
        heights = (y[:-1] + y[1:]) / 2.0
    elif summation_method == "minoring":
        heights = jnp.minimum(y[:-1], y[1:])
    else:
        heights = jnp.maximum(y[:-1], y[1:])
    return _average((x[:-1] - x[1:]) * heights, multi_label, label_weights)
