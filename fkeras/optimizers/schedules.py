"""Keras 3's learning-rate schedules as optax schedules: callables `step -> learning rate`.

Each is a small frozen (hashable) object: call it with a step (an int or an integer array,
also traced under `jax.jit`) to get a float32 scalar, pass it as `learning_rate=` to any
`fk.optimizers` constructor or optax optimizer, and read its arguments back with
`get_config()`. The formulas follow `keras/src/optimizers/schedules/learning_rate_schedule.py`
operation by operation. As in Keras, an optimizer evaluates the schedule at the number of
updates done so far (0 for the first update).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

__all__ = [
    "CosineDecay",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
]


def _float_array(x) -> jax.Array:
    """Keras' `convert_to_tensor(initial_learning_rate)`: float32 unless already a float array."""
    dtype = getattr(x, "dtype", None)
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.float32
    return jnp.asarray(x, dtype=dtype)


def _check_decay_steps(owner: str, name: str, decay_steps) -> None:
    if isinstance(decay_steps, bool) or not isinstance(decay_steps, (int, float)):
        raise TypeError(f"{owner}: `{name}` must be a number. Received: {name}={decay_steps!r}")
    if not decay_steps > 0:
        raise ValueError(f"{owner}: `{name}` must be > 0. Received: {name}={decay_steps!r}")


@dataclasses.dataclass(frozen=True)
class LearningRateSchedule:
    """Base of the schedules here: a frozen dataclass called as `schedule(step) -> lr`."""

    def __call__(self, step) -> jax.Array:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as in Keras (without `name`)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        config = {k: v for k, v in config.items() if k != "name"}
        return cls(**config)


@dataclasses.dataclass(frozen=True)
class ExponentialDecay(LearningRateSchedule):
    """Exponential decay, as Keras' `ExponentialDecay`:
    `initial_learning_rate * decay_rate ** (step / decay_steps)`.

    **Arguments:**

    - `initial_learning_rate`: the learning rate at step 0.
    - `decay_steps`: the number of steps over which the rate is multiplied by `decay_rate`, > 0.
    - `decay_rate`: the decay factor.
    - `staircase`: if `True`, `step / decay_steps` is floored, so the rate drops in steps.

    ```python
    schedule = fk.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96)
    optimizer = fk.optimizers.SGD(learning_rate=schedule)
    schedule(2000)  # 0.1 * 0.96**2
    ```
    """

    initial_learning_rate: float
    decay_steps: int
    decay_rate: float
    staircase: bool = False

    def __post_init__(self):
        _check_decay_steps("ExponentialDecay", "decay_steps", self.decay_steps)

    def __call__(self, step) -> jax.Array:
        initial_learning_rate = _float_array(self.initial_learning_rate)
        dtype = initial_learning_rate.dtype
        decay_steps = jnp.asarray(self.decay_steps).astype(dtype)
        decay_rate = jnp.asarray(self.decay_rate).astype(dtype)
        p = jnp.asarray(step).astype(dtype) / decay_steps
        if self.staircase:
            p = jnp.floor(p)
        return initial_learning_rate * jnp.power(decay_rate, p)


@dataclasses.dataclass(frozen=True)
class PiecewiseConstantDecay(LearningRateSchedule):
    """Piecewise constant, as Keras' `PiecewiseConstantDecay`: `values[0]` while
    `step <= boundaries[0]`, `values[i]` while `boundaries[i-1] < step <= boundaries[i]`, and
    `values[-1]` after the last boundary.

    **Arguments:**

    - `boundaries`: increasing step boundaries (cast to the step's dtype, as in Keras).
    - `values`: the learning rates, one more than `boundaries`.

    ```python
    schedule = fk.optimizers.schedules.PiecewiseConstantDecay([1000, 2000], [0.1, 0.01, 0.001])
    schedule(1000), schedule(1001)  # 0.1, 0.01
    ```
    """

    boundaries: tuple
    values: tuple

    def __post_init__(self):
        object.__setattr__(self, "boundaries", tuple(self.boundaries))
        object.__setattr__(self, "values", tuple(self.values))
        if len(self.boundaries) != len(self.values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay: the length of `boundaries` should be 1 less than the "
                f"length of `values`. Received: boundaries={list(self.boundaries)} of length "
                f"{len(self.boundaries)}, and values={list(self.values)} of length "
                f"{len(self.values)}."
            )

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": list(self.boundaries), "values": list(self.values)}

    def __call__(self, step) -> jax.Array:
        step = jnp.asarray(step)
        boundaries = [jnp.asarray(b).astype(step.dtype) for b in self.boundaries]
        dtype = jnp.result_type(*[jnp.asarray(v) for v in self.values], jnp.float32)
        values = [jnp.asarray(v, dtype=dtype) for v in self.values]
        if not boundaries:
            return jnp.broadcast_to(values[0], step.shape)
        result = jnp.zeros(step.shape, dtype)
        result = result + (step <= boundaries[0]).astype(dtype) * values[0]
        result = result + (step > boundaries[-1]).astype(dtype) * values[-1]
        for low, high, value in zip(boundaries[:-1], boundaries[1:], values[1:-1]):
            result = result + ((step > low) & (step <= high)).astype(dtype) * value
        return result


@dataclasses.dataclass(frozen=True)
class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay, as Keras' `PolynomialDecay`: from `initial_learning_rate` to
    `end_learning_rate` over `decay_steps` as `(initial - end) * (1 - step / decay_steps) **
    power + end`.

    **Arguments:**

    - `initial_learning_rate`: the learning rate at step 0.
    - `decay_steps`: the number of steps to reach `end_learning_rate`, > 0.
    - `end_learning_rate`: the final learning rate.
    - `power`: the power of the polynomial; 1.0 is linear.
    - `cycle`: if `True`, restart after `decay_steps`, each cycle lengthened to the next
        multiple of `decay_steps`; if `False`, stay at `end_learning_rate`.

    ```python
    schedule = fk.optimizers.schedules.PolynomialDecay(0.1, decay_steps=1000, power=0.5)
    optimizer = fk.optimizers.SGD(learning_rate=schedule)
    ```
    """

    initial_learning_rate: float
    decay_steps: int
    end_learning_rate: float = 0.0001
    power: float = 1.0
    cycle: bool = False

    def __post_init__(self):
        _check_decay_steps("PolynomialDecay", "decay_steps", self.decay_steps)

    def __call__(self, step) -> jax.Array:
        initial_learning_rate = _float_array(self.initial_learning_rate)
        dtype = initial_learning_rate.dtype
        end_learning_rate = jnp.asarray(self.end_learning_rate).astype(dtype)
        power = jnp.asarray(self.power).astype(dtype)
        global_step = jnp.asarray(step).astype(dtype)
        decay_steps = jnp.asarray(self.decay_steps).astype(dtype)
        if self.cycle:
            multiplier = jnp.where(
                global_step == 0, 1.0, jnp.ceil(global_step / self.decay_steps)
            ).astype(dtype)
            decay_steps = decay_steps * multiplier
        else:
            global_step = jnp.minimum(global_step, decay_steps)
        p = global_step / decay_steps
        return (initial_learning_rate - end_learning_rate) * jnp.power(
            1 - p, power
        ) + end_learning_rate


@dataclasses.dataclass(frozen=True)
class InverseTimeDecay(LearningRateSchedule):
    """Inverse time decay, as Keras' `InverseTimeDecay`:
    `initial_learning_rate / (1 + decay_rate * step / decay_steps)`.

    **Arguments:**

    - `initial_learning_rate`: the learning rate at step 0.
    - `decay_steps`: how often to apply the decay, > 0.
    - `decay_rate`: the decay rate.
    - `staircase`: if `True`, `step / decay_steps` is floored.

    ```python
    schedule = fk.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1.0, decay_rate=0.5)
    schedule(2)  # 0.1 / (1 + 0.5 * 2)
    ```
    """

    initial_learning_rate: float
    decay_steps: int
    decay_rate: float
    staircase: bool = False

    def __post_init__(self):
        _check_decay_steps("InverseTimeDecay", "decay_steps", self.decay_steps)

    def __call__(self, step) -> jax.Array:
        initial_learning_rate = _float_array(self.initial_learning_rate)
        dtype = initial_learning_rate.dtype
        decay_steps = jnp.asarray(self.decay_steps).astype(dtype)
        decay_rate = jnp.asarray(self.decay_rate).astype(dtype)
        p = jnp.asarray(step).astype(dtype) / decay_steps
        if self.staircase:
            p = jnp.floor(p)
        denom = jnp.asarray(1, dtype) + decay_rate * p
        return initial_learning_rate / denom


@dataclasses.dataclass(frozen=True)
class CosineDecay(LearningRateSchedule):
    """Cosine decay with optional linear warmup, as Keras' `CosineDecay`.

    Without `warmup_target`: `initial_learning_rate * ((1 - alpha) * c + alpha)` with
    `c = 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))`. With `warmup_target`:
    a linear rise from `initial_learning_rate` to `warmup_target` over `warmup_steps`, then
    the same cosine decay from `warmup_target` over the next `decay_steps` steps.

    **Arguments:**

    - `initial_learning_rate`: the learning rate at step 0.
    - `decay_steps`: the number of steps to decay over (after the warmup), > 0.
    - `alpha`: the minimum learning rate, as a fraction of the decayed-from rate.
    - `warmup_target`: the learning rate at the end of the warmup; `None` disables warmup.
    - `warmup_steps`: the number of warmup steps.

    ```python
    schedule = fk.optimizers.schedules.CosineDecay(
        0.0, decay_steps=10_000, warmup_target=1e-3, warmup_steps=1000
    )
    optimizer = fk.optimizers.AdamW(learning_rate=schedule)
    ```
    """

    initial_learning_rate: float
    decay_steps: int
    alpha: float = 0.0
    warmup_target: float | None = None
    warmup_steps: int = 0

    def __post_init__(self):
        _check_decay_steps("CosineDecay", "decay_steps", self.decay_steps)
        if isinstance(self.warmup_steps, bool) or not self.warmup_steps >= 0:
            raise ValueError(
                f"CosineDecay: `warmup_steps` must be >= 0. Received: "
                f"warmup_steps={self.warmup_steps!r}"
            )

    def _decay(self, step, decay_steps, decay_from_lr, dtype):
        completed_fraction = step / decay_steps
        pi = jnp.asarray(math.pi, dtype=dtype)
        cosine_decayed = 0.5 * (1.0 + jnp.cos(pi * completed_fraction))
        decayed = (1 - self.alpha) * cosine_decayed + self.alpha
        return decay_from_lr * decayed

    def __call__(self, step) -> jax.Array:
        initial_learning_rate = _float_array(self.initial_learning_rate)
        dtype = initial_learning_rate.dtype
        decay_steps = jnp.asarray(self.decay_steps).astype(dtype)
        global_step = jnp.asarray(step).astype(dtype)
        if self.warmup_target is None:
            global_step = jnp.minimum(global_step, decay_steps)
            return self._decay(global_step, decay_steps, initial_learning_rate, dtype)
        warmup_target = jnp.asarray(self.warmup_target).astype(dtype)
        warmup_steps = jnp.asarray(self.warmup_steps).astype(dtype)
        global_step = jnp.minimum(global_step, decay_steps + warmup_steps)
        warmup = (warmup_target - initial_learning_rate) * (
            global_step / warmup_steps
        ) + initial_learning_rate
        decay = self._decay(global_step - warmup_steps, decay_steps, warmup_target, dtype)
        return jnp.where(global_step < warmup_steps, warmup, decay)
