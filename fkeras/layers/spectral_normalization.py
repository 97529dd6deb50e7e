"""SpectralNormalization: a wrapper that divides a layer's kernel by its spectral norm."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .. import initializers
from ..core import tree as _tree
from ..core.errors import describe
from ..core.layer import Layer, StatefulLayer, state_field, static
from ..core.registry import deserialize, register_serializable

_register = register_serializable(package="fkeras")

# Keras' `normalize(x, axis=None)`: x * min(rsqrt(sum(x**2)), 1 / epsilon), epsilon 1e-7.
_EPSILON = 1e-7


def _l2_normalize(x: Array) -> Array:
    inv_norm = jnp.minimum(jax.lax.rsqrt(jnp.sum(jnp.square(x))), 1.0 / _EPSILON)
    return x * inv_norm


@_register
class SpectralNormalization(StatefulLayer):
    """Spectral normalization of a wrapped layer's kernel (Keras 3's `SpectralNormalization`).

    In training mode (`apply(x, training=True)`) it runs `power_iterations` steps of power
    iteration from the state `vector_u`, divides the inner layer's `kernel` (or an
    `Embedding`'s `embeddings`) by the estimated largest singular value, calls the layer with
    it, and returns a layer holding the new `vector_u` and the normalized kernel, as Keras
    assigns both. A trainer keeps the new `vector_u` (state); the kernel parameter is the
    optimizer's, so its gradient flows through the division. In inference mode the inner
    layer runs with its kernel as stored (Keras does the same). An all-zero kernel is left
    unchanged. Unlike Keras, outputs are not cast to the input dtype (Keras turns an
    `Embedding`'s float outputs into the integer ids' dtype).

    **Arguments:**

    - `layer`: an fkeras layer with a `kernel` or `embeddings` weight (`Dense`, `Conv2D`, ...).
    - `power_iterations`: the number of power-iteration steps per training call (> 0).

    **Weights:** the inner layer's, then the non-trainable `vector_u` of shape
    `(1, kernel.shape[-1])`.

    ```python
    sn = fk.layers.SpectralNormalization(fk.layers.Dense(8)).build((None, 4))
    y, sn = sn.apply(jnp.ones((2, 4)), training=True)
    ```
    """

    # The power iteration runs in the weights' float32; the inner layer casts for itself.
    _autocast_weights = False

    power_iterations: int = static()
    layer: Layer
    vector_u: Array | None = state_field()

    def __init__(
        self,
        layer: Layer,
        power_iterations: int = 1,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        if not isinstance(layer, Layer):
            raise ValueError(f"{owner} expects an fkeras layer to wrap. Received: layer={layer!r}")
        if (
            isinstance(power_iterations, bool)
            or not isinstance(power_iterations, int)
            or power_iterations <= 0
        ):
            raise ValueError(
                f"{owner}: `power_iterations` should be greater than zero. "
                f"Received: power_iterations={power_iterations!r}"
            )
        self.layer = layer
        self.power_iterations = power_iterations
        self.vector_u = None

    def _kernel_name(self, layer: Layer) -> str:
        for name in ("kernel", "embeddings"):
            if getattr(layer, name, None) is not None:
                return name
        raise ValueError(
            f"{describe(self)}: the wrapped layer has no attribute 'kernel' nor 'embeddings'. "
            f"Received: layer={type(layer).__name__}"
        )

    def create_weights(self, input_shape, key: PRNGKeyArray):
        layer_key, u_key = jax.random.split(key)
        layer = self.layer.build(input_shape, layer_key)
        kernel = getattr(layer, self._kernel_name(layer))
        vector_u = initializers.TruncatedNormal(stddev=0.02)(
            u_key, (1, kernel.shape[-1]), kernel.dtype
        )
        return {"layer": layer, "vector_u": vector_u}

    def normalized_weights(self) -> tuple[Array, Array]:
        """`(new_vector_u, normalized_kernel)` after `power_iterations` steps (Keras' method)."""
        kernel = getattr(self.layer, self._kernel_name(self.layer))
        weights = kernel.reshape(-1, kernel.shape[-1])
        vector_u = self.vector_u.astype(weights.dtype)
        vector_v = None
        for _ in range(self.power_iterations):
            vector_v = _l2_normalize(vector_u @ weights.T)
            vector_u = _l2_normalize(vector_v @ weights)
        vector_u = jax.lax.stop_gradient(vector_u)
        vector_v = jax.lax.stop_gradient(vector_v)
        sigma = (vector_v @ weights) @ vector_u.T
        new_kernel = (kernel / sigma).reshape(kernel.shape)
        # Keras skips the update for an all-zero kernel (sigma would be 0).
        zero = jnp.all(kernel == 0)
        new_u = jnp.where(zero, self.vector_u, vector_u.astype(self.vector_u.dtype))
        new_kernel = jnp.where(zero, kernel, new_kernel.astype(kernel.dtype))
        return new_u, new_kernel

    def apply(self, inputs, *, training: bool = False, key=None):
        if not training:
            y, _ = self.layer.apply(inputs, training=False, key=key)
            return y, self
        new_u, new_kernel = self.normalized_weights()
        layer = self.layer._replace(**{self._kernel_name(self.layer): new_kernel})
        y, layer = layer.apply(inputs, training=True, key=key)
        return y, self._replace(layer=layer, vector_u=new_u)

    # Keras' weight order: Keras' wrapper tracks the inner kernel as its own weight, so it
    # lists `kernel`, then `vector_u`, then the inner layer's other weights.
    def _keras_permutation(self) -> list[int]:
        """Indices into the generic order (`vector_u`, inner weights) giving Keras' order."""
        generic = _tree.keras_ordered_weights(self)
        if not self.built:
            return list(range(len(generic)))
        kernel = getattr(self.layer, self._kernel_name(self.layer))
        u_pos = next(i for i, w in enumerate(generic) if w is self.vector_u)
        k_pos = next(i for i, w in enumerate(generic) if w is kernel)
        rest = [i for i in range(len(generic)) if i not in (u_pos, k_pos)]
        return [k_pos, u_pos, *rest]

    @property
    def weights(self) -> list[Array]:
        generic = _tree.keras_ordered_weights(self)
        return [generic[i] for i in self._keras_permutation()]

    def set_weights(self, weights):
        weights = list(weights)
        perm = self._keras_permutation()
        if len(weights) != len(perm):
            return super().set_weights(weights)  # the base raises the clear length error
        generic = [None] * len(perm)
        for i, w in zip(perm, weights):
            generic[i] = w
        return super().set_weights(generic)

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config["layer"] = deserialize(config["layer"], expected=Layer)
        return cls(**config)
