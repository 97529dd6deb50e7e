"""Keras' `use_ema`: an exponential moving average of the weights, kept in the optimizer state,
optionally copied into the weights every `ema_overwrite_frequency` steps, and swapped in at the
end of training by `finalize_params`."""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .base import check_number

__all__ = ["ParamsEmaState", "check_ema", "finalize_params", "params_ema"]


class ParamsEmaState(NamedTuple):
    """The state of the moving average of the weights.

    - `count`: how many times the optimizer was called (Keras' raw `iterations`, which counts
        every micro-step of gradient accumulation).
    - `ema`: the moving average of each weight, a tree like the parameters.
    - `inner_state`: the wrapped optimizer's state.
    """

    count: jax.Array
    ema: optax.Params
    inner_state: Any


def check_ema(owner: str, use_ema, ema_momentum, ema_overwrite_frequency) -> tuple:
    """Keras' EMA arguments, checked (whether or not `use_ema` is set, so that a typo does not
    pass silently) and returned as `(bool, float, int | None)`."""
    if not isinstance(use_ema, (bool, jnp.bool_)):
        raise TypeError(f"{owner}: `use_ema` must be a bool. Received: use_ema={use_ema!r}")
    momentum = check_number(owner, "ema_momentum", ema_momentum, low=0.0, high=1.0)
    frequency = ema_overwrite_frequency
    if frequency is not None:
        if isinstance(frequency, bool) or not isinstance(frequency, numbers.Integral):
            raise TypeError(
                f"{owner}: `ema_overwrite_frequency` must be an integer >= 1 or None. "
                f"Received: ema_overwrite_frequency={frequency!r}"
            )
        if frequency < 1:
            raise ValueError(
                f"{owner}: `ema_overwrite_frequency` must be an integer >= 1 or None. "
                f"Received: ema_overwrite_frequency={frequency!r}"
            )
        frequency = int(frequency)
    return bool(use_ema), momentum, frequency


def _averaged(x) -> bool:
    return x is not None and jnp.issubdtype(jnp.result_type(x), jnp.inexact)


def params_ema(
    inner: optax.GradientTransformation,
    momentum: float = 0.99,
    overwrite_frequency: int | None = None,
    accumulation_steps: int = 1,
) -> optax.GradientTransformationExtraArgs:
    """Keep Keras' exponential moving average of the weights beside `inner`.

    After each call the weights are `params + updates`, and, as in Keras,
    `ema = momentum * ema + (1 - momentum) * weights`, except in the first optimizer step where
    `ema = weights`. With `overwrite_frequency=N`, every N-th optimizer step the returned updates
    move the weights onto their average instead (`params + updates == ema`, exact when the two
    are within a factor of 2, else to a rounding error). With gradient accumulation,
    `accumulation_steps` calls make one optimizer step (Keras' `iterations`), while the average
    is updated on every call, as in Keras.

    **Arguments:**

    - `inner`: the optimizer whose weights are averaged.
    - `momentum`: the weight of the old average, in [0, 1].
    - `overwrite_frequency`: if set, copy the average into the weights every that many
        optimizer steps.
    - `accumulation_steps`: the calls per optimizer step (Keras' `gradient_accumulation_steps`).

    **Returns:** an `optax.GradientTransformationExtraArgs` whose state is a `ParamsEmaState`;
    its `update` needs `params`.

    ```python
    optimizer = params_ema(optax.sgd(0.1), momentum=0.999)
    ```
    """
    inner = optax.with_extra_args_support(inner)

    def init_fn(params):
        # Starts at the weights (Keras starts at zeros, overwritten by the first step), so that
        # `finalize_params` before any step returns the weights unchanged.
        ema = jax.tree.map(lambda p: jnp.array(p) if _averaged(p) else p, params)
        return ParamsEmaState(jnp.zeros([], jnp.int32), ema, inner.init(params))

    def update_fn(updates, state, params=None, **extra_args):
        if params is None:
            raise ValueError(
                "use_ema=True averages the weights, so `update` needs them: call "
                "`optimizer.update(grads, opt_state, params)`. Received: params=None"
            )
        updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
        iterations = state.count // accumulation_steps
        not_first_step = iterations != 0

        def average(u, p, e):
            if not _averaged(p):
                return e
            new = jnp.asarray(p + u).astype(p.dtype)  # as optax.apply_updates
            m = not_first_step.astype(p.dtype) * momentum
            return m * e + (1 - m) * new

        ema = jax.tree.map(average, updates, params, state.ema)
        if overwrite_frequency is not None:
            overwrite = (iterations + 1) % overwrite_frequency == 0

            def onto_average(u, p, e):
                if not _averaged(p):
                    return u
                return jnp.where(overwrite, (e - p).astype(u.dtype), u)

            updates = jax.tree.map(onto_average, updates, params, ema)
        new_state = ParamsEmaState(optax.safe_increment(state.count), ema, inner_state)
        return updates, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _is_ema_state(x) -> bool:
    return isinstance(x, ParamsEmaState)


def finalize_params(opt_state: optax.OptState, params: optax.Params) -> optax.Params:
    """The weights to keep at the end of training: their moving average when the optimizer uses
    EMA, else `params` unchanged (Keras' `optimizer.finalize_variable_values`).

    **Arguments:**

    - `opt_state`: the optimizer state after training.
    - `params`: the trained weights, the tree the optimizer updates.

    **Returns:** a tree like `params`: the average from `opt_state` (cast to each weight's
    dtype) when the optimizer was built with `use_ema=True`, else `params` itself.

    ```python
    optimizer = fk.optimizers.Adam(1e-3, use_ema=True)
    ...  # train
    params = fk.optimizers.finalize_params(opt_state, params)
    ```
    """
    found = [
        x
        for x in jax.tree.leaves(opt_state, is_leaf=_is_ema_state)
        if isinstance(x, ParamsEmaState)
    ]
    if not found:
        return params
    if len(found) > 1:
        raise ValueError(
            f"finalize_params: this optimizer state holds {len(found)} moving averages of the "
            "weights (for example from optax.multi_transform over several optimizers with "
            "use_ema=True), so which one is meant is ambiguous. Received: opt_state of type "
            f"{type(opt_state).__name__}"
        )
    ema = found[0].ema
    structure, ema_structure = jax.tree.structure(params), jax.tree.structure(ema)
    if structure != ema_structure:
        raise ValueError(
            "finalize_params: `params` must have the structure of the weights the optimizer was "
            f"initialized with. Received: params with structure {structure}, expected "
            f"{ema_structure}"
        )
    return jax.tree.map(lambda p, e: e.astype(p.dtype) if _averaged(p) else p, params, ema)
