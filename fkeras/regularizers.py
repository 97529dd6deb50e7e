"""Weight and activity regularizers (Keras' `L1`, `L2`, `L1L2`): penalties added to the loss.

Pass them to a layer (`Dense(64, kernel_regularizer="l2")`); the trainer adds each trainable
weight's penalty once per step, and activity penalties once per call, divided by the batch
size, as Keras 3 does.
"""

from __future__ import annotations

import dataclasses
import difflib
import math

import jax
import jax.numpy as jnp

from .core.registry import deserialize as _deserialize
from .core.registry import register_serializable
from .core.registry import serialize as _serialize

_register = register_serializable(package="fkeras")


class Regularizer:
    """Base class: `__call__(x) -> scalar penalty`, plus `get_config()`/`from_config()`."""

    def __call__(self, x):
        return jnp.zeros((), jnp.float32)

    def get_config(self) -> dict:
        if not dataclasses.is_dataclass(self):
            return {}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _check_factor(owner: str, name: str, value) -> float:
    if value is None:  # Keras treats None as 0
        return 0.0
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{owner} expects a finite `{name}` >= 0. Received: {name}={value!r}")
    return float(value)


@_register
@dataclasses.dataclass(frozen=True)
class L1L2(Regularizer):
    """`l1 * sum(|x|) + l2 * sum(x**2)`."""

    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "l1", _check_factor("L1L2", "l1", self.l1))
        object.__setattr__(self, "l2", _check_factor("L1L2", "l2", self.l2))

    def __call__(self, x):
        penalty = jnp.zeros((), x.dtype)
        if self.l1:
            penalty = penalty + self.l1 * jnp.sum(jnp.abs(x))
        if self.l2:
            penalty = penalty + self.l2 * jnp.sum(jnp.square(x))
        return penalty


@_register
@dataclasses.dataclass(frozen=True)
class L1(Regularizer):
    """`l1 * sum(|x|)` (default `l1=0.01`)."""

    l1: float = 0.01

    def __post_init__(self):
        object.__setattr__(self, "l1", _check_factor("L1", "l1", self.l1))

    def __call__(self, x):
        return self.l1 * jnp.sum(jnp.abs(x))


@_register
@dataclasses.dataclass(frozen=True)
class L2(Regularizer):
    """`l2 * sum(x**2)` (default `l2=0.01`)."""

    l2: float = 0.01

    def __post_init__(self):
        object.__setattr__(self, "l2", _check_factor("L2", "l2", self.l2))

    def __call__(self, x):
        return self.l2 * jnp.sum(jnp.square(x))


@_register
@dataclasses.dataclass(frozen=True)
class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (`mode="rows"`) or columns of a rank-2 weight towards orthogonality:
    `factor * mean |<u_i, u_j>|` over pairs of distinct L2-normalized rows (columns), as Keras.

    **Arguments:**

    - `factor`: the penalty's weight (default 0.01).
    - `mode`: `"rows"` or `"columns"`.
    """

    factor: float = 0.01
    mode: str = "rows"

    def __post_init__(self):
        object.__setattr__(
            self, "factor", _check_factor("OrthogonalRegularizer", "factor", self.factor)
        )
        if self.mode not in ("rows", "columns"):
            raise ValueError(
                "OrthogonalRegularizer: `mode` must be 'rows' or 'columns'. "
                f"Received: mode={self.mode!r}"
            )

    def __call__(self, x):
        if x.ndim != 2:
            raise ValueError(
                "OrthogonalRegularizer: inputs must have rank 2 (a kernel). "
                f"Received: inputs.shape={tuple(x.shape)}"
            )
        rows = self.mode == "rows"
        # Keras' normalize: x * min(rsqrt(sum x^2), 1 / epsilon), epsilon = 1e-7.
        inv_norm = jax.lax.rsqrt(jnp.sum(jnp.square(x), axis=1 if rows else 0, keepdims=True))
        u = x * jnp.minimum(inv_norm, 1e7)
        product = u @ u.T if rows else u.T @ u
        size = product.shape[0]
        off_diagonal = product * (1.0 - jnp.eye(size, dtype=x.dtype))
        pairs = size * (size - 1.0) / 2.0
        return self.factor * 0.5 * jnp.sum(jnp.abs(off_diagonal)) / pairs


_BY_NAME = {
    "l1": L1,
    "l2": L2,
    "l1_l2": lambda: L1L2(l1=0.01, l2=0.01),  # Keras' string default differs from L1L2()
    "L1": L1,
    "L2": L2,
    "L1L2": L1L2,
    "orthogonal_regularizer": OrthogonalRegularizer,
    "OrthogonalRegularizer": OrthogonalRegularizer,
}


def get(identifier, *, owner: str = "regularizer"):
    """A regularizer from a Keras name, a config dict, an instance or a callable; None passes."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        factory = _BY_NAME.get(identifier)
        if factory is None:
            close = difflib.get_close_matches(identifier, _BY_NAME, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ValueError(
                f"{owner}: unknown regularizer '{identifier}'.{hint} Known: l1, l2, l1_l2. "
                f"Received: regularizer={identifier!r}"
            )
        return factory()
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if isinstance(identifier, dict):
        return _deserialize(identifier, expected=Regularizer)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"{owner}: a regularizer must be a name, a config dict or a callable. "
        f"Received: regularizer={identifier!r}"
    )


def serialize(regularizer) -> dict:
    return _serialize(regularizer)
