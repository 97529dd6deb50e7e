"""One module per framework, each with the same small interface.

A runner module defines `REQUIRES` (packages it imports), `DISPATCH` (how many optimizer steps
one dispatch runs, for the table), `make(case) -> Runner` and `first_step(case) -> None`
(create a fresh model and run one optimizer step, blocking until it is done). A `Runner` has
`epoch()` (one full epoch, blocking until it is done) and `logits(x) -> np.ndarray`.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Protocol

import numpy as np

# name on the command line -> (module, label in the tables)
FRAMEWORKS = {
    "limit": ("limit", "limit (jit+optax, scanned epoch)"),
    "fkeras": ("fkeras_fit", "fkeras fit (NumPy data)"),
    "fkeras-device": ("fkeras_fit_device", "fkeras fit (device data)"),
    "keras": ("keras_fit", "Keras 3 fit (JAX backend)"),
    "equinox": ("equinox_loop", "Equinox loop (filter_jit per batch)"),
    "flax": ("flax_nnx", "Flax NNX loop (nnx.jit per batch)"),
}


class Runner(Protocol):
    """A model being trained by one framework on one case."""

    def epoch(self) -> None:
        """Train one full epoch; returns once the device has finished it."""

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The current model's outputs on `x`."""


def load(name: str):
    """The runner module of framework `name` (a key of `FRAMEWORKS`)."""
    if name not in FRAMEWORKS:
        raise ValueError(
            f"benchmarks: unknown framework. Expected one of {list(FRAMEWORKS)}. Received: {name=}"
        )
    return importlib.import_module(f"{__name__}.{FRAMEWORKS[name][0]}")


def missing(name: str) -> str | None:
    """`"not installed"` when a package framework `name` needs is absent, else None.

    Checked without importing the framework, so the suite can report it and go on.
    """
    module = FRAMEWORKS[name][0]
    needs = {"keras_fit": ["keras"], "equinox_loop": ["equinox"], "flax_nnx": ["flax"]}
    absent = [p for p in needs.get(module, []) if importlib.util.find_spec(p) is None]
    return f"not installed ({', '.join(absent)})" if absent else None
