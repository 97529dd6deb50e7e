"""The `CategoryEncoding` layer: integer categories to one-hot, multi-hot or count vectors
(Keras' `keras.layers.CategoryEncoding`)."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from ._categorical import ENCODE_MODES, check_int, check_sparse, encode


@register_serializable(package="fkeras")
class CategoryEncoding(Layer):
    """Encodes integer categories in `[0, num_tokens)` as dense vectors (Keras'
    `CategoryEncoding`).

    **Arguments:**

    - `num_tokens`: the number of categories; inputs must lie in `[0, num_tokens)`.
    - `output_mode`: `"multi_hot"` (default; 1 where a category occurs in the sample's last
      axis), `"one_hot"` (one vector per input value; a trailing axis of size 1 is dropped)
      or `"count"` (how often each category occurs). `"binary"` is accepted as Keras' old
      name of `"multi_hot"`.
    - `sparse`: must be `False` (JAX arrays are dense).

    `__call__(x, count_weights=None)`: `count_weights` (same shape as `x`, only for
    `"count"`) weights each occurrence. Float inputs are truncated to integers. Outside jit,
    values outside `[0, num_tokens)` raise a `ValueError` (Keras checks this too); inside
    jit they encode as zeros.

    **Input shape:** `(batch,)` or `(batch, n)`. **Output shape:** `(batch, num_tokens)`
    (for `"one_hot"` with `(batch, n)`, n > 1: `(batch, n, num_tokens)`; a rank-1 input
    in `"multi_hot"`/`"count"` is one sample, giving `(num_tokens,)`, as in Keras). The
    output has the layer's compute dtype (`float32`).

    ```python
    layer = fk.layers.CategoryEncoding(num_tokens=4, output_mode="count")
    layer(jnp.array([[0, 1, 1], [3, 2, 2]]))  # [[1, 2, 0, 0], [0, 0, 2, 1]]
    ```
    """

    has_weights = False
    #: Categories are integers: floats are not cast to a 16-bit compute dtype (Keras'
    #: `_convert_input_args = False`), which would move values across integer boundaries.
    _autocast_inputs = False

    num_tokens: int = static()
    output_mode: str = static()
    sparse: bool = static()

    def __init__(
        self,
        num_tokens: int | None = None,
        output_mode: str = "multi_hot",
        sparse: bool = False,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ENCODE_MODES:
            raise ValueError(
                f"{describe(self)} expects `output_mode` to be one of {ENCODE_MODES}. "
                f"Received: output_mode={output_mode!r}"
            )
        if num_tokens is None:
            raise ValueError(
                f"{describe(self)} needs `num_tokens`; when the number of categories is not "
                "known beforehand use `IntegerLookup`. Received: num_tokens=None"
            )
        self.num_tokens = check_int(self, "num_tokens", num_tokens, 1)
        self.output_mode = output_mode
        self.sparse = check_sparse(self, sparse)

    def __call__(self, x: Array, count_weights: Array | None = None) -> Array:
        x = jnp.asarray(x)
        if count_weights is not None and self.output_mode != "count":
            raise ValueError(
                f"{describe(self)}: `count_weights` is only used when `output_mode` is "
                f"'count'. Received: output_mode={self.output_mode!r}"
            )
        indices = x.astype(jnp.int32)
        if count_weights is None:
            return encode(indices, self.output_mode, self.num_tokens, self.compute_dtype)
        weights = jnp.asarray(count_weights, self.compute_dtype)
        if weights.shape != indices.shape:
            raise ValueError(
                f"{describe(self)} expects `count_weights` of the inputs' shape "
                f"{tuple(indices.shape)}. Received: count_weights.shape={tuple(weights.shape)}"
            )
        one_hot = encode(indices, "one_hot", self.num_tokens, self.compute_dtype)
        if indices.ndim == 0:
            return one_hot * weights
        if indices.ndim > 1 and indices.shape[-1] == 1:
            one_hot = one_hot[..., None, :]
        return jnp.sum(one_hot * weights[..., None], axis=-2)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
            "num_tokens": self.num_tokens,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }
