"""The `IntegerLookup` layer: integer tokens to contiguous indices (and back with
`invert=True`), with a vocabulary given up front or learned with `adapt` (Keras'
`keras.layers.IntegerLookup`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ...core.errors import describe
from ...core.layer import Layer, state_field, static
from ...core.registry import register_serializable
from ._categorical import check_int, check_sparse, encode, encode_shape, is_concrete

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")
_INT32 = np.iinfo(np.int32)


@register_serializable(package="fkeras")
class IntegerLookup(Layer):
    """Maps integer tokens to indices in a vocabulary (Keras' `IntegerLookup`).

    Indices are laid out as Keras does: in `"int"` mode with a `mask_token`, index 0 is the
    mask; then `num_oov_indices` out-of-vocabulary (OOV) indices; then the vocabulary in
    order. OOV tokens go to the single OOV index, or with several to
    `oov_start + token % num_oov_indices` (Keras' default `"floormod"` method).

    ```python
    layer = fk.layers.IntegerLookup().adapt(jnp.array([7, 7, 7, 3, 3, 9]))
    layer.get_vocabulary()          # [-1, 7, 3, 9]: OOV, then tokens by frequency
    layer(jnp.array([[7, 9, 42]]))  # [[1, 3, 0]]
    ```

    **Arguments:**

    - `max_tokens`: the largest vocabulary size (mask and OOV indices included) `adapt`
      keeps, or `None`.
    - `num_oov_indices`: how many OOV indices (default 1). With 0, OOV tokens raise a
      `ValueError` outside jit; inside jit they give -1 (`"int"`) or encode as zeros.
    - `mask_token`: a token meaning "masked": index 0 in `"int"` mode, dropped (all
      zeros) in the other modes; `None` for no mask.
    - `oov_token`: the token `invert=True` returns for OOV indices (default -1).
    - `vocabulary`: a list or array of distinct tokens (it may start with the mask and OOV
      tokens, which are then stripped, as in Keras), or `None` to `adapt`.
    - `vocabulary_dtype`: `"int64"` (Keras' only choice) or `"int32"`; JAX runs without
      64-bit integers, so tokens are int32 either way and must fit in int32.
    - `invert`: map indices back to tokens (only with `output_mode="int"`).
    - `output_mode`: `"int"` (default; int32 indices, Keras gives int64), `"one_hot"`,
      `"multi_hot"` or `"count"` (float vectors of length `vocabulary_size()`, or
      `max_tokens` with `pad_to_max_tokens`).
    - `sparse`: must be `False`. `pad_to_max_tokens`: pad encoded outputs to `max_tokens`.

    The vocabulary is held as a non-trainable int32 array (state, so it travels with
    `fk.partition` and `get_weights`; Keras keeps it in a lookup table outside its weights),
    and it is part of the config. Not supported: `output_mode="tf_idf"`, `oov_method=
    "farmhash"` and `salt` (they need TensorFlow's string hashes).
    """

    has_weights = False
    _autocast_inputs = False

    max_tokens: int | None = static()
    num_oov_indices: int = static()
    mask_token: int | None = static()
    oov_token: int = static()
    vocabulary_dtype: str = static()
    invert: bool = static()
    output_mode: str = static()
    sparse: bool = static()
    pad_to_max_tokens: bool = static()
    vocabulary: Array | None = state_field()

    def __init__(
        self,
        max_tokens: int | None = None,
        num_oov_indices: int = 1,
        mask_token: int | None = None,
        oov_token: int = -1,
        vocabulary=None,
        vocabulary_dtype: str = "int64",
        invert: bool = False,
        output_mode: str = "int",
        sparse: bool = False,
        pad_to_max_tokens: bool = False,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens <= 1):
            raise ValueError(
                f"{describe(self)}: `max_tokens`, when set, must be an integer greater than 1. "
                f"Received: max_tokens={max_tokens!r}"
            )
        self.max_tokens = max_tokens
        self.num_oov_indices = check_int(self, "num_oov_indices", num_oov_indices, 0)
        if output_mode not in OUTPUT_MODES:
            raise ValueError(
                f"{describe(self)} expects `output_mode` to be one of {OUTPUT_MODES} "
                f"('tf_idf' needs TensorFlow). Received: output_mode={output_mode!r}"
            )
        self.output_mode = output_mode
        if invert and output_mode != "int":
            raise ValueError(
                f"{describe(self)}: `invert=True` needs `output_mode='int'`. "
                f"Received: output_mode={output_mode!r}"
            )
        self.invert = bool(invert)
        if vocabulary_dtype not in ("int64", "int32"):
            raise ValueError(
                f"{describe(self)} supports vocabulary_dtype 'int64' or 'int32'. "
                f"Received: vocabulary_dtype={vocabulary_dtype!r}"
            )
        self.vocabulary_dtype = vocabulary_dtype
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(
                f"{describe(self)}: `pad_to_max_tokens=True` needs `max_tokens`. "
                f"Received: max_tokens=None"
            )
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.sparse = check_sparse(self, sparse)
        for arg, value in (("mask_token", mask_token), ("oov_token", oov_token)):
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or not _INT32.min <= value <= _INT32.max
            ):
                raise ValueError(
                    f"{describe(self)} expects `{arg}` to be an int32 integer or None. "
                    f"Received: {arg}={value!r}"
                )
        self.mask_token = None if mask_token is None else int(mask_token)
        self.oov_token = None if oov_token is None else int(oov_token)
        self.vocabulary = None
        if vocabulary is not None:
            self.vocabulary = self._check_vocabulary(vocabulary)

    # -------------------------------------------------------------- vocabulary
    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    def _special_tokens(self) -> list:
        return [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices

    def _check_vocabulary(self, vocabulary) -> Array:
        tokens = np.asarray(vocabulary)
        if tokens.ndim != 1 or (tokens.size and not np.issubdtype(tokens.dtype, np.integer)):
            raise ValueError(
                f"{describe(self)} expects `vocabulary` to be a 1-D list of integers. "
                f"Received: vocabulary with shape {tokens.shape} and dtype {tokens.dtype}"
            )
        tokens = tokens.astype(np.int64)
        special = self._special_tokens()
        if special and tokens.size >= len(special) and list(tokens[: len(special)]) == special:
            tokens = tokens[len(special) :]  # a vocabulary from get_vocabulary()
        if np.unique(tokens).size != tokens.size:
            values, counts = np.unique(tokens, return_counts=True)
            raise ValueError(
                f"{describe(self)} expects distinct vocabulary tokens. "
                f"Received: repeated tokens {values[counts > 1].tolist()}"
            )
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError(
                f"{describe(self)}: the mask token may only open the vocabulary, before the "
                f"OOV tokens. Received: mask_token={self.mask_token} at vocabulary index "
                f"{int(np.argwhere(tokens == self.mask_token)[0, 0])}"
            )
        if self.invert and self.oov_token in tokens:
            raise ValueError(
                f"{describe(self)}: with `invert=True` the OOV token may not be in the "
                f"vocabulary. Received: oov_token={self.oov_token}"
            )
        if tokens.size and (tokens.min() < _INT32.min or tokens.max() > _INT32.max):
            raise ValueError(
                f"{describe(self)} keeps tokens as int32 (JAX runs without 64-bit integers). "
                f"Received: tokens in [{tokens.min()}, {tokens.max()}]"
            )
        size = tokens.size + self._token_start()
        if self.max_tokens is not None and size > self.max_tokens:
            raise ValueError(
                f"{describe(self)}: the vocabulary ({size} entries with the mask and OOV "
                f"indices) is larger than max_tokens. Received: max_tokens={self.max_tokens}"
            )
        return jnp.asarray(tokens, jnp.int32)

    def _tokens(self) -> Array:
        if self.vocabulary is None:
            raise ValueError(
                f"{describe(self)} has no vocabulary: pass `vocabulary=` or use the layer "
                "returned by `adapt(data)`. Received: vocabulary=None"
            )
        return self.vocabulary

    def vocabulary_size(self) -> int:
        """The number of indices: the mask (in "int" mode), the OOV indices and the tokens."""
        return self._token_start() + int(self._tokens().shape[0])

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[int]:
        """The tokens by index (with the mask and OOV tokens first unless
        `include_special_tokens=False`), as in Keras."""
        tokens = [int(t) for t in np.asarray(self._tokens())]
        return self._special_tokens() + tokens if include_special_tokens else tokens

    # ------------------------------------------------------------------- config
    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "mask_token": self.mask_token,
            "oov_token": self.oov_token,
            "vocabulary": None
            if self.vocabulary is None
            else self.get_vocabulary(include_special_tokens=False),
            "vocabulary_dtype": self.vocabulary_dtype,
            "invert": self.invert,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
            "pad_to_max_tokens": self.pad_to_max_tokens,
        }

    # -------------------------------------------------------------------- calls
    def _depth(self) -> int:
        return self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()

    def compute_output_shape(self, input_shape):
        return encode_shape(tuple(input_shape), self.output_mode, self._depth())

    def __call__(self, x: Array) -> Array:
        tokens = self._tokens()
        x = jnp.asarray(x).astype(jnp.int32)
        if self.invert:
            return self._invert(x, tokens)
        start = self._token_start()
        if tokens.shape[0]:
            order = jnp.argsort(tokens)
            sorted_tokens = tokens[order]
            pos = jnp.clip(jnp.searchsorted(sorted_tokens, x), 0, tokens.shape[0] - 1)
            found = sorted_tokens[pos] == x
            indices = order[pos].astype(jnp.int32) + start
        else:
            found = jnp.zeros(x.shape, bool)
            indices = jnp.zeros(x.shape, jnp.int32)
        if self.num_oov_indices == 0:
            oov = jnp.full(x.shape, -1, jnp.int32)
            if is_concrete(found) and not bool(jnp.all(found | self._is_mask(x))):
                bad = np.unique(np.asarray(x)[~np.asarray(found | self._is_mask(x))])
                raise ValueError(
                    f"{describe(self)}: with num_oov_indices=0 every input must be in the "
                    f"vocabulary; set num_oov_indices=1 to map unknown tokens. "
                    f"Received: out-of-vocabulary tokens {bad.tolist()}"
                )
        else:
            oov = jnp.mod(x, self.num_oov_indices).astype(jnp.int32) + self._oov_start()
        indices = jnp.where(found, indices, oov)
        if self.mask_token is not None:
            # "int" mode: the mask index 0; other modes: an index the encoding drops.
            mask_index = 0 if self.output_mode == "int" else _INT32.max
            indices = jnp.where(x == self.mask_token, mask_index, indices)
        return encode(indices, self.output_mode, self._depth(), self.compute_dtype)

    def _is_mask(self, x):
        return jnp.zeros(x.shape, bool) if self.mask_token is None else x == self.mask_token

    def _invert(self, x, tokens):
        start = self._token_start()
        n = tokens.shape[0]
        rel = x - start
        in_vocab = (rel >= 0) & (rel < n)
        if n:
            out = jnp.where(in_vocab, tokens[jnp.clip(rel, 0, n - 1)], self.oov_token)
        else:
            out = jnp.full(x.shape, self.oov_token, jnp.int32)
        if self.mask_token is not None:
            out = jnp.where(x == 0, self.mask_token, out)
        return out.astype(jnp.int32)

    # -------------------------------------------------------------------- adapt
    def adapt(self, data, steps: int | None = None) -> IntegerLookup:
        """A copy whose vocabulary is the tokens of `data` by decreasing frequency (ties:
        larger token first, as Keras' `np.lexsort` order), without the mask and OOV tokens,
        cut to `max_tokens` minus the special indices.

        `data` is an integer array or an iterable of batches (`(x, y)` batches use `x`);
        `steps` limits how many batches are read.
        """
        counts: dict[int, int] = {}
        for i, batch in enumerate(_batches(self, data)):
            if steps is not None and i >= steps:
                break
            values, n = np.unique(np.asarray(batch).astype(np.int64), return_counts=True)
            for v, c in zip(values.tolist(), n.tolist()):
                counts[v] = counts.get(v, 0) + c
        counts.pop(self.mask_token, None)
        counts.pop(self.oov_token, None)
        tokens = np.asarray(list(counts), np.int64)
        freqs = np.asarray([counts[t] for t in counts], np.int64)
        order = np.lexsort((tokens, freqs))[::-1]
        if self.max_tokens is not None:
            order = order[: self.max_tokens - self._token_start()]
        return self._replace(vocabulary=self._check_vocabulary(tokens[order]))


def _batches(layer, data):
    if isinstance(data, (np.ndarray, jax.Array)):
        yield data
        return
    if not hasattr(data, "__iter__"):
        raise TypeError(
            f"{describe(layer)}.adapt expects an array or an iterable of batches. "
            f"Received: data of type {type(data).__name__}"
        )
    if isinstance(data, list) and not any(
        hasattr(b, "shape") or isinstance(b, (list, tuple)) for b in data
    ):
        yield np.asarray(data)
        return
    for batch in data:
        yield batch[0] if isinstance(batch, tuple) else batch
