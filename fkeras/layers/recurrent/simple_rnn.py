"""SimpleRNN: Keras 3's fully-connected recurrent layer."""

from __future__ import annotations

from ...core.registry import register_serializable
from .base import RNNBase, fill_doc
from .cell_math import simple_rnn_step


@register_serializable(package="fkeras")
@fill_doc
class SimpleRNN(RNNBase):
    """Fully-connected RNN whose output is fed back: `h' = tanh(x @ kernel + bias +
    h @ recurrent_kernel)`, as Keras 3's `SimpleRNN`.

    **Arguments:**

    {rnn_args}

    **Weights:** `kernel` `(features, units)`, `recurrent_kernel` `(units, units)`, `bias`
    `(units,)`. **States:** `[h]`.

    **Input shape:** `(batch, timesteps, features)`. **Output shape:** `(batch, units)`, or
    `(batch, timesteps, units)` with `return_sequences`; with `return_state` the list
    `[output, h]`.

    ```python
    rnn = fk.layers.SimpleRNN(4).build((None, 10, 8), key=jax.random.key(0))
    y = rnn(jnp.ones((32, 10, 8)))  # (32, 4)
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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        seed: int | None = None,
        zero_output_for_mask: bool = False,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        args = dict(locals())
        self._init_rnn(args, name=name, trainable=trainable, dtype=dtype)

    def _step(self, x_t, states, dp, rec):
        return simple_rnn_step(self, x_t, states, dp, rec)
