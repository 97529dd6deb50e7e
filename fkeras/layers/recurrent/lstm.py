"""LSTM: Keras 3's long short-term memory layer (gate order i, f, c, o)."""

from __future__ import annotations

from typing import Any

from jaxtyping import Array

from ...core.layer import static
from ...core.registry import register_serializable
from .base import RNNBase, check_use_cudnn, fill_doc
from .cell_math import lstm_bias, lstm_step


@register_serializable(package="fkeras")
@fill_doc
class LSTM(RNNBase):
    """Long short-term memory layer (Hochreiter & Schmidhuber, 1997), as Keras 3's `LSTM`.

    Per step, with `z = x @ kernel + h @ recurrent_kernel + bias` split into four blocks
    `i, f, c, o`: `c' = σ(f)·c + σ(i)·tanh(c_block)`, `h' = σ(o)·tanh(c')`, where σ is
    `recurrent_activation` (sigmoid) and tanh is `activation`.

    **Arguments:**

    {rnn_args}
    - `recurrent_activation`: the gates' activation, default `"sigmoid"`.
    - `unit_forget_bias`: initialize the forget gate's bias to ones (Keras' default).
    - `use_cudnn`: accepted for Keras compatibility (`"auto"`, True, False); ignored.

    **Weights** (Keras' layout): `kernel` `(features, 4 * units)`, `recurrent_kernel`
    `(units, 4 * units)`, `bias` `(4 * units,)`. **States:** `[h, c]`.

    **Input shape:** `(batch, timesteps, features)`. **Output shape:** `(batch, units)`, or
    `(batch, timesteps, units)` with `return_sequences`; with `return_state` the list
    `[output, h, c]`.

    ```python
    x = jnp.ones((4, 10, 8))
    lstm = fk.layers.LSTM(32, return_sequences=True).build((None, 10, 8), key=jax.random.key(0))
    y = lstm(x)  # (4, 10, 32)
    y, h, c = fk.layers.LSTM(32, return_state=True).build((None, 10, 8))(x)  # each (4, 32)
    y2 = lstm(x, initial_state=[h, c])  # start from given states
    ```
    """

    _gates = 4
    _num_states = 2

    recurrent_activation: Any = static()
    unit_forget_bias: bool = static()
    use_cudnn: Any = static()

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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        use_cudnn="auto",
        zero_output_for_mask: bool = False,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        args = dict(locals())
        self._init_rnn(args, name=name, trainable=trainable, dtype=dtype)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.use_cudnn = check_use_cudnn(self, use_cudnn)

    def _make_bias(self, key) -> Array:
        return lstm_bias(self.bias_initializer, self.units, self.unit_forget_bias, key, self.dtype)

    def _step(self, x_t, states, dp, rec):
        return lstm_step(self, x_t, states, dp, rec)
