"""GRU: Keras 3's gated recurrent unit (gate order z, r, h; `reset_after=True` by default)."""

from __future__ import annotations

from typing import Any

from jaxtyping import Array

from ...core.layer import static
from ...core.registry import register_serializable
from .base import RNNBase, check_use_cudnn, fill_doc
from .cell_math import gru_bias_shape, gru_step


@register_serializable(package="fkeras")
@fill_doc
class GRU(RNNBase):
    """Gated recurrent unit (Cho et al., 2014), as Keras 3's `GRU`.

    Per step, with the kernels split into blocks `z, r, h`:
    `z = σ(x W_z + h U_z + b_z)`, `r = σ(x W_r + h U_r + b_r)`, and the candidate
    `ĥ = tanh(x W_h + r · (h U_h + b'_h))` (`reset_after=True`, the CuDNN-compatible form, with
    separate input and recurrent biases) or `ĥ = tanh(x W_h + (r · h) U_h + b_h)`
    (`reset_after=False`); then `h' = z · h + (1 - z) · ĥ`.

    **Arguments:**

    {rnn_args}
    - `recurrent_activation`: the gates' activation, default `"sigmoid"`.
    - `reset_after`: apply the reset gate after the recurrent matmul (default True, Keras').
    - `use_cudnn`: accepted for Keras compatibility (`"auto"`, True, False); ignored.

    **Weights** (Keras' layout): `kernel` `(features, 3 * units)`, `recurrent_kernel`
    `(units, 3 * units)`, `bias` `(2, 3 * units)` (input bias, recurrent bias) with
    `reset_after`, else `(3 * units,)`. **States:** `[h]`.

    **Input shape:** `(batch, timesteps, features)`. **Output shape:** `(batch, units)`, or
    `(batch, timesteps, units)` with `return_sequences`; with `return_state` the list
    `[output, h]`.

    ```python
    gru = fk.layers.GRU(16).build((None, 10, 8), key=jax.random.key(0))
    y = gru(jnp.ones((4, 10, 8)))  # (4, 16)
    ```
    """

    _gates = 3
    _num_states = 1

    recurrent_activation: Any = static()
    reset_after: bool = static()
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
        reset_after: bool = True,
        use_cudnn="auto",
        zero_output_for_mask: bool = False,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        args = dict(locals())
        self._init_rnn(args, name=name, trainable=trainable, dtype=dtype)
        self.reset_after = bool(reset_after)
        self.use_cudnn = check_use_cudnn(self, use_cudnn)

    def _make_bias(self, key) -> Array:
        shape = gru_bias_shape(self.units, self.reset_after)
        return self.bias_initializer(key, shape, self.dtype)

    def _step(self, x_t, states, dp, rec):
        return gru_step(self, x_t, states, dp, rec)
