"""What SimpleRNN, LSTM and GRU share: arguments, weights, calling, masks and dropout."""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from ... import activations, constraints, initializers, regularizers
from ...core.errors import describe
from ...core.layer import Layer, static
from .loop import check_rank3, keep_masks, run_layer, sequence_shape, split_inputs


class RNNBase(Layer):
    """Base of the recurrent layers; subclasses set `_gates`, `_num_states`, `_step` and the
    bias. Not a layer on its own (Keras' generic `RNN(cell)` is not provided)."""

    supports_masking = True
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
    return_sequences: bool = static()
    return_state: bool = static()
    go_backwards: bool = static()
    stateful: bool = static()
    unroll: bool = static()
    zero_output_for_mask: bool = static()
    kernel: Array | None
    recurrent_kernel: Array | None
    bias: Array | None

    def _init_rnn(self, args: dict, *, name, trainable, dtype) -> None:
        """Validate and store the arguments shared by all recurrent layers."""
        Layer.__init__(self, name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        units = args["units"]
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ValueError(
                f"{owner} expects a positive integer `units`. Received: units={units!r}"
            )
        if args["stateful"]:
            raise ValueError(
                f"{owner}: stateful=True is not supported. fkeras layers are immutable, so "
                "they cannot keep states between calls. Carry the states yourself: create the "
                "layer with return_state=True and call "
                "`outputs, *states = layer(x, initial_state=states)`. "
                f"Received: stateful={args['stateful']!r}"
            )
        for rate_name in ("dropout", "recurrent_dropout"):
            rate = args[rate_name]
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
                raise ValueError(
                    f"{owner} expects `{rate_name}` to be a float in [0, 1]. "
                    f"Received: {rate_name}={rate!r}"
                )
        for act_name in ("activation", "recurrent_activation"):
            if act_name in args:
                activations.get(args[act_name], owner=owner)
                setattr(self, act_name, "linear" if args[act_name] is None else args[act_name])
        self.units = units
        self.use_bias = bool(args["use_bias"])
        for kind, module in (
            ("initializer", initializers),
            ("regularizer", regularizers),
            ("constraint", constraints),
        ):
            for prefix in ("kernel", "recurrent", "bias", "activity"):
                arg = f"{prefix}_{kind}"
                if arg in args:
                    setattr(self, arg, module.get(args[arg], owner=owner))
        self.dropout = float(args["dropout"])
        self.recurrent_dropout = float(args["recurrent_dropout"])
        self.seed = args["seed"]
        for flag in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll"):
            setattr(self, flag, bool(args[flag]))
        self.zero_output_for_mask = bool(args["zero_output_for_mask"])
        self.kernel = self.recurrent_kernel = self.bias = None

    # The base's generic regularizer/constraint lookup uses `<weight>_regularizer`; Keras names
    # the recurrent kernel's arguments `recurrent_regularizer`/`recurrent_constraint`.
    @property
    def recurrent_kernel_regularizer(self):
        return self.recurrent_regularizer

    @property
    def recurrent_kernel_constraint(self):
        return self.recurrent_constraint

    # ----------------------------------------------------------------- building
    def _make_bias(self, key: PRNGKeyArray) -> Array:
        return self.bias_initializer(key, (self._gates * self.units,), self.dtype)

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict[str, Array | None]:
        shape = sequence_shape(input_shape)
        check_rank3(self, shape)
        if shape[-1] is None:
            raise ValueError(
                f"{describe(self)} needs the feature dimension (the last) to be known. "
                f"Received: input_shape={tuple(shape)}"
            )
        k_kernel, k_recurrent, k_bias = jax.random.split(key, 3)
        width = self._gates * self.units
        return {
            "kernel": self.kernel_initializer(k_kernel, (shape[-1], width), self.dtype),
            "recurrent_kernel": self.recurrent_initializer(
                k_recurrent, (self.units, width), self.dtype
            ),
            "bias": self._make_bias(k_bias) if self.use_bias else None,
        }

    # ------------------------------------------------------------------ calling
    def _step(self, x_t, states, dp_masks, rec_masks):
        raise NotImplementedError

    def _dropout_masks(self, sequences, training: bool, key):
        use_dp = training and 0.0 < self.dropout < 1.0
        use_rec = training and 0.0 < self.recurrent_dropout < 1.0
        if not (use_dp or use_rec):
            return None, None
        if key is None:
            raise ValueError(
                f"{describe(self)} needs a PRNG key in training mode with dropout="
                f"{self.dropout}, recurrent_dropout={self.recurrent_dropout}. Call the model as "
                "`model(x, training=True, key=jax.random.key(step))` (the trainer does this for "
                "you). Received: key=None"
            )
        if self.seed is not None:
            key = jax.random.fold_in(key, self.seed)
        # Keras: one mask per gate when recurrent_dropout is set (implementation 1), else one.
        count = self._gates if self.recurrent_dropout != 0.0 and self._gates > 1 else 1
        batch, features = sequences.shape[0], sequences.shape[-1]
        k_in, k_rec = jax.random.split(key)
        dtype = sequences.dtype
        dp = keep_masks(k_in, self.dropout, (count, batch, features), dtype) if use_dp else None
        rec = (
            keep_masks(k_rec, self.recurrent_dropout, (count, batch, self.units), dtype)
            if use_rec
            else None
        )
        return dp, rec

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
