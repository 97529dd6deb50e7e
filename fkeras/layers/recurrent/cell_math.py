"""The one implementation of the SimpleRNN, LSTM and GRU step equations (Keras 3's), shared by
the cells (`SimpleRNNCell`, ...) and the layers (`SimpleRNN`, ...). `p` is either: anything
with the fields `units`, `activation` (and `recurrent_activation`, `reset_after` where used),
`kernel`, `recurrent_kernel` and `bias`. `dp`/`rec` are the dropout masks of `gate_matmul`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array

from ... import activations
from .loop import gate_input, gate_matmul


def simple_rnn_step(p, x_t: Array, states: tuple, dp, rec):
    """`h' = activation(x @ kernel + bias + h @ recurrent_kernel)`."""
    (h,) = states
    y = gate_matmul(x_t, p.kernel, dp)
    if p.bias is not None:
        y = y + p.bias
    y = activations.get(p.activation)(y + gate_matmul(h, p.recurrent_kernel, rec))
    return y, (y,)


def lstm_bias(initializer, units: int, unit_forget_bias: bool, key, dtype) -> Array:
    """The LSTM bias `(4 * units,)`; with `unit_forget_bias` the forget block is ones (Keras)."""
    if not unit_forget_bias:
        return initializer(key, (4 * units,), dtype)
    k1, k2 = jax.random.split(key)
    return jnp.concatenate(
        [
            initializer(k1, (units,), dtype),
            jnp.ones((units,), dtype),
            initializer(k2, (2 * units,), dtype),
        ]
    )


def lstm_gates(p, z: Array, c: Array):
    """`(h', c')` from the summed pre-activations `z` (blocks i, f, c, o) and the carry `c`."""
    u = z.shape[-1] // 4
    act = activations.get(p.activation)
    rec_act = activations.get(p.recurrent_activation)
    i = rec_act(z[..., :u])
    f = rec_act(z[..., u : 2 * u])
    c = f * c + i * act(z[..., 2 * u : 3 * u])
    o = rec_act(z[..., 3 * u :])
    return o * act(c), c


def lstm_step(p, x_t: Array, states: tuple, dp, rec):
    h, c = states
    z = gate_matmul(x_t, p.kernel, dp) + gate_matmul(h, p.recurrent_kernel, rec)
    if p.bias is not None:
        z = z + p.bias
    h, c = lstm_gates(p, z, c)
    return h, (h, c)


def gru_bias_shape(units: int, reset_after: bool) -> tuple:
    return (2, 3 * units) if reset_after else (3 * units,)


def gru_step(p, x_t: Array, states: tuple, dp, rec):
    (h,) = states
    u = p.units
    act = activations.get(p.activation)
    rec_act = activations.get(p.recurrent_activation)
    if p.bias is None:
        input_bias = recurrent_bias = None
    elif p.reset_after:
        input_bias, recurrent_bias = p.bias[0], p.bias[1]
    else:
        input_bias, recurrent_bias = p.bias, None

    matrix_x = gate_matmul(x_t, p.kernel, dp)
    if input_bias is not None:
        matrix_x = matrix_x + input_bias
    x_z, x_r, x_h = matrix_x[:, :u], matrix_x[:, u : 2 * u], matrix_x[:, 2 * u :]

    if p.reset_after:
        inner = gate_matmul(h, p.recurrent_kernel, rec)
        if recurrent_bias is not None:
            inner = inner + recurrent_bias
        z = rec_act(x_z + inner[:, :u])
        r = rec_act(x_r + inner[:, u : 2 * u])
        candidate = act(x_h + r * inner[:, 2 * u :])
    else:
        k = p.recurrent_kernel
        z = rec_act(x_z + gate_input(h, rec, 0) @ k[:, :u])
        r = rec_act(x_r + gate_input(h, rec, 1) @ k[:, u : 2 * u])
        candidate = act(x_h + (r * gate_input(h, rec, 2)) @ k[:, 2 * u :])
    h = z * h + (1 - z) * candidate
    return h, (h,)
