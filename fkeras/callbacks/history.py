"""`History`: the per-epoch logs that `fit` returns."""

from __future__ import annotations

from .base import Callback


class History(Callback):
    """Records each epoch's logs: `history.history["val_accuracy"]` is a list, one per epoch."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)
