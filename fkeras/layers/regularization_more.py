"""More regularization layers: SpatialDropout1D/2D/3D, GaussianDropout, GaussianNoise,
AlphaDropout and ActivityRegularization (Keras formulas and defaults).

The random layers are the identity in inference; in training they draw their noise from the
`key=` argument only (`layer(x, training=True, key=jax.random.key(step))`).
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .. import regularizers
from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import register_serializable

_register = register_serializable(package="fkeras")

# SELU's constants, as Keras' AlphaDropout writes them.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _check_unit_interval(layer, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(
            f"{describe(layer)} expects `{name}` to be a float in [0, 1]. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def _check_seed(layer, seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(
            f"{describe(layer)} expects `seed` to be an int or None. Received: {seed!r}"
        )
    return seed


class _RandomLayer(Layer):
    """Shared parts of the weightless random layers: the key check and `seed` folding."""

    supports_masking = True
    has_weights = False

    def _training_key(self, key: PRNGKeyArray | None, seed: int | None) -> PRNGKeyArray:
        if key is None:
            raise ValueError(
                f"{describe(self)} needs a PRNG key in training mode. Call the model as "
                "`model(x, training=True, key=jax.random.key(step))` (the trainer does this for "
                "you). Received: key=None"
            )
        return key if seed is None else jax.random.fold_in(key, seed)

    def _undefined_at_rate_one(self, rate: float) -> None:
        if rate == 1.0:
            raise ValueError(
                f"{describe(self)}: rate=1 makes the noise scale infinite (Keras divides by "
                "1 - rate); use a rate below 1 in training. Received: rate=1.0"
            )


class _SpatialDropout(_RandomLayer):
    rate: float = static()
    seed: int | None = static()
    _rank: ClassVar[int] = 0  # the inputs' rank, batch included

    def _check_rank(self, x) -> None:
        if x.ndim != self._rank:
            spatial = ", ".join(["batch", *[f"dim{i + 1}" for i in range(self._rank - 2)]])
            raise ValueError(
                f"{describe(self)} expects {self._rank}D inputs ({spatial}, channels). "
                f"Received: input_shape={tuple(x.shape)}"
            )

    def __call__(self, x: Array, *, training: bool = False, key: PRNGKeyArray | None = None):
        self._check_rank(x)
        if not training or self.rate == 0.0:
            return x
        key = self._training_key(key, self.seed)
        if self.rate == 1.0:
            return jnp.zeros_like(x)
        # One keep/drop draw per (example, channel), shared over the spatial positions.
        noise_shape = (x.shape[0], *([1] * (x.ndim - 2)), x.shape[-1])
        keep = jax.random.bernoulli(key, 1.0 - self.rate, noise_shape)
        return jnp.where(keep, x / (1.0 - self.rate), jnp.zeros((), x.dtype))


def _check_data_format(layer, data_format) -> str:
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"{describe(layer)} supports only data_format='channels_last' (channels on the last "
            f"axis; transpose channels_first data first). Received: data_format={data_format!r}"
        )
    return "channels_last"


_SPATIAL_DOC = """Drops whole {n}D feature maps (channels) in training; the identity in inference.

    In training, each channel of each example is either zeroed at every {where} (with
    probability `rate`) or kept and scaled by `1 / (1 - rate)`. Use it after convolutions, where
    neighbouring positions are correlated and element-wise Dropout regularizes little.

    **Arguments:**

    - `rate`: the fraction of channels to drop, in `[0, 1]`.{data_format}
    - `seed`: folded into the key; randomness comes from `key=`.

    **Input/Output shapes:** `{shape}`; the output has the input's shape.

    ```python
    layer = fk.layers.SpatialDropout{n}D(0.2)
    y = layer(x, training=True, key=jax.random.key(0))
    ```
    """
_DATA_FORMAT_DOC = (
    "\n    - `data_format`: `'channels_last'` (or None); `'channels_first'` is not supported."
)


@_register
class SpatialDropout1D(_SpatialDropout):
    __doc__ = _SPATIAL_DOC.format(
        n=1, where="timestep", data_format="", shape="(batch, timesteps, channels)"
    )
    _rank: ClassVar[int] = 3

    def __init__(self, rate: float, seed=None, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.rate = _check_unit_interval(self, "rate", rate)
        self.seed = _check_seed(self, seed)


@_register
class SpatialDropout2D(_SpatialDropout):
    __doc__ = _SPATIAL_DOC.format(
        n=2, where="pixel", data_format=_DATA_FORMAT_DOC, shape="(batch, rows, cols, channels)"
    )
    data_format: str = static()
    _rank: ClassVar[int] = 4

    def __init__(
        self,
        rate: float,
        data_format=None,
        seed=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.rate = _check_unit_interval(self, "rate", rate)
        self.data_format = _check_data_format(self, data_format)
        self.seed = _check_seed(self, seed)


@_register
class SpatialDropout3D(_SpatialDropout):
    __doc__ = _SPATIAL_DOC.format(
        n=3,
        where="voxel",
        data_format=_DATA_FORMAT_DOC,
        shape="(batch, dim1, dim2, dim3, channels)",
    )
    data_format: str = static()
    _rank: ClassVar[int] = 5

    def __init__(
        self,
        rate: float,
        data_format=None,
        seed=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.rate = _check_unit_interval(self, "rate", rate)
        self.data_format = _check_data_format(self, data_format)
        self.seed = _check_seed(self, seed)


@_register
class GaussianDropout(_RandomLayer):
    """Multiplicative Gaussian noise centered on 1 in training; the identity in inference.

    In training, `x * n` with `n ~ N(1, rate / (1 - rate))` (standard deviation
    `sqrt(rate / (1 - rate))`, the variance that Dropout at `rate` would add).

    **Arguments:**

    - `rate`: as for Dropout, in `[0, 1)` for training (1 is accepted, but not in training).
    - `seed`: folded into the key; randomness comes from `key=`.

    **Input/Output shapes:** any; the output has the input's shape.

    ```python
    y = fk.layers.GaussianDropout(0.1)(x, training=True, key=jax.random.key(0))
    ```
    """

    rate: float = static()
    seed: int | None = static()

    def __init__(self, rate: float, seed=None, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.rate = _check_unit_interval(self, "rate", rate)
        self.seed = _check_seed(self, seed)

    def __call__(self, x: Array, *, training: bool = False, key: PRNGKeyArray | None = None):
        if not training or self.rate == 0.0:
            return x
        key = self._training_key(key, self.seed)
        self._undefined_at_rate_one(self.rate)
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return x * (1.0 + stddev * jax.random.normal(key, x.shape, x.dtype))


@_register
class GaussianNoise(_RandomLayer):
    """Additive zero-centered Gaussian noise in training; the identity in inference.

    In training, `x + n` with `n ~ N(0, stddev**2)`: data augmentation for real-valued inputs.

    **Arguments:**

    - `stddev`: the noise's standard deviation, in `[0, 1]` (Keras' bound).
    - `seed`: folded into the key; randomness comes from `key=`.

    **Input/Output shapes:** any; the output has the input's shape.

    ```python
    y = fk.layers.GaussianNoise(0.1)(x, training=True, key=jax.random.key(0))
    ```
    """

    stddev: float = static()
    seed: int | None = static()

    def __init__(self, stddev: float, seed=None, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.stddev = _check_unit_interval(self, "stddev", stddev)
        self.seed = _check_seed(self, seed)

    def __call__(self, x: Array, *, training: bool = False, key: PRNGKeyArray | None = None):
        if not training or self.stddev == 0.0:
            return x
        key = self._training_key(key, self.seed)
        return x + self.stddev * jax.random.normal(key, x.shape, x.dtype)


@_register
class AlphaDropout(_RandomLayer):
    """Dropout for SELU networks: keeps inputs' mean and variance (Klambauer et al., 2017).

    In training, each dropped entry is set to SELU's saturation value
    `alpha_p = -alpha * scale`, and the result is mapped to `a * x + b` with
    `a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5` and `b = -a * alpha_p * rate`, so inputs
    with zero mean and unit variance keep them. The identity in inference.

    **Arguments:**

    - `rate`: the fraction to drop, in `[0, 1)` for training (1 is accepted, but not in training).
    - `noise_shape`: the shape of the keep mask, broadcast against the input; `None` entries take
      the input's size.
    - `seed`: folded into the key; randomness comes from `key=`.

    **Input/Output shapes:** any; the output has the input's shape.

    ```python
    y = fk.layers.AlphaDropout(0.1)(x, training=True, key=jax.random.key(0))
    ```
    """

    rate: float = static()
    noise_shape: tuple | None = static()
    seed: int | None = static()

    def __init__(
        self,
        rate: float,
        noise_shape=None,
        seed=None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.rate = _check_unit_interval(self, "rate", rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = _check_seed(self, seed)

    def _mask_shape(self, x) -> tuple[int, ...]:
        if self.noise_shape is None:
            return tuple(x.shape)
        if len(self.noise_shape) != x.ndim:
            raise ValueError(
                f"{describe(self)} expects `noise_shape` of the inputs' rank ({x.ndim}). "
                f"Received: noise_shape={self.noise_shape}, input_shape={tuple(x.shape)}"
            )
        return tuple(d if n is None else n for n, d in zip(self.noise_shape, x.shape))

    def __call__(self, x: Array, *, training: bool = False, key: PRNGKeyArray | None = None):
        if not training or self.rate == 0.0:
            return x
        key = self._training_key(key, self.seed)
        self._undefined_at_rate_one(self.rate)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        kept = (jax.random.uniform(key, self._mask_shape(x)) >= self.rate).astype(x.dtype)
        a = ((1 - self.rate) * (1 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        return a * (x * kept + alpha_p * (1 - kept)) + b


@_register
class ActivityRegularization(Layer):
    """The identity, adding an L1/L2 penalty on its inputs to the training loss.

    The penalty is `(l1 * sum(|x|) + l2 * sum(x**2)) / batch_size`: as in Keras, the layer's
    `activity_regularizer` is `L1L2(l1, l2)`, which models apply whenever they call the layer
    (`fk.core.collect.collect_losses()` gathers it; the trainer adds it to the loss).

    **Arguments:** `l1`, `l2`: non-negative factors (default 0.0).

    **Input/Output shapes:** any; the output has the input's shape.

    ```python
    model = fk.Sequential(
        [fk.Input((8,)), fk.layers.Dense(4), fk.layers.ActivityRegularization(l2=1e-3)]
    )
    ```
    """

    supports_masking = True
    has_weights = False

    l1: float = static()
    l2: float = static()
    activity_regularizer: regularizers.L1L2 = static()

    def __init__(self, l1: float = 0.0, l2: float = 0.0, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        for arg, value in (("l1", l1), ("l2", l2)):
            bad = isinstance(value, bool) or not isinstance(value, (int, float))
            if bad or not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"{owner} expects `{arg}` to be a non-negative float. Received: {arg}={value!r}"
                )
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.activity_regularizer = regularizers.L1L2(l1=self.l1, l2=self.l2)

    def __call__(self, x: Array) -> Array:
        return x
