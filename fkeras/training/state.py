"""`TrainState`: everything a training run changes, as one PyTree of arrays."""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax


class TrainState(eqx.Module):
    """The explicit state of a training run.

    **Fields:**

    - `params`: trainable parameters (the model's `fk.partition(...).params`).
    - `layer_state`: non-trainable layer state such as moving statistics (`.state`).
    - `opt_state`: the optax optimizer state.
    - `metric_states`: `{log name: metric state}`, including the running loss.
    - `step`: the number of optimizer steps taken (an int32 scalar).
    - `key`: the run's base PRNG key; step `s` uses `jax.random.fold_in(key, s)`, so a resumed
      run draws the same randomness as an uninterrupted one.

    The model's static part (its structure and hyperparameters) lives in the trainer, so a
    `TrainState` holds only arrays and can be donated, sharded and checkpointed as it is.
    """

    params: Any
    layer_state: Any
    opt_state: Any
    metric_states: dict
    step: jax.Array
    key: jax.Array

    def replace(self, **changes) -> TrainState:
        return dataclasses.replace(self, **changes)
