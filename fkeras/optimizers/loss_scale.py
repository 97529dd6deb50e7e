"""Dynamic loss scaling for float16 training (Keras 3's `LossScaleOptimizer`) as an optax
transformation whose state holds the scale.

float16 gradients underflow to zero below about 6e-8. Multiplying the loss by a large scale
before differentiating keeps them representable; the gradients are divided by it again before
the wrapped optimizer sees them. A step whose gradients overflow (inf or NaN) is skipped and the
scale halved; after `dynamic_growth_steps` finite steps in a row the scale doubles. The scale
lives in the optimizer state, so a `TrainState` keeps its structure and checkpoints hold it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .base import check_number


class LossScaleState(NamedTuple):
    """The state of `LossScaleOptimizer`: the current scale, the finite steps since it last
    changed, and the wrapped optimizer's state."""

    scale: jax.Array
    growth_count: jax.Array
    inner_state: Any


def LossScaleOptimizer(  # noqa: N802 - named as Keras' class
    inner_optimizer: optax.GradientTransformation | str,
    initial_scale: float = 2.0**15,
    dynamic_growth_steps: int = 2000,
) -> optax.GradientTransformationExtraArgs:
    """Wrap an optimizer with dynamic loss scaling (Keras 3's `LossScaleOptimizer`).

    The trainer multiplies the loss by the scale held in this optimizer's state before taking
    gradients (see `scale_loss`); `update` divides the gradients by it, skips the step (zero
    updates, the wrapped state unchanged) and halves the scale when any gradient is not finite,
    and doubles the scale after `dynamic_growth_steps` finite steps in a row. `compile` wraps
    the optimizer automatically when a layer of the model computes in float16
    (`"mixed_float16"`), as Keras does.

    **Arguments:**

    - `inner_optimizer`: the optimizer to wrap: an optax transformation or a Keras name.
    - `initial_scale`: the first loss scale (Keras: `2**15`).
    - `dynamic_growth_steps`: finite steps in a row before the scale doubles (Keras: 2000).

    **Returns:** an optax transformation whose state is a `LossScaleState`.

    ```python
    optimizer = fk.mixed_precision.LossScaleOptimizer(fk.optimizers.Adam(1e-3))
    trainer = model.compile(optimizer=optimizer, loss="mse")
    ```

    In a hand-written loop, scale the loss and pass the gradients of the scaled loss:

    ```python
    def loss_fn(params):
        return fk.optimizers.scale_loss(compute_loss(params), opt_state)

    grads = jax.grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    ```
    """
    from .optimizers import get

    inner = get(inner_optimizer)
    check_number("LossScaleOptimizer", "initial_scale", initial_scale, low=0.0, low_open=True)
    if (
        isinstance(dynamic_growth_steps, bool)
        or not isinstance(dynamic_growth_steps, int)
        or dynamic_growth_steps < 1
    ):
        raise ValueError(
            "LossScaleOptimizer: `dynamic_growth_steps` must be a positive int. "
            f"Received: dynamic_growth_steps={dynamic_growth_steps!r}"
        )
    initial = float(initial_scale)

    def init_fn(params):
        return LossScaleState(
            scale=jnp.asarray(initial, jnp.float32),
            growth_count=jnp.zeros((), jnp.int32),
            inner_state=inner.init(params),
        )

    def update_fn(grads, state, params=None, **extra_args):
        scale = state.scale
        finite = all_finite(grads)
        unscaled = jax.tree.map(lambda g: g / scale.astype(g.dtype), grads)
        updates, inner_state = inner.update(unscaled, state.inner_state, params, **extra_args)
        # A non-finite step changes nothing: zero updates and the previous wrapped state
        # (selected, not branched, so it also works under vmap and with sharded states).
        updates = jax.tree.map(lambda u: jnp.where(finite, u, jnp.zeros_like(u)), updates)
        inner_state = jax.tree.map(
            lambda new, old: jnp.where(finite, new, old), inner_state, state.inner_state
        )
        grow = finite & (state.growth_count + 1 >= dynamic_growth_steps)
        new_scale = jnp.where(finite, jnp.where(grow, scale * 2.0, scale), scale * 0.5)
        count = jnp.where(finite & ~grow, state.growth_count + 1, 0).astype(jnp.int32)
        return updates, LossScaleState(new_scale, count, inner_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def all_finite(tree) -> jax.Array:
    """Whether every floating leaf of `tree` is finite (a boolean scalar)."""
    leaves = [
        jnp.all(jnp.isfinite(g))
        for g in jax.tree.leaves(tree)
        if jnp.issubdtype(jnp.result_type(g), jnp.inexact)
    ]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _is_loss_scale_state(x) -> bool:
    return isinstance(x, LossScaleState)


def get_loss_scale(opt_state: optax.OptState) -> jax.Array | None:
    """The current loss scale in an optimizer state, or None without a `LossScaleOptimizer`.

    **Arguments:**

    - `opt_state`: an optimizer state (also one nested in `optax.chain` and other wrappers).

    **Returns:** a float32 scalar array, or None.

    ```python
    fk.optimizers.get_loss_scale(trainer.state.opt_state)  # Array(32768., dtype=float32)
    ```
    """
    found = [
        x
        for x in jax.tree.leaves(opt_state, is_leaf=_is_loss_scale_state)
        if _is_loss_scale_state(x)
    ]
    if len(found) > 1:
        raise ValueError(
            f"This optimizer state holds {len(found)} LossScaleOptimizer states, so which loss "
            "scale applies is ambiguous: wrap the optimizer in LossScaleOptimizer once."
        )
    return found[0].scale if found else None


def scale_loss(loss: jax.Array, opt_state: optax.OptState) -> jax.Array:
    """`loss` times the loss scale held in `opt_state` (unchanged without loss scaling).

    **Arguments:**

    - `loss`: the scalar loss.
    - `opt_state`: the optimizer state.

    **Returns:** the scaled loss, in float32.
    """
    scale = get_loss_scale(opt_state)
    return loss if scale is None else loss.astype(jnp.float32) * scale


def needs_loss_scaling(model) -> bool:
    """Whether any layer of `model` computes in float16 (a `"float16"` or `"mixed_float16"`
    policy), where gradients can underflow without loss scaling."""
    from ..core.autocast import _dynamic_fields, _is_layer

    pending = [model]
    while pending:
        layer = pending.pop()
        if getattr(layer, "compute_dtype", None) == "float16":
            return True
        for name in _dynamic_fields(type(layer)):
            value = getattr(layer, name)
            pending.extend(v for v in jax.tree.leaves(value, is_leaf=_is_layer) if _is_layer(v))
    return False


def for_model(optimizer: optax.GradientTransformation, model) -> optax.GradientTransformation:
    """`optimizer` wrapped in `LossScaleOptimizer` when `model` computes in float16 and it holds
    no loss scaling yet (what `compile` does, as Keras does for `"mixed_float16"`)."""
    if not needs_loss_scaling(model):
        return optimizer
    from ..core.tree import partition

    probe = jax.eval_shape(optimizer.init, partition(model).params)
    if get_loss_scale(probe) is not None:
        return optimizer
    return LossScaleOptimizer(optimizer)
