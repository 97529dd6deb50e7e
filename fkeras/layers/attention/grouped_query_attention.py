"""GroupedQueryAttention (Keras 3's `GroupQueryAttention`)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from ... import constraints, initializers, regularizers
from ...core.errors import describe
from ...core.layer import static
from ...core.registry import register_serializable
from ._base import HeadAttentionBase
from ._common import (
    EinsumProjection,
    activity_penalties,
    attention_dropout,
    attention_mask_for,
    check_positive_int,
    check_rate,
    make_projection,
    masked_softmax,
)


@register_serializable(package="fkeras")
class GroupedQueryAttention(HeadAttentionBase):
    """Grouped-query attention (Ainslie et al., 2023), as Keras' `GroupQueryAttention`.

    Queries get `num_query_heads` heads; keys and values get `num_key_value_heads`, each
    shared by `num_query_heads // num_key_value_heads` consecutive query heads
    (`num_key_value_heads=1` is multi-query attention; equal counts is multi-head attention).

    **Arguments:**

    - `head_dim`: the size of each head.
    - `num_query_heads`, `num_key_value_heads`: head counts; the first must be a multiple of
      the second.
    - `dropout`, `use_bias`, `sliding_window`, `flash_attention`, the initializers,
      regularizers and constraints, `use_gate`, `seed`: as for `MultiHeadAttention`. As in
      Keras, the `activity_regularizer` applies to each projection's output and to the layer's
      outputs.

    **Weights** (Keras' order): `query_dense.kernel` `(dim, num_query_heads, head_dim)`,
    `bias` `(num_query_heads, head_dim)`; `key_dense` and `value_dense` `(dim,
    num_key_value_heads, head_dim)` and `(num_key_value_heads, head_dim)`; the optional
    `gate_dense` like `query_dense`; `output_dense.kernel` `(num_query_heads, head_dim, dim)`
    and `bias` `(dim,)`.

    **Calling:** exactly as `MultiHeadAttention` (Keras' `layer(query, value, key)` with
    `dropout_key=` for the PRNG key, or fkeras' packed `layer([query, value], key=prng)`);
    attention scores are `(batch, num_query_heads, T, S)`.

    **Input shapes:** query `(batch, T, dim)`, value and key `(batch, S, dim)`: 3-D, with the
    same last dimension. **Output shape:** `(batch, T, dim)`.

    ```python
    gqa = fk.layers.GroupedQueryAttention(head_dim=8, num_query_heads=4, num_key_value_heads=2)
    gqa = gqa.build([(None, 5, 16), (None, 7, 16)], key=jax.random.key(0))
    y = gqa(jnp.ones((3, 5, 16)), jnp.ones((3, 7, 16)), use_causal_mask=True)  # (3, 5, 16)
    ```
    """

    _activity_on_outputs: ClassVar[bool] = True

    head_dim: int = static()
    num_query_heads: int = static()
    num_key_value_heads: int = static()
    dropout: float = static()
    use_bias: bool = static()
    sliding_window: int | None = static()
    flash_attention: bool | None = static()
    kernel_initializer: Any = static()
    bias_initializer: Any = static()
    kernel_regularizer: Any = static()
    bias_regularizer: Any = static()
    activity_regularizer: Any = static()
    kernel_constraint: Any = static()
    bias_constraint: Any = static()
    use_gate: bool = static()
    seed: int | None = static()
    query_dense: EinsumProjection | None
    key_dense: EinsumProjection | None
    gate_dense: EinsumProjection | None
    value_dense: EinsumProjection | None
    output_dense: EinsumProjection | None

    def __init__(
        self,
        head_dim: int,
        num_query_heads: int,
        num_key_value_heads: int,
        dropout: float = 0.0,
        use_bias: bool = True,
        sliding_window: int | None = None,
        flash_attention: bool | None = None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        use_gate: bool = False,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        self.head_dim = check_positive_int(self, "head_dim", head_dim)
        self.num_query_heads = check_positive_int(self, "num_query_heads", num_query_heads)
        self.num_key_value_heads = check_positive_int(
            self, "num_key_value_heads", num_key_value_heads
        )
        if num_query_heads % num_key_value_heads:
            raise ValueError(
                f"{owner} expects `num_query_heads` to be divisible by `num_key_value_heads`. "
                f"Received: num_query_heads={num_query_heads}, "
                f"num_key_value_heads={num_key_value_heads}"
            )
        self.dropout = check_rate(self, "dropout", dropout)
        self.use_bias = bool(use_bias)
        self.sliding_window = check_positive_int(
            self, "sliding_window", sliding_window, allow_none=True
        )
        self.flash_attention = flash_attention
        if flash_attention and self.dropout > 0:
            raise ValueError(
                f"{owner}: dropout is not supported with flash_attention=True (as in Keras). "
                f"Received: dropout={dropout}, flash_attention={flash_attention}"
            )
        self.kernel_initializer = initializers.get(kernel_initializer, owner=owner)
        self.bias_initializer = initializers.get(bias_initializer, owner=owner)
        self.kernel_regularizer = regularizers.get(kernel_regularizer, owner=owner)
        self.bias_regularizer = regularizers.get(bias_regularizer, owner=owner)
        self.activity_regularizer = regularizers.get(activity_regularizer, owner=owner)
        self.kernel_constraint = constraints.get(kernel_constraint, owner=owner)
        self.bias_constraint = constraints.get(bias_constraint, owner=owner)
        self.use_gate = bool(use_gate)
        self.seed = seed
        self.query_dense = self.key_dense = self.gate_dense = None
        self.value_dense = self.output_dense = None

    @property
    def num_repeats(self) -> int:
        """How many query heads share each key/value head."""
        return self.num_query_heads // self.num_key_value_heads

    # ------------------------------------------------------------------ building
    def _check_shapes(self, query, value, key) -> None:
        problem = None
        if any(len(s) != 3 for s in (query, value, key)):
            problem = "query, value and key must be 3-D: (batch, length, features)"
        elif any(s[-1] is None for s in (query, value, key)):
            problem = "the last (feature) dimensions must be known"
        elif query[-1] != value[-1]:
            problem = "query and value must have the same last dimension"
        elif value[1] is not None and key[1] is not None and value[1] != key[1]:
            problem = "value and key must have the same length"
        if problem is not None:
            raise ValueError(
                f"{describe(self)}: {problem}. Received: query_shape={query}, "
                f"value_shape={value}, key_shape={key}"
            )

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict:
        q_shape, v_shape, k_shape = self._unpack_shapes(input_shape)
        self._check_shapes(q_shape, v_shape, k_shape)
        nq, nkv, hd, dim = (
            self.num_query_heads,
            self.num_key_value_heads,
            self.head_dim,
            q_shape[-1],
        )
        keys = jax.random.split(key, 5)
        gate = None
        if self.use_gate:
            gate = make_projection(
                self, "gate", "bqm,muh->bquh", (dim, nq, hd), (nq, hd), keys[2], "sigmoid"
            )
        return {
            "query_dense": make_projection(
                self, "query", "bqm,muh->bquh", (dim, nq, hd), (nq, hd), keys[0]
            ),
            "key_dense": make_projection(
                self, "key", "bkm,mvh->bkvh", (k_shape[-1], nkv, hd), (nkv, hd), keys[1]
            ),
            "gate_dense": gate,
            "value_dense": make_projection(
                self, "value", "bkm,mvh->bkvh", (v_shape[-1], nkv, hd), (nkv, hd), keys[3]
            ),
            "output_dense": make_projection(
                self, "attention_output", "bquh,uhm->bqm", (nq, hd, dim), (dim,), keys[4]
            ),
        }

    # ------------------------------------------------------------------- calling
    def _check_inputs(self, query, value, key) -> None:
        shapes = [tuple(getattr(t, "shape", ())) for t in (query, value, key)]
        self._check_shapes(*shapes)
        expected = (self.query_dense.kernel.shape[0], self.key_dense.kernel.shape[0])
        if (shapes[0][-1], shapes[2][-1]) != expected:
            raise ValueError(
                f"{describe(self)} was built for last dimensions query={expected[0]}, "
                f"key={expected[1]}. Received: query.shape={shapes[0]}, "
                f"value.shape={shapes[1]}, key.shape={shapes[2]}"
            )

    def _compute(
        self,
        query,
        value,
        key,
        *,
        masks,
        attention_mask,
        use_causal_mask,
        return_scores,
        training,
        dropout_key,
    ):
        q = self.query_dense(query)
        k = self.key_dense(key)
        gate = self.gate_dense(query) if self.gate_dense is not None else None
        v = self.value_dense(value)
        penalties = activity_penalties(
            self.activity_regularizer, q, k, *([gate] if gate is not None else []), v
        )
        k = jnp.repeat(k, self.num_repeats, axis=2)
        v = jnp.repeat(v, self.num_repeats, axis=2)
        q = q * jnp.asarray(1.0 / math.sqrt(float(self.head_dim)), q.dtype)
        scores = jnp.einsum("bquh,bkuh->buqk", q, k)
        mask = attention_mask_for(
            self, query, value, masks, attention_mask, use_causal_mask, scores.shape, 1
        )
        # As Keras: its fused path (dropout 0, scores not returned) leaves fully masked rows
        # uniform; its explicit path zeroes them.
        fused = self.dropout == 0.0 and not return_scores
        probs = masked_softmax(scores, mask, 1, zero_masked=not fused)
        dropped = attention_dropout(self, probs, self.dropout, self.seed, training, dropout_key)
        out = jnp.einsum("buqk,bkuh->bquh", dropped, v)
        if gate is not None:
            out = out * gate
        out = self.output_dense(out)
        penalties += activity_penalties(self.activity_regularizer, out)
        return out, probs, penalties
