"""fkeras: `model.compile(...)` then `trainer.fit(...)` with default settings, NumPy data.

`fit` copies the arrays to the device once per call and runs several steps per dispatch
(`steps_per_execution="auto"`).
"""

from __future__ import annotations

import jax
import numpy as np

import fkeras as fk  # imported with the module, so not timed as part of the first step

from ..cases import CLASSES, EPSILON, FILTERS, HIDDEN, INPUT_SHAPES, LEARNING_RATE, Case

DISPATCH = "auto (scan of ~16 dispatches/epoch; CNN on CPU: 1 straight step)"


def build_model(model: str):
    """The fkeras model of a case (`"mlp"` or `"cnn"`), built with seed 0."""
    L = fk.layers
    if model == "mlp":
        layers = [L.Dense(HIDDEN, activation="relu"), L.Dense(HIDDEN, activation="relu")]
    else:
        layers = [
            L.Conv2D(FILTERS[0], 3, activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(FILTERS[1], 3, activation="relu"),
            L.Flatten(),
        ]
    return fk.Sequential([fk.Input(INPUT_SHAPES[model]), *layers, L.Dense(CLASSES)], seed=0)


def compile_trainer(model: str):
    return build_model(model).compile(
        optimizer=fk.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=EPSILON),
        loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


class FkerasRunner:
    """`trainer.fit` for one epoch per call, on `x, y` as given (NumPy or device arrays)."""

    def __init__(self, case: Case, x, y):
        self.trainer, self.x, self.y, self.batch_size = (
            compile_trainer(case.model),
            x,
            y,
            case.batch_size,
        )

    def epoch(self) -> None:
        self.trainer.fit(self.x, self.y, batch_size=self.batch_size, epochs=1, verbose=0)
        jax.block_until_ready(self.trainer.state.params)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.trainer.model(x))


def make(case: Case) -> FkerasRunner:
    return FkerasRunner(case, case.x, case.y)


def first_step(case: Case) -> None:
    """A fresh trainer and a one-step `fit` (tracing, compilation, the data copy, the step)."""
    trainer = compile_trainer(case.model)
    trainer.fit(case.x, case.y, batch_size=case.batch_size, steps_per_epoch=1, verbose=0)
    jax.block_until_ready(trainer.state.params)
