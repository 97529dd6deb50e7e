"""Training checkpoints (`save_checkpoint` / `restore_checkpoint`) and `BackupAndRestore`.

The truth for resuming is an uninterrupted run: a run checkpointed, killed (a real process
killed with `os._exit`, also in the middle of a save) and resumed must end with bit-identical
weights. Atomicity is checked by failing the rename of a save; mismatches by restoring into
trainers of another shape or optimizer.
"""

import glob
import os
import subprocess
import sys
import textwrap
import zipfile

import jax
import numpy as np
import pytest

import fkeras as fk
from fkeras.callbacks.backup_and_restore import CHECKPOINT_NAME, BackupAndRestore
from fkeras.saving.checkpoint import read_checkpoint_epoch, restore_checkpoint, save_checkpoint

N, BATCH = 64, 8
_rng = np.random.default_rng(0)
X = _rng.normal(size=(N, 4)).astype(np.float32)
Y = (X @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32) + 0.1).astype(np.float32)


def make_trainer(units=8, optimizer="adam", metrics=("mae",)):
    model = fk.Sequential(
        [
            fk.Input((4,)),
            fk.layers.Dense(units, activation="relu"),
            fk.layers.BatchNormalization(),
            fk.layers.Dropout(0.3),
            fk.layers.Dense(1),
        ]
    )
    return model.compile(optimizer=optimizer, loss="mse", metrics=list(metrics), seed=0)


def fit(trainer, epochs, initial_epoch=0, callbacks=()):
    return trainer.fit(
        X,
        Y,
        batch_size=BATCH,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=list(callbacks),
        verbose=0,
    )


def state_leaves(trainer):
    """Every leaf of the TrainState as NumPy (typed PRNG keys as their key data)."""
    out = []
    for leaf in jax.tree_util.tree_leaves(trainer.state):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out.append(np.array(leaf, copy=True))
    return out


def assert_same_weights(a, b):
    wa, wb = a.model.get_weights(), b.model.get_weights()
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def temporaries(folder):
    return glob.glob(os.path.join(str(folder), ".tmp-*"))


# ------------------------------------------------------------------ (a) round trip


def test_round_trip_restores_every_leaf_and_resumes_bit_identically(tmp_path):
    path = tmp_path / "sub" / "run.ckpt"  # missing folders are created
    trained = make_trainer()
    fit(trained, 2)
    # An injected hyperparameter changed during the run is part of the optimizer state.
    opt_state = fk.optimizers.set_learning_rate(trained.state.opt_state, 0.0025)
    trained.state = trained.state.replace(opt_state=opt_state)
    save_checkpoint(trained, path, epoch=2)
    assert read_checkpoint_epoch(path) == 2
    saved = state_leaves(trained)

    fresh = make_trainer()  # same model, compile and seed; metrics not resolved yet
    before = state_leaves(fresh)
    assert restore_checkpoint(fresh, path) == 2
    restored = state_leaves(fresh)
    assert len(restored) == len(saved) > len(before)  # the metric states came along
    for a, b in zip(saved, restored):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    assert jax.dtypes.issubdtype(fresh.state.key.dtype, jax.dtypes.prng_key)
    assert int(fresh.state.step) == 2 * N // BATCH
    assert fk.optimizers.get_learning_rate(fresh.state.opt_state) == pytest.approx(0.0025)

    fit(trained, 4, initial_epoch=2)
    history = fit(fresh, 4, initial_epoch=2)
    assert history.epoch == [2, 3]
    assert_same_weights(trained, fresh)
    for a, b in zip(state_leaves(trained), state_leaves(fresh)):
        np.testing.assert_array_equal(a, b)

    # Into a trainer whose metrics are resolved: checked strictly, every leaf replaced.
    assert restore_checkpoint(trained, path) == 2
    for a, b in zip(saved, state_leaves(trained)):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_file_holds_only_json_and_plain_arrays(tmp_path):
    path = tmp_path / "c.ckpt"
    trainer = make_trainer()
    save_checkpoint(trainer, path, epoch=0)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["metadata.json", "state.npz"]
        with archive.open("state.npz") as f, np.load(f, allow_pickle=False) as npz:
            assert all(npz[name].dtype != object for name in npz.files)
    with pytest.raises(ValueError, match="non-negative int"):
        save_checkpoint(trainer, path, epoch=-1)
    with pytest.raises(ValueError, match="directory"):
        save_checkpoint(trainer, tmp_path, epoch=0)


# ----------------------------------------------------------- (b) kill test, subprocesses

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import fkeras as fk
    from fkeras.callbacks import LambdaCallback
    from fkeras.callbacks.backup_and_restore import CHECKPOINT_NAME, BackupAndRestore

    backup_dir, out, kill = sys.argv[1:4]
    if kill == "in_save_3":  # a hard kill after the temp file of the 3rd backup is written
        real_replace, saves = os.replace, []

        def replace(src, dst):
            if str(dst).endswith(CHECKPOINT_NAME):
                saves.append(dst)
                if len(saves) == 3:
                    os._exit(1)
            return real_replace(src, dst)

        os.replace = replace

    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 5)).astype(np.float32)
    y = (x @ rng.normal(size=(5, 1)) + 0.3).astype(np.float32)
    model = fk.Sequential([
        fk.Input((5,)),
        fk.layers.Dense(16, activation="relu"),
        fk.layers.BatchNormalization(),
        fk.layers.Dropout(0.25),
        fk.layers.Dense(1),
    ])
    trainer = model.compile(optimizer="adam", loss="mse", metrics=["mae"], seed=3)
    backup = BackupAndRestore(backup_dir)
    epochs_run = []

    def on_epoch_end(epoch, logs):
        epochs_run.append(epoch)
        if kill == "after_epoch_2" and epoch == 1:
            os._exit(1)  # right after epoch 2's backup (listed before this callback)

    trainer.fit(x, y, batch_size=16, epochs=4, verbose=0, initial_epoch=backup.resume_epoch(),
                callbacks=[backup, LambdaCallback(on_epoch_end=on_epoch_end)])
    np.savez(out, *trainer.model.get_weights(), epochs_run=np.array(epochs_run),
             step=np.asarray(trainer.state.step))
    """
)


def start(script, tmp_path, name, kill):
    backup = tmp_path / f"backup_{name}"
    out = tmp_path / f"{name}.npz"
    # The fkeras under test, on the CPU (several processes run at once).
    root = os.path.dirname(os.path.dirname(os.path.abspath(fk.__file__)))
    path = os.pathsep.join(p for p in [root, os.environ.get("PYTHONPATH", "")] if p)
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": path}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(backup), str(out), kill],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return proc, backup, out


def finish(proc, expected_rc):
    try:
        output, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the training subprocess timed out")
    assert proc.returncode == expected_rc, output.decode(errors="replace")[-3000:]


def test_killed_run_resumes_to_bit_identical_weights(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    runs = {
        name: start(script, tmp_path, name, kill)
        for name, kill in [
            ("full", "none"),
            ("killed", "after_epoch_2"),
            ("killed_in_save", "in_save_3"),
        ]
    }
    finish(runs["full"][0], 0)
    finish(runs["killed"][0], 1)
    finish(runs["killed_in_save"][0], 1)
    for name in ("killed", "killed_in_save"):
        _, backup, out = runs[name]
        assert not out.exists()
        assert read_checkpoint_epoch(backup / CHECKPOINT_NAME) == 2
    # The hard kill in the middle of the 3rd save left its temporary file behind.
    assert len(temporaries(runs["killed_in_save"][1])) == 1
    assert not runs["full"][1].exists()  # deleted at the successful end

    resumed = {name: start(script, tmp_path, name, "none") for name in ("killed", "killed_in_save")}
    for proc, _, _ in resumed.values():
        finish(proc, 0)
    with np.load(runs["full"][2], allow_pickle=False) as full:
        expected = dict(full)
    assert list(expected["epochs_run"]) == [0, 1, 2, 3]
    for name, (_, backup, out) in resumed.items():
        with np.load(out, allow_pickle=False) as got:
            got = dict(got)
        assert list(got["epochs_run"]) == [2, 3], name
        assert set(got) == set(expected)
        for key in expected:
            if key != "epochs_run":
                np.testing.assert_array_equal(got[key], expected[key], err_msg=f"{name}: {key}")
        assert not backup.exists()  # backup and stale temporary removed at the end


# ------------------------------------------------------------- (c) kill inside a save


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failed_save_keeps_the_previous_checkpoint_and_no_temp_file(tmp_path, monkeypatch, error):
    path = tmp_path / "run.ckpt"
    trainer = make_trainer()
    save_checkpoint(trainer, path, epoch=1)
    at_epoch_1 = state_leaves(trainer)
    params = jax.tree_util.tree_map(lambda p: p + 1.0, trainer.state.params)
    trainer.state = trainer.state.replace(params=params, step=trainer.state.step + 8)

    seen = []

    def replace(src, dst):
        seen.append(src)
        assert os.path.getsize(src) > 0  # the new checkpoint was fully written...
        raise error("killed before the rename")  # ...but never renamed over the old one

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(error):
        save_checkpoint(trainer, path, epoch=2)
    monkeypatch.undo()
    assert len(seen) == 1 and not os.path.exists(seen[0])
    assert temporaries(tmp_path) == []

    fresh = make_trainer()
    assert restore_checkpoint(fresh, path) == 1
    for a, b in zip(at_epoch_1, state_leaves(fresh)):
        np.testing.assert_array_equal(a, b)


def test_stale_temp_files_are_ignored_and_cleaned_and_corrupt_files_are_refused(tmp_path):
    trainer = make_trainer()
    backup = BackupAndRestore(tmp_path / "b")
    os.makedirs(backup.backup_dir)
    save_checkpoint(trainer, backup.checkpoint_path, epoch=1)
    stale = os.path.join(backup.backup_dir, ".tmp-abc123" + CHECKPOINT_NAME)
    with open(stale, "wb") as f:
        f.write(b"PK\x03\x04 half a zip")  # what a hard kill mid-save leaves
    assert restore_checkpoint(make_trainer(), backup.checkpoint_path) == 1
    backup.set_trainer(make_trainer())
    backup.on_train_begin()
    assert not os.path.exists(stale)

    truncated = tmp_path / "truncated.ckpt"
    with open(backup.checkpoint_path, "rb") as f:
        truncated.write_bytes(f.read()[:200])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        restore_checkpoint(make_trainer(), truncated)
    not_a_checkpoint = tmp_path / "m.fkeras"
    trainer.model.save(not_a_checkpoint)
    with pytest.raises(ValueError, match="not an fkeras checkpoint"):
        restore_checkpoint(make_trainer(), not_a_checkpoint)


# ------------------------------------------------------------------ (d) mismatches


def test_restore_into_a_different_model_or_optimizer_is_a_clear_error(tmp_path):
    path = tmp_path / "run.ckpt"
    trainer = make_trainer(units=8)
    save_checkpoint(trainer, path, epoch=0)
    wider = make_trainer(units=5)
    before = state_leaves(wider)
    with pytest.raises(ValueError, match=r"does not match.*layers\[0\]\.kernel.*\(4, 8\)"):
        restore_checkpoint(wider, path)
    for a, b in zip(before, state_leaves(wider)):  # left unchanged
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="different state structure"):
        restore_checkpoint(make_trainer(optimizer="sgd"), path)


# --------------------------------------------------------------- BackupAndRestore


def test_backup_and_restore_resumes_after_an_exception(tmp_path):
    class Crash(Exception):
        pass

    def crash(epoch, logs):
        if epoch == 1:
            raise Crash

    backup_dir = tmp_path / "backup"
    trainer = make_trainer()
    backup = BackupAndRestore(backup_dir)
    assert backup.resume_epoch() == 0
    with pytest.raises(Crash):
        fit(trainer, 4, callbacks=[backup, fk.callbacks.LambdaCallback(on_epoch_end=crash)])
    assert backup.resume_epoch() == 2

    resumed = make_trainer()
    try:
        history = fit(resumed, 4, callbacks=[backup])  # no initial_epoch
    except RuntimeError as error:  # a trainer that does not read trainer._initial_epoch
        assert "initial_epoch=backup.resume_epoch()" in str(error)
        assert backup.resume_epoch() == 2  # nothing trained, backup kept
        history = fit(resumed, 4, initial_epoch=backup.resume_epoch(), callbacks=[backup])
    assert history.epoch == [2, 3]
    assert not backup_dir.exists()
    uninterrupted = make_trainer()
    fit(uninterrupted, 4)
    assert_same_weights(uninterrupted, resumed)


def test_backup_and_restore_integer_save_freq_and_arguments(tmp_path):
    trainer = make_trainer()
    backup = BackupAndRestore(tmp_path / "b", save_freq=3, delete_checkpoint=False)
    trainer.steps_per_execution = 1
    fit(trainer, 1, callbacks=[backup])
    # Saved mid-epoch only (no epoch-end save): a resume restarts epoch 0 from its start.
    assert backup.resume_epoch() == 0
    assert BackupAndRestore(tmp_path / "x", save_freq="epoch").on_train_batch_end.__func__ is (
        fk.callbacks.Callback.on_train_batch_end
    )
    for bad in [0, -2, "batch", True]:
        with pytest.raises(ValueError, match="save_freq"):
            BackupAndRestore(tmp_path, save_freq=bad)
    with pytest.raises(ValueError, match="backup_dir"):
        BackupAndRestore("")


def test_bfloat16_leaves_and_typed_keys_round_trip_exactly(tmp_path):
    import jax.numpy as jnp

    from fkeras.training.state import TrainState

    class Holder:  # the little of a trainer that the checkpoint functions touch
        steps = type("Steps", (), {"metric_entries": []})()

    holder = Holder()
    weights = jnp.array([1.5, -2.25, 3e-3], jnp.bfloat16)
    holder.state = TrainState(
        params={"w": weights},
        layer_state={},
        opt_state=(),
        metric_states={"loss": jnp.zeros(2)},
        step=jnp.array(5, jnp.int32),
        key=jax.random.key(7),
    )
    path = tmp_path / "bf16.ckpt"
    save_checkpoint(holder, path, epoch=3)
    holder.state = holder.state.replace(
        params={"w": jnp.zeros(3, jnp.bfloat16)}, key=jax.random.key(1)
    )
    assert restore_checkpoint(holder, path) == 3
    assert holder.state.params["w"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(holder.state.params["w"]), np.asarray(weights))
    np.testing.assert_array_equal(
        jax.random.key_data(holder.state.key), jax.random.key_data(jax.random.key(7))
    )
