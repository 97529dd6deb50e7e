"""fk.callbacks: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, LearningRateScheduler,
CSVLogger, TerminateOnNaN, LambdaCallback and TensorBoard.

Each behaviour is checked against an independent truth: monitored values injected by a callback
(so the expected decisions follow from the sequence), weights recorded at each epoch end, the
`History`, Keras 3's own callbacks driven through the same sequences, and files read back.
"""

import csv
import glob
import hashlib
import math
import os
import struct
import sys
import types
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras as fk
from fkeras.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
    TerminateOnNaN,
)

# ------------------------------------------------------------------------------ helpers

N, BATCH = 64, 8  # 8 steps per epoch
_rng = np.random.default_rng(0)
X = _rng.normal(size=(N, 4)).astype(np.float32)
Y = (X @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32) + 0.1).astype(np.float32)


def make_trainer(optimizer="sgd", batchnorm=False, **compile_kwargs):
    layers = [fk.Input((4,)), fk.layers.Dense(3)]
    if batchnorm:  # moving statistics live in the layer state
        layers.append(fk.layers.BatchNormalization())
    layers.append(fk.layers.Dense(1))
    model = fk.Sequential(layers)
    return model.compile(optimizer=optimizer, loss="mse", seed=0, **compile_kwargs)


class Inject(Callback):
    """Overwrites `logs[key]` with `values[epoch]` at each epoch end (list it first)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = float(self.values[epoch])


class RecordWeights(Callback):
    """`weights[epoch]`: copies of `trainer.model.get_weights()` at each epoch end."""

    def __init__(self):
        super().__init__()
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = [np.array(w, copy=True) for w in self.trainer.model.get_weights()]


def same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def lr_of(trainer):
    return float(fk.optimizers.get_learning_rate(trainer.state.opt_state))


class FakeTrainer:
    """The little of a trainer that a monitor callback touches when driven by hand."""

    def __init__(self):
        self.stop_training = False


def drive_epochs(callback, values, key="val_loss"):
    """Run `callback`'s epoch hooks over `values` until it stops training; epochs run."""
    trainer = callback.trainer
    callback.on_train_begin({})
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        callback.on_epoch_end(epoch, {key: float(value)})
        if trainer.stop_training:
            return epoch + 1
    return len(values)


def keras_module():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":  # pragma: no cover
        pytest.skip("Keras reference needs the JAX backend")
    return keras


# --------------------------------------------------------------------------- mode inference


@pytest.mark.parametrize(
    "monitor, expected",
    [
        ("val_loss", "min"),
        ("loss", "min"),
        ("val_mae", "min"),
        ("mean_squared_error", "min"),
        ("val_accuracy", "max"),
        ("sparse_categorical_accuracy", "max"),
        ("val_acc", "max"),
        ("auc", "max"),
        ("val_precision", "max"),
        ("recall", "max"),
        ("val_f1_score", "max"),
        ("output_1_loss", "min"),
    ],
)
def test_auto_mode_is_inferred_from_the_monitor_name(monitor, expected):
    for callback in (
        EarlyStopping(monitor=monitor),
        ReduceLROnPlateau(monitor=monitor),
        ModelCheckpoint("m.fkeras", monitor=monitor),
    ):
        assert callback.direction == expected
        assert callback.monitor_op is (np.greater if expected == "max" else np.less)
        # An improvement goes in the inferred direction.
        better, worse = (2.0, 1.0) if expected == "max" else (1.0, 2.0)
        assert callback._is_improvement(better, worse)
        assert not callback._is_improvement(worse, better)


def test_explicit_mode_overrides_and_unknown_mode_falls_back_to_auto():
    assert EarlyStopping(monitor="val_accuracy", mode="min").monitor_op is np.less
    assert EarlyStopping(monitor="val_loss", mode="max").monitor_op is np.greater
    with pytest.warns(UserWarning, match="mode 'sideways' is unknown"):
        callback = EarlyStopping(monitor="val_accuracy", mode="sideways")
    assert callback.mode == "auto" and callback.monitor_op is np.greater


def test_min_delta_is_needed_to_count_as_improvement():
    low = EarlyStopping(monitor="loss", min_delta=0.5)
    assert low._is_improvement(1.0, 2.0) and not low._is_improvement(1.6, 2.0)
    high = EarlyStopping(monitor="acc", min_delta=-0.5)  # abs(), as Keras
    assert high._is_improvement(2.6, 2.0) and not high._is_improvement(2.4, 2.0)


# ---------------------------------------------------------------------------- EarlyStopping


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    # Best value 3.0 at epoch 2; epochs 3 and 4 do not improve, so patience=2 stops at epoch 4.
    values = [5.0, 4.0, 3.0, 3.5, 3.2, 1.0, 1.0, 1.0]
    trainer = make_trainer()
    early = EarlyStopping(monitor="val_loss", patience=2)
    history = trainer.fit(
        X, Y, batch_size=BATCH, epochs=8, verbose=0, callbacks=[Inject("val_loss", values), early]
    )
    assert history.epoch == [0, 1, 2, 3, 4]
    assert history.history["val_loss"] == values[:5]
    assert early.stopped_epoch == 4 and early.best == 3.0 and early.best_epoch == 2
    assert trainer.stop_training


def test_early_stopping_min_delta_and_max_mode():
    # In max mode with min_delta=0.1, +0.05 steps are no improvement: stop after patience=1.
    values = [0.5, 0.7, 0.75, 0.78, 0.9]
    trainer = make_trainer()
    early = EarlyStopping(monitor="val_accuracy", min_delta=0.1, patience=1)
    history = trainer.fit(
        X, Y, batch_size=BATCH, epochs=5, verbose=0,
        callbacks=[Inject("val_accuracy", values), early],
    )  # fmt: skip
    # epoch 0 best=.5; epoch 1 .7 > .6 improves; epoch 2 .75 < .8: wait 1 >= patience: stop.
    assert history.epoch == [0, 1, 2] and early.best == 0.7


def test_early_stopping_baseline_stops_when_never_beaten():
    # Epoch 0 is the best, but does not beat the baseline 1.0, so its wait is not reset:
    # waits 1, 2, 3 at epochs 0, 1, 2 and patience=3 stops at epoch 2 (one epoch earlier
    # than without a baseline).
    values = [2.0, 3.0, 3.0, 3.0, 3.0, 0.5]
    trainer = make_trainer()
    early = EarlyStopping(monitor="val_loss", patience=3, baseline=1.0)
    history = trainer.fit(
        X, Y, batch_size=BATCH, epochs=6, verbose=0, callbacks=[Inject("val_loss", values), early]
    )
    assert history.epoch == [0, 1, 2] and early.best == 2.0
    plain = EarlyStopping(monitor="val_loss", patience=3)
    plain.set_trainer(FakeTrainer())
    assert drive_epochs(plain, values) == 4
    # A baseline that is beaten resets the wait as if there were none.
    beaten = EarlyStopping(monitor="val_loss", patience=3, baseline=10.0)
    beaten.set_trainer(FakeTrainer())
    assert drive_epochs(beaten, values) == 4


def test_early_stopping_start_from_epoch_delays_monitoring():
    values = [0.1, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0]
    plain = EarlyStopping(monitor="val_loss", patience=1)
    plain.set_trainer(FakeTrainer())
    assert drive_epochs(plain, values) == 2  # epoch 1 does not improve on 0.1
    delayed = EarlyStopping(monitor="val_loss", patience=1, start_from_epoch=3)
    delayed.set_trainer(FakeTrainer())
    # Monitoring starts at epoch 3 (best 5.0); epoch 4 does not improve: stop there.
    assert drive_epochs(delayed, values) == 5 and delayed.best_epoch == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(patience=0),
        dict(patience=2),
        dict(patience=3, min_delta=0.05),
        dict(patience=2, baseline=0.6),
        dict(patience=1, start_from_epoch=4),
        dict(patience=4, mode="max", min_delta=0.01),
        dict(patience=2, mode="max", baseline=0.9),
    ],
)
def test_early_stopping_matches_keras_on_random_sequences(kwargs):
    keras = keras_module()
    rng = np.random.default_rng(len(str(kwargs)))
    for _ in range(20):
        values = rng.uniform(0.0, 1.0, size=15).round(2)
        ours = EarlyStopping(monitor="val_loss", **{"mode": "min", **kwargs})
        ours.set_trainer(FakeTrainer())
        theirs = keras.callbacks.EarlyStopping(monitor="val_loss", **{"mode": "min", **kwargs})
        theirs.set_model(types.SimpleNamespace(stop_training=False))
        theirs.on_train_begin({})
        expected = len(values)
        for epoch, value in enumerate(values):
            theirs.on_epoch_end(epoch, {"val_loss": float(value)})
            if theirs.model.stop_training:
                expected = epoch + 1
                break
        assert drive_epochs(ours, values) == expected, values
        assert ours.stopped_epoch == theirs.stopped_epoch
        assert ours.best_epoch == theirs.best_epoch
        assert ours.best == (None if theirs.best is None else float(theirs.best))


@pytest.mark.parametrize("stopped_early", [True, False])
def test_restore_best_weights_restores_params_and_layer_state(stopped_early):
    # Best epoch 2 (of the 5 run before patience=2 stops, or of 6 with patience=10): as in
    # Keras 3 the best weights come back whenever training ends. BatchNormalization adds
    # moving statistics, which live in the layer state and must come back too.
    values = [4.0, 3.0, 1.0, 2.0, 3.0, 4.0]
    trainer = make_trainer(batchnorm=True)
    record = RecordWeights()
    early = EarlyStopping(
        monitor="val_loss", patience=2 if stopped_early else 10, restore_best_weights=True
    )
    history = trainer.fit(
        X, Y, batch_size=BATCH, epochs=6, verbose=0,
        callbacks=[Inject("val_loss", values), early, record],
    )  # fmt: skip
    last = history.epoch[-1]
    assert last == (4 if stopped_early else 5)
    assert not same_weights(record.weights[2], record.weights[last])  # training moved them
    assert same_weights(trainer.model.get_weights(), record.weights[2])
    assert early.best_epoch == 2
    # The restored state trains on: another epoch starts from the best weights.
    assert np.isfinite(trainer.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0).history["loss"])


def test_without_restore_best_weights_the_last_weights_stay():
    trainer = make_trainer()
    record = RecordWeights()
    trainer.fit(
        X, Y, batch_size=BATCH, epochs=4, verbose=0,
        callbacks=[Inject("val_loss", [1.0, 2.0, 3.0, 4.0]), EarlyStopping(patience=5), record],
    )  # fmt: skip
    assert same_weights(trainer.model.get_weights(), record.weights[3])


def test_restore_best_weights_with_real_validation_loss():
    # Noisy targets and a large learning rate: the validation loss soon stops improving.
    y = Y + np.random.default_rng(1).normal(scale=0.5, size=Y.shape).astype(np.float32)
    trainer = make_trainer(optimizer=fk.optimizers.SGD(learning_rate=0.05))
    record = RecordWeights()
    early = EarlyStopping(patience=2, restore_best_weights=True)
    history = trainer.fit(
        X, y, batch_size=BATCH, epochs=30, verbose=0, validation_split=0.25,
        callbacks=[early, record],
    )  # fmt: skip
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) < 30 and len(val) == best + 3  # stopped `patience` epochs after the best
    assert same_weights(trainer.model.get_weights(), record.weights[best])
    assert not same_weights(trainer.model.get_weights(), record.weights[len(val) - 1])
    # validation_split holds out the last quarter, as Keras.
    assert trainer.evaluate(X[48:], y[48:], verbose=0)["loss"] == pytest.approx(val[best], 1e-5)


def test_early_stopping_warns_on_a_missing_monitor():
    trainer = make_trainer()
    with pytest.warns(
        UserWarning, match=r"val_accuracy.*not available.*Available metrics are: loss"
    ):
        history = trainer.fit(
            X, Y, batch_size=BATCH, epochs=2, verbose=0,
            callbacks=[EarlyStopping(monitor="val_accuracy")],
        )  # fmt: skip
    assert len(history.epoch) == 2


def test_early_stopping_verbose_messages(capsys):
    early = EarlyStopping(monitor="val_loss", patience=0, verbose=1, restore_best_weights=True)
    trainer = make_trainer()
    trainer.fit(
        X, Y, batch_size=BATCH, epochs=4, verbose=0,
        callbacks=[Inject("val_loss", [1.0, 2.0, 3.0, 4.0]), early],
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "Epoch 2: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 1." in out


# -------------------------------------------------------------------------- ModelCheckpoint


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_model_checkpoint_save_best_only_writes_only_on_improvement(tmp_path):
    path = str(tmp_path / "best.weights.npz")
    values = [3.0, 2.0, 2.5, 1.0, 1.5]
    digests = []
    trainer = make_trainer()
    record = RecordWeights()
    watch = LambdaCallback(
        on_epoch_end=lambda epoch, logs: digests.append(
            _digest(path) if os.path.exists(path) else None
        )
    )
    checkpoint = ModelCheckpoint(path, save_best_only=True, save_weights_only=True)
    trainer.fit(
        X, Y, batch_size=BATCH, epochs=5, verbose=0,
        callbacks=[Inject("val_loss", values), checkpoint, watch, record],
    )  # fmt: skip
    changed = [digests[e] != (digests[e - 1] if e else None) for e in range(5)]
    assert changed == [True, True, False, True, False]  # improvements at epochs 0, 1, 3
    assert checkpoint.best == 1.0
    loaded = trainer.model.load_weights(path)
    assert same_weights(loaded.get_weights(), record.weights[3])
    assert not same_weights(loaded.get_weights(), record.weights[4])


def test_model_checkpoint_formats_the_filename_and_saves_whole_models(tmp_path):
    pattern = str(tmp_path / "ckpt" / "{epoch:02d}-{val_loss:.2f}.fkeras")
    trainer = make_trainer()
    record = RecordWeights()
    history = trainer.fit(
        X, Y, batch_size=BATCH, epochs=3, verbose=0, validation_split=0.25,
        callbacks=[ModelCheckpoint(pattern), record],
    )  # fmt: skip
    expected = [
        f"{epoch + 1:02d}-{history.history['val_loss'][epoch]:.2f}.fkeras" for epoch in range(3)
    ]
    assert sorted(os.listdir(tmp_path / "ckpt")) == sorted(expected)
    for epoch, name in enumerate(expected):
        model = fk.saving.load_model(str(tmp_path / "ckpt" / name))
        assert same_weights(model.get_weights(), record.weights[epoch])


def test_model_checkpoint_initial_value_threshold(tmp_path):
    path = str(tmp_path / "m.weights.npz")
    trainer = make_trainer()
    checkpoint = ModelCheckpoint(
        path, save_best_only=True, save_weights_only=True, initial_value_threshold=0.5
    )
    trainer.fit(
        X, Y, batch_size=BATCH, epochs=3, verbose=0,
        callbacks=[Inject("val_loss", [2.0, 1.0, 0.7]), checkpoint],
    )  # fmt: skip
    assert not os.path.exists(path)  # nothing beat 0.5
    trainer.fit(
        X, Y, batch_size=BATCH, epochs=2, verbose=0,
        callbacks=[Inject("val_loss", [0.6, 0.4]), checkpoint],
    )  # fmt: skip
    assert os.path.exists(path) and checkpoint.best == 0.4


def test_model_checkpoint_integer_save_freq_with_several_steps_per_dispatch(tmp_path):
    # 8 steps an epoch in dispatches of 2: dispatch ends at steps 2, 4, ..., 16 over 2 epochs.
    # save_freq=3 saves at the first dispatch end at or after 3, 6, 9, 12 and 15.
    every, k, epochs = 3, 2, 2
    trainer = make_trainer(steps_per_execution=k)
    pattern = str(tmp_path / "e{epoch}-b{batch}.weights.npz")
    trainer.fit(
        X, Y, batch_size=BATCH, epochs=epochs, verbose=0, shuffle=False,
        callbacks=[ModelCheckpoint(pattern, save_weights_only=True, save_freq=every)],
    )  # fmt: skip
    steps = N // BATCH
    ends = [e * steps + b for e in range(epochs) for b in range(k, steps + 1, k)]  # global
    expected = []
    for previous, end in zip([0, *ends], ends):
        if any(previous < m <= end for m in range(every, end + 1, every)):
            epoch, batch = divmod(end - 1, steps)
            expected.append(f"e{epoch + 1}-b{batch + 1}.weights.npz")
    assert expected == ["e1-b4.weights.npz", "e1-b6.weights.npz", "e2-b2.weights.npz",
                        "e2-b4.weights.npz", "e2-b8.weights.npz"]  # fmt: skip
    assert sorted(os.listdir(tmp_path)) == sorted(expected)


def test_model_checkpoint_argument_checks():
    with pytest.raises(ValueError, match=r"must end in `\.fkeras`"):
        ModelCheckpoint("model.keras")
    with pytest.raises(ValueError, match=r"must end in `\.weights\.npz`"):
        ModelCheckpoint("model.weights.h5", save_weights_only=True)
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        ModelCheckpoint("m.fkeras", save_freq="batch")


def test_model_checkpoint_missing_format_key_names_the_keys(tmp_path):
    trainer = make_trainer()
    checkpoint = ModelCheckpoint(str(tmp_path / "{val_acc:.2f}.fkeras"))
    with pytest.raises(KeyError, match="Failed to format"):
        trainer.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[checkpoint])


# ------------------------------------------------------------------------ ReduceLROnPlateau


def test_reduce_lr_on_plateau_reduces_after_patience_with_cooldown_and_min_lr():
    # val_loss stays flat: reductions after 2 epochs without improvement, then 1 cooldown epoch.
    values = [1.0] * 10
    lrs = []
    trainer = make_trainer(optimizer=fk.optimizers.SGD(learning_rate=0.1))
    reduce = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=2, min_lr=0.02)
    history = trainer.fit(
        X, Y, batch_size=BATCH, epochs=10, verbose=0,
        callbacks=[Inject("val_loss", values), reduce,
                   LambdaCallback(on_epoch_end=lambda e, logs: lrs.append(lr_of(trainer)))],
    )  # fmt: skip
    # Epoch 0 is the first best; waits 1, 2 at epochs 1, 2 -> 0.05 and cooldown 2. The cooldown
    # counts down at epochs 3 (no waiting) and 4 (over before the check: wait 1), wait 2 at 5
    # -> 0.025; likewise epochs 6, 7, 8 -> max(0.0125, min_lr); at min_lr nothing changes.
    expected = [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.02, 0.02]
    np.testing.assert_allclose(lrs, expected, rtol=1e-6)
    # The logs hold the learning rate used during each epoch (before that epoch's reduction).
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, *expected[:-1]], rtol=1e-6)


class Float32LearningRate:
    """A stand-in Keras optimizer whose learning rate is stored in float32, like Keras'."""

    def __init__(self, value):
        self.learning_rate = value

    @property
    def learning_rate(self):
        return self._value

    @learning_rate.setter
    def learning_rate(self, value):
        self._value = np.float32(value)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(factor=0.5, patience=1),
        dict(factor=0.2, patience=2, cooldown=2),
        dict(factor=0.5, patience=0, min_lr=0.01),
        dict(factor=0.1, patience=3, min_delta=0.05, cooldown=1, min_lr=1e-4),
        dict(factor=0.5, patience=2, mode="max"),
    ],
)
def test_reduce_lr_on_plateau_matches_keras_on_random_sequences(kwargs):
    keras = keras_module()
    rng = np.random.default_rng(len(str(kwargs)))
    for _ in range(10):
        values = rng.uniform(0.0, 1.0, size=12).round(2)
        theirs = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", **kwargs)
        optimizer = Float32LearningRate(0.1)
        theirs.set_model(types.SimpleNamespace(optimizer=optimizer))
        ours = ReduceLROnPlateau(monitor="val_loss", **kwargs)
        trainer = types.SimpleNamespace(
            state=make_trainer(optimizer=fk.optimizers.SGD(learning_rate=0.1)).state
        )
        ours.set_trainer(trainer)
        theirs.on_train_begin({})
        ours.on_train_begin({})
        for epoch, value in enumerate(values):
            their_logs, our_logs = {"val_loss": float(value)}, {"val_loss": float(value)}
            theirs.on_epoch_end(epoch, their_logs)
            ours.on_epoch_end(epoch, our_logs)
            assert our_logs["learning_rate"] == pytest.approx(their_logs["learning_rate"], 1e-6)
            assert lr_of(trainer) == pytest.approx(float(optimizer.learning_rate), rel=1e-6)
            assert (ours.wait, ours.cooldown_counter) == (theirs.wait, theirs.cooldown_counter)


@pytest.mark.parametrize("make_callback", [ReduceLROnPlateau, lambda: LearningRateScheduler(min)])
def test_learning_rate_callbacks_need_a_settable_float_learning_rate(make_callback):
    import optax

    schedule = fk.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    for optimizer, message in [
        (fk.optimizers.SGD(learning_rate=schedule), "is a schedule"),
        (optax.sgd(0.1), "injectable learning rate"),
    ]:
        record = RecordWeights()
        with pytest.raises(ValueError, match=message):
            make_trainer(optimizer=optimizer).fit(
                X, Y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[make_callback(), record]
            )
        assert record.weights == {}  # refused before the first epoch, not at the first reduction


def test_reduce_lr_on_plateau_rejects_factor_at_least_one():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)


# -------------------------------------------------------------------- LearningRateScheduler


def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    def schedule(epoch, lr):
        return 0.1 * 0.5**epoch

    seen = []
    trainer = make_trainer(optimizer=fk.optimizers.SGD(learning_rate=0.01))
    history = trainer.fit(
        X, Y, batch_size=BATCH, epochs=4, verbose=0,
        callbacks=[LearningRateScheduler(schedule),
                   LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(lr_of(trainer)))],
    )  # fmt: skip
    expected = [0.1 * 0.5**e for e in range(4)]
    np.testing.assert_allclose(seen, expected, rtol=1e-6)
    np.testing.assert_allclose(history.history["learning_rate"], expected, rtol=1e-6)
    assert lr_of(trainer) == pytest.approx(expected[-1], rel=1e-6)


def test_learning_rate_scheduler_passes_the_current_rate_and_drives_the_updates():
    received = []

    def schedule(epoch, lr):
        received.append(lr)
        return 0.0 if epoch == 1 else lr * 0.5  # epoch 1 does not move the weights

    trainer = make_trainer(optimizer=fk.optimizers.SGD(learning_rate=0.08))
    record = RecordWeights()
    trainer.fit(
        X, Y, batch_size=BATCH, epochs=3, verbose=0,
        callbacks=[LearningRateScheduler(schedule), record],
    )  # fmt: skip
    np.testing.assert_allclose(received, [0.08, 0.04, 0.0], rtol=1e-6)
    assert same_weights(record.weights[0], record.weights[1])  # lr 0 during epoch 1
    assert same_weights(record.weights[1], record.weights[2])  # and during epoch 2
    initial = [np.asarray(w) for w in make_trainer().model.get_weights()]
    assert not same_weights(initial, record.weights[0])  # lr 0.04 during epoch 0


def test_learning_rate_scheduler_one_argument_schedule_and_bad_output(capsys):
    trainer = make_trainer()
    trainer.fit(
        X, Y, batch_size=BATCH, epochs=2, verbose=0,
        callbacks=[LearningRateScheduler(lambda epoch: 0.25 / (epoch + 1), verbose=1)],
    )  # fmt: skip
    assert lr_of(trainer) == pytest.approx(0.125)
    assert (
        "Epoch 2: LearningRateScheduler setting learning rate to 0.125." in capsys.readouterr().out
    )
    with pytest.raises(ValueError, match="should be a float"):
        trainer.fit(
            X, Y, batch_size=BATCH, epochs=1, verbose=0,
            callbacks=[LearningRateScheduler(lambda epoch, lr: "fast")],
        )  # fmt: skip


# ------------------------------------------------------------------------------- CSVLogger


def _read_csv(path, separator=","):
    with open(path, newline="") as f:
        return list(csv.reader(f, delimiter=separator))


def test_csv_logger_writes_header_and_one_row_per_epoch(tmp_path):
    path = str(tmp_path / "log.csv")
    trainer = make_trainer()
    history = trainer.fit(
        X, Y, batch_size=BATCH, epochs=3, verbose=0, validation_split=0.25,
        callbacks=[CSVLogger(path)],
    )  # fmt: skip
    rows = _read_csv(path)
    keys = sorted(history.history)
    assert rows[0] == ["epoch", *keys] == ["epoch", "loss", "val_loss"]
    assert len(rows) == 4
    for epoch, row in enumerate(rows[1:]):
        assert int(row[0]) == epoch
        for key, cell in zip(keys, row[1:]):
            assert float(cell) == history.history[key][epoch]  # exact: repr round-trips


def test_csv_logger_append_and_separator_and_na_for_missing_validation(tmp_path):
    path = str(tmp_path / "log.tsv")
    trainer = make_trainer()
    first = trainer.fit(
        X, Y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[CSVLogger(path, separator="\t")]
    )
    second = trainer.fit(
        X, Y, batch_size=BATCH, epochs=2, verbose=0,
        callbacks=[CSVLogger(path, separator="\t", append=True)],
    )  # fmt: skip
    rows = _read_csv(path, "\t")
    # No validation: the val_* columns are added and filled with NA (as Keras); one header.
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "0", "1"]
    losses = first.history["loss"] + second.history["loss"]
    assert [float(r[1]) for r in rows[1:]] == losses
    assert all(r[2] == "NA" for r in rows[1:])
    # append=False overwrites.
    trainer.fit(X, Y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[CSVLogger(path)])
    assert len(_read_csv(path)) == 2


def test_csv_logger_writes_vectors_and_learning_rate(tmp_path):
    path = str(tmp_path / "log.csv")
    logger = CSVLogger(path)
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.5, "f1": np.array([0.25, 0.75]), "val_loss": np.float32(1)})
    logger.on_train_end()
    assert _read_csv(path) == [
        ["epoch", "f1", "loss", "val_loss"],
        ["0", "[0.25, 0.75]", "0.5", "1.0"],
    ]


# --------------------------------------------------------------------------- TerminateOnNaN


class PoisonAtEpoch(Callback):
    """Turns the parameters into NaN at the start of `epoch`."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            state = self.trainer.state
            self.trainer.state = state.replace(
                params=jax.tree_util.tree_map(lambda a: a * jnp.nan, state.params)
            )


def test_terminate_on_nan_stops_at_the_first_nan_batch(capsys):
    trainer = make_trainer(steps_per_execution=1)
    batch_ends = []
    counter = LambdaCallback(on_train_batch_end=lambda b, logs: batch_ends.append(b))
    history = trainer.fit(
        X, Y, batch_size=BATCH, epochs=6, verbose=0,
        callbacks=[PoisonAtEpoch(2), TerminateOnNaN(), counter],
    )  # fmt: skip
    losses = history.history["loss"]
    assert len(losses) == 3 < 6  # epochs 0, 1 and the NaN epoch 2
    assert all(math.isfinite(v) for v in losses[:2]) and math.isnan(losses[2])
    # Epoch 2 stopped after its first batches, not after all 8.
    assert len(batch_ends) - 16 < N // BATCH
    assert "Batch 0: Invalid loss, terminating training" in capsys.readouterr().out


def test_terminate_on_nan_with_inf_targets_and_raise_error():
    y = Y.copy()
    y[5] = np.inf  # the loss of the first epoch is infinite from the first batch on
    trainer = make_trainer()
    history = trainer.fit(
        X, y, batch_size=BATCH, epochs=4, verbose=0, shuffle=False, callbacks=[TerminateOnNaN()]
    )
    assert len(history.epoch) == 1 and not math.isfinite(history.history["loss"][0])
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch"):
        make_trainer().fit(
            X, y, batch_size=BATCH, epochs=4, verbose=0,
            callbacks=[TerminateOnNaN(raise_error=True)],
        )  # fmt: skip


# --------------------------------------------------------------------------- LambdaCallback


def test_lambda_callback_hooks_are_called_with_the_right_arguments():
    calls = {
        "train_begin": 0, "train_end": [], "epoch_begin": [], "epoch_end": [],
        "batch_begin": [], "batch_end": [], "test_end": [],
    }  # fmt: skip
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.__setitem__("train_begin", calls["train_begin"] + 1),
        on_train_end=lambda logs: calls["train_end"].append(dict(logs)),
        on_epoch_begin=lambda epoch, logs: calls["epoch_begin"].append(epoch),
        on_epoch_end=lambda epoch, logs: calls["epoch_end"].append((epoch, dict(logs))),
        on_train_batch_begin=lambda batch, logs: calls["batch_begin"].append(batch),
        on_train_batch_end=lambda batch, logs: calls["batch_end"].append(batch),
        on_test_end=lambda logs: calls["test_end"].append(dict(logs)),
    )
    trainer = make_trainer(steps_per_execution=3)  # 8 steps: dispatches of 3, 3, 2
    history = trainer.fit(
        X, Y, batch_size=BATCH, epochs=3, initial_epoch=1, verbose=0, callbacks=[callback]
    )
    assert calls["train_begin"] == 1
    assert calls["epoch_begin"] == [1, 2] == history.epoch
    assert [e for e, _ in calls["epoch_end"]] == [1, 2]
    assert [logs["loss"] for _, logs in calls["epoch_end"]] == history.history["loss"]
    assert calls["batch_begin"] == [0, 3, 6] * 2  # each dispatch's first step
    assert calls["batch_end"] == [2, 5, 7] * 2  # each dispatch's last step
    assert calls["train_end"] == [calls["epoch_end"][-1][1]]
    result = trainer.evaluate(X, Y, verbose=0, callbacks=[callback])
    assert calls["test_end"] == [result]


def test_lambda_callback_keras_batch_aliases_and_unknown_hooks():
    ends = []
    callback = LambdaCallback(on_batch_end=lambda batch, logs: ends.append(batch))
    make_trainer(steps_per_execution=4).fit(
        X, Y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[callback]
    )
    assert ends == [3, 7]
    with pytest.raises(TypeError, match="unknown hook names"):
        LambdaCallback(on_epoch_finish=print)
    with pytest.raises(TypeError, match="not both"):
        LambdaCallback(on_batch_end=print, on_train_batch_end=print)


# ------------------------------------------------------------------------------ TensorBoard


def _read_events(folder):
    """{tag: {step: value}} for scalars and {tag: [steps]} for histograms/images of a folder's
    event files (TFRecord framing parsed by hand; protos from tensorboardX)."""
    from tensorboardX.proto import event_pb2

    scalars, others = {}, {}
    files = glob.glob(os.path.join(folder, "events.out.tfevents.*"))
    assert files, f"no event file in {folder}"
    for name in files:
        with open(name, "rb") as f:
            data = f.read()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            record = data[offset + 12 : offset + 12 + length]
            offset += 12 + length + 4
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    scalars.setdefault(value.tag, {})[event.step] = value.simple_value
                else:
                    others.setdefault(value.tag, []).append(event.step)
    return scalars, others


def test_tensorboard_writes_epoch_scalars_histograms_and_batch_scalars(tmp_path):
    pytest.importorskip("tensorboardX")
    log_dir = str(tmp_path / "logs")
    trainer = make_trainer(optimizer=fk.optimizers.SGD(learning_rate=0.01), steps_per_execution=2)
    try:
        import PIL  # noqa: F401 - images need Pillow
    except ImportError:
        images = False
    else:
        images = True
    tensorboard = TensorBoard(log_dir=log_dir, histogram_freq=2, write_images=images, update_freq=3)
    history = trainer.fit(
        X, Y, batch_size=BATCH, epochs=3, verbose=0, validation_split=0.25,
        callbacks=[tensorboard],
    )  # fmt: skip
    train, train_other = _read_events(os.path.join(log_dir, "train"))
    val, _ = _read_events(os.path.join(log_dir, "validation"))
    np.testing.assert_allclose(
        [train["epoch_loss"][e] for e in range(3)], history.history["loss"], rtol=1e-6
    )
    np.testing.assert_allclose(
        [val["epoch_loss"][e] for e in range(3)], history.history["val_loss"], rtol=1e-6
    )
    assert "epoch_val_loss" not in train and set(val) == {"epoch_loss"}
    np.testing.assert_allclose(list(train["epoch_learning_rate"].values()), [0.01] * 3, rtol=1e-6)
    # Histograms (and images) of every weight at epochs 0 and 2.
    assert sorted(train_other["dense/kernel/histogram"]) == [0, 2]
    assert sorted(train_other["dense_1/bias/histogram"]) == [0, 2]
    if images:
        assert sorted(train_other["dense/kernel/image"]) == [0, 2]
        assert sorted(train_other["dense/bias/image"]) == [0, 2]
        assert "dense_1/bias/image" not in train_other  # a single number: no picture
    # 6 steps an epoch in dispatches of 2 (ends 2, 4, 6, 8, ...): update_freq=3 writes at the
    # first dispatch end at or after each multiple of 3.
    assert sorted(train["batch_loss"]) == [4, 6, 10, 12, 16, 18]
    # evaluate() with the callback writes evaluation_*_vs_iterations at the optimizer step.
    result = trainer.evaluate(X, Y, verbose=0, callbacks=[tensorboard])
    val, _ = _read_events(os.path.join(log_dir, "validation"))
    assert val["evaluation_loss_vs_iterations"] == {18: pytest.approx(result["loss"], rel=1e-6)}


def test_tensorboard_without_tensorboardx_explains_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # makes the import fail
    with pytest.raises(ImportError, match=r'pip install "fkeras\[tensorboard\]"'):
        TensorBoard()


def test_tensorboard_write_images_without_pillow_explains(monkeypatch):
    pytest.importorskip("tensorboardX")
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install pillow"):
        TensorBoard(histogram_freq=1, write_images=True)


def test_tensorboard_argument_checks():
    pytest.importorskip("tensorboardX")
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(update_freq="sometimes")
    with pytest.raises(ValueError, match="profile_batch"):
        TensorBoard(profile_batch=(5, 2))
    with pytest.raises(ValueError, match="embeddings"):
        TensorBoard(embeddings_freq=1)


def test_exports():
    names = {
        "Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
        "ModelCheckpoint", "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger",
        "TerminateOnNaN", "LambdaCallback", "TensorBoard",
    }  # fmt: skip
    assert names <= set(fk.callbacks.__all__)
    for name in names:
        assert getattr(fk.callbacks, name).__doc__.strip()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _ = EarlyStopping(), ReduceLROnPlateau(), TerminateOnNaN(), LambdaCallback()


def test_tensorboard_profile_batch_writes_a_jax_trace(tmp_path):
    pytest.importorskip("tensorboardX")
    log_dir = str(tmp_path / "logs")
    trainer = make_trainer(steps_per_execution=2)
    trainer.fit(
        X, Y, batch_size=BATCH, epochs=1, verbose=0,
        callbacks=[TensorBoard(log_dir=log_dir, profile_batch=(3, 5))],
    )  # fmt: skip
    traces = glob.glob(os.path.join(log_dir, "train", "plugins", "profile", "*", "*.xplane.pb"))
    assert len(traces) == 1 and os.path.getsize(traces[0]) > 0


def test_batch_end_hooks_that_may_read_the_state_see_the_matching_state():
    seen = []
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x.sum(1, keepdims=True)
    model = fk.Sequential([fk.Input((4,)), fk.layers.Dense(1)], seed=0)
    trainer = model.compile(optimizer="sgd", loss="mse", steps_per_execution=2)
    record = fk.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append((batch + 1, int(trainer.state.step)))
    )
    trainer.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    assert seen == [(2, 2), (4, 4), (6, 6), (8, 8)]
