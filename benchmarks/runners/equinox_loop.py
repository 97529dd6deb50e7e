"""Equinox: the hand-written loop of Equinox's own examples, one `eqx.filter_jit` step per batch.

The data is put on the device once; each step receives the batch's row indices (a NumPy
permutation, as fkeras and Keras shuffle) and gathers the rows inside the compiled step. Every
optimizer step is one Python-side dispatch, so Python and dispatch overhead show at small batches.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..cases import CLASSES, EPSILON, FILTERS, HIDDEN, INPUT_SHAPES, LEARNING_RATE, Case

DISPATCH = "1 step (per-batch dispatch)"


def build_model(model: str, key) -> eqx.nn.Sequential:
    """The Equinox model of a case, for one example (the loop `vmap`s it over the batch)."""
    keys = jax.random.split(key, 3)
    relu = eqx.nn.Lambda(jax.nn.relu)
    if model == "mlp":
        (features,) = INPUT_SHAPES[model]
        return eqx.nn.Sequential(
            [
                eqx.nn.Linear(features, HIDDEN, key=keys[0]),
                relu,
                eqx.nn.Linear(HIDDEN, HIDDEN, key=keys[1]),
                relu,
                eqx.nn.Linear(HIDDEN, CLASSES, key=keys[2]),
            ]
        )
    channels = INPUT_SHAPES[model][-1]
    return eqx.nn.Sequential(
        [
            # The data is channels-last (Keras' layout); Equinox convolutions are channels-first.
            eqx.nn.Lambda(lambda x: jnp.transpose(x, (2, 0, 1))),
            eqx.nn.Conv2d(channels, FILTERS[0], 3, key=keys[0]),
            relu,
            eqx.nn.MaxPool2d(2, stride=2),
            eqx.nn.Conv2d(FILTERS[0], FILTERS[1], 3, key=keys[1]),
            relu,
            eqx.nn.Lambda(jnp.ravel),
            eqx.nn.Linear(FILTERS[1], CLASSES, key=keys[2]),
        ]
    )


def _loss(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(jax.vmap(model)(x), y).mean()


class EquinoxRunner:
    """An `eqx.filter_jit` training step called once per batch."""

    def __init__(self, case: Case):
        self.case = case
        self.model = build_model(case.model, jax.random.key(0))
        self.optimizer = optax.adam(LEARNING_RATE, eps=EPSILON)
        self.opt_state = self.optimizer.init(eqx.filter(self.model, eqx.is_array))
        self.xd, self.yd = jax.device_put(case.x), jax.device_put(case.y)
        self.rng = np.random.default_rng(0)
        optimizer = self.optimizer

        @eqx.filter_jit
        def step(model, opt_state, x, y, idx, total):
            loss, grads = eqx.filter_value_and_grad(_loss)(model, x[idx], y[idx])
            updates, opt_state = optimizer.update(grads, opt_state, eqx.filter(model, eqx.is_array))
            # The running loss sum rides along, so reading it costs no extra dispatch per step.
            return eqx.apply_updates(model, updates), opt_state, total + loss

        self.step = step
        self.forward = eqx.filter_jit(lambda model, x: jax.vmap(model)(x))

    def epoch(self, steps: int | None = None) -> None:
        steps = self.case.steps if steps is None else steps
        batch = self.case.batch_size
        order = self.rng.permutation(len(self.case.x)).astype("int32")
        total = jnp.zeros(())
        for i in range(steps):
            self.model, self.opt_state, total = self.step(
                self.model,
                self.opt_state,
                self.xd,
                self.yd,
                order[i * batch : (i + 1) * batch],
                total,
            )
        jax.block_until_ready((self.model, total))

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.forward(self.model, x))


def make(case: Case) -> EquinoxRunner:
    return EquinoxRunner(case)


def first_step(case: Case) -> None:
    """A fresh model and its first `filter_jit` step (tracing, compilation, the step)."""
    EquinoxRunner(case).epoch(steps=1)
