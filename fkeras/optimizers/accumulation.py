"""Keras' `gradient_accumulation_steps`: average the gradients of `steps` calls and apply the
optimizer on the last of them, with zero updates on the others."""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["GradientAccumulationState", "accumulate_gradients", "check_accumulation_steps"]


class GradientAccumulationState(NamedTuple):
    """The state of gradient accumulation.

    - `mini_step`: how many gradients are in `accumulated`, in `[0, steps)`.
    - `accumulated`: the sum of those gradients, in each gradient's dtype (as Keras' accumulator
        variables, which take the dtype of their variable).
    - `inner_state`: the wrapped optimizer's state, changed only by the applying calls.
    """

    mini_step: jax.Array
    accumulated: optax.Updates
    inner_state: Any


def check_accumulation_steps(owner: str, steps) -> int | None:
    """`steps` as an int >= 2, or `None` (no accumulation)."""
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise TypeError(
            f"{owner}: `gradient_accumulation_steps` must be an integer >= 2 or None. "
            f"Received: gradient_accumulation_steps={steps!r}"
        )
    if steps < 2:
        raise ValueError(
            f"{owner}: `gradient_accumulation_steps` must be an integer >= 2 (None disables "
            f"gradient accumulation). Received: gradient_accumulation_steps={steps!r}"
        )
    return int(steps)


def accumulate_gradients(
    inner: optax.GradientTransformation, steps: int
) -> optax.GradientTransformationExtraArgs:
    """Apply `inner` once every `steps` calls, to the mean of the gradients of those calls.

    Keras' `gradient_accumulation_steps`: calls `1 .. steps - 1` of each group add the gradient
    to an accumulator and return zero updates; call `steps` returns
    `inner.update((g + accumulated) / steps)` and empties the accumulator. Clipping and weight
    decay, when they are part of `inner`, see only the averaged gradient, as in Keras.

    Unlike `optax.MultiSteps` (a running mean, recomputed by `inner` on every call and masked),
    the sum is divided once, as Keras does, and `inner` runs only on the applying call
    (`jax.lax.cond`), so its state and a non-finite intermediate cannot leak into the skipped
    calls.

    **Arguments:**

    - `inner`: the optimizer to apply to the averaged gradients.
    - `steps`: how many calls make one optimizer step, an int >= 2.

    **Returns:** an `optax.GradientTransformationExtraArgs` whose state is a
    `GradientAccumulationState`.

    ```python
    optimizer = accumulate_gradients(fk.optimizers.SGD(0.1), steps=4)
    ```
    """
    steps = check_accumulation_steps("accumulate_gradients", steps)
    if steps is None:
        raise ValueError(
            "accumulate_gradients: `steps` must be an integer >= 2. Received: steps=None"
        )
    inner = optax.with_extra_args_support(inner)

    def init_fn(params):
        return GradientAccumulationState(
            mini_step=jnp.zeros([], jnp.int32),
            accumulated=optax.tree.zeros_like(params),
            inner_state=inner.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        def apply(operands):
            grads, accumulated, inner_state, params = operands
            mean = jax.tree.map(lambda g, a: (g + a.astype(g.dtype)) / steps, grads, accumulated)
            new_updates, new_inner = inner.update(mean, inner_state, params, **extra_args)
            return new_updates, optax.tree.zeros_like(accumulated), new_inner

        def accumulate(operands):
            grads, accumulated, inner_state, params = operands
            shapes, _ = jax.eval_shape(
                lambda *a: inner.update(*a, **extra_args), grads, inner_state, params
            )
            summed = jax.tree.map(
                lambda g, a: (g + a.astype(g.dtype)).astype(a.dtype), grads, accumulated
            )
            return optax.tree.zeros_like(shapes), summed, inner_state

        is_last = state.mini_step == steps - 1
        new_updates, accumulated, inner_state = jax.lax.cond(
            is_last, apply, accumulate, (updates, state.accumulated, state.inner_state, params)
        )
        mini_step = jnp.where(is_last, 0, state.mini_step + 1).astype(jnp.int32)
        return new_updates, GradientAccumulationState(mini_step, accumulated, inner_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
