"""Keras 3 on its JAX backend: `model.compile(...)` then `model.fit(...)`, default settings.

Keras' defaults run one optimizer step per dispatch (`steps_per_execution=1`) and batch and
shuffle the NumPy arrays on the host. `KERAS_BACKEND` must be `jax` before Keras is imported:
this module sets it if nothing has, and refuses any other backend.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ..cases import CLASSES, EPSILON, FILTERS, HIDDEN, INPUT_SHAPES, LEARNING_RATE, Case  # noqa: E402

if keras.backend.backend() != "jax":
    raise RuntimeError(
        "benchmarks.runners.keras_fit compares Keras on its JAX backend; set KERAS_BACKEND=jax "
        f"before importing keras. Received: backend={keras.backend.backend()!r}"
    )

DISPATCH = "1 step (steps_per_execution=1)"


def build_model(model: str) -> keras.Model:
    """The Keras model of a case, compiled with Adam(1e-3, epsilon 1e-7)."""
    L = keras.layers
    if model == "mlp":
        layers = [L.Dense(HIDDEN, activation="relu"), L.Dense(HIDDEN, activation="relu")]
    else:
        layers = [
            L.Conv2D(FILTERS[0], 3, activation="relu"),
            L.MaxPooling2D(2),
            L.Conv2D(FILTERS[1], 3, activation="relu"),
            L.Flatten(),
        ]
    net = keras.Sequential([keras.Input(INPUT_SHAPES[model]), *layers, L.Dense(CLASSES)])
    net.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=EPSILON),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return net


class KerasRunner:
    """`model.fit` for one epoch per call on the NumPy arrays."""

    def __init__(self, case: Case):
        self.model, self.case = build_model(case.model), case

    def epoch(self) -> None:
        # fit reads the epoch's logs back from the device before returning, so it has finished.
        self.model.fit(self.case.x, self.case.y, batch_size=self.case.batch_size, verbose=0)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(x))


def make(case: Case) -> KerasRunner:
    return KerasRunner(case)


def first_step(case: Case) -> None:
    """A fresh model and a one-step `fit` (tracing, compilation, the step)."""
    build_model(case.model).fit(
        case.x, case.y, batch_size=case.batch_size, steps_per_epoch=1, verbose=0
    )
