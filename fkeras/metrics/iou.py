"""Intersection-over-union metrics: `IoU` and `MeanIoU`, from an accumulated confusion matrix."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .base import EPSILON, Metric, _register, as_array, broadcast_weights


@functools.partial(
    jax.jit,
    static_argnames=(
        "owner",
        "num_classes",
        "ignore_class",
        "sparse_y_true",
        "sparse_y_pred",
        "axis",
    ),
)
def _iou_update(
    state,
    y_true,
    y_pred,
    sample_weight,
    *,
    owner,
    num_classes,
    ignore_class,
    sparse_y_true,
    sparse_y_pred,
    axis,
):
    if not sparse_y_true:
        y_true = jnp.argmax(y_true, axis=axis)
    if not sparse_y_pred:
        y_pred = jnp.argmax(y_pred, axis=axis)
    y_true, y_pred = y_true.astype(jnp.int32), y_pred.astype(jnp.int32)
    if sample_weight is None:
        w = jnp.ones(y_true.shape, jnp.float32)
    else:
        w = broadcast_weights(sample_weight, y_true.shape)
    y_true, y_pred, w = (jnp.reshape(a, (-1,)) for a in (y_true, y_pred, w))
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{owner} expects as many labels as predictions. Received: "
            f"{y_true.shape[0]} labels and {y_pred.shape[0]} predictions"
        )
    n = num_classes
    valid = (y_true >= 0) & (y_true < n) & (y_pred >= 0) & (y_pred < n) & (w != 0)
    if ignore_class is not None:
        valid = valid & (y_true != ignore_class)
    cell = jnp.where(valid, y_true * n + y_pred, 0)
    cm = jax.ops.segment_sum(jnp.where(valid, w, 0.0), cell, num_segments=n * n)
    return {"confusion_matrix": state["confusion_matrix"] + cm.reshape(n, n)}


@functools.partial(jax.jit, static_argnames=("target_class_ids",))
def _mean_iou(cm, target_class_ids):
    tp = jnp.diagonal(cm)
    denominator = jnp.sum(cm, axis=0) + jnp.sum(cm, axis=1) - tp
    ids = jnp.asarray(target_class_ids)
    tp, denominator = tp[ids], denominator[ids]
    valid = denominator > 1e-9
    iou = jnp.where(valid, tp / (denominator + EPSILON), 0.0)
    return jnp.sum(iou) / (jnp.sum(valid.astype(jnp.float32)) + EPSILON)


class _IoUBase(Metric):
    def __init__(
        self,
        num_classes: int,
        name: str | None = None,
        dtype=None,
        ignore_class: int | None = None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ):
        super().__init__(name=name, dtype=dtype)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(
                f"{type(self).__name__}: num_classes must be a positive int. "
                f"Received: num_classes={num_classes!r}"
            )
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = bool(sparse_y_true)
        self.sparse_y_pred = bool(sparse_y_pred)
        self.axis = axis

    def init(self):
        return {"confusion_matrix": jnp.zeros((self.num_classes,) * 2, jnp.float32)}

    def update(self, state, y_true, y_pred, sample_weight=None):
        return _iou_update(
            state,
            as_array(y_true),
            as_array(y_pred),
            as_array(sample_weight),
            owner=type(self).__name__,
            num_classes=self.num_classes,
            ignore_class=self.ignore_class,
            sparse_y_true=self.sparse_y_true,
            sparse_y_pred=self.sparse_y_pred,
            axis=self.axis,
        )

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


@_register
class IoU(_IoUBase):
    """Mean intersection-over-union `tp / (tp + fp + fn)` over the classes `target_class_ids`.

    Classes that never occur (in labels or predictions) are left out of the mean.

    **Arguments:**

    - `num_classes`: number of classes (labels outside `[0, num_classes)` are ignored).
    - `target_class_ids`: the classes whose IoUs are averaged.
    - `name`, `dtype`: as for every metric (default name `"io_u"`).
    - `ignore_class`: a label value to ignore (for example a "void" class).
    - `sparse_y_true`, `sparse_y_pred`: whether labels / predictions are class ids; if not, the
        argmax over `axis` is taken.
    - `axis`: the class axis for non-sparse inputs.

    ```python
    m = fk.metrics.IoU(num_classes=2, target_class_ids=[0])
    m.update_state(jnp.array([0, 0, 1, 1]), jnp.array([0, 1, 0, 1]))
    m.result()  # 0.33333334
    ```
    """

    def __init__(
        self,
        num_classes: int,
        target_class_ids: Sequence[int],
        name: str | None = None,
        dtype=None,
        ignore_class: int | None = None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ):
        super().__init__(
            num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )
        ids = [int(i) for i in target_class_ids]
        if not ids or max(ids) >= num_classes or min(ids) < 0:
            raise ValueError(
                f"{type(self).__name__}: target class ids must be in [0, {num_classes}). "
                f"Received: target_class_ids={target_class_ids!r}"
            )
        self.target_class_ids = ids

    def _result(self, state) -> Array:
        return _mean_iou(state["confusion_matrix"], tuple(self.target_class_ids))

    def get_config(self) -> dict:
        return {**super().get_config(), "target_class_ids": self.target_class_ids}


@_register
class MeanIoU(IoU):
    """Mean intersection-over-union over all classes, as used for semantic segmentation.

    IoU of a class is `tp / (tp + fp + fn)` from the confusion matrix accumulated over all
    samples (weighted by `sample_weight`); classes that never occur are left out of the mean.

    **Arguments:**

    - `num_classes`: number of classes (labels outside `[0, num_classes)` are ignored).
    - `name`, `dtype`: as for every metric (default name `"mean_io_u"`).
    - `ignore_class`: a label value to ignore (for example a "void" class).
    - `sparse_y_true`, `sparse_y_pred`: whether labels / predictions are class ids; if not, the
        argmax over `axis` is taken (for example `sparse_y_pred=False` for softmax outputs).
    - `axis`: the class axis for non-sparse inputs.

    ```python
    m = fk.metrics.MeanIoU(num_classes=2)
    m.update_state(jnp.array([0, 0, 1, 1]), jnp.array([0, 1, 0, 1]))
    m.result()  # 0.33333334
    ```
    """

    def __init__(
        self,
        num_classes: int,
        name: str | None = None,
        dtype=None,
        ignore_class: int | None = None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ):
        super().__init__(
            num_classes,
            target_class_ids=list(range(num_classes)) if isinstance(num_classes, int) else [0],
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        del config["target_class_ids"]
        return config
