"""What the fully-connected recurrent cells and layers share: their arguments, their three
weights (`kernel`, `recurrent_kernel`, `bias`, Keras' names and layouts) and their dropout
masks. `SimpleRNNCell`/`LSTMCell`/`GRUCell` and `SimpleRNN`/`LSTM`/`GRU` both derive from
`DenseRecurrentBase`, so a layer and its cell hold the same fields and run the same step."""

from __future__ import annotations

from typing import Any, ClassVar

import jax
from jaxtyping import Array, PRNGKeyArray

from ... import activations, constraints, initializers, regularizers
from ...core.errors import describe
from ...core.layer import Layer, static
from .loop import draw_dropout_masks


def check_rate(owner: str, name: str, rate) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ValueError(
            f"{owner} expects `{name}` to be a float in [0, 1]. Received: {name}={rate!r}"
        )
    return float(rate)


def init_recurrent_args(layer: Layer, args: dict) -> str:
    """Validate and store the arguments every recurrent cell and layer takes (activations,
    bias, initializers, regularizers, constraints, dropout rates, seed); returns the owner
    text for error messages. Arguments missing from `args` (a cell has no
    `activity_regularizer`) are set to None."""
    owner = describe(layer)
    for act_name in ("activation", "recurrent_activation"):
        if act_name in args:
            activations.get(args[act_name], owner=owner)
            setattr(layer, act_name, "linear" if args[act_name] is None else args[act_name])
    layer.use_bias = bool(args["use_bias"])
    for kind, module in (
        ("initializer", initializers),
        ("regularizer", regularizers),
        ("constraint", constraints),
    ):
        for prefix in ("kernel", "recurrent", "bias", "activity"):
            arg = f"{prefix}_{kind}"
            if arg in args:
                setattr(layer, arg, module.get(args[arg], owner=owner))
    if "activity_regularizer" not in args:  # cells take none (Keras)
        layer.activity_regularizer = None
    layer.dropout = check_rate(owner, "dropout", args["dropout"])
    layer.recurrent_dropout = check_rate(owner, "recurrent_dropout", args["recurrent_dropout"])
    layer.seed = args["seed"]
    return owner


class DenseRecurrentBase(Layer):
    """Fields, weights and dropout shared by the dense recurrent cells and layers (not a
    layer by itself). Subclasses set `_gates` and `_num_states` and may override
    `_make_bias`."""

    _gates: ClassVar[int] = 1
    _num_states: ClassVar[int] = 1

    units: int = static()
    activation: Any = static()
    use_bias: bool = static()
    kernel_initializer: Any = static()
    recurrent_initializer: Any = static()
    bias_initializer: Any = static()
    kernel_regularizer: Any = static()
    recurrent_regularizer: Any = static()
    bias_regularizer: Any = static()
    activity_regularizer: Any = static()
    kernel_constraint: Any = static()
    recurrent_constraint: Any = static()
    bias_constraint: Any = static()
    dropout: float = static()
    recurrent_dropout: float = static()
    seed: int | None = static()
    kernel: Array | None
    recurrent_kernel: Array | None
    bias: Array | None

    def _init_dense_recurrent(self, args: dict) -> str:
        owner = describe(self)
        units = args["units"]
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(
                f"{owner} expects a positive integer `units`. Received: units={units!r}"
            )
        self.units = units
        init_recurrent_args(self, args)
        self.kernel = self.recurrent_kernel = self.bias = None
        return owner

    # The base's generic regularizer/constraint lookup uses `<weight>_regularizer`; Keras names
    # the recurrent kernel's arguments `recurrent_regularizer`/`recurrent_constraint`.
    @property
    def recurrent_kernel_regularizer(self):
        return self.recurrent_regularizer

    @property
    def recurrent_kernel_constraint(self):
        return self.recurrent_constraint

    def _make_bias(self, key: PRNGKeyArray) -> Array:
        return self.bias_initializer(key, (self._gates * self.units,), self.dtype)

    def _make_weights(self, features: int, key: PRNGKeyArray) -> dict[str, Array | None]:
        k_kernel, k_recurrent, k_bias = jax.random.split(key, 3)
        width = self._gates * self.units
        return {
            "kernel": self.kernel_initializer(k_kernel, (features, width), self.dtype),
            "recurrent_kernel": self.recurrent_initializer(
                k_recurrent, (self.units, width), self.dtype
            ),
            "bias": self._make_bias(k_bias) if self.use_bias else None,
        }

    def _masks_for(self, batch: int, features: int, dtype, training: bool, key):
        """One set of dropout masks for a sequence: `(count, batch, features)` and
        `(count, batch, units)`; Keras draws one mask per gate when `recurrent_dropout` is set
        (implementation 1), else one."""
        count = self._gates if self.recurrent_dropout != 0.0 and self._gates > 1 else 1
        return draw_dropout_masks(
            self,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            seed=self.seed,
            count=count,
            input_shape=(batch, features),
            state_shape=(batch, self.units),
            dtype=dtype,
            training=training,
            key=key,
        )

    def _step(self, x_t, states, dp, rec):
        """`(output, new_states)` for one timestep; `states` is a tuple."""
        raise NotImplementedError
