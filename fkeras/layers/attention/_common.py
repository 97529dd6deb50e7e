"""Pieces shared by the attention layers: Keras' einsum projections, masks, masked softmax
and attention dropout."""

from __future__ import annotations

import string
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from ... import activations
from ...core.autocast import upcast_16bit
from ...core.errors import describe
from ...core.layer import Layer, static


class EinsumProjection(Layer):
    """One of the projections inside the multi-head attention layers: Keras' `EinsumDense`
    sub-layers `query`, `key`, `value`, `gate` and `attention_output`, with the same weight
    shapes (`kernel`, then `bias`) and formula `activation(einsum(equation, x, kernel) + bias)`.

    It is built by its parent layer and never serialized on its own (the parent's config
    rebuilds it).
    """

    equation: str = static()
    kernel_shape: tuple = static()
    bias_shape: tuple | None = static()
    activation: Any = static()
    kernel_initializer: Any = static()
    bias_initializer: Any = static()
    kernel_regularizer: Any = static()
    bias_regularizer: Any = static()
    kernel_constraint: Any = static()
    bias_constraint: Any = static()
    kernel: Array | None
    bias: Array | None

    def __init__(
        self,
        equation: str,
        kernel_shape,
        bias_shape=None,
        activation=None,
        kernel_initializer=None,
        bias_initializer=None,
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.equation = equation
        self.kernel_shape = tuple(kernel_shape)
        self.bias_shape = None if bias_shape is None else tuple(bias_shape)
        self.activation = activation
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.kernel = None
        self.bias = None

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict:
        kernel_key, bias_key = jax.random.split(key)
        kernel = self.kernel_initializer(kernel_key, self.kernel_shape, self.dtype)
        bias = None
        if self.bias_shape is not None:
            bias = self.bias_initializer(bias_key, self.bias_shape, self.dtype)
        return {"kernel": kernel, "bias": bias}

    def __call__(self, x: Array) -> Array:
        y = jnp.einsum(self.equation, x, self.kernel)
        if self.bias is not None:
            y = y + self.bias
        if self.activation is not None:
            y = activations.get(self.activation)(y)
        return y


def make_projection(
    layer, name: str, equation: str, kernel_shape, bias_shape, key, activation=None
):
    """A built `EinsumProjection` with `layer`'s initializers, regularizers and constraints."""
    projection = EinsumProjection(
        equation,
        kernel_shape,
        bias_shape if layer.use_bias else None,
        activation,
        layer.kernel_initializer,
        layer.bias_initializer,
        layer.kernel_regularizer,
        layer.bias_regularizer,
        layer.kernel_constraint,
        layer.bias_constraint,
        name=name,
        dtype=layer.dtype_policy,
    )
    return projection._replace(**projection.create_weights(None, key), built=True)


def proj_equation(free_dims: int, bound_dims: int, output_dims: int) -> str:
    """Keras' `_build_proj_equation`: e.g. (2, 1, 2) -> `"abc,cde->abde"`."""
    letters = string.ascii_lowercase
    free = letters[:free_dims]
    bound = letters[free_dims : free_dims + bound_dims]
    out = letters[free_dims + bound_dims : free_dims + bound_dims + output_dims]
    return f"{free}{bound},{bound}{out}->{free}{out}"


def attention_equations(rank: int, attn_axes: tuple) -> tuple[str, str, int]:
    """Keras' `_build_attention_equation` for projected tensors of `rank`
    `(batch, <other dims>, <attention dims>, heads, channels)`: the query-key product
    (`einsum(dot, key, query)`), the combination with the values, and the scores' rank."""
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch_dims = [i for i in range(rank) if i not in attn_axes and i != rank - 1]
    source, offset = "", rank
    for i in range(rank):
        if i in batch_dims or i == rank - 1:
            source += target[i]
        else:
            source += letters[offset]
            offset += 1
    product = "".join(
        [target[i] for i in batch_dims]
        + [target[i] for i in attn_axes]
        + [source[i] for i in attn_axes]
    )
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


def combine_masks(
    query_shape,
    value_shape,
    query_mask=None,
    value_mask=None,
    key_mask=None,
    attention_mask=None,
    use_causal_mask: bool = False,
    sliding_window: int | None = None,
):
    """Keras' `_compute_attention_mask`: the AND of the query mask `(B, T, 1)`, the value and
    key masks `(B, 1, S)`, the causal mask and the sliding window `(1, T, S)`, and
    `attention_mask`; None when there is none."""
    parts = []
    if query_mask is not None:
        parts.append(jnp.expand_dims(jnp.asarray(query_mask).astype(bool), -1))
    for m in (value_mask, key_mask):
        if m is not None:
            parts.append(jnp.expand_dims(jnp.asarray(m).astype(bool), -2))
    rows = jnp.arange(query_shape[1])[None, :, None]
    cols = jnp.arange(value_shape[1])[None, None, :]
    if use_causal_mask:
        parts.append(rows >= cols)
    if sliding_window is not None:
        parts.append(jnp.abs(rows - cols) < sliding_window)
    auto = None
    for part in parts:
        auto = part if auto is None else auto & part
    if attention_mask is not None:
        attention_mask = jnp.asarray(attention_mask).astype(bool)
        return attention_mask if auto is None else attention_mask & auto
    return auto


def broadcast_mask(layer, mask, scores_shape: tuple, n_attn_axes: int, context: str):
    """Keras' `_masked_softmax` expansion: new axes go in front of the query attention axes
    (the heads' place) until the mask has the scores' rank; then it must broadcast."""
    axis = -2 * n_attn_axes - 1
    shape = tuple(mask.shape)
    ok = len(shape) <= len(scores_shape)
    while ok and len(shape) < len(scores_shape):
        if not -(len(shape) + 1) <= axis:
            ok = False
            break
        mask = jnp.expand_dims(mask, axis)
        shape = tuple(mask.shape)
    if ok:
        ok = all(m in (1, s) for m, s in zip(shape, scores_shape))
    if not ok:
        raise ValueError(
            f"{describe(layer)} expects an attention mask that broadcasts to the attention "
            f"scores {tuple(scores_shape)} (batch, heads, <query attention dims>, <key attention "
            f"dims>), e.g. `attention_mask` of shape (batch, query length, key length). "
            f"Received: {context}"
        )
    return mask


def attention_mask_for(
    layer, query, value, masks, attention_mask, use_causal_mask, scores_shape, n_axes
):
    """The combined boolean mask (`combine_masks`), expanded to broadcast to the scores; None
    when nothing is masked."""
    mask = combine_masks(
        query.shape,
        value.shape,
        masks["query"],
        masks["value"],
        masks["key"],
        attention_mask,
        use_causal_mask,
        layer.sliding_window,
    )
    if mask is None:
        return None

    def shape(x):
        return None if x is None else tuple(jnp.shape(x))

    context = (
        f"attention_mask.shape={shape(attention_mask)}, query.shape={tuple(query.shape)}, "
        f"value.shape={tuple(value.shape)}, query_mask.shape={shape(masks['query'])}, "
        f"value_mask.shape={shape(masks['value'])}"
    )
    return broadcast_mask(layer, mask, scores_shape, n_axes, context)


def masked_softmax(scores, mask, n_attn_axes: int, zero_masked: bool):
    """Keras' `Softmax(axis=<attention axes>)(scores, mask)`: masked scores become -1e9 (-3e4
    in float16) before the softmax; `zero_masked` zeroes them after it, as Keras' `Softmax`
    does (Keras' fused `dot_product_attention` path does not, so a fully masked row is
    uniform there)."""
    axes = tuple(range(scores.ndim - n_attn_axes, scores.ndim))
    # The softmax runs in float32 under mixed precision; the probabilities come back in the
    # scores' dtype.
    out_dtype = scores.dtype
    scores = upcast_16bit(scores)
    if mask is not None:
        large_negative = -3e4 if scores.dtype == jnp.float16 else -1e9
        scores = jnp.where(mask, scores, jnp.asarray(large_negative, scores.dtype))
    probs = jax.nn.softmax(scores, axis=axes)
    if mask is not None and zero_masked:
        probs = jnp.where(mask, probs, jnp.zeros((), probs.dtype))
    return probs.astype(out_dtype)


def attention_dropout(layer, probs, rate: float, seed, training: bool, key):
    """Dropout on attention probabilities in training mode (Keras' `Dropout(rate, seed)`)."""
    if not training or rate == 0.0:
        return probs
    if key is None:
        raise ValueError(
            f"{describe(layer)} has dropout={rate} and needs a PRNG key in training mode. Call "
            "it as `layer(query, value, training=True, dropout_key=jax.random.key(step))` (or "
            "`layer([query, value], training=True, key=...)`); models and the trainer pass "
            "one for you. Received: key=None"
        )
    if rate >= 1.0:
        return jnp.zeros_like(probs)
    if seed is not None:
        key = jax.random.fold_in(key, seed)
    keep = jax.random.bernoulli(key, 1.0 - rate, probs.shape)
    return jnp.where(keep, probs / (1.0 - rate), jnp.zeros((), probs.dtype))


def activity_penalties(regularizer, *outputs) -> list:
    """Keras' activity regularization of sub-layer outputs: penalty / batch size each."""
    if regularizer is None:
        return []
    return [regularizer(out) / out.shape[0] if out.ndim else regularizer(out) for out in outputs]


def check_positive_int(layer, name: str, value, *, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"{describe(layer)} expects `{name}` to be a positive integer"
            f"{' or None' if allow_none else ''}. Received: {name}={value!r}"
        )
    return value


def check_rate(layer, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(
            f"{describe(layer)} expects `{name}` to be a float in [0, 1]. "
            f"Received: {name}={value!r}"
        )
    return float(value)
