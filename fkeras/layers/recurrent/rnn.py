"""RNN: Keras 3's generic recurrent layer, running any cell over a sequence with `lax.scan`."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import deserialize, register_serializable, serialize
from .base import stateful_message
from .cell_utils import as_structure, cell_step, check_cell, initial_states
from .loop import rnn_loop, sequence_shape, split_inputs
from .stacked_cells import StackedRNNCells


def _check_rank(layer, shape) -> None:
    if len(shape) < 3:
        raise ValueError(
            f"{describe(layer)} expects inputs of rank >= 3 (batch, timesteps, ...). "
            f"Received: input_shape={tuple(shape)}"
        )


@register_serializable(package="fkeras")
class RNN(Layer):
    """Runs a recurrent cell over the timesteps of a sequence (Keras 3's `RNN`).

    **Arguments:**

    - `cell`: a cell (`SimpleRNNCell`, `LSTMCell`, `GRUCell`, `StackedRNNCells`, or your own
      fkeras Layer with a `state_size` attribute and
      `__call__(inputs, states, *, training=False, key=None) -> (output, new_states)`;
      `training` and `key` are passed when its `__call__` takes them, the same key at every
      step). A list of cells becomes `StackedRNNCells(cells)`.
    - `return_sequences`: return every timestep's output instead of the last one.
    - `return_state`: return the list `[output, *final_states]`.
    - `go_backwards`: read the sequence from its end (outputs come in that reversed order).
    - `stateful`: refused (`True` raises): fkeras layers are immutable; pass
      `initial_state=` instead.
    - `unroll`: unroll the time loop (`lax.scan(unroll=True)`).
    - `zero_output_for_mask`: masked timesteps output zeros instead of repeating the previous
      output.

    **Weights:** the cell's. **Call:** `rnn(x, initial_state=None, training=False, key=None,
    mask=None)` with `x` of shape `(batch, timesteps, ...)` (the cell sees `(batch, ...)`);
    `mask` is `(batch, timesteps)` bools: where False the states are kept and the output
    repeats the previous one (Keras). The cell's states are given by its
    `get_initial_state(batch)` when it has one, else zeros of `(batch, state_size)`.

    ```python
    rnn = fk.layers.RNN(fk.layers.LSTMCell(8), return_sequences=True)
    rnn = rnn.build((None, 10, 4), key=jax.random.key(0))
    y = rnn(jnp.ones((2, 10, 4)))  # (2, 10, 8), the same as fk.layers.LSTM(8, ...)
    ```
    """

    supports_masking = True

    return_sequences: bool = static()
    return_state: bool = static()
    go_backwards: bool = static()
    stateful: bool = static()
    unroll: bool = static()
    zero_output_for_mask: bool = static()
    cell: Layer

    def __init__(
        self,
        cell,
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
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        check_cell(owner, cell)
        if stateful:
            raise ValueError(stateful_message(owner, stateful))
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def _num_states(self) -> int:
        size = self.cell.state_size
        return len(size) if isinstance(size, (list, tuple)) else 1

    def create_weights(self, input_shape, key: PRNGKeyArray):
        shape = tuple(sequence_shape(input_shape))
        _check_rank(self, shape)
        return {"cell": self.cell.build((shape[0], *shape[2:]), key)}

    def get_initial_state(self, batch_size: int) -> list:
        """The cell's zero states for `batch_size` sequences (a list)."""
        return initial_states(self.cell, batch_size)

    def __call__(
        self,
        inputs,
        *,
        initial_state=None,
        training: bool = False,
        key: PRNGKeyArray | None = None,
        mask=None,
    ):
        """Run the cell over `(batch, timesteps, ...)`; `initial_state` as the list of the
        cell's states (or in the input list: `rnn([x, *states])`)."""
        sequences, initial_state, mask = split_inputs(inputs, initial_state, mask)
        sequences = jnp.asarray(sequences)
        _check_rank(self, sequences.shape)
        defaults = initial_states(self.cell, sequences.shape[0])
        if initial_state is None:
            states = defaults
        else:
            states = as_structure(
                f"{describe(self)} expects `initial_state` to match the cell's states",
                initial_state,
                defaults,
            )
        last, outputs, final_states = _run(self, sequences, states, mask, key, training)
        output = outputs if self.return_sequences else last
        compute = self.compute_dtype
        output = output.astype(compute)
        if self.return_state:
            final_states = jax.tree_util.tree_map(lambda s: s.astype(compute), final_states)
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

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
            "cell": serialize(self.cell),
        }

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config["cell"] = deserialize(config["cell"], expected=Layer)
        return cls(**config)


@functools.partial(jax.jit, static_argnames=("training",))
def _run(layer: RNN, sequences, states, mask, key, training: bool):
    """The scan, jitted on its own so that eager calls reuse one compiled loop per
    configuration and shape (inside an outer jit it is inlined)."""
    step = cell_step(
        layer.cell, (sequences.shape[0], *sequences.shape[2:]), sequences.dtype, training, key
    )
    treedef = jax.tree_util.tree_structure(states)
    owner = describe(layer)

    def normalized(x_t, s):
        out, new = step(x_t, s)
        new = new if isinstance(new, (list, tuple)) else [new]
        leaves = jax.tree_util.tree_leaves(list(new))
        if len(leaves) != treedef.num_leaves:
            raise ValueError(
                f"{owner}: the cell must return as many states as it takes "
                f"({treedef.num_leaves}). Received: {len(leaves)} states"
            )
        ref = jax.tree_util.tree_leaves(s)
        return out, jax.tree_util.tree_unflatten(
            treedef, [n.astype(r.dtype) for n, r in zip(leaves, ref)]
        )

    return rnn_loop(
        normalized,
        sequences,
        states,
        mask=mask,
        go_backwards=layer.go_backwards,
        unroll=layer.unroll,
        zero_output_for_mask=layer.zero_output_for_mask,
        return_sequences=layer.return_sequences,
    )
