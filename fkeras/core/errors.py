"""Exceptions for user mistakes; messages name the layer, the expectation and the received value."""

from __future__ import annotations


class NotBuiltError(RuntimeError):
    """A layer with weights was used before `build(input_shape, key)` created them."""


class ImmutableModelError(TypeError):
    """A Keras method that would mutate a model was called on an (immutable) fkeras model."""


def describe(layer) -> str:
    """`Dense 'hidden'` or, for a layer not yet named, `Dense`."""
    name = getattr(layer, "name", None)
    kind = type(layer).__name__
    return f"{kind} '{name}'" if name else kind
