"""The preprocessing `Normalization` layer: standardizes features with a mean and variance
given up front or learned from data with `adapt` (Keras' `keras.layers.Normalization`)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ...core.errors import describe
from ...core.layer import Layer, state_field, static
from ...core.registry import register_serializable

#: Keras' `backend.epsilon()`: the smallest standard deviation divided by.
EPSILON = 1e-7


def _static_values(value):
    """Nested tuples of floats (hashable, JSON-friendly) for a user's mean or variance."""
    if value is None:
        return None

    def to_tuple(v):
        return tuple(to_tuple(e) for e in v) if isinstance(v, list) else float(v)

    return to_tuple(np.asarray(value, dtype=np.float64).tolist())


def _to_list(value):
    return [_to_list(v) for v in value] if isinstance(value, tuple) else value


@register_serializable(package="fkeras")
class Normalization(Layer):
    """Shifts and scales inputs to mean 0 and variance 1 per feature:
    `(x - mean) / max(sqrt(variance), 1e-7)` (Keras' `Normalization`).

    The statistics are either given (`mean=`, `variance=`) or computed from data with
    `adapt`, which returns a new, built layer (layers are immutable):

    ```python
    layer = fk.layers.Normalization().adapt(x_train)   # per feature of the last axis
    model = fk.Sequential([fk.Input((8,)), layer, fk.layers.Dense(1)])
    ```

    **Arguments:**

    - `axis`: the axis or axes that keep a separate mean and variance per index (default
      `-1`, the features); the statistics are computed over all other axes. `None` uses one
      scalar mean and variance for all values.
    - `mean`, `variance`: fixed statistics (given together), broadcast against the kept axes
      from the right. With them the layer has no weights, as in Keras.
    - `invert`: apply the inverse, `mean + x * max(sqrt(variance), 1e-7)`.

    **Weights** (without `mean=`/`variance=`, all non-trainable, Keras' order and shapes):
    `mean` and `variance` of the kept axes' shape, and `count`, an int32 scalar that Keras
    keeps for old saved models and never updates (always 0).

    **Input/Output shapes:** any shape whose kept axes have the built sizes; the output has
    the input's shape.
    """

    supports_masking = True

    axis: Any = static()
    input_mean: Any = static()
    input_variance: Any = static()
    invert: bool = static()
    mean: Array | None = state_field()
    variance: Array | None = state_field()
    count: Array | None = state_field()

    def __init__(
        self,
        axis=-1,
        mean=None,
        variance=None,
        invert: bool = False,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if axis is not None:
            axes = (axis,) if isinstance(axis, int) else axis
            if not isinstance(axes, (tuple, list)) or not all(
                isinstance(a, int) and not isinstance(a, bool) for a in axes
            ):
                raise ValueError(
                    f"{describe(self)} expects `axis` to be an int, a tuple of ints or None. "
                    f"Received: axis={axis!r}"
                )
            axis = axis if isinstance(axis, int) else tuple(axis)
        self.axis = axis
        if (mean is None) != (variance is None):
            raise ValueError(
                f"{describe(self)} needs both `mean` and `variance` when setting values "
                f"directly. Received: mean={mean!r}, variance={variance!r}"
            )
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(
                    f"{describe(self)} expects `mean` and `variance` of the same shape. "
                    f"Received: mean.shape={np.shape(mean)}, variance.shape={np.shape(variance)}"
                )
            if len(np.shape(mean)) > len(self._axes):
                raise ValueError(
                    f"{describe(self)} expects `mean` of rank at most the number of axes "
                    f"({len(self._axes)}). Received: mean.shape={np.shape(mean)}, axis={axis!r}"
                )
        self.input_mean = _static_values(mean)
        self.input_variance = _static_values(variance)
        self.invert = bool(invert)
        self.mean = self.variance = self.count = None

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
            "axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis,
            "mean": _to_list(self.input_mean),
            "variance": _to_list(self.input_variance),
            "invert": self.invert,
        }

    # ------------------------------------------------------------------- shapes
    @property
    def _axes(self) -> tuple:
        if self.axis is None:
            return ()
        return (self.axis,) if isinstance(self.axis, int) else tuple(self.axis)

    def _keep_axes(self, shape) -> tuple[int, ...]:
        ndim = len(shape)
        for a in self._axes:
            if not -ndim <= a < ndim:
                raise ValueError(
                    f"{describe(self)}: axis {a} is out of range for inputs of rank {ndim}. "
                    f"Received: input_shape={tuple(shape)}"
                )
        return tuple(sorted({a % ndim for a in self._axes}))

    def _stats_shape(self, shape) -> tuple[int, ...]:
        keep = self._keep_axes(shape)
        stats_shape = tuple(shape[a] for a in keep)
        if any(d is None for d in stats_shape):
            raise ValueError(
                f"{describe(self)} needs the sizes of the kept axes {self._axes} to be known. "
                f"Received: input_shape={tuple(shape)}"
            )
        return stats_shape

    def _given(self, shape):
        """The given mean and variance broadcast to `shape` with reduced axes of size 1."""
        keep = self._keep_axes(shape)
        target = tuple(shape[d] if d in keep else 1 for d in range(len(shape)))
        out = []
        for value in (self.input_mean, self.input_variance):
            value = np.asarray(value, dtype=np.float64)
            if value.ndim:  # align the given dims with the kept axes from the right
                expanded = [1] * len(shape)
                for i in range(1, value.ndim + 1):
                    expanded[keep[-i]] = value.shape[-i]
                value = value.reshape(expanded)
            try:
                out.append(np.broadcast_to(value, target))
            except ValueError:
                raise ValueError(
                    f"{describe(self)}: the given mean/variance of shape {value.shape} do not "
                    f"broadcast to the kept axes {self._axes} of the input. "
                    f"Received: input_shape={tuple(shape)}"
                ) from None
        return out

    def create_weights(self, input_shape, key):
        stats_shape = self._stats_shape(input_shape)
        if self.input_mean is not None:
            self._given(input_shape)  # checks that the values broadcast
            return {}
        return {
            "mean": jnp.zeros(stats_shape, self.dtype),
            "variance": jnp.ones(stats_shape, self.dtype),
            "count": jnp.zeros((), jnp.int32),
        }

    # -------------------------------------------------------------------- calls
    def __call__(self, x: Array) -> Array:
        x = jnp.asarray(x).astype(self.compute_dtype)
        keep = self._keep_axes(x.shape)
        if self.input_mean is not None:
            mean, variance = (jnp.asarray(v, self.compute_dtype) for v in self._given(x.shape))
        else:
            expected = tuple(x.shape[a] for a in keep)
            if tuple(self.mean.shape) != expected:
                raise ValueError(
                    f"{describe(self)} was built (or adapted) for size {tuple(self.mean.shape)} "
                    f"on axis {self.axis}. Received: x.shape={tuple(x.shape)}"
                )
            target = tuple(x.shape[d] if d in keep else 1 for d in range(x.ndim))
            mean = self.mean.astype(self.compute_dtype).reshape(target)
            variance = self.variance.astype(self.compute_dtype).reshape(target)
        std = jnp.maximum(jnp.sqrt(variance), jnp.asarray(EPSILON, self.compute_dtype))
        if self.invert:
            return mean + x * std
        return (x - mean) / std

    # -------------------------------------------------------------------- adapt
    def adapt(self, data, batch_size: int | None = None) -> Normalization:
        """A built copy holding the mean and variance of `data` over all axes but `axis`.

        `data` is an array (NumPy or JAX) or an iterable of batches (a list, a generator;
        `(x, y)` batches use `x`). `batch_size` streams a large array in chunks. The
        statistics are computed in float64 and merged across batches with Chan's parallel
        formula, so they match a single pass over all the data; the variance is the
        population variance (`np.var`), as in Keras.

        ```python
        layer = fk.layers.Normalization(axis=-1).adapt(x_train)
        ```
        """
        if self.input_mean is not None:
            raise ValueError(
                f"{describe(self)} was given `mean` and `variance`; `adapt` computes them "
                "from data instead. Create the layer without them to adapt it. "
                f"Received: mean={_to_list(self.input_mean)!r}"
            )
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0
        ):
            raise ValueError(
                f"{describe(self)}.adapt expects a positive integer `batch_size`. "
                f"Received: batch_size={batch_size!r}"
            )
        batches = self._batches(data, batch_size)
        first = next(batches, None)
        if first is None:
            raise ValueError(
                f"{describe(self)}.adapt received no data (an empty iterable). Pass an array "
                "or an iterable of batches. Received: data with no batches"
            )
        layer = self if self.built else self.build(first.shape)
        expected = tuple(layer.mean.shape)
        mean = m2 = None
        n = 0
        for batch in _chain(first, batches):
            stats_shape = self._stats_shape(batch.shape)
            if stats_shape != expected:
                raise ValueError(
                    f"{describe(self)}.adapt: a batch has size {stats_shape} on axis "
                    f"{self.axis}, the layer expects {expected}. "
                    f"Received: batch.shape={tuple(batch.shape)}"
                )
            keep = self._keep_axes(batch.shape)
            reduce = tuple(d for d in range(batch.ndim) if d not in keep)
            b = np.asarray(batch, dtype=np.float64)
            b_n = math.prod(b.shape[d] for d in reduce)
            if b_n == 0:
                continue
            b_mean = b.mean(axis=reduce)
            b_m2 = ((b - b.mean(axis=reduce, keepdims=True)) ** 2).sum(axis=reduce)
            if mean is None:
                mean, m2, n = b_mean, b_m2, b_n
                continue
            total = n + b_n
            delta = b_mean - mean
            mean = mean + delta * (b_n / total)
            m2 = m2 + b_m2 + delta**2 * (n * b_n / total)
            n = total
        if mean is None:
            raise ValueError(
                f"{describe(self)}.adapt received only empty batches. "
                f"Received: first batch shape {tuple(first.shape)}"
            )
        return layer._replace(
            mean=jnp.asarray(mean, layer.dtype),
            variance=jnp.asarray(m2 / n, layer.dtype),
        )

    def _batches(self, data, batch_size):
        """An iterator of arrays (each with `.shape` and `.ndim`) from `data`."""
        if isinstance(data, (np.ndarray, jax.Array)):
            if batch_size is None or data.ndim == 0:
                yield data
                return
            for start in range(0, data.shape[0], batch_size):
                yield data[start : start + batch_size]
            return
        if not hasattr(data, "__iter__"):
            raise TypeError(
                f"{describe(self)}.adapt expects a NumPy or JAX array or an iterable of "
                f"batches. Received: data of type {type(data).__name__}"
            )
        for batch in data:
            if isinstance(batch, tuple):  # (x, y) or (x, y, sample_weight)
                batch = batch[0]
            if not hasattr(batch, "shape"):
                raise TypeError(
                    f"{describe(self)}.adapt expects every batch to be an array with a "
                    f"`.shape`. Received: a batch of type {type(batch).__name__}"
                )
            batch = np.asarray(batch) if not isinstance(batch, jax.Array) else batch
            if batch_size is None:
                yield batch
            else:
                for start in range(0, batch.shape[0], batch_size):
                    yield batch[start : start + batch_size]


def _chain(first, rest):
    yield first
    yield from rest
