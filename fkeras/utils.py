"""Utilities under Keras' names."""

from .core.rng import set_random_seed


def from_keras(keras_model):
    """An fkeras model with the architecture and weights of a live Keras 3 model."""
    from .saving.keras_format import from_keras as convert

    return convert(keras_model)


__all__ = ["from_keras", "set_random_seed"]
