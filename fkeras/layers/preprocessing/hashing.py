"""The `Hashing` layer: integer features to hashed bins (Keras' `keras.layers.Hashing`, for
integer inputs; JAX has no strings)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from ._categorical import check_int, check_sparse, encode, encode_shape

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")
#: Fixed key of the unsalted hash (any constants work; these are the 32-bit golden ratio and
#: a large odd number, so the unsalted and salted mappings differ).
_DEFAULT_KEY = (0x9E3779B9, 0x85EBCA6B)


def _fmix32(h):
    """MurmurHash3's 32-bit finalizer: a bijection of uint32 with full avalanche."""
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def hash_int32(x, key: tuple[int, int]):
    """A keyed 32-bit hash of int32 values (two keyed MurmurHash3 finalizer rounds)."""
    h = x.astype(jnp.int32).view(jnp.uint32) if x.dtype != jnp.uint32 else x
    h = _fmix32(h ^ jnp.uint32(key[0]))
    return _fmix32(h + jnp.uint32(key[1]))


@register_serializable(package="fkeras")
class Hashing(Layer):
    """Hashes integer values into `num_bins` bins (Keras' `Hashing`, integer inputs only).

    **Differs from Keras:** Keras hashes the decimal *string* of each integer with TensorFlow's
    FarmHash64 (or SipHash64 with `salt`), which JAX cannot run; fkeras hashes the int32
    value itself with a keyed MurmurHash3 finalizer. The bins are therefore not Keras' bins;
    the properties are the same: the mapping is deterministic (the same on every platform
    and run), spreads values uniformly over `[0, num_bins)`, changes with `salt`, and
    `mask_value` goes to bin 0 with other values in `[1, num_bins)`.

    **Arguments:**

    - `num_bins`: the number of bins, including the mask bin when `mask_value` is set.
    - `mask_value`: an integer hashed to bin 0 (when `num_bins > 1`), or `None`.
    - `salt`: an integer or a pair of integers keying the hash (a single integer `s` is the
      pair `(s, s)`, as in Keras); `None` uses a fixed key.
    - `output_mode`: `"int"` (default; int32 bins, Keras gives int64), `"one_hot"`,
      `"multi_hot"` or `"count"` (float vectors of length `num_bins`).
    - `sparse`: must be `False`.

    Float inputs are truncated to integers first (as Keras does). **Input shape:** any
    integer array; see `CategoryEncoding` for the encoded output shapes.

    ```python
    layer = fk.layers.Hashing(num_bins=8, mask_value=0)
    layer(jnp.array([[0, 17, 42]]))  # bin 0 for the 0s, bins in [1, 8) otherwise
    ```
    """

    has_weights = False
    _autocast_inputs = False

    num_bins: int = static()
    mask_value: int | None = static()
    salt: tuple | None = static()
    output_mode: str = static()
    sparse: bool = static()

    def __init__(
        self,
        num_bins: int,
        mask_value: int | None = None,
        salt=None,
        output_mode: str = "int",
        sparse: bool = False,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.num_bins = check_int(self, "num_bins", num_bins, 1)
        if output_mode not in OUTPUT_MODES:
            raise ValueError(
                f"{describe(self)} expects `output_mode` to be one of {OUTPUT_MODES}. "
                f"Received: output_mode={output_mode!r}"
            )
        self.output_mode = output_mode
        self.sparse = check_sparse(self, sparse)
        if mask_value is not None and (
            isinstance(mask_value, bool) or not isinstance(mask_value, (int, np.integer))
        ):
            raise ValueError(
                f"{describe(self)} hashes integers only, so `mask_value` must be an integer "
                f"or None. Received: mask_value={mask_value!r}"
            )
        self.mask_value = None if mask_value is None else int(mask_value)
        if salt is not None:
            if isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
                salt = (int(salt), int(salt))
            elif (
                isinstance(salt, (tuple, list))
                and len(salt) == 2
                and all(isinstance(s, (int, np.integer)) for s in salt)
            ):
                salt = (int(salt[0]), int(salt[1]))
            else:
                raise ValueError(
                    f"{describe(self)} expects `salt` to be an integer or a pair of integers. "
                    f"Received: salt={salt!r}"
                )
        self.salt = salt

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
            "num_bins": self.num_bins,
            "mask_value": self.mask_value,
            "salt": None if self.salt is None else list(self.salt),
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }

    def compute_output_shape(self, input_shape):
        return encode_shape(tuple(input_shape), self.output_mode, self.num_bins)

    def hash_to_bins(self, x: Array) -> Array:
        """The int32 bin of each value of `x` (before any encoding)."""
        x = jnp.asarray(x).astype(jnp.int32)
        key = _DEFAULT_KEY if self.salt is None else tuple(s & 0xFFFFFFFF for s in self.salt)
        bins = self.num_bins
        masked = self.mask_value is not None and bins > 1
        if masked:
            bins -= 1
        h = (hash_int32(x, key) % jnp.uint32(bins)).astype(jnp.int32)
        if masked:
            h = jnp.where(x == self.mask_value, 0, h + 1)
        return h

    def __call__(self, x: Array) -> Array:
        return encode(self.hash_to_bins(x), self.output_mode, self.num_bins, self.compute_dtype)
