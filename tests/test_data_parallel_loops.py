"""`trainer.train_step(..., axis_name=...)` under `jax.shard_map` (8 simulated devices) and
`jax.pmap` gives the single-device step on the whole global batch."""

import jax
import numpy as np
import pytest

from fkeras.examples import data_parallel_loops as loops

pytestmark = pytest.mark.skipif(len(jax.devices()) < 8, reason="needs 8 (simulated) devices")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(192, 64)).astype("float32")
Y = RNG.integers(0, 10, 192).astype("int32")


@pytest.fixture(scope="module")
def reference():
    trainer = loops.build_trainer()
    step, state = jax.jit(trainer.train_step), trainer.state
    for batch in loops.batches(X, Y, 64, 0):
        state, logs = step(state, batch)
    return state, logs


def assert_same(result, reference):
    (state, logs), (ref_state, ref_logs) = result, reference
    for got, want in zip(
        jax.tree_util.tree_leaves(state.params), jax.tree_util.tree_leaves(ref_state.params)
    ):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
    assert int(state.step) == int(ref_state.step) == 3
    for k in ref_logs:  # metric totals are summed over devices: the global batch's figures
        np.testing.assert_allclose(float(logs[k]), float(ref_logs[k]), rtol=1e-5)


def test_shard_map_step_matches_one_device(reference):
    result = loops.train_shard_map(loops.build_trainer(), X, Y, epochs=1, batch_size=64)
    assert_same(result, reference)


def test_pmap_step_matches_one_device(reference):
    trainer = loops.build_trainer()
    result = loops.train_pmap(trainer, X, Y, epochs=1, batch_size=64, devices=jax.devices()[:4])
    assert_same(result, reference)
