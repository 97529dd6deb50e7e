"""Flax NNX: a hand-written loop with one `nnx.jit` training step per batch.

As in Flax's NNX examples: a stateful `nnx.Module`, `nnx.Optimizer(model, tx, wrt=nnx.Param)`,
and a jitted step that updates both in place. Data handling is the Equinox loop's (on the
device, indices per step, gathered inside the step). One dispatch per optimizer step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ..cases import CLASSES, EPSILON, FILTERS, HIDDEN, INPUT_SHAPES, LEARNING_RATE, Case

DISPATCH = "1 step (per-batch dispatch)"


class MLP(nnx.Module):
    """Dense 256 relu, Dense 256 relu, Dense 10."""

    def __init__(self, features: int, rngs: nnx.Rngs):
        self.hidden1 = nnx.Linear(features, HIDDEN, rngs=rngs)
        self.hidden2 = nnx.Linear(HIDDEN, HIDDEN, rngs=rngs)
        self.out = nnx.Linear(HIDDEN, CLASSES, rngs=rngs)

    def __call__(self, x):
        return self.out(jax.nn.relu(self.hidden2(jax.nn.relu(self.hidden1(x)))))


class CNN(nnx.Module):
    """Conv 3x3 32 relu, max-pool 2, Conv 3x3 64 relu, flatten, Dense 10 (channels last)."""

    def __init__(self, channels: int, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(channels, FILTERS[0], (3, 3), padding="VALID", rngs=rngs)
        self.conv2 = nnx.Conv(FILTERS[0], FILTERS[1], (3, 3), padding="VALID", rngs=rngs)
        self.out = nnx.Linear(FILTERS[1], CLASSES, rngs=rngs)

    def __call__(self, x):
        x = nnx.max_pool(jax.nn.relu(self.conv1(x)), (2, 2), strides=(2, 2))
        x = jax.nn.relu(self.conv2(x))
        return self.out(x.reshape(x.shape[0], -1))


def build_model(model: str) -> nnx.Module:
    rngs = nnx.Rngs(0)
    if model == "mlp":
        return MLP(INPUT_SHAPES[model][0], rngs)
    return CNN(INPUT_SHAPES[model][-1], rngs)


@nnx.jit
def _step(model, optimizer, x, y, idx, total):
    def loss_fn(model):
        return optax.softmax_cross_entropy_with_integer_labels(model(x[idx]), y[idx]).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return total + loss


@nnx.jit
def _forward(model, x):
    return model(x)


class FlaxRunner:
    """An `nnx.jit` training step called once per batch."""

    def __init__(self, case: Case):
        self.case = case
        self.model = build_model(case.model)
        self.optimizer = nnx.Optimizer(
            self.model, optax.adam(LEARNING_RATE, eps=EPSILON), wrt=nnx.Param
        )
        self.xd, self.yd = jax.device_put(case.x), jax.device_put(case.y)
        self.rng = np.random.default_rng(0)

    def epoch(self, steps: int | None = None) -> None:
        steps = self.case.steps if steps is None else steps
        batch = self.case.batch_size
        order = self.rng.permutation(len(self.case.x)).astype("int32")
        total = jnp.zeros(())
        for i in range(steps):
            total = _step(
                self.model,
                self.optimizer,
                self.xd,
                self.yd,
                order[i * batch : (i + 1) * batch],
                total,
            )
        jax.block_until_ready((nnx.state(self.model), total))

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(_forward(self.model, x))


def make(case: Case) -> FlaxRunner:
    return FlaxRunner(case)


def first_step(case: Case) -> None:
    """A fresh model and optimizer and the first `nnx.jit` step (tracing, compilation, step)."""
    FlaxRunner(case).epoch(steps=1)
