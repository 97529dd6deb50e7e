"""Regularization layers: Dropout."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import register_serializable


@register_serializable(package="fkeras")
class Dropout(Layer):
    """Sets a fraction `rate` of inputs to zero in training mode and scales the rest by
    `1 / (1 - rate)`; the identity in inference.

    **Arguments:**

    - `rate`: the fraction to drop, in `[0, 1]`.
    - `noise_shape`: the shape of the keep mask, broadcast against the input; `None` entries take
      the input's size (e.g. `(None, 1, None)` drops whole timesteps' features together).
    - `seed`: folded into the key, for Keras compatibility; randomness comes from `key=`.

    **Call:** `layer(x, training=True, key=jax.random.key(1))`.
    """

    supports_masking = True

    rate: float = static()
    noise_shape: tuple | None = static()
    seed: int | None = static()
    has_weights = False

    def __init__(
        self,
        rate: float,
        noise_shape=None,
        seed: int | None = None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError(
                f"{describe(self)} expects `rate` to be a float in [0, 1]. Received: rate={rate!r}"
            )
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed

    def __call__(self, x: Array, *, training: bool = False, key: PRNGKeyArray | None = None):
        if not training or self.rate == 0.0:
            return x
        if key is None:
            raise ValueError(
                f"{describe(self)} needs a PRNG key in training mode. Call the model as "
                "`model(x, training=True, key=jax.random.key(step))` (the trainer does this for "
                "you). Received: key=None"
            )
        if self.rate == 1.0:
            return jnp.zeros_like(x)
        if self.seed is not None:
            key = jax.random.fold_in(key, self.seed)
        shape = x.shape
        if self.noise_shape is not None:
            shape = tuple(d if n is None else n for n, d in zip(self.noise_shape, x.shape))
        keep = jax.random.bernoulli(key, 1.0 - self.rate, shape)
        return jnp.where(keep, x / (1.0 - self.rate), jnp.zeros((), x.dtype))
