"""Bidirectional: a recurrent layer run forwards and backwards, outputs merged (Keras 3)."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import deserialize, register_serializable, serialize
from .loop import sequence_shape, split_inputs

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _snake(name: str) -> str:
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _renamed(layer: Layer, prefix: str, **changes) -> Layer:
    """An unbuilt copy of `layer` (from its config) named `prefix + name`, as Keras does."""
    base = layer.name or _snake(type(layer).__name__)
    config = dict(layer.get_config(), **changes)
    config["name"] = prefix + base.removeprefix(prefix)
    return type(layer).from_config(config)


@register_serializable(package="fkeras")
class Bidirectional(Layer):
    """Runs a recurrent layer over the sequence forwards and a copy backwards, then merges the
    two outputs (Keras 3's `Bidirectional`).

    **Arguments:**

    - `layer`: an `LSTM`, `GRU` or `SimpleRNN` (the forward layer; an unbuilt copy named
      `forward_<name>` is used, as in Keras).
    - `merge_mode`: `"concat"` (default), `"sum"`, `"mul"`, `"ave"`, or `None` for the list
      `[forward_output, backward_output]`.
    - `weights`: not supported (build, then `set_weights`); must be None.
    - `backward_layer`: the backward layer; by default a copy of `layer` with
      `go_backwards=True`, named `backward_<name>`.

    With `return_sequences`, the backward outputs are flipped back to the input's time order
    before merging, and masked timesteps output zeros (Keras forces `zero_output_for_mask`).

    **Weights:** the forward layer's, then the backward layer's (Keras' order).

    **Call:** `layer(x, initial_state=[*forward_states, *backward_states], training=..., key=...)`.
    **Output:** the merged output; with `return_state` the list
    `[output, *forward_states, *backward_states]` (`[fwd_out, bwd_out, *states]` when
    `merge_mode=None`).

    ```python
    bi = fk.layers.Bidirectional(fk.layers.LSTM(16, return_sequences=True))
    bi = bi.build((None, 10, 8), key=jax.random.key(0))
    y = bi(jnp.ones((4, 10, 8)))  # (4, 10, 32)
    ```
    """

    supports_masking = True

    merge_mode: str | None = static()
    forward_layer: Layer
    backward_layer: Layer

    def __init__(
        self,
        layer,
        merge_mode="concat",
        weights=None,
        backward_layer=None,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        for arg, value in (("layer", layer), ("backward_layer", backward_layer)):
            if value is None and arg == "backward_layer":
                continue
            if not isinstance(value, Layer) or not hasattr(value, "go_backwards"):
                raise ValueError(
                    f"{owner} expects `{arg}` to be a recurrent layer (LSTM, GRU, SimpleRNN). "
                    f"Received: {arg}={value!r}"
                )
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"{owner}: invalid merge_mode. Expected one of "
                f"{{'sum', 'mul', 'ave', 'concat', None}}. Received: merge_mode={merge_mode!r}"
            )
        if weights is not None:
            raise ValueError(
                f"{owner}: initial `weights` are not supported (layers are immutable). Build the "
                "layer, then `layer = layer.set_weights(weights)`. Received: weights=[...]"
            )
        forward = _renamed(layer, "forward_")
        if backward_layer is None:
            backward = _renamed(layer, "backward_", go_backwards=True)
        else:
            backward = backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(
                f"{owner}: the forward and backward layers must have different `go_backwards`. "
                f"Received: forward_layer.go_backwards={forward.go_backwards}, "
                f"backward_layer.go_backwards={backward.go_backwards}"
            )
        for attr in ("stateful", "return_sequences", "return_state"):
            f_value, b_value = getattr(forward, attr), getattr(backward, attr)
            if f_value != b_value:
                raise ValueError(
                    f"{owner}: the forward and backward layers must have the same `{attr}`. "
                    f"Received: {f_value} for the forward layer and {b_value} for the backward "
                    "layer"
                )
        # Keras: masked steps of returned sequences are zeros in both directions.
        self.forward_layer = forward._replace(zero_output_for_mask=forward.return_sequences)
        self.backward_layer = backward._replace(zero_output_for_mask=backward.return_sequences)
        self.merge_mode = merge_mode

    @property
    def return_sequences(self) -> bool:
        return self.forward_layer.return_sequences

    @property
    def return_state(self) -> bool:
        return self.forward_layer.return_state

    def create_weights(self, input_shape, key: PRNGKeyArray):
        shape = sequence_shape(input_shape)
        k_forward, k_backward = jax.random.split(key)
        return {
            "forward_layer": self.forward_layer.build(shape, k_forward),
            "backward_layer": self.backward_layer.build(shape, k_backward),
        }

    def __call__(
        self,
        inputs,
        *,
        initial_state=None,
        training: bool = False,
        key: PRNGKeyArray | None = None,
        mask=None,
    ):
        sequences, initial_state, mask = split_inputs(inputs, initial_state, mask)
        forward_state = backward_state = None
        if initial_state is not None:
            states = list(initial_state)
            half = len(states) // 2
            forward_state, backward_state = states[:half], states[half:]
        k_forward, k_backward = (None, None) if key is None else jax.random.split(key)
        y = self.forward_layer(
            sequences, initial_state=forward_state, training=training, key=k_forward, mask=mask
        )
        y_rev = self.backward_layer(
            sequences, initial_state=backward_state, training=training, key=k_backward, mask=mask
        )
        states = []
        if self.return_state:
            states = [*y[1:], *y_rev[1:]]
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = jnp.flip(y_rev, axis=1)
        if self.merge_mode == "concat":
            output = [jnp.concatenate([y, y_rev], axis=-1)]
        elif self.merge_mode == "sum":
            output = [y + y_rev]
        elif self.merge_mode == "ave":
            output = [(y + y_rev) / 2]
        elif self.merge_mode == "mul":
            output = [y * y_rev]
        else:
            output = [y, y_rev]
        if self.return_state or self.merge_mode is None:
            return output + states
        return output[0]

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out = mask if self.return_sequences else None
        outputs = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            n = self.forward_layer._num_states + self.backward_layer._num_states
            return outputs + [None] * n
        return outputs if self.merge_mode is None else outputs[0]

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
            "layer": serialize(self.forward_layer),
            "merge_mode": self.merge_mode,
            "backward_layer": serialize(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config["layer"] = deserialize(config["layer"], expected=Layer)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize(config["backward_layer"], expected=Layer)
        return cls(**config)
