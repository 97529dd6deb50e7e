"""StackedRNNCells: several cells run as one, each feeding the next (Keras 3)."""

from __future__ import annotations

import jax
from jaxtyping import PRNGKeyArray

from ...core.errors import describe
from ...core.layer import Layer
from ...core.registry import deserialize, register_serializable, serialize
from .cell_utils import cell_step, check_cell, initial_states, output_size


def _listify(states):
    """Keras' StackedRNNCells convention: a cell gets a list; a bare state comes back bare."""
    is_list = isinstance(states, (list, tuple))
    return (list(states) if is_list else [states]), is_list


def _restore(new_states, was_list: bool):
    new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
    return new_states[0] if len(new_states) == 1 and not was_list else new_states


def _key(key, i: int):
    return None if key is None else jax.random.fold_in(key, i)


@register_serializable(package="fkeras")
class StackedRNNCells(Layer):
    """Runs a list of cells as one cell (Keras 3's `StackedRNNCells`): cell `i + 1` takes cell
    `i`'s output, and the states are the list of the cells' states.

    **Arguments:** `cells`: a list of cells (`LSTMCell`, `GRUCell`, `SimpleRNNCell`, or your
    own Layers with `state_size`).

    **Weights:** each cell's, in order. **States:** `[states_of_cell_0, states_of_cell_1,
    ...]` (`state_size` is the list of the cells' `state_size`). Cell `i` gets the key
    `fold_in(key, i)` for dropout.

    ```python
    cells = [fk.layers.LSTMCell(16), fk.layers.LSTMCell(8)]
    rnn = fk.layers.RNN(fk.layers.StackedRNNCells(cells)).build((None, 10, 4))
    y = rnn(jnp.ones((2, 10, 4)))  # (2, 8): like LSTM(16, return_sequences=True), LSTM(8)
    ```
    """

    cells: tuple

    def __init__(
        self, cells, *, name: str | None = None, trainable: bool = True, dtype=None
    ) -> None:
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ValueError(
                f"{owner} expects a non-empty list of cells. Received: cells={cells!r}"
            )
        for cell in cells:
            check_cell(owner, cell, "cells")
        self.cells = tuple(cells)

    @property
    def state_size(self) -> list:
        return [c.state_size for c in self.cells]

    @property
    def output_size(self) -> int:
        return output_size(self.cells[-1])

    def get_initial_state(self, batch_size: int) -> list:
        """Each cell's zero states (a list per cell, as Keras)."""
        return [initial_states(c, batch_size) for c in self.cells]

    def create_weights(self, input_shape, key: PRNGKeyArray):
        shape = tuple(input_shape)
        built = []
        for i, cell in enumerate(self.cells):
            built.append(cell.build(shape, jax.random.fold_in(key, i)))
            shape = (shape[0], output_size(cell))
        return {"cells": tuple(built)}

    def _sequence_step(self, input_shape: tuple, dtype, training: bool, key):
        steps = []
        shape = tuple(input_shape)
        for i, cell in enumerate(self.cells):
            step = cell_step(cell, shape, dtype, training, _key(key, i))
            steps.append(step)
            states = initial_states(cell, shape[0])
            spec = jax.eval_shape(
                lambda x, s, step=step: step(x, s)[0], _spec(shape, dtype), states
            )
            shape, dtype = tuple(spec.shape), spec.dtype

        def step(x_t, states):
            new_states = []
            for cell_step_fn, cell_states in zip(steps, states):
                cell_states, was_list = _listify(cell_states)
                x_t, new = cell_step_fn(x_t, cell_states)
                new_states.append(_restore(new, was_list))
            return x_t, new_states

        return step

    def __call__(self, inputs, states=None, *, training: bool = False, key=None):
        """One timestep through every cell: `(last cell's output, [new states per cell])`."""
        if states is None:
            states = self.get_initial_state(inputs.shape[0])
        if len(states) != len(self.cells):
            raise ValueError(
                f"{describe(self)} expects one entry of `states` per cell ({len(self.cells)}). "
                f"Received: {len(states)} entries"
            )
        new_states = []
        for i, (cell, cell_states) in enumerate(zip(self.cells, states)):
            cell_states, was_list = _listify(cell_states)
            kwargs = {}
            if "training" in cell._call_kwargs:
                kwargs["training"] = training
            if "key" in cell._call_kwargs:
                kwargs["key"] = _key(key, i)
            inputs, new = cell(inputs, cell_states, **kwargs)
            new_states.append(_restore(new, was_list))
        return inputs, new_states

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
            "cells": [serialize(c) for c in self.cells],
        }

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config["cells"] = [deserialize(c, expected=Layer) for c in config["cells"]]
        return cls(**config)


def _spec(shape, dtype):
    return jax.ShapeDtypeStruct(shape, dtype)
