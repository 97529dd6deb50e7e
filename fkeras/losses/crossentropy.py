"""Crossentropy losses: sparse, categorical, binary, and their focal variants.

Keras numerics: with `from_logits=False`, probabilities are clipped to `[1e-7, 1 - 1e-7]` (and
categorical predictions are first renormalized to sum to 1); with `from_logits=True` the
stable `log_softmax` / log-sigmoid forms are used, so extreme logits give finite losses and
gradients.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ..core.registry import register_serializable
from .base import EPSILON, BuiltinLoss, check_label_smoothing, check_same_shape, loss_function
from .base import prepare as _prepare

_register = register_serializable(package="fkeras")

_CATEGORICAL_HINT = " (one-hot labels; for integer labels use SparseCategoricalCrossentropy)"


def _log_probs(y_pred: Array, from_logits: bool, axis: int) -> Array:
    if from_logits:
        return jax.nn.log_softmax(y_pred, axis=axis)
    probs = y_pred / jnp.sum(y_pred, axis=axis, keepdims=True)
    return jnp.log(jnp.clip(probs, EPSILON, 1.0 - EPSILON))


def _binary_crossentropy(y_true: Array, y_pred: Array, from_logits: bool) -> Array:
    if from_logits:
        # max(x, 0) - x z + log(1 + exp(-|x|)): finite for any logit.
        return jnp.maximum(y_pred, 0.0) - y_pred * y_true + jnp.log1p(jnp.exp(-jnp.abs(y_pred)))
    probs = jnp.clip(y_pred, EPSILON, 1.0 - EPSILON)
    return -(y_true * jnp.log(probs) + (1.0 - y_true) * jnp.log(1.0 - probs))


def _warn_single_class(y_pred: Array, axis: int, fn_name: str) -> None:
    if y_pred.shape[axis] == 1:
        warnings.warn(
            f"In loss {fn_name}, expected y_pred.shape to be (batch_size, num_classes) with "
            f"num_classes > 1: a single class always has probability 1 and loss 0. Use "
            f"binary_crossentropy for two classes. Received: y_pred.shape={y_pred.shape}",
            UserWarning,
            stacklevel=3,
        )


def _smooth_categorical(y_true: Array, label_smoothing: float, axis: int) -> Array:
    if not label_smoothing:
        return y_true
    num_classes = y_true.shape[axis]
    return y_true * (1.0 - label_smoothing) + label_smoothing / num_classes


def _smooth_binary(y_true: Array, label_smoothing: float) -> Array:
    if not label_smoothing:
        return y_true
    return y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing


@loss_function
def sparse_categorical_crossentropy(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    from_logits: bool = False,
    ignore_class: int | None = None,
    axis: int = -1,
) -> Array:
    """Per-sample crossentropy between integer labels and class predictions.

    `y_true` holds class indices of shape `y_pred.shape` without the class axis (or with it of
    size 1). Out-of-range labels give NaN; labels equal to `ignore_class` give 0. Arguments as
    for `SparseCategoricalCrossentropy`.

    ```python
    per_sample = fk.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    ```
    """
    y_pred = jnp.asarray(y_pred)
    if not jnp.issubdtype(y_pred.dtype, jnp.floating):
        y_pred = y_pred.astype(jnp.float32)
    y_true = jnp.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[axis] == 1:
        y_true = jnp.squeeze(y_true, axis)
    pred_shape = tuple(y_pred.shape)
    y_pred = jnp.moveaxis(y_pred, axis, -1)
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(
            "sparse_categorical_crossentropy expects integer labels of shape y_pred.shape "
            "without the class axis (or with it of size 1). Received: "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={pred_shape}"
        )
    labels = y_true.astype(jnp.int32)
    num_classes = y_pred.shape[-1]
    log_probs = _log_probs(y_pred, from_logits, axis=-1)
    index = jnp.clip(labels, 0, num_classes - 1)[..., None]
    picked = jnp.take_along_axis(log_probs, index, axis=-1)[..., 0]
    in_range = (labels >= 0) & (labels < num_classes)
    loss = jnp.where(in_range, -picked, jnp.nan)
    if ignore_class is not None:
        loss = jnp.where(labels == ignore_class, jnp.zeros_like(loss), loss)
    return loss


@loss_function
def categorical_crossentropy(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Array:
    """Per-sample crossentropy between one-hot (or soft) labels and class predictions.

    Arguments as for `CategoricalCrossentropy`.
    """
    y_true, y_pred = _prepare(y_true, y_pred, "categorical_crossentropy", _CATEGORICAL_HINT)
    check_same_shape(y_true, y_pred, "categorical_crossentropy", _CATEGORICAL_HINT)
    _warn_single_class(y_pred, axis, "categorical_crossentropy")
    y_true = _smooth_categorical(y_true, label_smoothing, axis)
    return -jnp.sum(y_true * _log_probs(y_pred, from_logits, axis), axis=axis)


@loss_function
def binary_crossentropy(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Array:
    """Per-sample binary crossentropy, averaged over `axis` (the last axis).

    Arguments as for `BinaryCrossentropy`.
    """
    y_true, y_pred = _prepare(y_true, y_pred, "binary_crossentropy")
    check_same_shape(y_true, y_pred, "binary_crossentropy")
    y_true = _smooth_binary(y_true, label_smoothing)
    return jnp.mean(_binary_crossentropy(y_true, y_pred, from_logits), axis=axis)


@loss_function
def categorical_focal_crossentropy(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Array:
    """Per-sample focal crossentropy: `sum(alpha * (1 - p)**gamma * -y_true * log(p))`.

    Arguments as for `CategoricalFocalCrossentropy`.
    """
    y_true, y_pred = _prepare(y_true, y_pred, "categorical_focal_crossentropy", _CATEGORICAL_HINT)
    check_same_shape(y_true, y_pred, "categorical_focal_crossentropy", _CATEGORICAL_HINT)
    _warn_single_class(y_pred, axis, "categorical_focal_crossentropy")
    y_true = _smooth_categorical(y_true, label_smoothing, axis)
    log_probs = _log_probs(y_pred, from_logits, axis)
    probs = jnp.exp(log_probs)
    focal = alpha * jnp.power(1.0 - probs, gamma) * (-y_true * log_probs)
    return jnp.sum(focal, axis=axis)


@loss_function
def binary_focal_crossentropy(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Array:
    """Per-sample binary focal crossentropy: `(1 - p_t)**gamma * bce`, averaged over `axis`.

    Arguments as for `BinaryFocalCrossentropy`.
    """
    y_true, y_pred = _prepare(y_true, y_pred, "binary_focal_crossentropy")
    check_same_shape(y_true, y_pred, "binary_focal_crossentropy")
    y_true = _smooth_binary(y_true, label_smoothing)
    bce = _binary_crossentropy(y_true, y_pred, from_logits)
    if from_logits:
        # 1 - p_t with p = sigmoid(x), without cancellation.
        one_minus_pt = y_true * jax.nn.sigmoid(-y_pred) + (1.0 - y_true) * jax.nn.sigmoid(y_pred)
    else:
        one_minus_pt = 1.0 - (y_true * y_pred + (1.0 - y_true) * (1.0 - y_pred))
    focal = jnp.power(one_minus_pt, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return jnp.mean(focal, axis=axis)


@_register
class SparseCategoricalCrossentropy(BuiltinLoss):
    """Crossentropy between integer class labels and predicted class scores.

    Labels have the shape of `y_pred` without the class axis, e.g. `(batch,)` for
    `(batch, classes)` predictions (`(batch, 1)` also works). A label outside
    `[0, classes)` gives a NaN loss: inside `jax.jit` nothing can raise, so a NaN is the
    signal (Keras on JAX silently gives 0 there).

    **Arguments:**

    - `from_logits`: whether `y_pred` holds logits (uses `log_softmax`) rather than
      probabilities (renormalized, clipped to `[1e-7, 1 - 1e-7]`).
    - `ignore_class`: a label value whose samples get loss 0 and are left out of the
      reduction (`"sum_over_batch_size"` divides by the number of other samples), e.g. a
      padding label in segmentation.
    - `reduction`, `axis` (the class axis), `name`, `dtype`: as in Keras.

    ```python
    loss = fk.losses.SparseCategoricalCrossentropy(from_logits=True)
    value = loss(jnp.array([1, 2]), jnp.array([[0.1, 2.0, -1.0], [0.3, 0.2, 1.5]]))
    ```
    """

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: str | None = "sum_over_batch_size",
        axis: int = -1,
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
    ):
        super().__init__(
            sparse_categorical_crossentropy,
            reduction,
            name,
            dtype,
            from_logits=bool(from_logits),
            ignore_class=None if ignore_class is None else int(ignore_class),
            axis=int(axis),
        )

    def compute_mask(self, y_true: Array, y_pred: Array) -> Array | None:
        if self.ignore_class is None:
            return None
        y_true = jnp.asarray(y_true)
        if y_true.ndim == jnp.ndim(y_pred) and y_true.shape[self.axis] == 1:
            y_true = jnp.squeeze(y_true, self.axis)
        return y_true.astype(jnp.int32) != self.ignore_class


@_register
class CategoricalCrossentropy(BuiltinLoss):
    """Crossentropy between one-hot (or soft) labels and predicted class scores.

    **Arguments:**

    - `from_logits`: whether `y_pred` holds logits (uses `log_softmax`) rather than
      probabilities (renormalized to sum to 1, clipped to `[1e-7, 1 - 1e-7]`).
    - `label_smoothing`: in `[0, 1]`; labels become `y * (1 - s) + s / classes`.
    - `axis`: the class axis. `reduction`, `name`, `dtype`: as in Keras.

    ```python
    loss = fk.losses.CategoricalCrossentropy(label_smoothing=0.1)
    value = loss(jnp.array([[0.0, 1.0]]), jnp.array([[0.3, 0.7]]))
    ```
    """

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_crossentropy",
        dtype: Any = None,
    ):
        super().__init__(
            categorical_crossentropy,
            reduction,
            name,
            dtype,
            from_logits=bool(from_logits),
            label_smoothing=check_label_smoothing(label_smoothing, "CategoricalCrossentropy"),
            axis=int(axis),
        )


@_register
class BinaryCrossentropy(BuiltinLoss):
    """Binary crossentropy, averaged over the last axis: one loss per sample.

    Labels `(batch,)` with predictions `(batch, 1)` are brought to the same rank. Note (as in
    Keras) that `(batch,)` labels with `(batch,)` predictions average over the batch axis and
    give a single scalar per batch.

    **Arguments:**

    - `from_logits`: whether `y_pred` holds logits (uses the stable
      `max(x, 0) - x * z + log(1 + exp(-|x|))`) rather than probabilities (clipped to
      `[1e-7, 1 - 1e-7]`).
    - `label_smoothing`: in `[0, 1]`; labels become `y * (1 - s) + s / 2`.
    - `axis`, `reduction`, `name`, `dtype`: as in Keras.

    ```python
    loss = fk.losses.BinaryCrossentropy(from_logits=True)
    value = loss(jnp.array([[0.0], [1.0]]), jnp.array([[-2.0], [3.0]]))
    ```
    """

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "binary_crossentropy",
        dtype: Any = None,
    ):
        super().__init__(
            binary_crossentropy,
            reduction,
            name,
            dtype,
            from_logits=bool(from_logits),
            label_smoothing=check_label_smoothing(label_smoothing, "BinaryCrossentropy"),
            axis=int(axis),
        )


@_register
class CategoricalFocalCrossentropy(BuiltinLoss):
    """Focal crossentropy for one-hot labels: down-weights well-classified samples.

    Per sample: `sum(alpha * (1 - p)**gamma * -y_true * log(p))` over the class axis.

    **Arguments:**

    - `alpha`: a constant weight (applied to every class, as in Keras).
    - `gamma`: the focusing parameter; `gamma=0` gives `alpha` times the crossentropy.
    - `from_logits`, `label_smoothing`, `axis`: as in `CategoricalCrossentropy`.
    - `reduction`, `name`, `dtype`: as in Keras.

    ```python
    loss = fk.losses.CategoricalFocalCrossentropy(gamma=2.0, from_logits=True)
    value = loss(jnp.array([[0.0, 1.0]]), jnp.array([[0.5, 2.0]]))
    ```
    """

    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_focal_crossentropy",
        dtype: Any = None,
    ):
        super().__init__(
            categorical_focal_crossentropy,
            reduction,
            name,
            dtype,
            alpha=float(alpha),
            gamma=float(gamma),
            from_logits=bool(from_logits),
            label_smoothing=check_label_smoothing(label_smoothing, "CategoricalFocalCrossentropy"),
            axis=int(axis),
        )


@_register
class BinaryFocalCrossentropy(BuiltinLoss):
    """Focal binary crossentropy: `(1 - p_t)**gamma * bce`, averaged over the last axis.

    **Arguments:**

    - `apply_class_balancing`: weight positives by `alpha` and negatives by `1 - alpha`.
    - `alpha`: the class-balancing weight (used only with `apply_class_balancing=True`).
    - `gamma`: the focusing parameter; `gamma=0` gives the binary crossentropy.
    - `from_logits`, `label_smoothing`, `axis`: as in `BinaryCrossentropy`.
    - `reduction`, `name`, `dtype`: as in Keras.

    ```python
    loss = fk.losses.BinaryFocalCrossentropy(apply_class_balancing=True, from_logits=True)
    value = loss(jnp.array([[0.0], [1.0]]), jnp.array([[-2.0], [3.0]]))
    ```
    """

    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "binary_focal_crossentropy",
        dtype: Any = None,
    ):
        super().__init__(
            binary_focal_crossentropy,
            reduction,
            name,
            dtype,
            apply_class_balancing=bool(apply_class_balancing),
            alpha=float(alpha),
            gamma=float(gamma),
            from_logits=bool(from_logits),
            label_smoothing=check_label_smoothing(label_smoothing, "BinaryFocalCrossentropy"),
            axis=int(axis),
        )
