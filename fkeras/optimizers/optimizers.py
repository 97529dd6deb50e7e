"""Keras 3's optimizers as optax `GradientTransformation`s, with Keras' names, defaults and
update rules.

Each constructor returns `optax.inject_hyperparams(...)(learning_rate=...)` around an
`optax.chain` of: gradient clipping (`clipnorm`, `global_clipnorm` or `clipvalue`), the
optimizer's own step, and Keras' decoupled weight decay, inside gradient accumulation and the
moving average of the weights when `gradient_accumulation_steps` or `use_ema` ask for them
(`accumulation.py`, `ema.py`). The arithmetic follows
`keras/src/optimizers/*.py` operation by operation, so results agree with Keras to float32
rounding.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .base import build, cast_like, check_number, map_split

__all__ = [
    "SGD",
    "Adagrad",
    "AdagradState",
    "Adam",
    "AdamState",
    "AdamW",
    "Adamax",
    "AdamaxState",
    "Lion",
    "LionState",
    "Nadam",
    "NadamState",
    "RMSprop",
    "RMSpropState",
    "SGDState",
    "get",
]

LearningRate = Any  # a float, a scalar array, or a schedule `step -> learning rate`


def _step(count: jax.Array, x: jax.Array) -> jax.Array:
    """Keras' `local_step = iterations + 1`, in the variable's dtype."""
    return (count + 1).astype(x.dtype)


# ----------------------------------------------------------------------------- SGD


class SGDState(NamedTuple):
    """SGD's state: the momentum (velocity) of each variable; `None` without momentum."""

    momentums: optax.Updates | None


def _scale_by_sgd(learning_rate, momentum: float, nesterov: bool):
    def init_fn(params):
        return SGDState(optax.tree.zeros_like(params) if momentum != 0 else None)

    def update_fn(updates, state, params=None):
        del params
        if momentum == 0:
            return jax.tree.map(lambda g: -(g * cast_like(learning_rate, g)), updates), state

        def leaf(g, m):
            lr, mom = cast_like(learning_rate, g), cast_like(momentum, g)
            m = m * mom - g * lr  # Keras: v = momentum * v - lr * g
            step = m * mom - g * lr if nesterov else m
            return step, m

        steps, momentums = map_split(leaf, 2, updates, state.momentums)
        return steps, SGDState(momentums)

    return optax.GradientTransformation(init_fn, update_fn)


def SGD(
    learning_rate: LearningRate = 0.01,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float | None = None,
    clipnorm: float | None = None,
    clipvalue: float | None = None,
    global_clipnorm: float | None = None,
    use_ema: bool = False,
    ema_momentum: float = 0.99,
    ema_overwrite_frequency: int | None = None,
    gradient_accumulation_steps: int | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Gradient descent, with optional (Nesterov) momentum, as Keras' `SGD`.

    With momentum, Keras' form is used: `v = momentum * v - learning_rate * g; w = w + v`
    (Nesterov: `w = w + momentum * v - learning_rate * g`). The learning rate is inside the
    velocity, so a changed learning rate affects only new gradients.

    **Arguments:**

    - `learning_rate`: a float >= 0, or a schedule `step -> learning rate`
        (e.g. `fk.optimizers.schedules.ExponentialDecay(...)`).
    - `momentum`: a float in [0, 1]; 0 is plain gradient descent.
    - `nesterov`: whether to use Nesterov momentum.
    - `weight_decay`: if set, decoupled weight decay: each step also does
        `w = w - learning_rate * weight_decay * w`.
    - `clipnorm`: if set, each gradient is clipped to this L2 norm on its own.
    - `clipvalue`: if set, each gradient entry is clipped to `[-clipvalue, clipvalue]`.
    - `global_clipnorm`: if set, all gradients together are clipped to this L2 norm.
    - `use_ema`: if `True`, the optimizer state also keeps an exponential moving average of
        the weights: `ema = ema_momentum * ema + (1 - ema_momentum) * w` after each step
        (`ema = w` after the first). `fk.optimizers.finalize_params(opt_state, params)` returns
        it; `fit` swaps it in at the end of training, as Keras does. `update` then needs
        `params`.
    - `ema_momentum`: the weight of the old average, in [0, 1]; used with `use_ema`.
    - `ema_overwrite_frequency`: an int >= 1 or `None`; with `use_ema`, every that many
        optimizer steps the weights are overwritten by their average.
    - `gradient_accumulation_steps`: an int >= 2 or `None`. If set, the weights change only
        every that many calls, by one step on the mean of the gradients of those calls (the
        other calls return zero updates). The learning-rate schedule counts every call, the
        optimizer's own step count (and `ema_overwrite_frequency`) only the applied steps, as in
        Keras.

    **Returns:** an `optax.GradientTransformation` whose state holds the learning rate
    (see `fk.optimizers.get_learning_rate` / `set_learning_rate`).

    ```python
    optimizer = fk.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    opt_state = optimizer.init(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    ```
    """
    check_number("SGD", "momentum", momentum, low=0.0, high=1.0)
    momentum, nesterov = float(momentum), bool(nesterov)
    return build(
        "SGD",
        lambda lr: _scale_by_sgd(lr, momentum, nesterov),
        learning_rate,
        weight_decay=weight_decay,
        clipnorm=clipnorm,
        clipvalue=clipvalue,
        global_clipnorm=global_clipnorm,
        use_ema=use_ema,
        ema_momentum=ema_momentum,
        ema_overwrite_frequency=ema_overwrite_frequency,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )


# ----------------------------------------------------------------------------- RMSprop


class RMSpropState(NamedTuple):
    """RMSprop's state; `momentums` is `None` without momentum and `average_gradients` is
    `None` unless `centered`."""

    velocities: optax.Updates
    momentums: optax.Updates | None
    average_gradients: optax.Updates | None


def _scale_by_rmsprop(learning_rate, rho: float, momentum: float, epsilon: float, centered: bool):
    def init_fn(params):
        zeros = lambda: optax.tree.zeros_like(params)
        return RMSpropState(
            zeros(), zeros() if momentum > 0 else None, zeros() if centered else None
        )

    def update_fn(updates, state, params=None):
        del params
        velocities = jax.tree.map(
            lambda g, v: rho * v + (1 - rho) * jnp.square(g), updates, state.velocities
        )
        if centered:
            average_gradients = jax.tree.map(
                lambda g, a: rho * a + (1 - rho) * g, updates, state.average_gradients
            )
            denominators = jax.tree.map(
                lambda v, a: v - jnp.square(a) + epsilon, velocities, average_gradients
            )
        else:
            average_gradients = None
            denominators = jax.tree.map(lambda v: v + epsilon, velocities)
        increments = jax.tree.map(
            lambda g, d: (cast_like(learning_rate, g) * g) / jnp.sqrt(d), updates, denominators
        )
        if momentum > 0:
            momentums = jax.tree.map(lambda m, i: momentum * m + i, state.momentums, increments)
            steps = jax.tree.map(jnp.negative, momentums)
        else:
            momentums = None
            steps = jax.tree.map(jnp.negative, increments)
        return steps, RMSpropState(velocities, momentums, average_gradients)

    return optax.GradientTransformation(init_fn, update_fn)


def RMSprop(
    learning_rate: LearningRate = 0.001,
    rho: float = 0.9,
    momentum: float = 0.0,
    epsilon: float = 1e-7,
    centered: bool = False,
    weight_decay: float | None = None,
    clipnorm: float | None = None,
    clipvalue: float | None = None,
    global_clipnorm: float | None = None,
    use_ema: bool = False,
    ema_momentum: float = 0.99,
    ema_overwrite_frequency: int | None = None,
    gradient_accumulation_steps: int | None = None,
) -> optax.GradientTransformationExtraArgs:
    """RMSprop, as Keras' `RMSprop`: gradients divided by a moving RMS of past gradients.

    Keras' epsilon is inside the square root: `w -= lr * g / sqrt(v + epsilon)` (centered:
    `sqrt(v - mean_g**2 + epsilon)`), and momentum accumulates those increments.

    **Arguments:**

    - `learning_rate`: a float >= 0, or a schedule `step -> learning rate`.
    - `rho`: the discounting factor of the moving average of squared gradients, in [0, 1).
    - `momentum`: a float in [0, 1]; 0 disables momentum.
    - `epsilon`: a small constant for numerical stability, >= 0.
    - `centered`: if `True`, gradients are normalized by their estimated variance instead of
        their second moment.
    - `weight_decay`, `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
        `ema_overwrite_frequency`, `gradient_accumulation_steps`: as in `fk.optimizers.SGD`.

    **Returns:** an `optax.GradientTransformation` with an injectable learning rate.

    ```python
    optimizer = fk.optimizers.RMSprop(learning_rate=1e-3, centered=True)
    opt_state = optimizer.init(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    ```
    """
    check_number("RMSprop", "rho", rho, low=0.0, high=1.0, high_open=True)
    check_number("RMSprop", "momentum", momentum, low=0.0, high=1.0)
    check_number("RMSprop", "epsilon", epsilon, low=0.0)
    rho, momentum, epsilon, centered = float(rho), float(momentum), float(epsilon), bool(centered)
    return build(
        "RMSprop",
        lambda lr: _scale_by_rmsprop(lr, rho, momentum, epsilon, centered),
        learning_rate,
        weight_decay=weight_decay,
        clipnorm=clipnorm,
        clipvalue=clipvalue,
        global_clipnorm=global_clipnorm,
        use_ema=use_ema,
        ema_momentum=ema_momentum,
        ema_overwrite_frequency=ema_overwrite_frequency,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )


# ----------------------------------------------------------------------------- Adam, AdamW


class AdamState(NamedTuple):
    """Adam's state: step count, first and second moments; `velocity_hats` (the running
    maximum of the second moments) is `None` unless `amsgrad`."""

    count: jax.Array
    momentums: optax.Updates
    velocities: optax.Updates
    velocity_hats: optax.Updates | None


def _scale_by_adam(learning_rate, beta_1: float, beta_2: float, epsilon: float, amsgrad: bool):
    def init_fn(params):
        zeros = lambda: optax.tree.zeros_like(params)
        return AdamState(jnp.zeros([], jnp.int32), zeros(), zeros(), zeros() if amsgrad else None)

    def update_fn(updates, state, params=None):
        del params
        momentums = jax.tree.map(lambda g, m: m + (g - m) * (1 - beta_1), updates, state.momentums)
        velocities = jax.tree.map(
            lambda g, v: v + (jnp.square(g) - v) * (1 - beta_2), updates, state.velocities
        )
        if amsgrad:
            velocity_hats = jax.tree.map(jnp.maximum, state.velocity_hats, velocities)
            second = velocity_hats
        else:
            velocity_hats, second = None, velocities

        def leaf(m, v):
            t = _step(state.count, m)
            beta_1_power = jnp.power(cast_like(beta_1, m), t)
            beta_2_power = jnp.power(cast_like(beta_2, m), t)
            # Keras folds the bias corrections into the step size and adds epsilon to sqrt(v),
            # not to sqrt(v_hat) as optax.adam does.
            alpha = cast_like(learning_rate, m) * jnp.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            return -((m * alpha) / (jnp.sqrt(v) + epsilon))

        steps = jax.tree.map(leaf, momentums, second)
        return steps, AdamState(
            optax.safe_increment(state.count), momentums, velocities, velocity_hats
        )

    return optax.GradientTransformation(init_fn, update_fn)


def _check_betas(owner: str, beta_1, beta_2) -> tuple[float, float]:
    beta_1 = check_number(owner, "beta_1", beta_1, low=0.0, high=1.0, high_open=True)
    beta_2 = check_number(owner, "beta_2", beta_2, low=0.0, high=1.0, high_open=True)
    return beta_1, beta_2


def Adam(
    learning_rate: LearningRate = 0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    amsgrad: bool = False,
    weight_decay: float | None = None,
    clipnorm: float | None = None,
    clipvalue: float | None = None,
    global_clipnorm: float | None = None,
    use_ema: bool = False,
    ema_momentum: float = 0.99,
    ema_overwrite_frequency: int | None = None,
    gradient_accumulation_steps: int | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Adam, as Keras' `Adam`: adaptive estimates of the gradients' first and second moments.

    Keras' update is `w -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + epsilon)`:
    `epsilon` is the paper's "epsilon hat", added to the uncorrected `sqrt(v)`. `optax.adam`
    adds it after bias correction instead, which differs when gradients are small.

    **Arguments:**

    - `learning_rate`: a float >= 0, or a schedule `step -> learning rate`.
    - `beta_1`: the decay rate of the first-moment estimates, in [0, 1).
    - `beta_2`: the decay rate of the second-moment estimates, in [0, 1).
    - `epsilon`: a small constant for numerical stability, >= 0.
    - `amsgrad`: whether to use the AMSGrad variant (a running maximum of the second moments).
    - `weight_decay`, `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
        `ema_overwrite_frequency`, `gradient_accumulation_steps`: as in `fk.optimizers.SGD`.

    **Returns:** an `optax.GradientTransformation` with an injectable learning rate.

    ```python
    optimizer = fk.optimizers.Adam(learning_rate=1e-3)
    opt_state = optimizer.init(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    ```
    """
    return _adam(
        "Adam",
        learning_rate,
        beta_1,
        beta_2,
        epsilon,
        amsgrad,
        weight_decay=weight_decay,
        clipnorm=clipnorm,
        clipvalue=clipvalue,
        global_clipnorm=global_clipnorm,
        use_ema=use_ema,
        ema_momentum=ema_momentum,
        ema_overwrite_frequency=ema_overwrite_frequency,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )


def _adam(owner, learning_rate, beta_1, beta_2, epsilon, amsgrad, **common):
    beta_1, beta_2 = _check_betas(owner, beta_1, beta_2)
    epsilon = check_number(owner, "epsilon", epsilon, low=0.0)
    amsgrad = bool(amsgrad)
    return build(
        owner,
        lambda lr: _scale_by_adam(lr, beta_1, beta_2, epsilon, amsgrad),
        learning_rate,
        **common,
    )


def AdamW(
    learning_rate: LearningRate = 0.001,
    weight_decay: float = 0.004,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    amsgrad: bool = False,
    clipnorm: float | None = None,
    clipvalue: float | None = None,
    global_clipnorm: float | None = None,
    use_ema: bool = False,
    ema_momentum: float = 0.99,
    ema_overwrite_frequency: int | None = None,
    gradient_accumulation_steps: int | None = None,
) -> optax.GradientTransformationExtraArgs:
    """AdamW, as Keras' `AdamW`: Adam with decoupled weight decay (0.004 by default).

    Each step does `w = w - learning_rate * weight_decay * w` and Adam's own step (Keras'
    Adam, with its epsilon placement; `optax.adamw` decays the same way but uses optax's Adam
    and a default `weight_decay` of 1e-4).

    **Arguments:**

    - `learning_rate`: a float >= 0, or a schedule `step -> learning rate`.
    - `weight_decay`: the decoupled weight decay, a float >= 0 (not `None`).
    - `beta_1`, `beta_2`, `epsilon`, `amsgrad`: as in `fk.optimizers.Adam`.
    - `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
        `ema_overwrite_frequency`, `gradient_accumulation_steps`: as in `fk.optimizers.SGD`.

    **Returns:** an `optax.GradientTransformation` with an injectable learning rate; its
    `update` needs `params`.

    ```python
    optimizer = fk.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.01)
    opt_state = optimizer.init(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    ```
    """
    if weight_decay is None:
        raise ValueError(
            "AdamW: `weight_decay` must be a float (use fk.optimizers.Adam for no weight decay). "
            "Received: weight_decay=None"
        )
    return _adam(
        "AdamW",
        learning_rate,
        beta_1,
        beta_2,
        epsilon,
        amsgrad,
        weight_decay=weight_decay,
        clipnorm=clipnorm,
        clipvalue=clipvalue,
        global_clipnorm=global_clipnorm,
        use_ema=use_ema,
        ema_momentum=ema_momentum,
        ema_overwrite_frequency=ema_overwrite_frequency,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )


# ----------------------------------------------------------------------------- Adagrad


class AdagradState(NamedTuple):
    """Adagrad's state: the running sum of squared gradients, started at
    `initial_accumulator_value`."""

    accumulators: optax.Updates


def _scale_by_adagrad(learning_rate, initial_accumulator_value: float, epsilon: float):
    def init_fn(params):
        return AdagradState(optax.tree.full_like(params, initial_accumulator_value))

    def update_fn(updates, state, params=None):
        del params
        accumulators = jax.tree.map(lambda g, a: a + jnp.square(g), updates, state.accumulators)
        steps = jax.tree.map(
            lambda g, a: -((cast_like(learning_rate, g) * g) / jnp.sqrt(a + epsilon)),
            updates,
            accumulators,
        )
        return steps, AdagradState(accumulators)

    return optax.GradientTransformation(init_fn, update_fn)


def Adagrad(
    learning_rate: LearningRate = 0.001,
    initial_accumulator_value: float = 0.1,
    epsilon: float = 1e-7,
    weight_decay: float | None = None,
    clipnorm: float | None = None,
    clipvalue: float | None = None,
    global_clipnorm: float | None = None,
    use_ema: bool = False,
    ema_momentum: float = 0.99,
    ema_overwrite_frequency: int | None = None,
    gradient_accumulation_steps: int | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Adagrad, as Keras' `Adagrad`: per-entry learning rates from the sum of squared gradients.

    Keras' update is `a += g**2; w -= lr * g / sqrt(a + epsilon)`, with `a` starting at
    `initial_accumulator_value`.

    **Arguments:**

    - `learning_rate`: a float >= 0, or a schedule `step -> learning rate`.
    - `initial_accumulator_value`: the starting value of the accumulators, >= 0.
    - `epsilon`: a small constant for numerical stability, >= 0.
    - `weight_decay`, `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
        `ema_overwrite_frequency`, `gradient_accumulation_steps`: as in `fk.optimizers.SGD`.

    **Returns:** an `optax.GradientTransformation` with an injectable learning rate.

    ```python
    optimizer = fk.optimizers.Adagrad(learning_rate=0.01)
    opt_state = optimizer.init(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    ```
    """
    initial = check_number(
        "Adagrad", "initial_accumulator_value", initial_accumulator_value, low=0.0
    )
    epsilon = check_number("Adagrad", "epsilon", epsilon, low=0.0)
    return build(
        "Adagrad",
        lambda lr: _scale_by_adagrad(lr, initial, epsilon),
        learning_rate,
        weight_decay=weight_decay,
        clipnorm=clipnorm,
        clipvalue=clipvalue,
        global_clipnorm=global_clipnorm,
        use_ema=use_ema,
        ema_momentum=ema_momentum,
        ema_overwrite_frequency=ema_overwrite_frequency,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )


# ----------------------------------------------------------------------------- Adamax


class AdamaxState(NamedTuple):
    """Adamax's state: step count, first moments and the exponentially weighted infinity norm."""

    count: jax.Array
    momentums: optax.Updates
    norms: optax.Updates


def _scale_by_adamax(learning_rate, beta_1: float, beta_2: float, epsilon: float):
    def init_fn(params):
        zeros = lambda: optax.tree.zeros_like(params)
        return AdamaxState(jnp.zeros([], jnp.int32), zeros(), zeros())

    def update_fn(updates, state, params=None):
        del params
        momentums = jax.tree.map(lambda g, m: m + (g - m) * (1 - beta_1), updates, state.momentums)
        norms = jax.tree.map(lambda g, u: jnp.maximum(beta_2 * u, jnp.abs(g)), updates, state.norms)

        def leaf(m, u):
            beta_1_power = jnp.power(cast_like(beta_1, m), _step(state.count, m))
            return -((cast_like(learning_rate, m) * m) / ((1 - beta_1_power) * (u + epsilon)))

        steps = jax.tree.map(leaf, momentums, norms)
        return steps, AdamaxState(optax.safe_increment(state.count), momentums, norms)

    return optax.GradientTransformation(init_fn, update_fn)


def Adamax(
    learning_rate: LearningRate = 0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    weight_decay: float | None = None,
    clipnorm: float | None = None,
    clipvalue: float | None = None,
    global_clipnorm: float | None = None,
    use_ema: bool = False,
    ema_momentum: float = 0.99,
    ema_overwrite_frequency: int | None = None,
    gradient_accumulation_steps: int | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Adamax, as Keras' `Adamax`: Adam with the infinity norm in place of the second moment.

    Keras' update is `u = max(beta_2 * u, |g|); w -= lr * m / ((1 - beta_1**t) * (u + epsilon))`.

    **Arguments:**

    - `learning_rate`: a float >= 0, or a schedule `step -> learning rate`.
    - `beta_1`: the decay rate of the first-moment estimates, in [0, 1).
    - `beta_2`: the decay rate of the weighted infinity norm, in [0, 1).
    - `epsilon`: a small constant for numerical stability, >= 0.
    - `weight_decay`, `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
        `ema_overwrite_frequency`, `gradient_accumulation_steps`: as in `fk.optimizers.SGD`.

    **Returns:** an `optax.GradientTransformation` with an injectable learning rate.

    ```python
    optimizer = fk.optimizers.Adamax(learning_rate=2e-3)
    opt_state = optimizer.init(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    ```
    """
    beta_1, beta_2 = _check_betas("Adamax", beta_1, beta_2)
    epsilon = check_number("Adamax", "epsilon", epsilon, low=0.0)
    return build(
        "Adamax",
        lambda lr: _scale_by_adamax(lr, beta_1, beta_2, epsilon),
        learning_rate,
        weight_decay=weight_decay,
        clipnorm=clipnorm,
        clipvalue=clipvalue,
        global_clipnorm=global_clipnorm,
        use_ema=use_ema,
        ema_momentum=ema_momentum,
        ema_overwrite_frequency=ema_overwrite_frequency,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )


# ----------------------------------------------------------------------------- Nadam


class NadamState(NamedTuple):
    """Nadam's state: step count, first and second moments, and the running product of the
    momentum schedule `u_product`."""

    count: jax.Array
    momentums: optax.Updates
    velocities: optax.Updates
    u_product: jax.Array


def _first_float_dtype(params):
    for leaf in jax.tree.leaves(params):
        dtype = getattr(leaf, "dtype", None)
        if dtype is not None and jnp.issubdtype(dtype, jnp.floating):
            return dtype
    return jnp.float32


def _scale_by_nadam(learning_rate, beta_1: float, beta_2: float, epsilon: float):
    def init_fn(params):
        zeros = lambda: optax.tree.zeros_like(params)
        u_product = jnp.ones([], _first_float_dtype(params))
        return NadamState(jnp.zeros([], jnp.int32), zeros(), zeros(), u_product)

    def update_fn(updates, state, params=None):
        del params
        count = state.count
        # Once per step, before the variables' updates (Keras' `_backend_update_step`).
        u_product = (
            state.u_product * beta_1 * (1.0 - 0.5 * jnp.power(0.96, _step(count, state.u_product)))
        )

        def leaf(g, m, v):
            local_step = _step(count, g)
            next_step = (count + 2).astype(g.dtype)
            decay = cast_like(0.96, g)
            # Unlike Adam, Keras' Nadam updates the moments with the betas cast to the
            # variable's dtype, so `1 - beta_2` is rounded in float32 (0.00099998713...).
            b1, b2 = cast_like(beta_1, g), cast_like(beta_2, g)
            u_t = b1 * (1.0 - 0.5 * jnp.power(decay, local_step))
            u_t_1 = b1 * (1.0 - 0.5 * jnp.power(decay, next_step))
            u_product_t = u_product.astype(g.dtype)
            u_product_t_1 = u_product_t * u_t_1
            beta_2_power = jnp.power(b2, local_step)
            m = m + (g - m) * (1 - b1)
            v = v + (jnp.square(g) - v) * (1 - b2)
            m_hat = (u_t_1 * m) / (1 - u_product_t_1) + ((1 - u_t) * g) / (1 - u_product_t)
            v_hat = v / (1 - beta_2_power)
            step = -((m_hat * cast_like(learning_rate, g)) / (jnp.sqrt(v_hat) + epsilon))
            return step, m, v

        steps, momentums, velocities = map_split(
            leaf, 3, updates, state.momentums, state.velocities
        )
        new_state = NadamState(optax.safe_increment(count), momentums, velocities, u_product)
        return steps, new_state

    return optax.GradientTransformation(init_fn, update_fn)


def Nadam(
    learning_rate: LearningRate = 0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    weight_decay: float | None = None,
    clipnorm: float | None = None,
    clipvalue: float | None = None,
    global_clipnorm: float | None = None,
    use_ema: bool = False,
    ema_momentum: float = 0.99,
    ema_overwrite_frequency: int | None = None,
    gradient_accumulation_steps: int | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Nadam, as Keras' `Nadam`: Adam with Nesterov momentum and Keras' momentum schedule.

    Keras (following Dozat, 2016) warms the momentum up with
    `u_t = beta_1 * (1 - 0.5 * 0.96**t)` and bias-corrects with the running product of the
    `u_t`; `optax.nadam` uses a constant `beta_1` instead, so the two differ.

    **Arguments:**

    - `learning_rate`: a float >= 0, or a schedule `step -> learning rate`.
    - `beta_1`: the decay rate of the first-moment estimates, in [0, 1).
    - `beta_2`: the decay rate of the second-moment estimates, in [0, 1).
    - `epsilon`: a small constant for numerical stability, >= 0.
    - `weight_decay`, `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
        `ema_overwrite_frequency`, `gradient_accumulation_steps`: as in `fk.optimizers.SGD`.

    **Returns:** an `optax.GradientTransformation` with an injectable learning rate.

    ```python
    optimizer = fk.optimizers.Nadam(learning_rate=1e-3)
    opt_state = optimizer.init(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    ```
    """
    beta_1, beta_2 = _check_betas("Nadam", beta_1, beta_2)
    epsilon = check_number("Nadam", "epsilon", epsilon, low=0.0)
    return build(
        "Nadam",
        lambda lr: _scale_by_nadam(lr, beta_1, beta_2, epsilon),
        learning_rate,
        weight_decay=weight_decay,
        clipnorm=clipnorm,
        clipvalue=clipvalue,
        global_clipnorm=global_clipnorm,
        use_ema=use_ema,
        ema_momentum=ema_momentum,
        ema_overwrite_frequency=ema_overwrite_frequency,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )


# ----------------------------------------------------------------------------- Lion


class LionState(NamedTuple):
    """Lion's state: the momentum of each variable."""

    momentums: optax.Updates


def _scale_by_lion(learning_rate, beta_1: float, beta_2: float):
    # As optax.scale_by_lion, but with Keras' float32-cast betas (`1 - beta_1` is rounded in
    # the variable's dtype) and the learning rate applied as in Keras.
    def init_fn(params):
        return LionState(optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        del params

        def leaf(g, m):
            b1, b2 = cast_like(beta_1, g), cast_like(beta_2, g)
            step = -(cast_like(learning_rate, g) * jnp.sign(m * b1 + g * (1.0 - b1)))
            return step, m * b2 + g * (1.0 - b2)

        steps, momentums = map_split(leaf, 2, updates, state.momentums)
        return steps, LionState(momentums)

    return optax.GradientTransformation(init_fn, update_fn)


def Lion(
    learning_rate: LearningRate = 0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.99,
    weight_decay: float | None = None,
    clipnorm: float | None = None,
    clipvalue: float | None = None,
    global_clipnorm: float | None = None,
    use_ema: bool = False,
    ema_momentum: float = 0.99,
    ema_overwrite_frequency: int | None = None,
    gradient_accumulation_steps: int | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Lion, as Keras' `Lion`: the sign of an interpolated momentum, so every entry moves by
    the learning rate.

    The update is `w -= lr * sign(beta_1 * m + (1 - beta_1) * g)`, then
    `m = beta_2 * m + (1 - beta_2) * g`. Lion usually wants a 3-10x smaller learning rate
    than Adam.

    **Arguments:**

    - `learning_rate`: a float >= 0, or a schedule `step -> learning rate`.
    - `beta_1`: the interpolation between momentum and gradient for the update, in (0, 1].
    - `beta_2`: the decay rate of the momentum, in [0, 1).
    - `weight_decay`, `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
        `ema_overwrite_frequency`, `gradient_accumulation_steps`: as in `fk.optimizers.SGD`.

    **Returns:** an `optax.GradientTransformation` with an injectable learning rate.

    ```python
    optimizer = fk.optimizers.Lion(learning_rate=1e-4, weight_decay=0.1)
    opt_state = optimizer.init(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    ```
    """
    # Keras: beta_1 outside (0, 1] makes Lion degenerate to SignSGD.
    beta_1 = check_number("Lion", "beta_1", beta_1, low=0.0, high=1.0, low_open=True)
    beta_2 = check_number("Lion", "beta_2", beta_2, low=0.0, high=1.0, high_open=True)
    return build(
        "Lion",
        lambda lr: _scale_by_lion(lr, beta_1, beta_2),
        learning_rate,
        weight_decay=weight_decay,
        clipnorm=clipnorm,
        clipvalue=clipvalue,
        global_clipnorm=global_clipnorm,
        use_ema=use_ema,
        ema_momentum=ema_momentum,
        ema_overwrite_frequency=ema_overwrite_frequency,
        gradient_accumulation_steps=gradient_accumulation_steps,
    )


# ----------------------------------------------------------------------------- get

_OPTIMIZERS: dict[str, Callable[..., optax.GradientTransformationExtraArgs]] = {
    "adam": Adam,
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adamw": AdamW,
    "adagrad": Adagrad,
    "adamax": Adamax,
    "nadam": Nadam,
    "lion": Lion,
}


def get(identifier: str | optax.GradientTransformation) -> optax.GradientTransformation:
    """The optimizer for a Keras name, or an optax transformation unchanged.

    **Arguments:**

    - `identifier`: a Keras optimizer name (`"adam"`, `"sgd"`, `"rmsprop"`, `"adamw"`,
        `"adagrad"`, `"adamax"`, `"nadam"`, `"lion"`; case-insensitive, so class names such as
        `"RMSprop"` work too), which gives the optimizer with Keras' defaults; or any
        `optax.GradientTransformation`, returned as is.

    **Returns:** an `optax.GradientTransformation`.

    ```python
    optimizer = fk.optimizers.get("adam")  # fk.optimizers.Adam()
    optimizer = fk.optimizers.get(optax.sgd(0.1))  # passed through
    ```
    """
    if isinstance(identifier, optax.GradientTransformation):
        return identifier
    if isinstance(identifier, str):
        constructor = _OPTIMIZERS.get(identifier.lower())
        if constructor is None:
            close = difflib.get_close_matches(identifier.lower(), _OPTIMIZERS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ValueError(
                f"Unknown optimizer '{identifier}'.{hint} Known optimizers: "
                f"{', '.join(sorted(_OPTIMIZERS))} (case-insensitive), or any "
                f"optax.GradientTransformation. Received: optimizer={identifier!r}"
            )
        return constructor()
    hint = ""
    if type(identifier).__module__.startswith("keras"):
        hint = " Keras optimizer objects are not supported; use e.g. fk.optimizers.Adam(...)."
    raise TypeError(
        "An optimizer must be a Keras optimizer name such as 'adam' or an "
        f"optax.GradientTransformation.{hint} Received: optimizer={identifier!r} "
        f"(of type {type(identifier).__name__})"
    )
