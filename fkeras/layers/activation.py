"""The `Activation` layer."""

from __future__ import annotations

from typing import Any

from jaxtyping import Array

from .. import activations
from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import register_serializable


@register_serializable(package="fkeras")
class Activation(Layer):
    """Applies an activation function: `fk.layers.Activation("relu")`.

    **Arguments:** `activation`: a Keras activation name or a callable.
    """

    supports_masking = True

    activation: Any = static()
    has_weights = False

    def __init__(self, activation, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        activations.get(activation, owner=describe(self))
        self.activation = "linear" if activation is None else activation

    def __call__(self, x: Array) -> Array:
        return activations.get(self.activation)(x)
