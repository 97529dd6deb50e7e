"""The `Metric` base class: pure `init`/`update`/`result`/`merge` over an explicit state PyTree,
plus Keras' stateful `update_state`/`result`/`reset_state` wrapper on the same object.

Shared helpers for the built-in metrics live here too: Keras' rank alignment
(`squeeze_or_expand_to_same_rank`), sample-weight broadcasting, and `divide_no_nan`.
"""

from __future__ import annotations

import re
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ..core.registry import register_serializable

EPSILON = 1e-7  # Keras' `backend.epsilon()`
_register = register_serializable(package="fkeras")


def to_snake_case(name: str) -> str:
    """Keras' automatic metric name for a class name ("MeanIoU" -> "mean_io_u")."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class Metric:
    """Base class of all metrics: pure functions over an explicit state, with a Keras wrapper.

    Subclasses implement `init()`, `update(state, ...)` and `_result(state)`; `merge` defaults to
    an elementwise sum, right for every count-based state.

    **Arguments:**

    - `name`: the metric's name; defaults to the class name in snake case, as in Keras.
    - `dtype`: the dtype of `result()` (the state itself is always float32).

    ```python
    m = fk.metrics.BinaryAccuracy()
    state = m.init()
    state = jax.jit(m.update)(state, y_true, y_pred)   # pure, jit-able
    m.result(state)
    m.update_state(y_true, y_pred); m.result()         # Keras-style, stateful
    ```
    """

    def __init__(self, name: str | None = None, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"A metric name must be a string. Received: name={name!r}")
        self.name = name or to_snake_case(type(self).__name__)
        self.dtype = jnp.dtype(dtype).name if dtype is not None else "float32"
        self._state = None

    # -- pure API ---------------------------------------------------------------------------
    def init(self):
        """The empty state: a PyTree of float32 arrays."""
        raise NotImplementedError(f"{type(self).__name__} must implement `init()`.")

    def init_like(self, *args, **kwargs):
        """The empty state, sized for a batch of `update` arguments like these.

        Equal to `init()` except for metrics whose state size comes from the data (`F1Score`
        without `num_classes`, multi-label `AUC` without `num_labels`): their `init()` has a
        size-0 axis that the first `update` sizes. Call this to start a jitted loop with the
        final shapes (arrays or `jax.ShapeDtypeStruct`s both work; nothing is computed).

        ```python
        state = fk.metrics.F1Score().init_like(y_true, y_pred)  # tp: (num_classes,)
        ```
        """
        state = self.init()
        after = jax.eval_shape(lambda s: self.update(s, *args, **kwargs), state)
        same = jax.tree.structure(after) == jax.tree.structure(state) and all(
            a.shape == b.shape for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(state))
        )
        return state if same else jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), after)

    def update(self, state, y_true, y_pred, sample_weight=None):
        """The state after one batch. Pure and jit-able."""
        raise NotImplementedError(f"{type(self).__name__} must implement `update()`.")

    def _result(self, state) -> Array:
        raise NotImplementedError(f"{type(self).__name__} must implement `_result(state)`.")

    def result(self, state=None) -> Array:
        """The metric value of `state` (or, if `None`, of the stateful wrapper's state)."""
        if state is None:
            state = self.state
        value = jnp.asarray(self._result(state))
        return value if value.dtype == self.dtype else value.astype(self.dtype)

    def merge(self, a, b):
        """Combine two states (for example from two devices): an elementwise sum."""
        return jax.tree.map(jnp.add, a, b)

    # -- stateful Keras wrapper ---------------------------------------------------------------
    @property
    def state(self):
        """The stateful wrapper's current state."""
        if self._state is None:
            self._state = self.init()
        return self._state

    def update_state(self, *args, **kwargs) -> None:
        """Keras' `update_state`: accumulate one batch into the wrapper's state."""
        self._state = self.update(self.state, *args, **kwargs)

    def reset_state(self) -> None:
        """Keras' `reset_state`: back to the empty state."""
        self._state = self.init()

    def __call__(self, *args, **kwargs) -> Array:
        """Keras' `metric(y_true, y_pred)`: `update_state` then `result()`."""
        self.update_state(*args, **kwargs)
        return self.result()

    # -- config -----------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


# -- helpers shared by the built-in metrics -------------------------------------------------


def as_array(x):
    """Python lists and numbers as arrays (arrays and `None` pass through), before a jit call."""
    return jnp.asarray(x) if isinstance(x, (list, tuple, int, float)) else x


def as_float(x: ArrayLike) -> Array:
    return jnp.asarray(x).astype(jnp.float32)


def divide_no_nan(a: ArrayLike, b: ArrayLike) -> Array:
    """`a / b`, and 0 where `b == 0` (Keras' `ops.divide_no_nan`)."""
    a, b = jnp.asarray(a), jnp.asarray(b)
    zero = b == 0
    return jnp.where(zero, 0.0, a / jnp.where(zero, 1.0, b))


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """Keras' rank alignment: drop or add a trailing size-1 axis when ranks differ by one."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = jnp.expand_dims(x2, -1)
        else:
            x1 = jnp.squeeze(x1, -1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = jnp.expand_dims(x1, -1)
        else:
            x2 = jnp.squeeze(x2, -1)
    return x1, x2


def broadcast_weights(sample_weight: ArrayLike, shape: tuple[int, ...]) -> Array:
    """Broadcast `sample_weight` to `shape`, aligning leading (batch) axes as Keras does.

    A `(batch,)` weight against `(batch, k)` values gives every entry of a row its row's
    weight; a trailing size-1 axis beyond `shape`'s rank is dropped.
    """
    w = as_float(sample_weight)
    shape = tuple(shape)
    while w.ndim > len(shape) and w.shape[-1] == 1:
        w = jnp.squeeze(w, -1)
    if 0 < w.ndim < len(shape):
        w = jnp.reshape(w, w.shape + (1,) * (len(shape) - w.ndim))
    try:
        return jnp.broadcast_to(w, shape)
    except ValueError:
        raise ValueError(
            f"sample_weight of shape {tuple(jnp.shape(sample_weight))} cannot be broadcast to the "
            f"per-sample values of shape {shape}. Received: "
            f"sample_weight.shape={tuple(jnp.shape(sample_weight))}"
        ) from None


def weighted(values: Array, weights: Array) -> Array:
    """`values * weights`, but exactly 0 where the weight is 0 (even for NaN or inf values), so
    that a zero weight excludes a sample completely."""
    return jnp.where(weights == 0, 0.0, values * weights)


def check_choice(owner: str, arg: str, value: Any, choices) -> None:
    if value not in choices:
        raise ValueError(
            f"{owner}: invalid `{arg}`; expected one of {list(choices)}. Received: {arg}={value!r}"
        )
