"""MultiHeadAttention (Keras 3 semantics and weight layout)."""

from __future__ import annotations

import math
from typing import Any

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
    attention_equations,
    attention_mask_for,
    check_positive_int,
    check_rate,
    make_projection,
    masked_softmax,
    proj_equation,
)


@register_serializable(package="fkeras")
class MultiHeadAttention(HeadAttentionBase):
    """Multi-head attention ("Attention is all you need"), as Keras' `MultiHeadAttention`.

    `query`, `key` and `value` are projected to `num_heads` heads, the scaled dot products of
    queries and keys are softmaxed (over the attention axes, masked positions excluded) and
    combine the value heads, which are projected back to the query's last dimension (or to
    `output_shape`).

    **Arguments:**

    - `num_heads`: the number of heads.
    - `key_dim`: the size of each query and key head.
    - `value_dim`: the size of each value head (default `key_dim`).
    - `dropout`: dropout rate on the attention probabilities (training mode only).
    - `use_bias`: whether the projections have biases.
    - `output_shape`: the output's trailing shape (an int or a tuple); default the query's
      last dimension.
    - `attention_axes`: the axes attention runs over (default all but batch, heads and
      features, i.e. axis 1 for `(batch, time, features)`); e.g. `(1, 2)` for 2-D attention
      on `(batch, height, width, features)`.
    - `sliding_window`: if set, each query attends only to keys less than `sliding_window`
      positions away.
    - `flash_attention`: accepted for Keras compatibility; fkeras always computes attention
      with XLA (`True` refuses `dropout > 0` and `return_attention_scores`, as Keras does).
    - `kernel_initializer`, `bias_initializer`, `kernel_regularizer`, `bias_regularizer`,
      `activity_regularizer`, `kernel_constraint`, `bias_constraint`: applied to each
      projection, as Keras does (the activity regularizer to each projection's output).
    - `use_gate`: a sigmoid gate projected from the query multiplies the heads' outputs.
    - `seed`: folded into the dropout PRNG key.

    **Weights** (Keras' sub-layers `query`, `key`, `gate`, `value`, `attention_output`, in
    that order), for 3-D inputs: `query_dense.kernel` `(query_dim, num_heads, key_dim)` and
    `bias` `(num_heads, key_dim)`; `key_dense` the same from `key_dim`'s input; the optional
    `gate_dense` `(query_dim, num_heads, value_dim)`; `value_dense` `(value_dim_in, num_heads,
    value_dim)`; `output_dense.kernel` `(num_heads, value_dim, *output_shape)` and `bias`
    `output_shape`. `get_weights()` matches Keras' order, so
    `layer.set_weights(keras_layer.get_weights())` works.

    **Calling.** Keras' form works unchanged: `layer(query, value)`, `layer(query, value,
    key)`, with keywords `attention_mask=` (`(batch, T, S)` booleans, True = attend),
    `use_causal_mask=`, `return_attention_scores=` (then `(output, scores)` with scores
    `(batch, num_heads, T, S)`), `training=` and, as in Keras, `query_mask=`, `value_mask=`,
    `key_mask=` (or `mask=[query_mask, value_mask(, key_mask)]`).

    *The `key` argument.* In Keras `key` is the key **tensor**, while every other fkeras
    layer takes its PRNG key as `key=`. fkeras keeps Keras' meaning wherever Keras code can
    reach it, and fkeras' meaning in fkeras' own form:

    - Keras' form `layer(query, value, key)`: `key` is the key tensor; the PRNG key for
      attention dropout is `dropout_key=`.
    - The packed form `layer([query, value(, key_tensor)], training=True, key=prng)` (also a
      dict with `query`, `value`, `key`, `attention_mask`): the inputs are one list, like
      Keras' `Attention` layer, and `key=` is the PRNG key as for every fkeras layer. Models,
      the trainer and `layer.apply(inputs, training=, key=, mask=)` use this form.

    A PRNG key passed where a tensor belongs (or the reverse) raises an error that says
    which form to use, so the two meanings never mix silently.

    *Functional models.* `layer(query, value)`, `layer(query, value, key)`, `layer([query,
    value])` and `layer(query, value, attention_mask=mask_tensor)` on symbolic tensors record
    one node; the inputs' masks (from `Embedding(mask_zero=True)` or `Masking`) are combined
    with the attention mask as in Keras, and the output carries the query's mask. Call
    options (`use_causal_mask`, `return_attention_scores`) cannot be recorded in a graph yet.

    **Keras numerics kept.** Masked scores become -1e9 before the softmax. When a query row
    has no key to attend to (a padded query), Keras gives it uniform attention on its fused
    path (`dropout == 0`, scores not returned, 3-D inputs) and zero attention otherwise;
    fkeras does the same, so outputs match Keras everywhere.

    **Input shapes:** query `(batch, T, query_dim)` (or more attention axes), value
    `(batch, S, value_dim_in)`, key `(batch, S, key_dim_in)`.
    **Output shape:** `(batch, T, query_dim)`, or `(batch, T, *output_shape)`.

    ```python
    mha = fk.layers.MultiHeadAttention(num_heads=2, key_dim=8)
    mha = mha.build([(None, 5, 16), (None, 7, 16)], key=jax.random.key(0))
    q, v = jnp.ones((3, 5, 16)), jnp.ones((3, 7, 16))
    y = mha(q, v)                                                         # (3, 5, 16)
    y, scores = mha(q, v, use_causal_mask=True, return_attention_scores=True)  # scores (3, 2, 5, 7)
    y = mha(q, v, training=True, dropout_key=jax.random.key(1))           # Keras' form
    y = mha([q, v], training=True, key=jax.random.key(1))                 # fkeras' packed form
    ```
    """

    num_heads: int = static()
    key_dim: int = static()
    value_dim: int = static()
    dropout: float = static()
    use_bias: bool = static()
    output_shape: tuple | None = static()
    attention_axes: tuple | None = static()
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
        num_heads: int,
        key_dim: int,
        value_dim: int | None = None,
        dropout: float = 0.0,
        use_bias: bool = True,
        output_shape=None,
        attention_axes=None,
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
        self.num_heads = check_positive_int(self, "num_heads", num_heads)
        self.key_dim = check_positive_int(self, "key_dim", key_dim)
        value_dim = check_positive_int(self, "value_dim", value_dim, allow_none=True)
        self.value_dim = key_dim if value_dim is None else value_dim
        self.dropout = check_rate(self, "dropout", dropout)
        self.use_bias = bool(use_bias)
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        if output_shape is not None:
            if not isinstance(output_shape, (list, tuple)) or not output_shape:
                raise ValueError(
                    f"{owner} expects `output_shape` as an int or a tuple of positive ints. "
                    f"Received: output_shape={output_shape!r}"
                )
            for d in output_shape:
                check_positive_int(self, "output_shape", d)
            output_shape = tuple(output_shape)
        self.output_shape = output_shape
        if isinstance(attention_axes, int) and not isinstance(attention_axes, bool):
            attention_axes = (attention_axes,)
        if attention_axes is not None:
            if not isinstance(attention_axes, (list, tuple)) or not all(
                isinstance(a, int) and not isinstance(a, bool) for a in attention_axes
            ):
                raise ValueError(
                    f"{owner} expects `attention_axes` as an int, a tuple of ints or None. "
                    f"Received: attention_axes={attention_axes!r}"
                )
            attention_axes = tuple(attention_axes)
        self.attention_axes = attention_axes
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

    # ------------------------------------------------------------------ building
    def _attention_axes_for(self, rank: int) -> tuple[int, ...]:
        """Attention axes (non-negative) for inputs of `rank` (Keras' `_build_attention`)."""
        if self.attention_axes is None:
            return tuple(range(1, rank - 1))
        axes = tuple(a if a >= 0 else rank + a for a in self.attention_axes)
        if any(not 1 <= a <= rank - 2 for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(
                f"{describe(self)} expects `attention_axes` among the axes between the batch "
                f"and the features of its rank-{rank} inputs (1 to {rank - 2}). Received: "
                f"attention_axes={self.attention_axes}"
            )
        return tuple(sorted(axes))

    def _check_shapes(self, query, value, key) -> None:
        rank = len(query)
        problem = None
        if rank < 3:
            problem = "query needs rank 3 or more: (batch, <attention dims>, features)"
        elif len(value) != rank or len(key) != rank:
            problem = "query, value and key need the same rank"
        elif value[1:-1] != key[1:-1]:
            problem = "all dimensions of value and key, except the last one, must be equal"
        elif any(s[-1] is None for s in (query, value, key)):
            problem = "the last (feature) dimensions must be known"
        else:
            axes = self._attention_axes_for(rank)
            batch_axes = [i for i in range(1, rank - 1) if i not in axes]
            if any(None not in (query[i], value[i]) and query[i] != value[i] for i in batch_axes):
                problem = f"query and value must match on the non-attention axes {batch_axes}"
        if problem is not None:
            raise ValueError(
                f"{describe(self)}: {problem}. Received: query_shape={query}, "
                f"value_shape={value}, key_shape={key}"
            )

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict:
        q_shape, v_shape, k_shape = self._unpack_shapes(input_shape)
        self._check_shapes(q_shape, v_shape, k_shape)
        rank = len(q_shape)
        heads, kd, vd = self.num_heads, self.key_dim, self.value_dim
        eq = proj_equation(rank - 1, 1, 2)
        keys = jax.random.split(key, 5)
        out_shape = self.output_shape or (q_shape[-1],)
        gate = None
        if self.use_gate:
            gate = make_projection(
                self, "gate", eq, (q_shape[-1], heads, vd), (heads, vd), keys[2], "sigmoid"
            )
        return {
            "query_dense": make_projection(
                self, "query", eq, (q_shape[-1], heads, kd), (heads, kd), keys[0]
            ),
            "key_dense": make_projection(
                self, "key", eq, (k_shape[-1], heads, kd), (heads, kd), keys[1]
            ),
            "gate_dense": gate,
            "value_dense": make_projection(
                self, "value", eq, (v_shape[-1], heads, vd), (heads, vd), keys[3]
            ),
            "output_dense": make_projection(
                self,
                "attention_output",
                proj_equation(rank - 1, 2, len(out_shape)),
                (heads, vd, *out_shape),
                out_shape,
                keys[4],
            ),
        }

    # ------------------------------------------------------------------- calling
    def _check_inputs(self, query, value, key) -> None:
        shapes = [tuple(getattr(t, "shape", ())) for t in (query, value, key)]
        self._check_shapes(*shapes)
        rank = len(self.query_dense.equation.split(",")[0])
        expected = (
            self.query_dense.kernel.shape[0],
            self.value_dense.kernel.shape[0],
            self.key_dense.kernel.shape[0],
        )
        if len(shapes[0]) != rank or tuple(s[-1] for s in shapes) != expected:
            raise ValueError(
                f"{describe(self)} was built for rank-{rank} inputs with last dimensions "
                f"query={expected[0]}, value={expected[1]}, key={expected[2]}. Received: "
                f"query.shape={shapes[0]}, value.shape={shapes[1]}, key.shape={shapes[2]}"
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
        rank = query.ndim
        axes = self._attention_axes_for(rank)
        q = self.query_dense(query)
        k = self.key_dense(key)
        gate = self.gate_dense(query) if self.gate_dense is not None else None
        v = self.value_dense(value)
        penalties = activity_penalties(
            self.activity_regularizer, q, k, *([gate] if gate is not None else []), v
        )

        dot_eq, combine_eq, _ = attention_equations(rank + 1, axes)
        q = q * jnp.asarray(1.0 / math.sqrt(float(self.key_dim)), q.dtype)
        scores = jnp.einsum(dot_eq, k, q)
        mask = attention_mask_for(
            self, query, value, masks, attention_mask, use_causal_mask, scores.shape, len(axes)
        )
        # Keras' fused `dot_product_attention` path (dropout 0, no scores, 3-D inputs) does not
        # zero fully masked rows after the softmax; its explicit path does.
        fused = self.dropout == 0.0 and not return_scores and rank == 3
        probs = masked_softmax(scores, mask, len(axes), zero_masked=not fused)
        dropped = attention_dropout(self, probs, self.dropout, self.seed, training, dropout_key)
        out = jnp.einsum(combine_eq, dropped, v)
        if gate is not None:
            out = out * gate
        out = self.output_dense(out)
        penalties += activity_penalties(self.activity_regularizer, out)
        return out, probs, penalties
