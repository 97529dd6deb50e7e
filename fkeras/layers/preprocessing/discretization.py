"""The `Discretization` layer: buckets continuous values by boundaries given up front or
learned from data with `adapt` (Keras' `keras.layers.Discretization`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from ._categorical import check_int, check_sparse, encode, encode_shape

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count")


@register_serializable(package="fkeras")
class Discretization(Layer):
    """Maps each value to the index of its bucket (Keras' `Discretization`).

    With boundaries `[b0, b1, ..., bn-1]` the buckets are `(-inf, b0)`, `[b0, b1)`, ...,
    `[bn-1, inf)` (`jnp.digitize`), so there are `len(bin_boundaries) + 1` of them.
    Boundaries are given (`bin_boundaries=`) or learned with `adapt` from `num_bins`
    approximate quantiles; `adapt` returns a new layer (layers are immutable):

    ```python
    layer = fk.layers.Discretization(num_bins=4).adapt(x_train)   # quartile buckets
    fk.layers.Discretization(bin_boundaries=[0.0, 1.0])(jnp.array([-1.0, 0.5, 2.0]))  # [0 1 2]
    ```

    **Arguments:**

    - `bin_boundaries`: sorted boundaries (a list of floats), or `None` to learn them.
    - `num_bins`: the number of buckets `adapt` makes (not with `bin_boundaries`).
    - `epsilon`: the error tolerance of `adapt`'s quantile summaries (Keras' algorithm,
      reproduced exactly: the same data gives the same boundaries as Keras).
    - `output_mode`: `"int"` (default; int32 bucket indices, where Keras gives int64 as JAX
      runs without 64-bit integers), `"one_hot"`, `"multi_hot"` or `"count"` (float vectors
      of length `num_buckets` in the compute dtype, see `CategoryEncoding`).
    - `sparse`: must be `False`.

    **Input shape:** any; `"multi_hot"`/`"count"` reduce the last axis of `(batch, n)`
    inputs. Values are compared in float32 (floats are not cast to a 16-bit compute dtype).
    """

    has_weights = False
    _autocast_inputs = False  # bucket edges must not move with a 16-bit compute dtype

    bin_boundaries: tuple | None = static()
    num_bins: int | None = static()
    epsilon: float = static()
    output_mode: str = static()
    sparse: bool = static()

    def __init__(
        self,
        bin_boundaries=None,
        num_bins: int | None = None,
        epsilon: float = 0.01,
        output_mode: str = "int",
        sparse: bool = False,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if output_mode not in OUTPUT_MODES:
            raise ValueError(
                f"{describe(self)} expects `output_mode` to be one of {OUTPUT_MODES}. "
                f"Received: output_mode={output_mode!r}"
            )
        self.output_mode = output_mode
        self.sparse = check_sparse(self, sparse)
        self.num_bins = check_int(self, "num_bins", num_bins, 0, allow_none=True)
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(
                f"{describe(self)} takes either `num_bins` or `bin_boundaries`, not both. "
                f"Received: num_bins={num_bins!r}, bin_boundaries={bin_boundaries!r}"
            )
        if num_bins is None and bin_boundaries is None:
            raise ValueError(
                f"{describe(self)} needs `num_bins` (then `adapt`) or `bin_boundaries`. "
                "Received: num_bins=None, bin_boundaries=None"
            )
        if not isinstance(epsilon, (int, float)) or isinstance(epsilon, bool) or epsilon <= 0:
            raise ValueError(
                f"{describe(self)} expects a positive `epsilon`. Received: epsilon={epsilon!r}"
            )
        self.epsilon = float(epsilon)
        self.bin_boundaries = self._check_boundaries(bin_boundaries)

    def _check_boundaries(self, bin_boundaries):
        if bin_boundaries is None:
            return None
        values = np.asarray(bin_boundaries, dtype=np.float64)
        if values.ndim != 1 or np.any(np.diff(values) < 0):
            raise ValueError(
                f"{describe(self)} expects `bin_boundaries` to be a sorted list of numbers. "
                f"Received: bin_boundaries={bin_boundaries!r}"
            )
        return tuple(float(v) for v in values)

    @property
    def num_buckets(self) -> int:
        if self.bin_boundaries is not None:
            return len(self.bin_boundaries) + 1
        return self.num_bins

    # ------------------------------------------------------------------- config
    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
            "bin_boundaries": None if self.bin_boundaries is None else list(self.bin_boundaries),
            "num_bins": self.num_bins,
            "epsilon": self.epsilon,
            "output_mode": self.output_mode,
            "sparse": self.sparse,
        }

    @classmethod
    def from_config(cls, config: dict):
        # An adapted layer's config holds both `num_bins` and the learned boundaries (Keras).
        config = dict(config)
        boundaries = config.get("bin_boundaries")
        if boundaries is not None and config.get("num_bins") is not None:
            config.pop("bin_boundaries")
            layer = cls(**config)
            return layer._replace(bin_boundaries=layer._check_boundaries(boundaries))
        return cls(**config)

    # -------------------------------------------------------------------- calls
    def compute_output_shape(self, input_shape):
        return encode_shape(tuple(input_shape), self.output_mode, self.num_buckets)

    def __call__(self, x: Array) -> Array:
        if self.bin_boundaries is None:
            raise ValueError(
                f"{describe(self)} has no bucket boundaries yet: pass `bin_boundaries` or "
                "use the layer returned by `adapt(data)`. Received: bin_boundaries=None"
            )
        x = jnp.asarray(x)
        dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32
        x = x.astype(jnp.promote_types(dtype, jnp.float32))
        bins = jnp.asarray(self.bin_boundaries, x.dtype)
        indices = jnp.digitize(x, bins).astype(jnp.int32)
        return encode(indices, self.output_mode, self.num_buckets, self.compute_dtype)

    # -------------------------------------------------------------------- adapt
    def adapt(self, data, steps: int | None = None) -> Discretization:
        """A copy whose `bin_boundaries` are `num_bins` approximate quantiles of `data`.

        `data` is an array or an iterable of batches (`(x, y)` batches use `x`); `steps`
        limits how many batches are read. Keras' algorithm (weighted quantile summaries of
        each batch in float32, merged and compressed to `epsilon`) is reproduced exactly.
        """
        if self.num_bins is None:
            raise ValueError(
                f"{describe(self)} was created with `bin_boundaries`; create it with "
                f"`num_bins` to adapt. Received: bin_boundaries={list(self.bin_boundaries)}"
            )
        summary = np.array([[], []], dtype="float32")
        n = 0
        for batch in _batches(self, data, steps):
            summary = merge_summaries(summarize(batch, self.epsilon), summary, self.epsilon)
            n += 1
        if n == 0 or summary.shape[1] == 0:
            raise ValueError(
                f"{describe(self)}.adapt received no values. Received: data with {n} batches"
            )
        boundaries = get_bin_boundaries(summary, self.num_bins)
        return self._replace(bin_boundaries=tuple(float(v) for v in boundaries))


def _batches(layer, data, steps):
    if isinstance(data, (np.ndarray, jax.Array, list)) and not (
        isinstance(data, list) and data and hasattr(data[0], "shape")
    ):
        yield np.asarray(data).astype("float32")
        return
    if not hasattr(data, "__iter__"):
        raise TypeError(
            f"{describe(layer)}.adapt expects an array or an iterable of batches. "
            f"Received: data of type {type(data).__name__}"
        )
    for i, batch in enumerate(data):
        if steps is not None and i >= steps:
            break
        if isinstance(batch, tuple):
            batch = batch[0]
        yield np.asarray(batch).astype("float32")


def summarize(values, epsilon: float):
    """Keras' summary of a batch: every `step`-th sorted value, each with weight `step`."""
    values = np.sort(np.reshape(values, [-1]))
    step = max(values.size / (1.0 / epsilon), 1)
    start = step - 1
    boundaries = values[int(start) :: int(step)]
    return np.stack([boundaries, np.ones_like(boundaries) * step])


def merge_summaries(prev_summary, next_summary, epsilon: float):
    """Keras' weighted merge of two summaries, compressed to `epsilon`."""
    merged = np.concatenate((prev_summary, next_summary), axis=1)
    merged = np.take(merged, np.argsort(merged[0]), axis=1)
    return compress_summary(merged, epsilon)


def get_bin_boundaries(summary, num_bins: int):
    return compress_summary(summary, 1.0 / num_bins)[0, :-1]


def compress_summary(summary, epsilon: float):
    """Keras' compression: interpolate the values at cumulative weight fractions `k * eps`."""
    if summary.shape[1] * epsilon < 1:
        return summary
    percents = epsilon + np.arange(0.0, 1.0, epsilon)
    cum_weights = summary[1].cumsum()
    cum_weight_percents = cum_weights / cum_weights[-1]
    new_bins = np.interp(percents, cum_weight_percents, summary[0])
    cum_weights = np.interp(percents, cum_weight_percents, cum_weights)
    new_weights = cum_weights - np.concatenate((np.array([0]), cum_weights[:-1]))
    return np.stack((new_bins, new_weights)).astype("float32")
