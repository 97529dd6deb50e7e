"""`ProgbarLogger`: a live progress bar (tqdm) with ETA and metrics, or one line per epoch."""

from __future__ import annotations

import sys
import time

from .base import Callback


def format_logs(logs: dict) -> str:
    parts = []
    for name, value in logs.items():
        try:
            parts.append(f"{name}: {float(value):.4f}")
        except (TypeError, ValueError):  # a per-class vector (F1Score(average=None), say)
            parts.append(f"{name}: {value}")
    return " - ".join(parts)


class ProgbarLogger(Callback):
    """`verbose=1`: a tqdm bar per epoch, updated once per dispatch; `verbose=2`: one line per
    epoch (the default when output is not a terminal, as in Keras' `verbose="auto"`)."""

    batch_end_reads_logs_only = True

    def __init__(self, verbose: int = 1):
        super().__init__()
        self.verbose = verbose
        self._bar = None
        self._start = 0.0
        self._done = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._done = 0
        epochs = self.params.get("epochs")
        if self.verbose == 1:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=self.params.get("steps"),
                desc=f"Epoch {epoch + 1}/{epochs}",
                unit="step",
                file=sys.stdout,
                dynamic_ncols=True,
                leave=True,
            )

    def on_train_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(batch + 1 - self._done)
            self._done = batch + 1
            self._bar.set_postfix_str(format_logs(logs or {}), refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        text = format_logs(logs or {})
        if self._bar is not None:
            self._bar.set_postfix_str(text)
            self._bar.close()
            self._bar = None
        elif self.verbose == 2:
            seconds = time.perf_counter() - self._start
            epochs = self.params.get("epochs")
            print(f"Epoch {epoch + 1}/{epochs} - {seconds:.2f}s - {text}", flush=True)
