"""The model and data shared by the multi-process workers and the single-process reference."""

import numpy as np

import fkeras as fk

GLOBAL_BATCH = 32
SAMPLES = 128


def make_model():
    L = fk.layers
    return fk.Sequential(
        [fk.Input((8,)), L.Dense(16, activation="relu"), L.BatchNormalization(), L.Dense(3)],
        seed=0,
    )


def all_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, 8)).astype("float32")
    return x, rng.integers(0, 3, SAMPLES)


def process_data(process_id: int, processes: int):
    """Process p's share: rows p, p + n, p + 2n, ... of each global batch (contiguous blocks)."""
    x, y = all_data()
    per = GLOBAL_BATCH // processes
    rows = np.concatenate(
        [
            np.arange(start + process_id * per, start + (process_id + 1) * per)
            for start in range(0, SAMPLES, GLOBAL_BATCH)
        ]
    )
    return x[rows], y[rows]
