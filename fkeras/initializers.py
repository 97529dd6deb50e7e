"""Keras initializers: `fk.initializers.get("glorot_uniform")(key, shape, dtype)`.

Each initializer is a small frozen (hashable) dataclass, so it can sit in a layer's static
fields, and has `get_config()`. Values follow Keras' formulas (fans, truncation constants), not
Keras' random streams: the same seed does not give Keras' exact numbers.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array

from .core.registry import deserialize as _deserialize
from .core.registry import register_serializable
from .core.registry import serialize as _serialize

_register = register_serializable(package="fkeras")


class Initializer:
    """Base class: `__call__(key, shape, dtype) -> Array` plus `get_config()`/`from_config()`."""

    def __call__(self, key, shape: Sequence[int], dtype=jnp.float32) -> Array:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def _key(self, key):
        # A seeded initializer gives the same values wherever it is used, as in Keras.
        seed = getattr(self, "seed", None)
        return jax.random.key(seed) if seed is not None else key


@_register
@dataclasses.dataclass(frozen=True)
class Zeros(Initializer):
    def __call__(self, key, shape, dtype=jnp.float32):
        return jnp.zeros(shape, dtype)


@_register
@dataclasses.dataclass(frozen=True)
class Ones(Initializer):
    def __call__(self, key, shape, dtype=jnp.float32):
        return jnp.ones(shape, dtype)


@_register
@dataclasses.dataclass(frozen=True)
class Constant(Initializer):
    value: float = 0.0

    def __call__(self, key, shape, dtype=jnp.float32):
        return jnp.full(shape, self.value, dtype)


@_register
@dataclasses.dataclass(frozen=True)
class RandomNormal(Initializer):
    mean: float = 0.0
    stddev: float = 0.05
    seed: int | None = None

    def __call__(self, key, shape, dtype=jnp.float32):
        return self.mean + self.stddev * jax.random.normal(self._key(key), shape, dtype)


@_register
@dataclasses.dataclass(frozen=True)
class RandomUniform(Initializer):
    minval: float = -0.05
    maxval: float = 0.05
    seed: int | None = None

    def __call__(self, key, shape, dtype=jnp.float32):
        return jax.random.uniform(self._key(key), shape, dtype, self.minval, self.maxval)


@_register
@dataclasses.dataclass(frozen=True)
class TruncatedNormal(Initializer):
    """Normal values redrawn beyond two standard deviations (as Keras)."""

    mean: float = 0.0
    stddev: float = 0.05
    seed: int | None = None

    def __call__(self, key, shape, dtype=jnp.float32):
        unit = jax.random.truncated_normal(self._key(key), -2.0, 2.0, shape, dtype)
        return self.mean + self.stddev * unit


def compute_fans(shape: Sequence[int]) -> tuple[float, float]:
    """Keras' fan-in and fan-out: kernels are `(*receptive_field, in, out)`."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive_field = math.prod(shape[:-2])
    return float(shape[-2] * receptive_field), float(shape[-1] * receptive_field)


# std of a unit normal truncated to [-2, 2]; dividing by it restores the intended variance.
_TRUNCATED_STDDEV = 0.87962566103423978


@_register
@dataclasses.dataclass(frozen=True)
class VarianceScaling(Initializer):
    scale: float = 1.0
    mode: str = "fan_in"
    distribution: str = "truncated_normal"
    seed: int | None = None

    def __post_init__(self):
        if self.scale <= 0:
            raise ValueError(f"VarianceScaling expects scale > 0. Received: scale={self.scale}")
        if self.mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(
                "VarianceScaling expects mode in ('fan_in', 'fan_out', 'fan_avg'). "
                f"Received: mode={self.mode!r}"
            )
        if self.distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                "VarianceScaling expects distribution in ('truncated_normal', "
                f"'untruncated_normal', 'uniform'). Received: distribution={self.distribution!r}"
            )

    def __call__(self, key, shape, dtype=jnp.float32):
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, fan)
        key = self._key(key)
        if self.distribution == "truncated_normal":
            stddev = math.sqrt(variance) / _TRUNCATED_STDDEV
            return stddev * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)
        if self.distribution == "untruncated_normal":
            return math.sqrt(variance) * jax.random.normal(key, shape, dtype)
        limit = math.sqrt(3.0 * variance)
        return jax.random.uniform(key, shape, dtype, -limit, limit)


def _variance_scaling_preset(name: str, scale: float, mode: str, distribution: str):
    @dataclasses.dataclass(frozen=True)
    class Preset(VarianceScaling):
        seed: int | None = None

        def __init__(self, seed: int | None = None):
            object.__setattr__(self, "seed", seed)
            object.__setattr__(self, "scale", scale)
            object.__setattr__(self, "mode", mode)
            object.__setattr__(self, "distribution", distribution)

        def get_config(self):
            return {"seed": self.seed}

    Preset.__name__ = Preset.__qualname__ = name
    Preset.__doc__ = (
        f"VarianceScaling(scale={scale}, mode={mode!r}, distribution={distribution!r})."
    )
    return _register(Preset)


GlorotUniform = _variance_scaling_preset("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance_scaling_preset("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _variance_scaling_preset("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _variance_scaling_preset("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _variance_scaling_preset("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _variance_scaling_preset("LecunNormal", 1.0, "fan_in", "truncated_normal")


@_register
@dataclasses.dataclass(frozen=True)
class Orthogonal(Initializer):
    gain: float = 1.0
    seed: int | None = None

    def __call__(self, key, shape, dtype=jnp.float32):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of rank >= 2. Received: shape={shape}")
        flat = (math.prod(shape[:-1]), shape[-1])
        return self.gain * jax.nn.initializers.orthogonal()(self._key(key), flat, dtype).reshape(
            shape
        )


@_register
@dataclasses.dataclass(frozen=True)
class Identity(Initializer):
    gain: float = 1.0

    def __call__(self, key, shape, dtype=jnp.float32):
        if len(shape) != 2:
            raise ValueError(f"Identity needs a 2-D shape. Received: shape={shape}")
        return self.gain * jnp.eye(*shape, dtype=dtype)


_BY_NAME: dict[str, type] = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "normal": RandomNormal,  # Keras aliases
    "uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal,
    "identity": Identity,
}


def get(identifier, *, owner: str = "initializer") -> Callable:
    """An initializer from a Keras name, a class name, a config dict, an instance or a
    `(key, shape, dtype)` callable such as `jax.nn.initializers.lecun_normal()`."""
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _BY_NAME.get(_snake(identifier))
        if cls is None:
            close = difflib.get_close_matches(identifier, _BY_NAME, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ValueError(
                f"{owner}: unknown initializer '{identifier}'.{hint} Known initializers: "
                f"{', '.join(sorted(_BY_NAME))}. Received: initializer={identifier!r}"
            )
        return cls()
    if isinstance(identifier, dict):
        return _deserialize(identifier, expected=Initializer)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"{owner}: an initializer must be a name, a config dict or a callable. "
        f"Received: initializer={identifier!r}"
    )


def serialize(initializer) -> dict:
    return _serialize(initializer)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
