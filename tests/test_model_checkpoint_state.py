"""`ModelCheckpoint(save_training_state=True)`: checkpoints of the whole training state.

The truth for resuming is the uninterrupted run that wrote the checkpoints: a fresh trainer
restored from the checkpoint of epoch k and fit from there must end bit-identical to it."""

import os

import jax
import numpy as np
import pytest

import fkeras as fk
from fkeras.callbacks import LambdaCallback, ModelCheckpoint
from fkeras.saving.checkpoint import read_checkpoint_epoch, restore_checkpoint

N, BATCH = 64, 8
_rng = np.random.default_rng(0)
X = _rng.normal(size=(N, 4)).astype(np.float32)
Y = (X @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32) + 0.1).astype(np.float32)


def make_trainer(optimizer="adam"):
    model = fk.Sequential(
        [
            fk.Input((4,)),
            fk.layers.Dense(8, activation="relu"),
            fk.layers.BatchNormalization(),
            fk.layers.Dropout(0.3),
            fk.layers.Dense(1),
        ]
    )
    return model.compile(optimizer=optimizer, loss="mse", metrics=["mae"], seed=0)


def fit(trainer, epochs, initial_epoch=0, callbacks=()):
    return trainer.fit(
        X, Y, batch_size=BATCH, epochs=epochs, initial_epoch=initial_epoch,
        callbacks=list(callbacks), verbose=0,
    )  # fmt: skip


def state_leaves(trainer):
    """Every leaf of the TrainState as NumPy (typed PRNG keys as their key data)."""
    return state_leaves_of(trainer.state)


def assert_same_leaves(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "optimizer",
    [
        "adam",
        # Optimizer state with gradient accumulation and a moving average of the weights.
        lambda: fk.optimizers.Adam(0.01, use_ema=True, gradient_accumulation_steps=3),
    ],
    ids=["adam", "adam_ema_accumulation"],
)
def test_epoch_checkpoint_resumes_bit_identically(tmp_path, optimizer):
    make_optimizer = optimizer if callable(optimizer) else lambda: optimizer
    pattern = str(tmp_path / "ckpt" / "{epoch:02d}-{loss:.3f}.ckpt")
    full = make_trainer(make_optimizer())
    history = fit(full, 4, callbacks=[ModelCheckpoint(pattern, save_training_state=True)])
    files = sorted(os.listdir(tmp_path / "ckpt"))
    expected = [f"{e + 1:02d}-{loss:.3f}.ckpt" for e, loss in enumerate(history.history["loss"])]
    assert files == expected
    assert [read_checkpoint_epoch(tmp_path / "ckpt" / f) for f in files] == [1, 2, 3, 4]

    resumed = make_trainer(make_optimizer())
    epoch = restore_checkpoint(resumed, tmp_path / "ckpt" / files[1])
    assert epoch == 2
    assert int(resumed.state.step) == 2 * N // BATCH
    resumed_history = fit(resumed, 4, initial_epoch=epoch)
    assert resumed_history.epoch == [2, 3]
    assert_same_leaves(state_leaves(resumed), state_leaves(full))
    np.testing.assert_array_equal(resumed_history.history["loss"], history.history["loss"][2:])


def training_leaves(trainer):
    """The leaves of the TrainState but its metric states (which fit resets every epoch)."""
    return state_leaves_of(trainer.state.replace(metric_states={}))


def state_leaves_of(state):
    out = []
    for leaf in jax.tree_util.tree_leaves(state):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out.append(np.array(leaf, copy=True))
    return out


def test_best_only_keeps_the_state_of_the_best_epoch(tmp_path):
    path = tmp_path / "best.ckpt"
    trainer = make_trainer()
    states = []
    record = LambdaCallback(
        on_epoch_end=lambda epoch, logs: states.append(training_leaves(trainer))
    )
    # `mode="max"` on the validation loss: the best epoch is not simply the last one.
    checkpoint = ModelCheckpoint(
        path, monitor="val_loss", mode="max", save_best_only=True, save_training_state=True
    )
    history = trainer.fit(
        X, Y, batch_size=BATCH, epochs=4, validation_split=0.25, callbacks=[checkpoint, record],
        verbose=0,
    )  # fmt: skip
    best = int(np.argmax(history.history["val_loss"]))
    assert read_checkpoint_epoch(path) == best + 1
    assert not np.array_equal(states[best][0], states[-1][0]) or best == 3
    fresh = make_trainer()
    restore_checkpoint(fresh, path)
    assert_same_leaves(training_leaves(fresh), states[best])


def test_step_frequency_saves_the_state_of_that_step(tmp_path):
    pattern = str(tmp_path / "{epoch}-{batch}.ckpt")
    trainer = make_trainer()
    fit(trainer, 2, callbacks=[ModelCheckpoint(pattern, save_training_state=True, save_freq=3)])
    names = sorted(os.listdir(tmp_path))
    assert len(names) >= 2
    steps_per_epoch = N // BATCH
    for name in names:
        epoch, batch = (int(v) for v in name[: -len(".ckpt")].split("-"))
        fresh = make_trainer()
        # Saved within an epoch: a resume restarts that epoch (0-based epoch - 1).
        assert restore_checkpoint(fresh, tmp_path / name) == epoch - 1
        # The state is the one of the step named in the file, not of a later dispatch.
        assert int(fresh.state.step) == (epoch - 1) * steps_per_epoch + batch


def test_argument_errors():
    with pytest.raises(ValueError, match="Received: save_weights_only=True"):
        ModelCheckpoint("a.ckpt", save_weights_only=True, save_training_state=True)
    with pytest.raises(ValueError, match=r"must end in `\.ckpt`.*Received: filepath=a\.fkeras"):
        ModelCheckpoint("a.fkeras", save_training_state=True)
    with pytest.raises(ValueError, match="save_training_state=True for `.ckpt`"):
        ModelCheckpoint("a.ckpt")
