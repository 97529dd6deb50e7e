"""Permute and RepeatVector: reorder or repeat the non-batch axes."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from ..pooling.base_pooling import check_rank

_register = register_serializable(package="fkeras")


@_register
class Permute(Layer):
    """Permutes the non-batch axes: `dims=(2, 1)` swaps axes 1 and 2 (Keras' `Permute`).

    **Arguments:** `dims`: a permutation of `1, ..., rank - 1` (the batch axis 0 stays).

    **Input:** `(batch, d1, ..., dn)`. **Output:** `(batch, d_dims[0], ..., d_dims[n-1])`.

    ```python
    y = fk.layers.Permute((2, 1))(jnp.ones((8, 10, 64)))  # (8, 64, 10)
    ```
    """

    dims: tuple = static()
    has_weights = False

    def __init__(self, dims, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        try:
            ok = sorted(dims) == list(range(1, len(dims) + 1))
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(
                f"{describe(self)} expects `dims` to be a permutation of 1, ..., n (axis 0, "
                f"the batch, cannot move). Received: dims={dims!r}"
            )
        self.dims = tuple(int(d) for d in dims)

    def __call__(self, x: Array) -> Array:
        check_rank(self, x.shape, len(self.dims) + 1, f"for dims={self.dims}")
        return jnp.transpose(x, (0, *self.dims))


@_register
class RepeatVector(Layer):
    """Repeats each input vector `n` times (Keras' `RepeatVector`).

    **Arguments:** `n`: the number of repetitions, a positive int.

    **Input:** `(batch, features)`. **Output:** `(batch, n, features)`.

    ```python
    y = fk.layers.RepeatVector(3)(jnp.ones((8, 32)))  # (8, 3, 32)
    ```
    """

    n: int = static()
    has_weights = False

    def __init__(self, n, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ValueError(f"{describe(self)} expects a positive int `n`. Received: n={n!r}")
        self.n = n

    def __call__(self, x: Array) -> Array:
        check_rank(self, x.shape, 2, "(batch, features)")
        return jnp.repeat(x[:, None, :], self.n, axis=1)
