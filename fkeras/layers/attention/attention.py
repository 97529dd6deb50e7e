"""Attention (Luong-style dot-product) and AdditiveAttention (Bahdanau-style)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from ... import initializers
from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from ...core.shapes import is_shape
from ._common import attention_dropout, check_rate


def _shape_of(x):
    return tuple(x) if is_shape(x) else tuple(getattr(x, "shape", ()))


@register_serializable(package="fkeras")
class Attention(Layer):
    """Dot-product attention (Luong-style), as Keras' `Attention`.

    Scores `query @ key^T` (times `scale` with `use_scale`), or with `score_mode="concat"`
    `concat_score_weight * sum(tanh(scale * (query + key)), -1)`, are softmaxed over the value
    steps and combine the `value` vectors.

    **Arguments:**

    - `use_scale`: learn a scalar `scale` for the scores (initialized to 1).
    - `score_mode`: `"dot"` or `"concat"` (the latter learns a scalar `concat_score_weight`).
    - `dropout`: dropout rate on the attention distribution (training mode only).
    - `seed`: folded into the dropout PRNG key.

    **Weights:** `scale` `()` when `use_scale`, then `concat_score_weight` `()` in concat mode.

    **Call:** `layer([query, value])` or `layer([query, value, key])` (the value is the key by
    default), keywords `mask=[query_mask, value_mask]` (boolean `(batch, Tq)` and `(batch,
    Tv)`; in models they come from the inputs' masks), `return_attention_scores=` (then
    `(output, scores)`), `use_causal_mask=`, `training=` and `key=` (the PRNG key for
    dropout). Masked values get `-1e9` added to their scores; masked queries give zero
    outputs, and the output carries the query mask.

    **Input shapes:** query `(batch, Tq, dim)`, value `(batch, Tv, value_dim)`, key `(batch,
    Tv, dim)`. **Output shape:** `(batch, Tq, value_dim)`; scores `(batch, Tq, Tv)`.

    ```python
    layer = fk.layers.Attention().build([(None, 4, 8), (None, 6, 8)])
    y = layer([jnp.ones((2, 4, 8)), jnp.ones((2, 6, 8))])   # (2, 4, 8)
    ```
    """

    supports_masking = True

    use_scale: bool = static()
    score_mode: str = static()
    dropout: float = static()
    seed: int | None = static()
    scale: Array | None
    concat_score_weight: Array | None

    def __init__(
        self,
        use_scale: bool = False,
        score_mode: str = "dot",
        dropout: float = 0.0,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                f"{describe(self)} expects `score_mode` to be one of 'dot', 'concat'. "
                f"Received: score_mode={score_mode!r}"
            )
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = check_rate(self, "dropout", dropout)
        self.seed = seed
        self.scale = None
        self.concat_score_weight = None

    # ------------------------------------------------------------------ checks
    def _split(self, inputs, what: str = "inputs") -> list:
        if not isinstance(inputs, (list, tuple)) or is_shape(inputs) or len(inputs) not in (2, 3):
            raise ValueError(
                f"{describe(self)} must be called on a list of inputs, [query, value] or "
                f"[query, value, key]. Received: {what}="
                f"{inputs if is_shape(inputs) else jax.tree_util.tree_map(_shape_of, inputs)}"
            )
        return list(inputs)

    def _check_shapes(self, query, value, key) -> None:
        problem = None
        if len(query) < 3 or len(value) != len(query) or len(key) != len(query):
            problem = "query, value and key must have the same rank, 3 or more"
        elif query[-1] != key[-1]:
            problem = "query and key must have the same last dimension"
        elif value[-2] != key[-2] and None not in (value[-2], key[-2]):
            problem = "value and key must have the same number of steps"
        if problem is not None:
            raise ValueError(
                f"{describe(self)}: {problem}. Received: query_shape={query}, "
                f"value_shape={value}, key_shape={key}"
            )

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict:
        shapes = [tuple(s) for s in self._split(input_shape, "input_shape")]
        query, value = shapes[0], shapes[1]
        self._check_shapes(query, value, shapes[2] if len(shapes) == 3 else value)
        ones = jnp.ones((), self.dtype)
        return {
            "scale": ones if self.use_scale else None,
            "concat_score_weight": ones if self.score_mode == "concat" else None,
        }

    # ------------------------------------------------------------------ calling
    def _calculate_scores(self, query, key):
        if self.score_mode == "dot":
            scores = jnp.matmul(query, jnp.swapaxes(key, -2, -1))
            return scores if self.scale is None else scores * self.scale
        q, k = jnp.expand_dims(query, -2), jnp.expand_dims(key, -3)
        summed = q + k if self.scale is None else self.scale * (q + k)
        return self.concat_score_weight * jnp.sum(jnp.tanh(summed), axis=-1)

    def __call__(
        self,
        inputs,
        *,
        mask=None,
        training: bool = False,
        key=None,
        return_attention_scores: bool = False,
        use_causal_mask: bool = False,
    ):
        inputs = self._split(inputs)
        query, value = inputs[0], inputs[1]
        key_tensor = inputs[2] if len(inputs) == 3 else value
        self._check_shapes(*(tuple(t.shape) for t in (query, value, key_tensor)))
        if mask is not None and (not isinstance(mask, (list, tuple)) or len(mask) not in (2, 3)):
            raise ValueError(
                f"{describe(self)} expects `mask` as a list [query_mask, value_mask]. "
                f"Received: mask={jax.tree_util.tree_map(_shape_of, mask)}"
            )
        q_mask = mask[0] if mask else None
        v_mask = mask[1] if mask else None

        scores = self._calculate_scores(query, key_tensor)
        scores_mask = None
        if v_mask is not None:
            scores_mask = jnp.expand_dims(jnp.asarray(v_mask).astype(bool), -2)  # (B, 1, Tv)
        if use_causal_mask:
            rows = jnp.arange(scores.shape[-2])[:, None]
            causal = (rows >= jnp.arange(scores.shape[-1])[None, :])[None]  # (1, Tq, Tv)
            scores_mask = causal if scores_mask is None else scores_mask & causal
        if scores_mask is not None:
            max_value = 65504.0 if scores.dtype == jnp.float16 else 1.0e9
            scores = jnp.where(scores_mask, scores, scores - max_value)
        weights = jax.nn.softmax(scores, axis=-1)
        dropped = attention_dropout(self, weights, self.dropout, self.seed, training, key)
        output = jnp.matmul(dropped, value)
        if q_mask is not None:
            keep = jnp.expand_dims(jnp.asarray(q_mask).astype(bool), -1)
            output = jnp.where(keep, output, jnp.zeros((), output.dtype))
        return (output, weights) if return_attention_scores else output

    def compute_mask(self, inputs, mask=None):
        """The output carries the query's mask (Keras)."""
        if not mask or mask[0] is None:
            return None
        return jnp.asarray(mask[0])


@register_serializable(package="fkeras")
class AdditiveAttention(Attention):
    """Additive attention (Bahdanau-style), as Keras' `AdditiveAttention`.

    Scores are `sum(scale * tanh(query + key), -1)`; the rest is `Attention`'s (masks,
    `return_attention_scores`, `use_causal_mask`, dropout with `key=`).

    **Arguments:**

    - `use_scale`: learn the vector `scale` of shape `(dim,)` (Glorot-uniform initialized);
      otherwise the scores are plain sums.
    - `dropout`: dropout rate on the attention distribution (training mode only).
    - `seed`: folded into the dropout PRNG key.

    **Weights:** `scale` `(dim,)` when `use_scale`.

    ```python
    layer = fk.layers.AdditiveAttention().build([(None, 4, 8), (None, 6, 8)])
    q, v = jnp.ones((2, 4, 8)), jnp.ones((2, 6, 8))
    y, scores = layer([q, v], return_attention_scores=True)   # (2, 4, 8), (2, 4, 6)
    ```
    """

    def __init__(
        self,
        use_scale: bool = True,
        dropout: float = 0.0,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        super().__init__(
            use_scale, "dot", dropout, seed, name=name, trainable=trainable, dtype=dtype
        )

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict:
        shapes = [tuple(s) for s in self._split(input_shape, "input_shape")]
        query, value = shapes[0], shapes[1]
        self._check_shapes(query, value, shapes[2] if len(shapes) == 3 else value)
        if query[-1] is None:
            raise ValueError(
                f"{describe(self)} needs a known query feature dimension for its `scale`. "
                f"Received: query_shape={query}"
            )
        scale = None
        if self.use_scale:
            scale = initializers.get("glorot_uniform")(key, (query[-1],), self.dtype)
        return {"scale": scale, "concat_score_weight": None}

    def _calculate_scores(self, query, key):
        summed = jnp.tanh(jnp.expand_dims(query, -2) + jnp.expand_dims(key, -3))
        if self.scale is not None:
            summed = self.scale * summed
        return jnp.sum(summed, axis=-1)
