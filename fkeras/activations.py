"""Activation functions with Keras names and Keras numerics.

Note the Keras defaults that differ from `jax.nn`: `gelu` is exact (`approximate=False`),
`leaky_relu` has `negative_slope=0.2`, and `hard_sigmoid` is `relu6(x + 3) / 6`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


def linear(x: ArrayLike) -> Array:
    return jnp.asarray(x)


def relu(x: ArrayLike) -> Array:
    return jax.nn.relu(x)


def relu6(x: ArrayLike) -> Array:
    return jax.nn.relu6(x)


def leaky_relu(x: ArrayLike, negative_slope: float = 0.2) -> Array:
    return jax.nn.leaky_relu(x, negative_slope=negative_slope)


def elu(x: ArrayLike, alpha: float = 1.0) -> Array:
    return jax.nn.elu(x, alpha=alpha)


def selu(x: ArrayLike) -> Array:
    return jax.nn.selu(x)


def gelu(x: ArrayLike, approximate: bool = False) -> Array:
    return jax.nn.gelu(x, approximate=approximate)


def sigmoid(x: ArrayLike) -> Array:
    return jax.nn.sigmoid(x)


def hard_sigmoid(x: ArrayLike) -> Array:
    return jax.nn.relu6(jnp.asarray(x) + 3.0) / 6.0


def hard_silu(x: ArrayLike) -> Array:
    x = jnp.asarray(x)
    return x * hard_sigmoid(x)


def _in_float32(fn, x, axis):
    """16-bit inputs are computed in float32 (as mixed precision requires) and cast back."""
    x = jnp.asarray(x)
    if x.dtype in (jnp.float16, jnp.bfloat16):
        return fn(x.astype(jnp.float32), axis=axis).astype(x.dtype)
    return fn(x, axis=axis)


def softmax(x: ArrayLike, axis: int = -1) -> Array:
    return _in_float32(jax.nn.softmax, x, axis)


def log_softmax(x: ArrayLike, axis: int = -1) -> Array:
    return _in_float32(jax.nn.log_softmax, x, axis)


def tanh(x: ArrayLike) -> Array:
    return jnp.tanh(x)


def silu(x: ArrayLike) -> Array:
    return jax.nn.silu(x)


def softplus(x: ArrayLike) -> Array:
    return jax.nn.softplus(x)


def softsign(x: ArrayLike) -> Array:
    return jax.nn.soft_sign(x)


def mish(x: ArrayLike) -> Array:
    x = jnp.asarray(x)
    return x * jnp.tanh(jax.nn.softplus(x))


def exponential(x: ArrayLike) -> Array:
    return jnp.exp(x)


swish = silu
hard_swish = hard_silu

_ACTIVATIONS: dict[str, Callable] = {
    "linear": linear,
    "relu": relu,
    "relu6": relu6,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": selu,
    "gelu": gelu,
    "sigmoid": sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "hard_silu": hard_silu,
    "hard_swish": hard_swish,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "tanh": tanh,
    "silu": silu,
    "swish": swish,
    "softplus": softplus,
    "softsign": softsign,
    "mish": mish,
    "exponential": exponential,
}
_NAMES_BY_FUNCTION = {}
for _name, _fn in _ACTIVATIONS.items():
    _NAMES_BY_FUNCTION.setdefault(_fn, _name)


def get(identifier: str | Callable | None, *, owner: str = "activation") -> Callable:
    """The activation function for a Keras name, a callable, or `None` (linear).

    Raises `ValueError` naming `owner` (for example "Dense 'hidden'") for an unknown name.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _ACTIVATIONS.get(identifier)
        if fn is None:
            close = difflib.get_close_matches(identifier, _ACTIVATIONS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ValueError(
                f"{owner}: unknown activation '{identifier}'.{hint} Known activations: "
                f"{', '.join(sorted(_ACTIVATIONS))}, or any callable. "
                f"Received: activation={identifier!r}"
            )
        return fn
    if callable(identifier):
        return identifier
    raise TypeError(
        f"{owner}: an activation must be a name or a callable. Received: activation={identifier!r}"
    )


def serialize(activation: str | Callable | None) -> str:
    """The Keras name of an activation; a custom callable must be passed by a known name."""
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return activation
    name = _NAMES_BY_FUNCTION.get(activation)
    if name is None:
        raise TypeError(
            "Cannot serialize a custom activation callable; pass a known activation name, or "
            f"wrap it in a registered layer. Received: activation={activation!r}"
        )
    return name


def names() -> list[str]:
    return sorted(_ACTIVATIONS)
