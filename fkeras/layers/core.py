"""Core layers: Input/InputLayer, Dense, Identity."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .. import activations, constraints, initializers, regularizers
from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import register_serializable
from ..core.shapes import TensorSpec, normalize_shape
from ..core.symbolic import Node, SymbolicTensor

_register = register_serializable(package="fkeras")


@_register
class InputLayer(Layer):
    """The layer behind `fk.Input`: it marks a model input and passes it through."""

    shape: tuple = static()
    has_weights = False

    def __init__(self, shape, *, name: str | None = None, dtype="float32", trainable: bool = True):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.shape = normalize_shape(shape)

    def __call__(self, x):
        return x


def Input(shape, batch_size: int | None = None, dtype="float32", name: str | None = None):
    """A symbolic input, the start of a `Sequential` or functional `Model`.

    **Arguments:**

    - `shape`: the shape of one example, without the batch dimension, e.g. `(784,)`.
    - `batch_size`: a fixed batch size, or `None` (any).
    - `dtype`: the input dtype.
    - `name`: the input's name (keys of dict inputs); unique names are chosen otherwise.

    **Returns:** a `SymbolicTensor` of shape `(batch_size, *shape)`.

    ```python
    inputs = fk.Input((784,))
    outputs = fk.layers.Dense(10)(inputs)
    model = fk.Model(inputs, outputs)
    ```
    """
    if isinstance(shape, int):
        shape = (shape,)
    try:
        full_shape = normalize_shape((batch_size, *shape))
    except TypeError:
        raise TypeError(
            f"fk.Input expects shape as a tuple of ints (without the batch dimension). "
            f"Received: shape={shape!r}"
        ) from None
    layer = InputLayer(full_shape, name=name, dtype=dtype)
    node = Node(layer, None, None)
    tensor = SymbolicTensor(TensorSpec(full_shape, jnp.dtype(dtype)), node, 0)
    node.outputs = tensor
    return tensor


@_register
class Dense(Layer):
    """Densely connected layer: `activation(x @ kernel + bias)` on the last axis.

    **Arguments:**

    - `units`: the output dimension.
    - `activation`: a Keras activation name or a callable; `None` means linear.
    - `use_bias`: whether to add `bias`.
    - `kernel_initializer`, `bias_initializer`: Keras initializer names or objects.
    - `kernel_regularizer`, `bias_regularizer`, `activity_regularizer`: penalties added to the
      training loss (`"l2"`, `fk.regularizers.L1L2(...)`).
    - `kernel_constraint`, `bias_constraint`: projections applied after each update
      (`fk.constraints.MaxNorm(3)`).

    **Weights:** `kernel` of shape `(input_dim, units)`, `bias` of shape `(units,)`.

    ```python
    layer = fk.layers.Dense(64, activation="relu").build((None, 16), key=jax.random.key(0))
    y = layer(jnp.ones((8, 16)))  # (8, 64)
    ```
    """

    supports_masking = True

    units: int = static()
    activation: Any = static()
    use_bias: bool = static()
    kernel_initializer: Any = static()
    bias_initializer: Any = static()
    kernel_regularizer: Any = static()
    bias_regularizer: Any = static()
    activity_regularizer: Any = static()
    kernel_constraint: Any = static()
    bias_constraint: Any = static()
    kernel: Array | None
    bias: Array | None

    def __init__(
        self,
        units: int,
        activation=None,
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(
                f"{describe(self)} expects a positive integer `units`. Received: units={units!r}"
            )
        owner = describe(self)
        activations.get(activation, owner=owner)
        self.units = units
        self.activation = "linear" if activation is None else activation
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer, owner=owner)
        self.bias_initializer = initializers.get(bias_initializer, owner=owner)
        self.kernel_regularizer = regularizers.get(kernel_regularizer, owner=owner)
        self.bias_regularizer = regularizers.get(bias_regularizer, owner=owner)
        self.activity_regularizer = regularizers.get(activity_regularizer, owner=owner)
        self.kernel_constraint = constraints.get(kernel_constraint, owner=owner)
        self.bias_constraint = constraints.get(bias_constraint, owner=owner)
        self.kernel = None
        self.bias = None

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict[str, Array | None]:
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(
                f"{describe(self)} needs inputs whose last dimension is known. "
                f"Received: input_shape={input_shape}"
            )
        kernel_key, bias_key = jax.random.split(key)
        kernel = self.kernel_initializer(kernel_key, (input_shape[-1], self.units), self.dtype)
        bias = self.bias_initializer(bias_key, (self.units,), self.dtype) if self.use_bias else None
        return {"kernel": kernel, "bias": bias}

    def __call__(self, x: Array, *, training: bool = False, key=None) -> Array:
        self._check_last_dim(x, self.kernel.shape[0])
        y = jnp.matmul(x, self.kernel)
        if self.bias is not None:
            y = y + self.bias
        return activations.get(self.activation)(y)


@_register
class Identity(Layer):
    """Returns its input unchanged (Keras' `Identity`)."""

    supports_masking = True

    has_weights = False

    def __call__(self, x):
        return x


@_register
class Masking(Layer):
    """Masks timesteps whose features all equal `mask_value` (Keras' `Masking`): their
    outputs are zeroed and later mask-aware layers (recurrent, attention, pooling) skip them.

    **Arguments:** `mask_value`: the value that marks padding (default 0.0).

    **Input:** `(batch, timesteps, features)`; the mask is `(batch, timesteps)`.
    """

    mask_value: float = static()
    has_weights = False
    supports_masking = True

    def __init__(self, mask_value: float = 0.0, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.mask_value = float(mask_value)

    def __call__(self, x: Array) -> Array:
        keep = jnp.any(x != self.mask_value, axis=-1, keepdims=True)
        return x * keep.astype(x.dtype)

    def compute_mask(self, inputs, mask=None):
        return jnp.any(inputs != self.mask_value, axis=-1)
