"""fkeras `trainer.fit` on arrays already on the device (`jax.device_put`), so no copy per call."""

from __future__ import annotations

import jax

from ..cases import Case
from .fkeras_fit import DISPATCH, FkerasRunner, compile_trainer

__all__ = ["DISPATCH", "make", "first_step"]


def make(case: Case) -> FkerasRunner:
    return FkerasRunner(case, jax.device_put(case.x), jax.device_put(case.y))


def first_step(case: Case) -> None:
    """A fresh trainer, the device copy, and a one-step `fit`."""
    trainer = compile_trainer(case.model)
    x, y = jax.device_put(case.x), jax.device_put(case.y)
    trainer.fit(x, y, batch_size=case.batch_size, steps_per_epoch=1, verbose=0)
    jax.block_until_ready(trainer.state.params)
