"""ConvLSTM1D, ConvLSTM2D, ConvLSTM3D: LSTMs whose input and recurrent transformations are
convolutions (Keras 3's `ConvLSTM`, Shi et al., 2015). The gate equations are the LSTM's
(`cell_math.lstm_gates`); the time loop is the recurrent layers' (`loop.run_layer`)."""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, PRNGKeyArray

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from ..convolutional.base_conv import (
    conv_output_length,
    dimension_numbers,
    normalize_padding,
    normalize_tuple,
    positive_int,
)
from .base import stateful_message
from .cell_math import lstm_bias, lstm_gates
from .loop import draw_dropout_masks, run_layer, sequence_shape, split_inputs
from .weights import init_recurrent_args

_SPATIAL = {1: "steps", 2: "rows, cols", 3: "depth, rows, cols"}


class ConvLSTM(Layer):
    """The N-D convolutional LSTM; `ConvLSTM1D`/`2D`/`3D` set `rank`. See `ConvLSTM2D`."""

    rank: ClassVar[int] = 0
    supports_masking = True
    _num_states: ClassVar[int] = 2

    filters: int = static()
    kernel_size: tuple = static()
    strides: tuple = static()
    padding: str = static()
    data_format: str = static()
    dilation_rate: tuple = static()
    activation: Any = static()
    recurrent_activation: Any = static()
    use_bias: bool = static()
    kernel_initializer: Any = static()
    recurrent_initializer: Any = static()
    bias_initializer: Any = static()
    unit_forget_bias: bool = static()
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
    return_sequences: bool = static()
    return_state: bool = static()
    go_backwards: bool = static()
    stateful: bool = static()
    unroll: bool = static()
    zero_output_for_mask: bool = static()
    kernel: Array | None
    recurrent_kernel: Array | None
    bias: Array | None

    def __init__(
        self,
        filters: int,
        kernel_size,
        strides=1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate=1,
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
        zero_output_for_mask: bool = False,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        args = dict(locals())
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        rank = type(self).rank
        self.filters = positive_int(filters, "filters", owner)
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size", owner)
        self.strides = normalize_tuple(strides, rank, "strides", owner)
        self.padding = normalize_padding(padding, owner)
        fmt = "channels_last" if data_format is None else str(data_format).lower()
        if fmt not in ("channels_last", "channels_first"):
            raise ValueError(
                f"{owner} expects data_format 'channels_last' or 'channels_first'. "
                f"Received: data_format={data_format!r}"
            )
        self.data_format = fmt
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate", owner)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"{owner} does not support strides > 1 together with dilation_rate > 1 (as "
                f"Keras). Received: strides={self.strides}, dilation_rate={self.dilation_rate}"
            )
        init_recurrent_args(self, args)
        self.unit_forget_bias = bool(unit_forget_bias)
        if stateful:
            raise ValueError(stateful_message(owner, stateful))
        for flag in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll"):
            setattr(self, flag, bool(args[flag]))
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.kernel = self.recurrent_kernel = self.bias = None

    @property
    def recurrent_kernel_regularizer(self):
        return self.recurrent_regularizer

    @property
    def recurrent_kernel_constraint(self):
        return self.recurrent_constraint

    # ----------------------------------------------------------------- shapes
    def _check_shape(self, shape, what: str = "input_shape") -> tuple:
        """The shape in channels-last order, after checking its rank and channels."""
        shape = tuple(shape)
        rank = type(self).rank
        if len(shape) != rank + 3:
            layout = (
                f"(batch, timesteps, {_SPATIAL[rank]}, channels)"
                if self.data_format == "channels_last"
                else f"(batch, timesteps, channels, {_SPATIAL[rank]})"
            )
            raise ValueError(
                f"{describe(self)} expects inputs of rank {rank + 3} {layout}. "
                f"Received: {what}={shape}"
            )
        if self.data_format == "channels_first":
            shape = (*shape[:2], *shape[3:], shape[2])
        if shape[-1] is None:
            raise ValueError(
                f"{describe(self)} needs the channel dimension of its inputs to be known. "
                f"Received: {what}={shape}"
            )
        return shape

    def _state_spatial(self, spatial) -> tuple:
        return tuple(
            conv_output_length(size, k, s, self.padding, d)
            for size, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        )

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict[str, Array | None]:
        shape = self._check_shape(sequence_shape(input_shape))
        lengths = self._state_spatial(shape[2:-1])
        if any(n is not None and n <= 0 for n in lengths):
            raise ValueError(
                f"{describe(self)} expects each spatial dimension to be at least the (dilated) "
                f"kernel size with padding='valid'. Received: input_shape={tuple(input_shape)}"
            )
        k_kernel, k_recurrent, k_bias = jax.random.split(key, 3)
        width = 4 * self.filters
        return {
            "kernel": self.kernel_initializer(
                k_kernel, (*self.kernel_size, shape[-1], width), self.dtype
            ),
            "recurrent_kernel": self.recurrent_initializer(
                k_recurrent, (*self.kernel_size, self.filters, width), self.dtype
            ),
            "bias": (
                lstm_bias(
                    self.bias_initializer, self.filters, self.unit_forget_bias, k_bias, self.dtype
                )
                if self.use_bias
                else None
            ),
        }

    # ---------------------------------------------------------------- calling
    def _conv(self, x, w, masks, *, recurrent: bool):
        """`conv(x, w)` over the four gate blocks; with dropout, gate `g` sees `x * masks[g]`
        (Keras' ConvLSTM always draws four masks)."""
        rank = type(self).rank
        options = {
            "window_strides": (1,) * rank if recurrent else self.strides,
            "padding": "SAME" if recurrent else self.padding.upper(),
            "rhs_dilation": (1,) * rank if recurrent else self.dilation_rate,
            "dimension_numbers": dimension_numbers(rank),
        }
        if masks is None:
            return lax.conv_general_dilated(x, w, **options)
        f = self.filters
        return jnp.concatenate(
            [
                lax.conv_general_dilated(x * masks[g], w[..., g * f : (g + 1) * f], **options)
                for g in range(4)
            ],
            axis=-1,
        )

    def _step(self, x_t, states, dp, rec):
        h, c = states
        z = self._conv(x_t, self.kernel, dp, recurrent=False)
        if self.bias is not None:
            z = z + self.bias
        z = z + self._conv(h, self.recurrent_kernel, rec, recurrent=True)
        h, c = lstm_gates(self, z, c)
        return h, (h, c)

    def _initial_states(self, state_shape, initial_state) -> tuple:
        if initial_state is None:
            return tuple(jnp.zeros(state_shape, self.compute_dtype) for _ in range(2))
        states = (
            list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        )
        if self.data_format == "channels_first":
            states = [jnp.moveaxis(jnp.asarray(s), 1, -1) for s in states]
        shapes = [tuple(jnp.shape(s)) for s in states]
        if len(states) != 2 or any(s != state_shape for s in shapes):
            raise ValueError(
                f"{describe(self)} expects `initial_state` to be 2 arrays [h, c] of shape "
                f"{state_shape} (channels last). Received: shapes {shapes}"
            )
        return tuple(jnp.asarray(s, self.compute_dtype) for s in states)

    def __call__(
        self,
        inputs,
        *,
        initial_state=None,
        training: bool = False,
        key: PRNGKeyArray | None = None,
        mask=None,
    ):
        """Run over `(batch, timesteps, *spatial, channels)` (channels first: `(batch,
        timesteps, channels, *spatial)`); `initial_state` is `[h, c]`, `mask` is
        `(batch, timesteps)`; `key` is needed in training mode with dropout."""
        sequences, initial_state, mask = split_inputs(inputs, initial_state, mask)
        x = jnp.asarray(sequences)
        shape = self._check_shape(x.shape, "x.shape")
        if self.data_format == "channels_first":
            x = jnp.moveaxis(x, 2, -1)
        if shape[-1] != self.kernel.shape[-2]:
            raise ValueError(
                f"{describe(self)} expects inputs with {self.kernel.shape[-2]} channels. "
                f"Received: x.shape={tuple(sequences.shape)}"
            )
        x = x.astype(self.compute_dtype)
        batch = x.shape[0]
        state_shape = (batch, *self._state_spatial(x.shape[2:-1]), self.filters)
        states = self._initial_states(state_shape, initial_state)
        dp, rec = draw_dropout_masks(
            self,
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            seed=self.seed,
            count=4,
            input_shape=(batch, *x.shape[2:]),
            state_shape=state_shape,
            dtype=x.dtype,
            training=training,
            key=key,
        )
        last, outputs, final_states = run_layer(self, x, states, mask, dp, rec)
        output = outputs if self.return_sequences else last
        if self.data_format == "channels_first":
            output = jnp.moveaxis(output, -1, 2 if self.return_sequences else 1)
            final_states = tuple(jnp.moveaxis(s, -1, 1) for s in final_states)
        if self.return_state:
            return [output, *final_states]
        return output

    def compute_mask(self, inputs, mask=None):
        """The input mask when `return_sequences`, else None; None for returned states."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask, None, None]
        return output_mask


_DOC = """{rank}-D convolutional LSTM (Keras 3's `ConvLSTM{rank}D`): an LSTM whose input and
    recurrent transformations are convolutions. Per step, with `z = conv(x, kernel) + bias +
    conv(h, recurrent_kernel)` (the recurrent convolution uses `"same"` padding and stride 1)
    split along channels into `i, f, c, o`: `c' = σ(f)·c + σ(i)·tanh(c_block)`,
    `h' = σ(o)·tanh(c')`.

    **Arguments:**

    - `filters`: the number of output channels (of `h` and `c`).
    - `kernel_size`, `strides`, `dilation_rate`: ints or tuples of {rank} ints (strides > 1
      with dilation_rate > 1 is refused, as in Keras).
    - `padding`: `"valid"` or `"same"` for the input convolution.
    - `data_format`: `"channels_last"` (default) or `"channels_first"`.
    - `activation` (`"tanh"`), `recurrent_activation` (`"sigmoid"`), `use_bias`.
    - `kernel_initializer` (`"glorot_uniform"`), `recurrent_initializer` (`"orthogonal"`),
      `bias_initializer` (`"zeros"`), `unit_forget_bias` (forget-gate bias ones, default True).
    - `kernel_regularizer`, `recurrent_regularizer`, `bias_regularizer`, `activity_regularizer`,
      `kernel_constraint`, `recurrent_constraint`, `bias_constraint`.
    - `dropout`, `recurrent_dropout`: input / state dropout in training mode (`key=`
      required); one mask per gate, the same at every timestep (Keras).
    - `seed`: folded into the dropout key.
    - `return_sequences`, `return_state`, `go_backwards`, `unroll`, `zero_output_for_mask`:
      as for `LSTM`. `stateful=True` is refused (pass `initial_state=`).

    **Weights:** `kernel` `(*kernel_size, channels, 4 * filters)`, `recurrent_kernel`
    `(*kernel_size, filters, 4 * filters)`, `bias` `(4 * filters,)`. **States:** `[h, c]`.

    **Input shape:** `(batch, timesteps, {spatial}, channels)`. **Output shape:**
    `(batch, {new_spatial}, filters)`, with `return_sequences` `(batch, timesteps,
    {new_spatial}, filters)`; with `return_state` the list `[output, h, c]`.

    ```python
    layer = fk.layers.ConvLSTM{rank}D(4, 3, padding="same")
    layer = layer.build((None, 5, {example}, 2), key=jax.random.key(0))
    y = layer(jnp.ones((1, 5, {example}, 2)))  # (1, {example}, 4)
    ```
    """


def _fill_doc(rank: int, spatial: str, new_spatial: str, example: str):
    def decorate(cls):
        cls.__doc__ = _DOC.format(
            rank=rank, spatial=spatial, new_spatial=new_spatial, example=example
        )
        return cls

    return decorate


@register_serializable(package="fkeras")
@_fill_doc(1, "steps", "new_steps", "8")
class ConvLSTM1D(ConvLSTM):
    rank = 1


@register_serializable(package="fkeras")
@_fill_doc(2, "rows, cols", "new_rows, new_cols", "8, 8")
class ConvLSTM2D(ConvLSTM):
    rank = 2


@register_serializable(package="fkeras")
@_fill_doc(3, "depth, rows, cols", "new_depth, new_rows, new_cols", "4, 4, 4")
class ConvLSTM3D(ConvLSTM):
    rank = 3
