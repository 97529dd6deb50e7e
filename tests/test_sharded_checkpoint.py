"""Sharded checkpoints through Orbax (`save_sharded_checkpoint` / `restore_sharded_checkpoint`).

The truth for resuming is the uninterrupted run: a trainer saved, restored into a fresh one and
trained on must end with bit-identical weights. The truth for restoring onto another mesh is
the saved values themselves (gathered to the host) and the target's own `.sharding`.
"""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

pytest.importorskip("orbax.checkpoint")

import fkeras as fk  # noqa: E402
from fkeras.saving import (  # noqa: E402
    read_sharded_checkpoint_epoch,
    restore_sharded_checkpoint,
    save_sharded_checkpoint,
)

N, BATCH = 64, 8
_rng = np.random.default_rng(0)
X = _rng.normal(size=(N, 4)).astype(np.float32)
Y = (X @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32) + 0.1).astype(np.float32)


def make_trainer(units=8):
    model = fk.Sequential(
        [
            fk.Input((4,)),
            fk.layers.Dense(units, activation="relu"),
            fk.layers.BatchNormalization(),
            fk.layers.Dropout(0.3),
            fk.layers.Dense(1),
        ]
    )
    return model.compile(optimizer="adam", loss="mse", metrics=["mae"], seed=0)


def fit(trainer, epochs, initial_epoch=0):
    trainer.fit(X, Y, batch_size=BATCH, epochs=epochs, initial_epoch=initial_epoch, verbose=0)


def state_leaves(state):
    """Every leaf of a TrainState as NumPy (typed PRNG keys as their key data)."""
    out = []
    for leaf in jax.tree_util.tree_leaves(state):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        out.append(np.array(leaf, copy=True))
    return out


def test_round_trip_resumes_bit_identically(tmp_path):
    directory = tmp_path / "run" / "epoch_1"  # missing parent folders are created
    trained = make_trainer()
    fit(trained, 1)
    save_sharded_checkpoint(directory, trained, epoch=1)
    assert read_sharded_checkpoint_epoch(directory) == 1
    # Orbax renamed its temporary folder into place: nothing else is left beside it.
    assert os.listdir(tmp_path / "run") == ["epoch_1"]
    saved = state_leaves(trained.state)

    fresh = make_trainer()  # same model and compile; its metrics are not resolved yet
    assert restore_sharded_checkpoint(directory, fresh) is fresh
    restored = state_leaves(fresh.state)
    assert len(restored) == len(saved)
    for a, b in zip(saved, restored):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    assert jax.dtypes.issubdtype(fresh.state.key.dtype, jax.dtypes.prng_key)
    assert int(fresh.state.step) == N // BATCH

    fit(trained, 2, initial_epoch=1)
    fit(fresh, 2, initial_epoch=1)
    for a, b in zip(trained.model.get_weights(), fresh.model.get_weights()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))

    # A bare TrainState target gives a new TrainState and leaves the target alone.
    target = trained.state
    before = state_leaves(target)
    state = restore_sharded_checkpoint(directory, target)
    assert type(state) is type(target)
    for a, b in zip(saved, state_leaves(state)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(before, state_leaves(target)):
        np.testing.assert_array_equal(a, b)


def test_epoch_is_optional_and_existing_directories_are_kept(tmp_path):
    trainer = make_trainer()
    save_sharded_checkpoint(tmp_path / "c", trainer)
    assert read_sharded_checkpoint_epoch(tmp_path / "c") is None
    with pytest.raises(FileExistsError, match="overwrite=True.*Received: directory="):
        save_sharded_checkpoint(tmp_path / "c", trainer, epoch=3)
    fit(trainer, 1)
    save_sharded_checkpoint(tmp_path / "c", trainer, epoch=1, overwrite=True)
    assert read_sharded_checkpoint_epoch(tmp_path / "c") == 1
    assert sorted(os.listdir(tmp_path)) == ["c"]
    expected = state_leaves(trainer.state)
    restored = state_leaves(restore_sharded_checkpoint(tmp_path / "c", make_trainer()).state)
    for a, b in zip(expected, restored):
        np.testing.assert_array_equal(a, b)


def test_a_failed_save_leaves_no_checkpoint(tmp_path, monkeypatch):
    import orbax.checkpoint as ocp

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ocp.JsonCheckpointHandler, "save", fail)
    monkeypatch.setattr(ocp.JsonCheckpointHandler, "async_save", fail, raising=False)
    trainer = make_trainer()
    with pytest.raises(OSError, match="disk full"):
        save_sharded_checkpoint(tmp_path / "c", trainer, epoch=0)
    assert not (tmp_path / "c").exists()  # only Orbax's temporary folder, never the target
    monkeypatch.undo()
    save_sharded_checkpoint(tmp_path / "c", trainer, epoch=0)  # the leftover is replaced
    assert os.listdir(tmp_path) == ["c"] and read_sharded_checkpoint_epoch(tmp_path / "c") == 0


def test_mismatched_target_raises_a_clear_error(tmp_path):
    save_sharded_checkpoint(tmp_path / "c", make_trainer(units=8), epoch=0)
    with pytest.raises(ValueError, match=r"does not match the target.*Received: shape=\(4, 8\)"):
        restore_sharded_checkpoint(tmp_path / "c", make_trainer(units=16))

    other = fk.Sequential([fk.Input((4,)), fk.layers.Dense(1)]).compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="different state structure.*Received: leaves missing"):
        restore_sharded_checkpoint(tmp_path / "c", other)


def test_bad_arguments_raise_clear_errors(tmp_path):
    trainer = make_trainer()
    with pytest.raises(TypeError, match="trainer .* or a TrainState. Received: .* dict"):
        save_sharded_checkpoint(tmp_path / "c", {"w": np.zeros(3)})
    with pytest.raises(ValueError, match="epoch must be a non-negative int"):
        save_sharded_checkpoint(tmp_path / "c", trainer, epoch=-1)
    with pytest.raises(FileNotFoundError, match="Received: directory="):
        restore_sharded_checkpoint(tmp_path / "missing", trainer)
    (tmp_path / "not_a_checkpoint").mkdir()
    with pytest.raises(ValueError, match="not an fkeras sharded checkpoint"):
        read_sharded_checkpoint_epoch(tmp_path / "not_a_checkpoint")


_MESH_SCRIPT = textwrap.dedent(
    """
    import sys
    import jax

    jax.config.update("jax_num_cpu_devices", 8)
    import numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

    import fkeras as fk
    from fkeras.saving import restore_sharded_checkpoint, save_sharded_checkpoint

    directory = sys.argv[1]
    assert len(jax.devices()) == 8

    def trainer():
        model = fk.Sequential(
            [fk.Input((8,)), fk.layers.Dense(16, activation="relu"), fk.layers.Dense(8)], seed=1
        )
        return model.compile(optimizer="adam", loss="mse", seed=3)

    def placed(state, mesh, spec_2d, spec_1d):
        # 2-D leaves (kernels, their Adam moments) and 1-D leaves the size of a bias get the
        # given specs; the rest (scalars, the PRNG key, metric states) is replicated.
        def put(leaf):
            shape = leaf.shape
            bias = len(shape) == 1 and shape[0] % mesh.size == 0
            spec = spec_2d if len(shape) == 2 else spec_1d if bias else P()
            return jax.device_put(leaf, NamedSharding(mesh, spec))

        return jax.tree_util.tree_map(put, state)

    def host(state):
        return [
            np.asarray(jax.random.key_data(a) if jax.dtypes.issubdtype(
                a.dtype, jax.dtypes.prng_key) else a)
            for a in jax.tree_util.tree_leaves(state)
        ]

    source = trainer()
    x = np.random.default_rng(0).normal(size=(32, 8)).astype(np.float32)
    source.fit(x, x, batch_size=8, epochs=1, verbose=0)
    mesh8 = Mesh(np.array(jax.devices()), ("x",))
    source.state = placed(source.state, mesh8, P(None, "x"), P("x"))
    kernel = source.state.params.layers[0].kernel
    assert len(kernel.sharding.device_set) == 8
    assert kernel.addressable_shards[0].data.shape == (8, 2)
    save_sharded_checkpoint(directory, source, epoch=1)
    expected = host(source.state)

    mesh24 = Mesh(np.array(jax.devices()).reshape(2, 4), ("a", "b"))
    targets = {
        "2x4": placed(trainer().state, mesh24, P("b", "a"), P(("a", "b"))),
        "replicated": placed(trainer().state, mesh24, P(), P()),
    }
    for name, target in targets.items():
        restored = restore_sharded_checkpoint(directory, target)
        got, want = jax.tree_util.tree_leaves(restored), jax.tree_util.tree_leaves(target)
        assert len(got) == len(want) == len(expected)
        for g, w in zip(got, want):
            assert g.sharding == w.sharding, (name, g.sharding, w.sharding)
        for g, e in zip(host(restored), expected):
            np.testing.assert_array_equal(g, e)
        kernel = restored.params.layers[0].kernel
        shard = (2, 8) if name == "2x4" else (8, 16)
        assert kernel.addressable_shards[0].data.shape == shard, name
    print("OK")
    """
)


def test_restore_onto_another_mesh(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", _MESH_SCRIPT, str(tmp_path / "c")],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), result.stderr[-4000:]
