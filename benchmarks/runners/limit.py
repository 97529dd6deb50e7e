"""The limit: a hand-written `jax.jit` + optax step, scanned over a whole epoch.

The data lives on the device and is shuffled there; one dispatch runs the whole epoch. This is
the reference the design sets for `fit()`. The model is fkeras' (its arrays and forward
function); everything around it is plain JAX and optax.
"""

from __future__ import annotations

import jax
import numpy as np
import optax

import fkeras as fk

from ..cases import EPSILON, LEARNING_RATE, Case
from .fkeras_fit import build_model

DISPATCH = "whole epoch"


class LimitRunner:
    """A hand-written scanned training epoch over `case` (`steps` optimizer steps)."""

    def __init__(self, case: Case, steps: int | None = None):
        params, _, static = fk.partition(build_model(case.model))
        optimizer = optax.adam(LEARNING_RATE, eps=EPSILON)
        self.xd, self.yd = jax.device_put(case.x), jax.device_put(case.y)
        steps = case.steps if steps is None else steps
        batch, rows = case.batch_size, len(case.x)
        self._forward = jax.jit(lambda p, x: fk.combine(p, static)(x))

        def loss_fn(params, xb, yb):
            logits = fk.combine(params, static)(xb)
            return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

        def epoch(params, opt_state, key, xd, yd):
            order = jax.random.permutation(key, rows)[: steps * batch].reshape(steps, batch)

            def step(carry, idx):
                params, opt_state = carry
                loss, grads = jax.value_and_grad(loss_fn)(params, xd[idx], yd[idx])
                updates, opt_state = optimizer.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), loss

            (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), order)
            return params, opt_state, losses.mean()

        self._epoch = jax.jit(epoch, donate_argnums=(0, 1))
        self.params, self.opt_state, self.count = params, optimizer.init(params), 0

    def epoch(self) -> None:
        key = jax.random.key(self.count)
        self.params, self.opt_state, loss = self._epoch(
            self.params, self.opt_state, key, self.xd, self.yd
        )
        self.count += 1
        jax.block_until_ready((self.params, loss))

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._forward(self.params, x))


def make(case: Case) -> LimitRunner:
    return LimitRunner(case)


def first_step(case: Case) -> None:
    """A fresh model and a one-step scanned program (compiled, then run once)."""
    LimitRunner(case, steps=1).epoch()
