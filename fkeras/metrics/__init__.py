"""Metrics with Keras 3 names, defaults and numerics, as pure functions over explicit state.

Every metric has a pure API for jit and multi-device use,

```python
m = fk.metrics.AUC()
state = m.init()                                     # PyTree of float32 arrays
state = jax.jit(m.update)(state, y_true, y_pred, sample_weight)
state = m.merge(state, other_state)                  # combine (e.g. across devices)
value = m.result(state)
```

and Keras' stateful wrapper on the same object (`update_state`, `result`, `reset_state`).
A sample weight of 0 excludes a sample completely (padded rows do not change any result).
"""

from __future__ import annotations

import difflib
import inspect

from ..core.registry import deserialize as _deserialize
from ..core.registry import serialize as _serialize
from .accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from .base import Metric
from .confusion import AUC, Precision, Recall
from .fscore import F1Score, FBetaScore
from .iou import IoU, MeanIoU
from .reduction import Mean, MeanMetricWrapper, Sum
from .regression import (
    MeanAbsoluteError,
    MeanSquaredError,
    RootMeanSquaredError,
    mean_absolute_error,
    mean_squared_error,
)

_CLASSES: dict[str, type[Metric]] = {
    cls.__name__: cls
    for cls in (
        Mean,
        Sum,
        MeanMetricWrapper,
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        SparseCategoricalAccuracy,
        TopKCategoricalAccuracy,
        SparseTopKCategoricalAccuracy,
        MeanSquaredError,
        MeanAbsoluteError,
        RootMeanSquaredError,
        Precision,
        Recall,
        AUC,
        FBetaScore,
        F1Score,
        IoU,
        MeanIoU,
    )
}

_ALIASES: dict[str, type[Metric]] = {
    "accuracy": Accuracy,
    "acc": Accuracy,
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "rmse": RootMeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError,
    "auc": AUC,
    "precision": Precision,
    "recall": Recall,
    "f1_score": F1Score,
    "fbeta_score": FBetaScore,
    "mean": Mean,
    "sum": Sum,
}


def get(identifier) -> Metric | None:
    """A metric from a Keras name, a class name, a config dict, an instance or a function.

    **Arguments:**

    - `identifier`: a name such as `"accuracy"`, `"mse"`, `"auc"` or `"AUC"`; a `Metric`
        (returned as is) or `Metric` subclass (instantiated with defaults); a config dict
        `{"class_name": ..., "config": ...}`; or a function `(y_true, y_pred) -> per-sample
        values`, wrapped in a `MeanMetricWrapper` named after it. `None` gives `None`.

    `"accuracy"` gives a plain `Accuracy` (exact equality); choosing binary / categorical /
    sparse accuracy from the loss is the trainer's job.

    ```python
    fk.metrics.get("auc")            # AUC()
    fk.metrics.get(my_error_fn)      # MeanMetricWrapper(my_error_fn, name="my_error_fn")
    ```
    """
    if identifier is None:
        return None
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            known = sorted(_ALIASES) + sorted(_CLASSES)
            close = difflib.get_close_matches(identifier, known, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ValueError(
                f"Unknown metric '{identifier}'.{hint} Known names: {', '.join(known)}; or pass "
                f"a Metric instance, a config dict or a function (y_true, y_pred) -> values. "
                f"Received: metric={identifier!r}"
            )
        return _instantiate(cls, identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return _instantiate(identifier, identifier.__name__)
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise TypeError(
        "A metric must be a name, a Metric, a config dict or a function (y_true, y_pred) -> "
        f"values. Received: metric={identifier!r}"
    )


def _instantiate(cls: type[Metric], label: str) -> Metric:
    try:
        return cls()
    except TypeError as e:
        raise ValueError(
            f"Metric '{label}' needs arguments ({e}); create it directly, for example "
            f"`fk.metrics.{cls.__name__}(...)`. Received: metric={label!r}"
        ) from None


def serialize(metric: Metric) -> dict:
    """`{"class_name": ..., "config": ...}` for a registered metric."""
    return _serialize(metric)


def deserialize(config: dict) -> Metric:
    """Rebuild a metric from `serialize()`'s output (built-in names resolve to these classes
    even where another module registered a class of the same name, such as a loss)."""
    if isinstance(config, dict) and isinstance(config.get("config"), dict):
        cls = _CLASSES.get(config.get("class_name"))
        if cls is not None:
            return cls.from_config(config["config"])
    return _deserialize(config, expected=Metric)


__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "F1Score",
    "FBetaScore",
    "IoU",
    "Mean",
    "MeanAbsoluteError",
    "MeanIoU",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
    "Sum",
    "TopKCategoricalAccuracy",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "deserialize",
    "get",
    "serialize",
    "mean_absolute_error",
    "mean_squared_error",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]
