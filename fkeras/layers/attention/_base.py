"""The calling protocol shared by MultiHeadAttention and GroupedQueryAttention.

Keras calls these layers as `layer(query, value, key=None, *, attention_mask=..., ...)`, where
`key` is the key *tensor*; fkeras' convention is `layer(inputs, *, training, key=<PRNG key>)`.
Both forms are accepted (see `MultiHeadAttention`'s docstring for the rules):

- Keras' form, `layer(query, value[, key_tensor], ...)`: `key` is the key tensor, as in Keras;
  the PRNG key for attention dropout is `dropout_key=`.
- The packed form, `layer([query, value[, key_tensor]], ...)` (or a dict with `query`,
  `value`, `key`, `attention_mask`): `key=` is the PRNG key, as for every other fkeras layer.
  Models and the trainer use this form, through `apply(inputs, *, training, key, mask)`.
"""

from __future__ import annotations

import functools
from typing import ClassVar

import jax
import jax.numpy as jnp

from ...core.errors import NotBuiltError, describe
from ...core.layer import Layer
from ...core.shapes import is_shape
from ...core.symbolic import contains_symbolic, symbolic_call
from ._common import activity_penalties

_PACKED_KEYS = ("query", "value", "key", "attention_mask")
# Call options a functional graph records with the node (static Python values).
_GRAPH_OPTIONS = ("use_causal_mask", "return_attention_scores")


def is_prng_key(x) -> bool:
    """A typed PRNG key array, or a raw `uint32[2]` key (never an attention input)."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return False
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return True
    return dtype == jnp.uint32 and tuple(getattr(x, "shape", ())) == (2,)


def _shapes(tree):
    return jax.tree_util.tree_map(lambda a: tuple(getattr(a, "shape", ())), tree)


class HeadAttentionBase(Layer):
    """Shared calling protocol; subclasses implement `_check_inputs` and `_compute`."""

    supports_masking = True
    #: Keras applies GroupedQueryAttention's activity regularizer to the layer's outputs too.
    _activity_on_outputs: ClassVar[bool] = False

    def __call__(
        self,
        query,
        value=None,
        key=None,
        *,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores: bool = False,
        training: bool = False,
        use_causal_mask: bool = False,
        dropout_key=None,
        mask=None,
    ):
        packed = value is None and isinstance(query, (list, tuple, dict))
        if packed:
            if key is not None and not is_prng_key(key):
                raise TypeError(
                    f"{describe(self)}: in the packed form `layer([query, value, key_tensor])` "
                    "the key tensor goes in the list; `key=` is the PRNG key for attention "
                    f"dropout. Received: key with shape {_shapes(key)}"
                )
            if key is not None and dropout_key is not None:
                raise TypeError(f"{describe(self)}: pass the PRNG key once, as `key=`.")
            inputs, prng = query, key if key is not None else dropout_key
            if attention_mask is not None:  # allowed alongside the packed form
                inputs = {**self._unpack(inputs), "attention_mask": attention_mask}
        else:
            if value is None:
                raise ValueError(
                    f"{describe(self)} expects `query` and `value` tensors: "
                    "`layer(query, value)` or `layer([query, value])`; use "
                    f"`layer(x, x)` for self-attention. Received: query with shape "
                    f"{_shapes(query)} and value=None"
                )
            if key is not None and is_prng_key(key):
                raise TypeError(
                    f"{describe(self)}: `key` is Keras' key tensor here "
                    "(`layer(query, value, key)`). Pass the PRNG key for attention dropout as "
                    "`dropout_key=`, or use the packed form `layer([query, value], key=...)`. "
                    f"Received: key with dtype {key.dtype} and shape {tuple(key.shape)}"
                )
            inputs = {"query": query, "value": value}
            if key is not None:
                inputs["key"] = key
            if attention_mask is not None:
                inputs["attention_mask"] = attention_mask
            prng = dropout_key
        if contains_symbolic(inputs):
            return self._symbolic_call(
                inputs,
                packed,
                query_mask=query_mask,
                value_mask=value_mask,
                key_mask=key_mask,
                mask=mask,
                return_attention_scores=return_attention_scores,
                training=training,
                use_causal_mask=use_causal_mask,
                prng=prng,
            )
        if not self.built:
            raise NotBuiltError(
                f"{describe(self)} is not built: its weights do not exist yet. Build it first "
                "with `layer = layer.build([query_shape, value_shape], key=jax.random.key(0))` "
                "(shapes include the batch dimension, e.g. (None, 10, 16)), or use it in a "
                f"model that starts from fk.Input. Received: inputs with shape {_shapes(inputs)}"
            )
        masks = self._unpack_mask(mask)
        for name, m in (("query", query_mask), ("value", value_mask), ("key", key_mask)):
            if m is not None:
                masks[name] = m
        return self._run(
            self._unpack(inputs),
            masks,
            return_attention_scores=return_attention_scores,
            training=training,
            use_causal_mask=use_causal_mask,
            dropout_key=prng,
        )

    # `Layer.__init_subclass__` would wrap `__call__` with a dispatcher that only looks at the
    # first positional argument; this one handles `layer(query, value)` on symbolic tensors.
    __call__.__fk_wrapped__ = True

    def apply(
        self,
        inputs,
        *,
        training: bool = False,
        key=None,
        mask=None,
        attention_mask=None,
        return_attention_scores: bool = False,
        use_causal_mask: bool = False,
    ):
        """`(outputs, self)` for the packed `inputs` `[query, value]`, `[query, value, key]` or
        a dict; `key` is the PRNG key (containers' protocol), `mask` the inputs' masks."""
        parts = self._unpack(inputs)
        if attention_mask is not None:
            parts["attention_mask"] = attention_mask
        outputs = self._run(
            parts,
            self._unpack_mask(mask),
            return_attention_scores=return_attention_scores,
            training=training,
            use_causal_mask=use_causal_mask,
            dropout_key=key,
        )
        return outputs, self

    def apply_masked(self, inputs, *, training: bool = False, key=None, mask=None, **options):
        """`apply` plus the output mask (the query's). `options` (`attention_mask`,
        `use_causal_mask`, `return_attention_scores`) go to `apply`."""
        outputs, updated = self.apply(inputs, training=training, key=key, mask=mask, **options)
        if self._activity_on_outputs and self.activity_regularizer is not None:
            for penalty in activity_penalties(
                self.activity_regularizer, *jax.tree_util.tree_leaves(outputs)
            ):
                self.add_loss(penalty)
        out_mask = updated.compute_mask(inputs, mask)
        if options.get("return_attention_scores"):
            out_mask = (out_mask, None)
        return outputs, out_mask, updated

    def compute_mask(self, inputs, mask=None):
        """The output carries the query's mask, as in Keras."""
        return self._unpack_mask(mask)["query"]

    # ---------------------------------------------------------------- internals
    def _unpack(self, inputs) -> dict:
        if isinstance(inputs, dict):
            unknown = sorted(set(inputs) - set(_PACKED_KEYS))
            if unknown or "query" not in inputs or "value" not in inputs:
                raise ValueError(
                    f"{describe(self)} expects a dict of inputs with keys 'query', 'value' and "
                    f"optionally 'key', 'attention_mask'. Received: keys {sorted(inputs)}"
                )
            return {k: v for k, v in inputs.items() if v is not None}
        if isinstance(inputs, (list, tuple)) and len(inputs) in (2, 3):
            parts = {"query": inputs[0], "value": inputs[1]}
            if len(inputs) == 3 and inputs[2] is not None:
                parts["key"] = inputs[2]
            return parts
        raise ValueError(
            f"{describe(self)} expects inputs `[query, value]` or `[query, value, key]` (or "
            f"`layer(query, value, key)`). Received: inputs with shape {_shapes(inputs)}"
        )

    def _unpack_shapes(self, input_shape) -> tuple[tuple, tuple, tuple]:
        """(query, value, key) shapes from `build`'s `[query_shape, value_shape(, key_shape)]`."""
        if is_shape(input_shape) or not isinstance(input_shape, (list, tuple, dict)):
            raise ValueError(
                f"{describe(self)} is built from the shapes of its inputs: "
                "`layer.build([query_shape, value_shape])` or with a key shape third. "
                f"Received: input_shape={input_shape}"
            )
        parts = self._unpack(input_shape)
        value = tuple(parts["value"])
        return tuple(parts["query"]), value, tuple(parts.get("key", value))

    def _unpack_mask(self, mask) -> dict:
        masks = {"query": None, "value": None, "key": None}
        if mask is None:
            return masks
        if isinstance(mask, dict):
            masks.update({k: mask.get(k) for k in masks})
        elif isinstance(mask, (list, tuple)) and len(mask) in (2, 3):
            masks.update(zip(("query", "value", "key"), mask))
        else:
            raise ValueError(
                f"{describe(self)} expects `mask` as a list `[query_mask, value_mask]` (or "
                f"with a key mask). Received: mask with shape {_shapes(mask)}"
            )
        return masks

    def _symbolic_call(self, inputs, packed: bool, *, prng, **options):
        static = {k: v for k, v in options.items() if k in _GRAPH_OPTIONS and v}
        given = sorted(
            k
            for k, v in options.items()
            if k not in _GRAPH_OPTIONS and v is not None and v is not False
        )
        if prng is not None:
            given.append("key")
        if given:
            raise TypeError(
                f"{describe(self)}: in a functional graph, call it on tensors: "
                "`layer(query, value)`, `layer(query, value, key)` or `layer([query, value])` "
                "(an `attention_mask` tensor and the options `use_causal_mask` and "
                "`return_attention_scores` may be given too); masks come from the input layers "
                "(e.g. Embedding(mask_zero=True)), and `training`/`key` are passed when calling "
                f"the model. Received: {given}"
            )
        if not packed and "attention_mask" not in inputs:  # record Keras' form as a list
            inputs = [inputs["query"], inputs["value"]] + (
                [inputs["key"]] if "key" in inputs else []
            )
        return symbolic_call(self, inputs, static)

    def _run(
        self, parts, masks, *, return_attention_scores, training, use_causal_mask, dropout_key
    ):
        query, value = parts["query"], parts["value"]
        key = parts.get("key", value)
        self._check_inputs(query, value, key)
        if self.flash_attention and return_attention_scores:
            raise ValueError(
                f"{describe(self)}: returning attention scores is not supported with "
                "flash_attention=True (as in Keras). Received: return_attention_scores=True"
            )
        output, scores, penalties = _compute(
            self,
            query,
            value,
            key,
            masks,
            parts.get("attention_mask"),
            dropout_key,
            use_causal_mask=bool(use_causal_mask),
            return_scores=bool(return_attention_scores),
            training=bool(training),
        )
        for penalty in penalties:
            self.add_loss(penalty)
        return (output, scores) if return_attention_scores else output


@functools.partial(jax.jit, static_argnames=("use_causal_mask", "return_scores", "training"))
def _compute(layer, query, value, key, masks, attention_mask, dropout_key, **options):
    """The attention computation as one compiled function: eager calls compile once per
    input shape instead of once per operation (inside an outer `jit` it is simply inlined).
    Activity penalties are returned, not added here, so no tracer leaves this function."""
    return layer._compute(
        query,
        value,
        key,
        masks=masks,
        attention_mask=attention_mask,
        dropout_key=dropout_key,
        **options,
    )
