"""Train an MLP on scikit-learn's handwritten digits (bundled, no download) with `fit`.

    python -m fkeras.examples.digits [--epochs 30] [--seed 0]

Dense + BatchNormalization + Dropout on flattened 8x8 images; `fit` with a validation split and
early stopping, then the held-out accuracy. `fkeras/examples/research_loop.py` trains the same
model with an explicit optax loop instead.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fkeras as fk


def load_digits_split(seed: int = 0):
    """Flattened 8x8 digits scaled to [0, 1], split 80/20 with a fixed permutation."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_train = int(0.8 * len(x))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def build_model(seed: int = 0) -> fk.Sequential:
    L = fk.layers
    return fk.Sequential(
        [
            fk.Input((64,)),
            L.Dense(128, activation="relu"),
            L.BatchNormalization(),
            L.Dropout(0.2),
            L.Dense(64, activation="relu"),
            L.Dense(10),
        ],
        seed=seed,
    )


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = load_digits_split(args.seed)
    model = build_model(args.seed)
    model.summary()
    trainer = model.compile(
        optimizer="adam",
        loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        seed=args.seed,
    )
    start = time.perf_counter()
    trainer.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=args.epochs,
        validation_split=0.1,
        callbacks=[fk.callbacks.EarlyStopping(patience=5, restore_best_weights=True)],
    )
    elapsed = time.perf_counter() - start
    logs = trainer.evaluate(x_test, y_test, verbose=0)
    print(
        f"test accuracy {logs['accuracy']:.4f} ({len(x_test)} held-out digits, "
        f"trained in {elapsed:.1f}s)"
    )
    return logs["accuracy"]


if __name__ == "__main__":
    main()
