"""The recurrent cells SimpleRNNCell, LSTMCell and GRUCell (Keras 3): one timestep,
`cell(inputs, states) -> (output, new_states)`, run over a sequence by `fk.layers.RNN(cell)`.
Their step equations are the ones the SimpleRNN, LSTM and GRU layers run (`cell_math`)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from ...core.autocast import cast_own_weights
from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from .cell_math import gru_bias_shape, gru_step, lstm_bias, lstm_step, simple_rnn_step
from .weights import DenseRecurrentBase

CELL_ARGS_DOC = """    - `units`: the size of the output and of each state.
    - `activation`: default `"tanh"`; `None` means linear.
    - `use_bias`: whether the cell has `bias`.
    - `kernel_initializer` (`"glorot_uniform"`), `recurrent_initializer` (`"orthogonal"`),
      `bias_initializer` (`"zeros"`).
    - `kernel_regularizer`, `recurrent_regularizer`, `bias_regularizer`, `kernel_constraint`,
      `recurrent_constraint`, `bias_constraint`: as for `Dense`.
    - `dropout`, `recurrent_dropout`: fractions of the inputs / of the recurrent state dropped
      in training mode (`key=` required). `RNN(cell)` draws the masks once per sequence and
      uses them at every timestep, as Keras does.
    - `seed`: folded into the dropout key."""


def _fill_doc(cls):
    if cls.__doc__:  # None under `python -OO`
        cls.__doc__ = cls.__doc__.replace("    {cell_args}", CELL_ARGS_DOC)
    return cls


class RNNCellBase(DenseRecurrentBase):
    """What the three dense cells share: building from `(batch, features)`, the call
    `cell(inputs, states, training=..., key=...)`, `state_size`, `output_size` and
    `get_initial_state`. Not a layer by itself."""

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict[str, Array | None]:
        shape = tuple(input_shape)
        if len(shape) != 2 or shape[-1] is None:
            raise ValueError(
                f"{describe(self)} expects step inputs of rank 2 (batch, features) with a known "
                "feature dimension; to run it over sequences wrap it: `fk.layers.RNN(cell)`. "
                f"Received: input_shape={shape}"
            )
        return self._make_weights(shape[-1], key)

    @property
    def state_size(self):
        """`units` for a cell with one state, `[units, units]` for LSTMCell (Keras)."""
        return self.units if self._num_states == 1 else [self.units] * self._num_states

    @property
    def output_size(self) -> int:
        return self.units

    def get_initial_state(self, batch_size: int) -> list[Array]:
        """Zero states: a list of `(batch_size, units)` arrays in the compute dtype."""
        return [
            jnp.zeros((batch_size, self.units), self.compute_dtype) for _ in range(self._num_states)
        ]

    def _sequence_step(self, input_shape: tuple, dtype, training: bool, key):
        """The step `RNN` scans: dropout masks drawn once for the whole sequence, weights cast
        to the compute dtype under a mixed policy (as a call of the cell would)."""
        if input_shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"{describe(self)} expects inputs with dimension {self.kernel.shape[0]} on axis "
                f"-1. Received: step input shape {tuple(input_shape)}"
            )
        cell = self
        if self.dtype_policy.is_mixed:
            cell = cast_own_weights(self, self.compute_dtype)
        dp, rec = self._masks_for(input_shape[0], input_shape[-1], dtype, training, key)

        def step(x_t, states):
            out, new_states = cell._step(x_t, tuple(states), dp, rec)
            return out, list(new_states)

        return step

    def __call__(
        self,
        inputs,
        states=None,
        *,
        training: bool = False,
        key: PRNGKeyArray | None = None,
    ):
        """One timestep: `(output, new_states)`.

        `inputs`: `(batch, features)`. `states`: a list of `(batch, units)` arrays (`[h]`, or
        `[h, c]` for LSTMCell), or one array for a single-state cell; zeros when None.
        `new_states` has the form of `states` (a list, or one array), as in Keras.
        """
        if isinstance(inputs, (list, tuple)):  # [x, *states], the form a graph can express
            if states is not None or not inputs:
                raise ValueError(
                    f"{describe(self)}: pass the states either in the input list or as "
                    f"`states`, not both. Received: {len(inputs)} inputs and states"
                )
            inputs, states = inputs[0], list(inputs[1:])
        x = jnp.asarray(inputs)
        if x.ndim != 2:
            raise ValueError(
                f"{describe(self)} expects step inputs of rank 2 (batch, features); to run it "
                f"over sequences use `fk.layers.RNN(cell)`. Received: inputs.shape={x.shape}"
            )
        self._check_last_dim(x, self.kernel.shape[0])
        single = states is not None and not isinstance(states, (list, tuple))
        if states is None:
            states = self.get_initial_state(x.shape[0])
        states = [states] if single else list(states)
        expected = (x.shape[0], self.units)
        shapes = [tuple(jnp.shape(s)) for s in states]
        if len(states) != self._num_states or any(s != expected for s in shapes):
            raise ValueError(
                f"{describe(self)} expects `states` to be {self._num_states} array(s) of shape "
                f"{expected} (batch, units). Received: shapes {shapes}"
            )
        states = tuple(jnp.asarray(s, self.compute_dtype) for s in states)
        dp, rec = self._masks_for(x.shape[0], x.shape[-1], x.dtype, training, key)
        out, new_states = self._step(x, states, dp, rec)
        if single and self._num_states == 1:
            return out, new_states[0]
        return out, list(new_states)


@register_serializable(package="fkeras")
@_fill_doc
class SimpleRNNCell(RNNCellBase):
    """The cell of `SimpleRNN` (Keras 3's `SimpleRNNCell`): `h' = activation(x @ kernel +
    bias + h @ recurrent_kernel)`; the output is `h'`.

    **Arguments:**

    {cell_args}

    **Weights:** `kernel` `(features, units)`, `recurrent_kernel` `(units, units)`, `bias`
    `(units,)`. **States:** `[h]` (`state_size = units`).

    **Call:** `cell(x, states, training=False, key=None) -> (output, new_states)`, `x` of shape
    `(batch, features)`.

    ```python
    cell = fk.layers.SimpleRNNCell(4).build((None, 8), key=jax.random.key(0))
    y, [h] = cell(jnp.ones((2, 8)), [jnp.zeros((2, 4))])
    rnn = fk.layers.RNN(fk.layers.SimpleRNNCell(4))  # the same as fk.layers.SimpleRNN(4)
    ```
    """

    _gates = 1
    _num_states = 1

    def __init__(
        self,
        units: int,
        activation="tanh",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        args = dict(locals())
        Layer.__init__(self, name=name, trainable=trainable, dtype=dtype)
        self._init_dense_recurrent(args)

    def _step(self, x_t, states, dp, rec):
        return simple_rnn_step(self, x_t, states, dp, rec)


@register_serializable(package="fkeras")
@_fill_doc
class LSTMCell(RNNCellBase):
    """The cell of `LSTM` (Keras 3's `LSTMCell`): with `z = x @ kernel + h @ recurrent_kernel
    + bias` split into blocks `i, f, c, o`, `c' = σ(f)·c + σ(i)·tanh(c_block)` and
    `h' = σ(o)·tanh(c')`; the output is `h'`.

    **Arguments:**

    {cell_args}
    - `recurrent_activation`: the gates' activation σ, default `"sigmoid"`.
    - `unit_forget_bias`: initialize the forget gate's bias to ones (Keras' default).

    **Weights:** `kernel` `(features, 4 * units)`, `recurrent_kernel` `(units, 4 * units)`,
    `bias` `(4 * units,)`. **States:** `[h, c]` (`state_size = [units, units]`).

    ```python
    cell = fk.layers.LSTMCell(4).build((None, 8), key=jax.random.key(0))
    y, [h, c] = cell(jnp.ones((2, 8)), [jnp.zeros((2, 4)), jnp.zeros((2, 4))])
    ```
    """

    _gates = 4
    _num_states = 2

    recurrent_activation: Any = static()
    unit_forget_bias: bool = static()

    def __init__(
        self,
        units: int,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        args = dict(locals())
        Layer.__init__(self, name=name, trainable=trainable, dtype=dtype)
        self._init_dense_recurrent(args)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _make_bias(self, key) -> Array:
        return lstm_bias(self.bias_initializer, self.units, self.unit_forget_bias, key, self.dtype)

    def _step(self, x_t, states, dp, rec):
        return lstm_step(self, x_t, states, dp, rec)


@register_serializable(package="fkeras")
@_fill_doc
class GRUCell(RNNCellBase):
    """The cell of `GRU` (Keras 3's `GRUCell`, gate order z, r, h): `z = σ(x W_z + h U_z)`,
    `r = σ(x W_r + h U_r)`, candidate `ĥ = tanh(x W_h + r · (h U_h + b'_h))` with
    `reset_after=True` (else `tanh(x W_h + (r · h) U_h)`), `h' = z · h + (1 - z) · ĥ`.

    **Arguments:**

    {cell_args}
    - `recurrent_activation`: the gates' activation σ, default `"sigmoid"`.
    - `reset_after`: apply the reset gate after the recurrent matmul (default True).

    **Weights:** `kernel` `(features, 3 * units)`, `recurrent_kernel` `(units, 3 * units)`,
    `bias` `(2, 3 * units)` with `reset_after`, else `(3 * units,)`. **States:** `[h]`.

    ```python
    cell = fk.layers.GRUCell(4).build((None, 8), key=jax.random.key(0))
    y, h = cell(jnp.ones((2, 8)), jnp.zeros((2, 4)))  # a bare state comes back bare
    ```
    """

    _gates = 3
    _num_states = 1

    recurrent_activation: Any = static()
    reset_after: bool = static()

    def __init__(
        self,
        units: int,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias: bool = True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        reset_after: bool = True,
        seed: int | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        args = dict(locals())
        Layer.__init__(self, name=name, trainable=trainable, dtype=dtype)
        self._init_dense_recurrent(args)
        self.reset_after = bool(reset_after)

    def _make_bias(self, key) -> Array:
        shape = gru_bias_shape(self.units, self.reset_after)
        return self.bias_initializer(key, shape, self.dtype)

    def _step(self, x_t, states, dp, rec):
        return gru_step(self, x_t, states, dp, rec)
