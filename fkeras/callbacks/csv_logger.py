"""`CSVLogger`: stream each epoch's logs to a CSV file."""

from __future__ import annotations

import collections.abc
import csv
import os

import numpy as np

from .base import Callback


def _cell(value):
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, collections.abc.Iterable):  # a per-class vector
        return "[" + ", ".join(map(str, value)) + "]"
    return value


class CSVLogger(Callback):
    """Write one CSV row per epoch: the 0-based `epoch`, then the logs (Keras' `CSVLogger`).

    The header is `epoch` followed by the first epoch's log keys, sorted; when those have no
    `val_*` key, the matching `val_*` columns are added too (filled with `NA` until validation
    runs), as in Keras. Vector values are written as `[a, b, ...]` (quoted by the CSV writer
    when they contain the separator). The file is flushed after every row and closed at the
    end of training.

    **Arguments:**

    - `filename`: the CSV file, e.g. `"run/log.csv"`.
    - `separator`: the field separator. Default `","`.
    - `append`: `True` appends to an existing file (no second header when it is non-empty);
      `False` overwrites it. Default `False`.

    ```python
    csv_logger = fk.callbacks.CSVLogger("training.csv")
    trainer.fit(x, y, epochs=5, callbacks=[csv_logger])
    ```
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            self.append_header = True
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="")  # closed at train end
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend([f"val_{key}" for key in self.keys])
        if self.writer is None:

            class Dialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch", *self.keys], dialect=Dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None
