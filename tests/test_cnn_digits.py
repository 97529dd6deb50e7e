"""A small CNN (Conv2D, BatchNormalization, pooling, Dropout, Dense) trains on digits."""

import numpy as np
import pytest

import fkeras as fk
from fkeras.examples.digits import load_digits_split

L = fk.layers


@pytest.mark.slow
def test_small_cnn_reaches_high_test_accuracy_on_digits():
    (x, y), (x_test, y_test) = load_digits_split(0)
    x, x_test = x.reshape(-1, 8, 8, 1), x_test.reshape(-1, 8, 8, 1)
    model = fk.Sequential(
        [
            fk.Input((8, 8, 1)),
            L.Conv2D(16, 3, padding="same", activation="relu"),
            L.BatchNormalization(),
            L.MaxPooling2D(2),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.GlobalAveragePooling2D(),
            L.Dropout(0.2),
            L.Dense(10),
        ],
        seed=0,
    )
    trainer = model.compile(
        optimizer=fk.optimizers.Adam(3e-3),
        loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    trainer.fit(x, y, batch_size=32, epochs=25, verbose=0)
    accuracy = trainer.evaluate(x_test, y_test, verbose=0)["accuracy"]
    predicted = np.asarray(trainer.model(x_test)).argmax(-1)
    assert np.mean(predicted == y_test) == pytest.approx(accuracy, abs=1e-6)
    assert accuracy >= 0.97
