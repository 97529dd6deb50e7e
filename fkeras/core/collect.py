"""Losses that layers add while they run (weight and activity regularization).

`Layer.add_loss(value)` appends to the innermost active collection; the trainer opens one
around each forward pass (`with collect_losses() as extra: ...`) and adds `sum(extra)` to the
loss. Outside a collection (plain inference) `add_loss` does nothing. Collection happens while
JAX traces the step, so the collected values are ordinary traced arrays of that step: the step
stays a pure function.
"""

from __future__ import annotations

import contextlib
import threading

_local = threading.local()


def _stack() -> list:
    if not hasattr(_local, "stack"):
        _local.stack = []
    return _local.stack


@contextlib.contextmanager
def collect_losses():
    collected: list = []
    _stack().append(collected)
    try:
        yield collected
    finally:
        _stack().pop()


def add_loss(value) -> None:
    """Add `value` (a scalar) to the training loss of the step being traced, if any."""
    stack = _stack()
    if stack:
        stack[-1].append(value)
