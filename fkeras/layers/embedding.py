"""Embedding: integer ids to dense vectors, with Keras' padding mask (`mask_zero`)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .. import constraints, initializers, regularizers
from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import register_serializable


def _positive_int(layer, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"{describe(layer)} expects a positive integer `{name}`. Received: {name}={value!r}"
        )
    return value


@register_serializable(package="fkeras")
class Embedding(Layer):
    """Turns integer ids into dense vectors: row `i` of `embeddings` for id `i`.

    **Arguments:**

    - `input_dim`: the vocabulary size (largest id + 1).
    - `output_dim`: the size of each vector.
    - `embeddings_initializer`: default `"uniform"`, Keras' `RandomUniform(-0.05, 0.05)`.
    - `embeddings_regularizer`, `embeddings_constraint`: as for `Dense`'s kernel.
    - `mask_zero`: id 0 is padding: the layer emits the mask `ids != 0`, and mask-aware layers
      after it (LSTM, GRU, SimpleRNN, Bidirectional, ...) skip those timesteps, as in Keras.
      The vocabulary then needs `input_dim = size + 1`.

    **Weights:** `embeddings` of shape `(input_dim, output_dim)`.

    **Input shape:** integer ids of any shape `(batch, ...)`; other dtypes are cast to int32
    (floats truncate toward zero), as in Keras. **Output shape:** `(batch, ..., output_dim)`.

    **Ids out of range** behave as in Keras' JAX backend (`jnp.take`): ids in
    `[-input_dim, 0)` count from the end like NumPy indices; ids `>= input_dim` or
    `< -input_dim` give rows of NaN (no error is raised inside jit).

    ```python
    layer = fk.layers.Embedding(1000, 64, mask_zero=True).build((None, 10), key=jax.random.key(0))
    ids = jnp.array([[4, 20, 0]])
    y = layer(ids)                   # (1, 3, 64)
    mask = layer.compute_mask(ids)   # [[True, True, False]]
    ```
    """

    input_dim: int = static()
    output_dim: int = static()
    embeddings_initializer: Any = static()
    embeddings_regularizer: Any = static()
    embeddings_constraint: Any = static()
    mask_zero: bool = static()
    embeddings: Array | None

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer="uniform",
        embeddings_regularizer=None,
        embeddings_constraint=None,
        mask_zero: bool = False,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        self.input_dim = _positive_int(self, "input_dim", input_dim)
        self.output_dim = _positive_int(self, "output_dim", output_dim)
        if isinstance(embeddings_initializer, str) and embeddings_initializer in (
            "uniform",
            "normal",
        ):  # Keras' short aliases
            embeddings_initializer = "random_" + embeddings_initializer
        self.embeddings_initializer = initializers.get(embeddings_initializer, owner=owner)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer, owner=owner)
        self.embeddings_constraint = constraints.get(embeddings_constraint, owner=owner)
        self.mask_zero = bool(mask_zero)
        self.embeddings = None

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict[str, Array]:
        shape = (self.input_dim, self.output_dim)
        return {"embeddings": self.embeddings_initializer(key, shape, self.dtype)}

    def __call__(self, ids: Array) -> Array:
        ids = jnp.asarray(ids)
        if ids.dtype not in (jnp.int32, jnp.int64):
            ids = ids.astype(jnp.int32)
        return jnp.take(self.embeddings, ids, axis=0)

    def compute_mask(self, inputs, mask=None):
        """`inputs != 0` when `mask_zero`, else None (computed on the ids as given, before the
        cast, as Keras does)."""
        if not self.mask_zero:
            return None
        return jnp.not_equal(inputs, 0)
