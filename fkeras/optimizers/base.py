"""What every fkeras optimizer shares: argument checks, Keras' gradient clipping and decoupled
weight decay, the injectable learning rate, and reading or setting it in an optimizer state."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

_INJECT_STATES = (optax.InjectStatefulHyperparamsState, optax.InjectHyperparamsState)


# ----------------------------------------------------------------------------- argument checks


def _concrete_float(value) -> float | None:
    """`value` as a Python float, or `None` when it is not a concrete real scalar."""
    if isinstance(value, (bool, jax.core.Tracer)):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    dtype = getattr(value, "dtype", None)
    if getattr(value, "shape", None) == () and dtype is not None:
        if jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating):
            return float(value)
    return None


def check_learning_rate(owner: str, learning_rate) -> None:
    """A learning rate is a non-negative number or a schedule (a callable `step -> lr`)."""
    if callable(learning_rate) and not isinstance(learning_rate, jax.Array):
        return
    if isinstance(learning_rate, jax.core.Tracer):
        return
    value = _concrete_float(learning_rate)
    if value is None:
        raise TypeError(
            f"{owner}: `learning_rate` must be a non-negative float or a schedule (a callable "
            f"step -> learning rate, e.g. fk.optimizers.schedules.ExponentialDecay(...)). "
            f"Received: learning_rate={learning_rate!r}"
        )
    if not value >= 0 or math.isinf(value):
        raise ValueError(
            f"{owner}: `learning_rate` must be a finite float >= 0. "
            f"Received: learning_rate={learning_rate!r}"
        )


def check_number(
    owner: str,
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """`value` as a float, checked against the interval from `low` to `high`."""
    number = _concrete_float(value)
    if number is None or math.isnan(number):
        raise TypeError(f"{owner}: `{name}` must be a float. Received: {name}={value!r}")
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if too_low or too_high:
        if low is not None and high is not None:
            interval = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        elif low is not None:
            interval = f"{'>' if low_open else '>='} {low:g}"
        else:
            interval = f"{'<' if high_open else '<='} {high:g}"
        raise ValueError(f"{owner}: `{name}` must be {interval}. Received: {name}={value!r}")
    return number


def check_common(owner: str, weight_decay, clipnorm, clipvalue, global_clipnorm) -> None:
    """Keras' shared optimizer arguments: non-negative, and at most one kind of clipping."""
    clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
    if sum(value is not None for value in clips.values()) > 1:
        raise ValueError(
            f"{owner}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
            f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
            f"global_clipnorm={global_clipnorm}"
        )
    for name, value in (("weight_decay", weight_decay), *clips.items()):
        if value is not None:
            check_number(owner, name, value, low=0.0)


# ----------------------------------------------------------------------------- building blocks


def map_split(fn: Callable, n: int, tree, *rest) -> tuple:
    """`jax.tree.map` for a leaf function returning an `n`-tuple; returns `n` trees."""
    outs = jax.tree.map(fn, tree, *rest)
    return tuple(jax.tree.map(lambda _, out, i=i: out[i], tree, outs) for i in range(n))


def cast_like(value, x: jax.Array) -> jax.Array:
    """`value` cast to the dtype of `x` (Keras casts hyperparameters to the variable's dtype)."""
    return jnp.asarray(value).astype(x.dtype)


def clip_by_norm(clipnorm: float) -> optax.GradientTransformation:
    """Keras' `clipnorm`: each gradient is scaled so that its own L2 norm is at most `clipnorm`."""

    def clip(g):
        l2sum = jnp.sum(jnp.square(g), keepdims=True)
        pred = l2sum > 0
        l2sum_safe = jnp.where(pred, l2sum, jnp.ones_like(l2sum))
        l2norm = jnp.where(pred, jnp.sqrt(l2sum_safe), l2sum)
        return (g * clipnorm) / jnp.maximum(l2norm, clipnorm)

    return optax.stateless(lambda updates, params: jax.tree.map(clip, updates))


def clip_by_global_norm(clipnorm: float) -> optax.GradientTransformation:
    """Keras' `global_clipnorm`: all gradients scaled so that their joint L2 norm is at most it."""

    def clip(updates):
        leaves = jax.tree.leaves(updates)
        if not leaves:
            return updates
        # Summed in float32 (float64 if a gradient is), so mixed dtypes need no promotion.
        dtype = jnp.float64 if any(g.dtype == jnp.float64 for g in leaves) else jnp.float32
        squares = [jnp.sum(jnp.square(g.astype(dtype))) for g in leaves]
        norm = jnp.sqrt(jnp.sum(jnp.stack(squares)))
        scale = clipnorm * jnp.minimum(1.0 / norm, 1.0 / clipnorm)
        scale = scale + (norm - norm)  # NaN for a non-finite norm, as in Keras
        return jax.tree.map(lambda g: g * scale.astype(g.dtype), updates)

    return optax.stateless(lambda updates, params: clip(updates))


def decoupled_weight_decay(
    owner: str, learning_rate, weight_decay: float
) -> optax.GradientTransformation:
    """Keras' `weight_decay`: adds `-(variable * weight_decay * learning_rate)` to the update."""

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(
                f"{owner}(weight_decay=...) decays the parameters, so `update` needs them: call "
                "`optimizer.update(grads, opt_state, params)`. Received: params=None"
            )
        updates = jax.tree.map(
            lambda u, p: u - (p * weight_decay * cast_like(learning_rate, p)).astype(u.dtype),
            updates,
            params,
        )
        return updates, state

    return optax.GradientTransformation(init_fn, update_fn)


def build(
    owner: str,
    scale_by: Callable[[Any], optax.GradientTransformation],
    learning_rate,
    *,
    weight_decay: float | None,
    clipnorm: float | None,
    clipvalue: float | None,
    global_clipnorm: float | None,
    use_ema: bool = False,
    ema_momentum: float = 0.99,
    ema_overwrite_frequency: int | None = None,
    gradient_accumulation_steps: int | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Keras' update order (clip the gradients, decay the weights, then the optimizer's own
    step) as one optax transformation with `learning_rate` injected into its state, wrapped in
    gradient accumulation and the moving average of the weights when those are asked for.

    `scale_by(learning_rate)` returns the optimizer's own step; its updates already include the
    learning rate and the sign (they are added to the parameters).

    The learning rate is injected outermost, so its step count (the one a schedule sees) counts
    every call, micro-steps of gradient accumulation included: Keras evaluates schedules at its
    raw `iterations` too, while the optimizer's own step count (Adam's bias correction) counts
    applied steps only, as Keras' `iterations` property does.
    """
    # Imported here: `ema` imports `check_number` from this module.
    from .accumulation import accumulate_gradients, check_accumulation_steps
    from .ema import check_ema, params_ema

    check_learning_rate(owner, learning_rate)
    check_common(owner, weight_decay, clipnorm, clipvalue, global_clipnorm)
    accumulation_steps = check_accumulation_steps(owner, gradient_accumulation_steps)
    use_ema, ema_momentum, ema_overwrite_frequency = check_ema(
        owner, use_ema, ema_momentum, ema_overwrite_frequency
    )

    def inner(learning_rate):
        parts = []
        # As in Keras, a clipping argument of 0 means no clipping.
        if clipnorm:
            parts.append(clip_by_norm(float(clipnorm)))
        elif global_clipnorm:
            parts.append(clip_by_global_norm(float(global_clipnorm)))
        elif clipvalue:
            parts.append(optax.clip(float(clipvalue)))
        parts.append(scale_by(learning_rate))
        if weight_decay:
            parts.append(decoupled_weight_decay(owner, learning_rate, float(weight_decay)))
        optimizer = parts[0] if len(parts) == 1 else optax.chain(*parts)
        if accumulation_steps:
            optimizer = accumulate_gradients(optimizer, accumulation_steps)
        if use_ema:
            optimizer = params_ema(
                optimizer, ema_momentum, ema_overwrite_frequency, accumulation_steps or 1
            )
        return optimizer

    inner.__name__ = inner.__qualname__ = owner
    # The learning rate is kept in float32, like Keras' learning-rate variable, and cast to each
    # variable's dtype when used.
    return optax.inject_hyperparams(inner, hyperparam_dtype=jnp.float32)(
        learning_rate=learning_rate
    )


# ----------------------------------------------------------------------------- learning rate


def _is_inject_state(x) -> bool:
    return isinstance(x, _INJECT_STATES)


def _injected_states(opt_state) -> list:
    leaves = jax.tree.leaves(opt_state, is_leaf=_is_inject_state)
    return [x for x in leaves if _is_inject_state(x) and "learning_rate" in x.hyperparams]


def _no_learning_rate_error(opt_state) -> ValueError:
    return ValueError(
        f"The optimizer behind this state ({type(opt_state).__name__}) was not built with an "
        "injectable learning rate; use fk.optimizers.Adam(...) (or any fk.optimizers "
        "constructor) or optax.inject_hyperparams(optax.adam)(learning_rate=...) so that the "
        "learning rate lives in the optimizer state and can be read and changed at run time."
    )


def _the_state(opt_state):
    found = _injected_states(opt_state)
    if not found:
        raise _no_learning_rate_error(opt_state)
    if len(found) > 1:
        raise ValueError(
            f"This optimizer state holds {len(found)} injected learning rates (for example from "
            "optax.multi_transform over several optimizers), so which one is meant is "
            "ambiguous. Read or change them in the sub-states directly."
        )
    return found[0]


def get_learning_rate(opt_state: optax.OptState) -> jax.Array:
    """The learning rate held in an optimizer state.

    Finds the injected `learning_rate` also inside `optax.chain`, `optax.MultiSteps` and other
    wrappers' states. For a schedule this is the value used by the latest update (at step 0 after
    `init`).

    **Arguments:**

    - `opt_state`: the state from `optimizer.init(params)` or `optimizer.update(...)`.

    **Returns:** a float32 scalar array.

    ```python
    optimizer = fk.optimizers.Adam(learning_rate=1e-3)
    opt_state = optimizer.init(params)
    fk.optimizers.get_learning_rate(opt_state)  # Array(0.001, dtype=float32)
    ```
    """
    return _the_state(opt_state).hyperparams["learning_rate"]


def set_learning_rate(opt_state: optax.OptState, value) -> optax.OptState:
    """A copy of an optimizer state whose next updates use learning rate `value`.

    Works under `jax.jit` (`value` may be traced) and inside `optax.chain`, `optax.MultiSteps`
    and other wrappers' states. Raises `ValueError` when the learning rate is a schedule, since
    the schedule would overwrite the new value at the next update.

    **Arguments:**

    - `opt_state`: the state from `optimizer.init(params)` or `optimizer.update(...)`.
    - `value`: the new learning rate, a non-negative scalar.

    **Returns:** the new optimizer state; `opt_state` itself is not modified.

    ```python
    opt_state = fk.optimizers.set_learning_rate(opt_state, 1e-4)
    updates, opt_state = optimizer.update(grads, opt_state, params)  # uses 1e-4
    ```
    """
    target = _the_state(opt_state)
    if "learning_rate" in getattr(target, "hyperparams_states", {}):
        raise ValueError(
            "The learning rate of this optimizer is a schedule, so setting it would be "
            "overwritten by the schedule at the next update. Build the optimizer with a float "
            "learning_rate to change it at run time (e.g. from a ReduceLROnPlateau callback). "
            f"Received: value={value!r}"
        )
    check_learning_rate("set_learning_rate", value)
    old = target.hyperparams["learning_rate"]
    new_value = jnp.asarray(value, dtype=jnp.result_type(old))
    if new_value.shape != ():
        raise ValueError(
            f"set_learning_rate: the learning rate must be a scalar. Received: value with shape "
            f"{new_value.shape}"
        )
    new_state = target._replace(hyperparams={**target.hyperparams, "learning_rate": new_value})
    return jax.tree.map(
        lambda x: new_state if x is target else x, opt_state, is_leaf=_is_inject_state
    )
