"""TimeDistributed: one layer applied to every timestep (Keras 3)."""

from __future__ import annotations

import jax
from jaxtyping import Array, PRNGKeyArray

from ...core.errors import describe
from ...core.layer import Layer, StatefulLayer
from ...core.registry import deserialize, register_serializable


@register_serializable(package="fkeras")
class TimeDistributed(StatefulLayer):
    """Applies `layer` to every timestep of a `(batch, timesteps, ...)` input (Keras 3's
    `TimeDistributed`): the inner layer sees `(batch, ...)` slices and is built for
    `(batch, *input_shape[2:])`; the same weights serve every timestep.

    The timesteps are folded into the batch (`(batch * timesteps, ...)`), so one call of the
    inner layer does all steps. A BatchNormalization inside therefore normalizes over batch
    and time together (Keras calls it once per timestep).

    **Arguments:** `layer`: an fkeras layer.

    **Weights:** the inner layer's. **Mask:** passed on unchanged (and to the inner layer,
    folded like the input, when its call takes one).

    ```python
    td = fk.layers.TimeDistributed(fk.layers.Dense(8)).build((None, 10, 16))
    y = td(jnp.ones((4, 10, 16)))  # (4, 10, 8)
    ```
    """

    supports_masking = True

    layer: Layer

    def __init__(self, layer, *, name: str | None = None, trainable: bool = True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        if not isinstance(layer, Layer):
            raise ValueError(
                f"{describe(self)} expects an fkeras layer to apply to each timestep. "
                f"Received: layer={layer!r}"
            )
        self.layer = layer

    def _check_rank(self, shape) -> None:
        if len(shape) < 3:
            raise ValueError(
                f"{describe(self)} expects inputs of rank >= 3 (batch, timesteps, ...). "
                f"Received: input_shape={tuple(shape)}"
            )

    def create_weights(self, input_shape, key: PRNGKeyArray):
        self._check_rank(input_shape)
        return {"layer": self.layer.build((input_shape[0], *input_shape[2:]), key)}

    def apply(self, inputs: Array, *, training: bool = False, key=None, mask=None):
        self._check_rank(inputs.shape)
        batch, steps = inputs.shape[:2]
        flat = inputs.reshape(batch * steps, *inputs.shape[2:])
        inner_mask = None
        if mask is not None and mask.ndim >= 2:
            inner_mask = mask.reshape(batch * steps, *mask.shape[2:])
        y, _, layer = self.layer.apply_masked(flat, training=training, key=key, mask=inner_mask)
        y = jax.tree_util.tree_map(lambda a: a.reshape(batch, steps, *a.shape[1:]), y)
        return y, self._replace(layer=layer)

    def compute_mask(self, inputs, mask=None):
        return mask

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config["layer"] = deserialize(config["layer"], expected=Layer)
        return cls(**config)
