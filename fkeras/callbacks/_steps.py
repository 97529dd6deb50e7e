"""Counting optimizer steps from the batch hooks, which run once per dispatch."""

from __future__ import annotations


class StepCounter:
    """Counts the steps seen through `on_train_batch_end(batch)` calls and says when a
    multiple of `every` was reached or passed (so with several steps per dispatch, the first
    dispatch end at or after each multiple fires)."""

    def __init__(self, every: int):
        self.every = every
        self.total = 0
        self._last = None

    def reset(self) -> None:
        self.total = 0
        self._last = None

    def new_epoch(self) -> None:
        self._last = None

    def advance(self, batch: int) -> bool:
        """Count up to step `batch` (0-based within the epoch); whether a multiple was crossed."""
        if self._last is None or batch <= self._last:
            added = batch + 1  # a new epoch
        else:
            added = batch - self._last
        self._last = batch
        before, self.total = self.total, self.total + added
        return self.total // self.every > before // self.every
