"""Weight constraints (Keras' `MaxNorm`, `NonNeg`, `UnitNorm`, `MinMaxNorm`): projections the
trainer applies to a weight after every optimizer update (`Dense(8, kernel_constraint=...)`)."""

from __future__ import annotations

import dataclasses
import difflib

import jax.numpy as jnp

from .core.registry import deserialize as _deserialize
from .core.registry import register_serializable
from .core.registry import serialize as _serialize

_register = register_serializable(package="fkeras")
_EPSILON = 1e-7  # Keras' backend.epsilon()


class Constraint:
    """Base class: `__call__(w) -> projected w`, plus `get_config()`/`from_config()`."""

    def __call__(self, w):
        return w

    def __post_init__(self):
        # Lists (from JSON configs) become tuples, so the constraint stays hashable.
        if isinstance(getattr(self, "axis", None), list):
            object.__setattr__(self, "axis", tuple(self.axis))

    def get_config(self) -> dict:
        if not dataclasses.is_dataclass(self):
            return {}
        return {
            f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
            for f in dataclasses.fields(self)
        }

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _norms(w, axis):
    return jnp.sqrt(jnp.sum(jnp.square(w), axis=_axis(axis), keepdims=True))


@_register
@dataclasses.dataclass(frozen=True)
class MaxNorm(Constraint):
    """Rescales the weights incident to each unit to norm at most `max_value` (over `axis`)."""

    max_value: float = 2.0
    axis: int | tuple = 0

    def __call__(self, w):
        norms = _norms(w, self.axis)
        return w * (jnp.clip(norms, 0, self.max_value) / (_EPSILON + norms))


@_register
@dataclasses.dataclass(frozen=True)
class NonNeg(Constraint):
    """Sets negative weights to zero."""

    def __call__(self, w):
        return jnp.maximum(w, 0)


@_register
@dataclasses.dataclass(frozen=True)
class UnitNorm(Constraint):
    """Rescales the weights incident to each unit to norm 1 (over `axis`)."""

    axis: int | tuple = 0

    def __call__(self, w):
        return w / (_EPSILON + _norms(w, self.axis))


@_register
@dataclasses.dataclass(frozen=True)
class MinMaxNorm(Constraint):
    """Moves each unit's norm into `[min_value, max_value]` at speed `rate` (1: at once)."""

    min_value: float = 0.0
    max_value: float = 1.0
    rate: float = 1.0
    axis: int | tuple = 0

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = (
            self.rate * jnp.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        )
        return w * (desired / (_EPSILON + norms))


_BY_NAME = {
    "max_norm": MaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
    "min_max_norm": MinMaxNorm,
    "MaxNorm": MaxNorm,
    "NonNeg": NonNeg,
    "UnitNorm": UnitNorm,
    "MinMaxNorm": MinMaxNorm,
}


def get(identifier, *, owner: str = "constraint"):
    """A constraint from a Keras name, a config dict, an instance or a callable; None passes."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None:
            close = difflib.get_close_matches(identifier, _BY_NAME, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ValueError(
                f"{owner}: unknown constraint '{identifier}'.{hint} Known: max_norm, non_neg, "
                f"unit_norm, min_max_norm. Received: constraint={identifier!r}"
            )
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if isinstance(identifier, dict):
        return _deserialize(identifier, expected=Constraint)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"{owner}: a constraint must be a name, a config dict or a callable. "
        f"Received: constraint={identifier!r}"
    )


def serialize(constraint) -> dict:
    return _serialize(constraint)
