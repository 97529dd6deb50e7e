"""What SimpleRNN, LSTM and GRU share: arguments, weights, calling, masks and dropout."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from ...core.errors import describe
from ...core.layer import Layer, static
from .loop import check_rank3, run_layer, sequence_shape, split_inputs
from .weights import DenseRecurrentBase


def stateful_message(owner: str, value) -> str:
    return (
        f"{owner}: stateful=True is not supported. fkeras layers are immutable, so "
        "they cannot keep states between calls. Carry the states yourself: create the "
        "layer with return_state=True and call "
        "`outputs, *states = layer(x, initial_state=states)`. "
        f"Received: stateful={value!r}"
    )


class RNNBase(DenseRecurrentBase):
    """Base of the recurrent layers SimpleRNN, LSTM and GRU; subclasses set `_gates`,
    `_num_states`, `_step` and the bias (their step equations live in `cell_math`, shared with
    the cells). For any other cell use the generic `RNN(cell)`."""

    supports_masking = True

    return_sequences: bool = static()
    return_state: bool = static()
    go_backwards: bool = static()
    stateful: bool = static()
    unroll: bool = static()
    zero_output_for_mask: bool = static()

    def _init_rnn(self, args: dict, *, name, trainable, dtype) -> None:
        """Validate and store the arguments shared by all recurrent layers."""
        Layer.__init__(self, name=name, trainable=trainable, dtype=dtype)
        self._init_dense_recurrent(args)
        if args["stateful"]:
            raise ValueError(stateful_message(describe(self), args["stateful"]))
        for flag in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll"):
            setattr(self, flag, bool(args[flag]))
        self.zero_output_for_mask = bool(args["zero_output_for_mask"])

    # ----------------------------------------------------------------- building
    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict[str, Array | None]:
        shape = sequence_shape(input_shape)
        check_rank3(self, shape)
        if shape[-1] is None:
            raise ValueError(
                f"{describe(self)} needs the feature dimension (the last) to be known. "
                f"Received: input_shape={tuple(shape)}"
            )
        return self._make_weights(shape[-1], key)

    # ------------------------------------------------------------------ calling
    def _dropout_masks(self, sequences, training: bool, key):
        return self._masks_for(
            sequences.shape[0], sequences.shape[-1], sequences.dtype, training, key
        )

    def _initial_states(self, sequences, initial_state) -> tuple:
        batch = sequences.shape[0]
        n = self._num_states
        if initial_state is None:
            return tuple(jnp.zeros((batch, self.units), self.compute_dtype) for _ in range(n))
        states = (
            list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        )
        expected = (batch, self.units)
        shapes = [tuple(jnp.shape(s)) for s in states]
        if len(states) != n or any(s != expected for s in shapes):
            raise ValueError(
                f"{describe(self)} expects `initial_state` to be {n} array(s) of shape "
                f"{expected} (batch, units). Received: shapes {shapes}"
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
        """Run over the sequence `(batch, timesteps, features)`.

        `initial_state`: the starting states (`[h]` or `h`; `[h, c]` for LSTM), zeros when
        None. In a functional graph, where calls take tensors only, pass them in the input
        list instead: `layer([x, h, c])`. `mask`: `(batch, timesteps)` bools, False for
        padded steps (models pass the mask of `Embedding(mask_zero=True)` or `Masking`
        automatically). `key`: needed in training mode when `dropout` or
        `recurrent_dropout` is set; the same dropout masks are used at every timestep, as in
        Keras.
        """
        sequences, initial_state, mask = split_inputs(inputs, initial_state, mask)
        sequences = jnp.asarray(sequences)
        check_rank3(self, sequences.shape)
        self._check_last_dim(sequences, self.kernel.shape[0])
        sequences = sequences.astype(self.compute_dtype)
        states = self._initial_states(sequences, initial_state)
        dp, rec = self._dropout_masks(sequences, training, key)
        last, outputs, final_states = run_layer(self, sequences, states, mask, dp, rec)
        output = outputs if self.return_sequences else last
        if self.return_state:
            return [output, *final_states]
        return output

    def compute_mask(self, inputs, mask=None):
        """The input mask when `return_sequences`, else None; None for returned states."""
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * self._num_states
        return output_mask


RNN_ARGS_DOC = """    - `units`: the size of the output and of each state.
    - `activation`: default `"tanh"`; `None` means linear.
    - `use_bias`: whether the layer has `bias`.
    - `kernel_initializer` (`"glorot_uniform"`), `recurrent_initializer` (`"orthogonal"`),
      `bias_initializer` (`"zeros"`).
    - `kernel_regularizer`, `recurrent_regularizer`, `bias_regularizer`, `activity_regularizer`,
      `kernel_constraint`, `recurrent_constraint`, `bias_constraint`: as for `Dense`.
    - `dropout`, `recurrent_dropout`: fractions of the inputs / of the recurrent state dropped
      in training mode (`key=` required), with the same masks at every timestep (Keras).
    - `seed`: folded into the dropout key, for Keras compatibility.
    - `return_sequences`: return every timestep's output `(batch, timesteps, units)` instead
      of the last one `(batch, units)`.
    - `return_state`: return the list `[output, *final_states]`.
    - `go_backwards`: read the sequence from its end (outputs come in that reversed order).
    - `stateful`: refused (`True` raises): fkeras layers are immutable; pass
      `initial_state=` instead.
    - `unroll`: unroll the time loop (`lax.scan(unroll=True)`); faster for short sequences.
    - `zero_output_for_mask`: masked timesteps output zeros instead of repeating the previous
      output (Bidirectional sets it when returning sequences, as Keras does)."""


def fill_doc(cls):
    """Put the shared argument list in place of `{rnn_args}` in a layer's docstring."""
    if cls.__doc__:  # None under `python -OO`
        cls.__doc__ = cls.__doc__.replace("    {rnn_args}", RNN_ARGS_DOC)
    return cls


def check_use_cudnn(layer, use_cudnn):
    if use_cudnn not in ("auto", True, False):
        raise ValueError(
            f"{describe(layer)} expects use_cudnn in {{'auto', True, False}}. "
            f"Received: use_cudnn={use_cudnn!r}"
        )
    return use_cudnn
