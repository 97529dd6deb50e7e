"""`MonitorCallback`: the shared "is this epoch an improvement?" logic of `EarlyStopping`,
`ModelCheckpoint` and `ReduceLROnPlateau` (as Keras 3's `MonitorCallback`)."""

from __future__ import annotations

import warnings

import numpy as np

from .base import Callback

# Substrings of a monitored name whose metric should be maximized (Keras' "auto" mode): the
# accuracy family, AUC, precision/recall and the metrics at a fixed precision, recall,
# sensitivity or specificity, F-scores, IoU, R2 and correlation metrics.
_HIGHER_IS_BETTER = (
    "acc",
    "auc",
    "precision",
    "recall",
    "sensitivity",
    "specificity",
    "f1",
    "fbeta",
    "iou",
    "io_u",
    "r2_score",
    "cosine_similarity",
    "correlation",
)


def infer_mode(monitor: str) -> str:
    """`"max"` or `"min"`: the direction in which `monitor` improves (`mode="auto"`).

    A name ending in `loss` is minimized; a name containing `acc`, `auc`, `precision`,
    `recall`, `f1` (and the other "higher is better" metrics: F-beta, IoU, R2, ...) is
    maximized; anything else (errors such as `mae`) is minimized.

    ```python
    infer_mode("val_accuracy")  # "max"
    infer_mode("val_loss")      # "min"
    ```
    """
    name = monitor.removeprefix("val_")
    if name.endswith("loss"):
        return "min"
    if any(token in name for token in _HIGHER_IS_BETTER):
        return "max"
    return "min"


def is_scalar(value) -> bool:
    return np.ndim(value) == 0


class MonitorCallback(Callback):
    """Base class of the callbacks that watch one logged quantity for improvements.

    **Arguments:**

    - `monitor`: the log key to watch (`"val_loss"`, `"accuracy"`, ...).
    - `mode`: `"auto"`, `"min"` or `"max"`; `"auto"` infers the direction from the name
      (`"max"` for accuracy-like names, `"min"` otherwise; see `infer_mode`).
    - `baseline`: the initial best value (`None`: the first value seen).
    - `min_delta`: the smallest change that counts as an improvement.

    ```python
    class Watch(MonitorCallback):
        def on_epoch_end(self, epoch, logs=None):
            if self._is_improvement(logs[self.monitor], self.best):
                self.best = logs[self.monitor]
    ```
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                stacklevel=3,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None
        self._set_monitor_op()

    @property
    def direction(self) -> str:
        """`"min"` or `"max"`: the resolved mode."""
        return infer_mode(self.monitor) if self.mode == "auto" else self.mode

    def _set_monitor_op(self) -> None:
        if self.direction == "min":
            self.monitor_op = np.less
            self.min_delta = -abs(self.min_delta)
        else:
            self.monitor_op = np.greater
            self.min_delta = abs(self.min_delta)

    def _is_improvement(self, monitor_value, reference_value) -> bool:
        if reference_value is None:
            return True
        return bool(self.monitor_op(monitor_value - self.min_delta, reference_value))
