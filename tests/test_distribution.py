"""fk.distribution on 8 simulated CPU devices (tests/conftest.py): data parallelism, model
parallelism on a 2x4 mesh and FSDP give the single-device result, with the variables really
split; bad layouts and batch sizes fail before anything compiles."""

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

import fkeras as fk

L = fk.layers
D = fk.distribution

pytestmark = pytest.mark.skipif(len(jax.devices()) < 8, reason="needs 8 (simulated) devices")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(192, 12)).astype("float32")
Y = RNG.integers(0, 4, 192)


def make_model():
    return fk.Sequential(
        [
            fk.Input((12,)),
            L.Dense(32, activation="relu"),
            L.BatchNormalization(),
            L.Dropout(0.2),
            L.Dense(4),
        ],
        seed=0,
    )


def compile_(distribution, model=None):
    return (model or make_model()).compile(
        optimizer="adam",
        loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        distribution=distribution,
        seed=3,
    )


def fit(trainer):
    history = trainer.fit(X, Y, batch_size=32, epochs=2, validation_split=0.25, verbose=0)
    return trainer, history


@pytest.fixture(scope="module")
def single():
    return fit(compile_(None))


def assert_same_training(result, reference):
    (trainer, history), (ref, ref_history) = result, reference
    for w, r in zip(trainer.model.get_weights(), ref.model.get_weights()):
        np.testing.assert_allclose(w, r, rtol=1e-5, atol=1e-6)
    for k, v in ref_history.history.items():
        np.testing.assert_allclose(history.history[k], v, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        trainer.predict(X, batch_size=64, verbose=0),
        ref.predict(X, batch_size=64, verbose=0),
        rtol=1e-5,
        atol=1e-5,
    )
    got, want = trainer.evaluate(X, Y, batch_size=64, verbose=0), ref.evaluate(X, Y, verbose=0)
    assert got.keys() == want.keys()
    np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-5)


def param_specs(trainer):
    model = trainer.model
    paths = D.variable_paths(model)
    return {paths[k]: leaf.sharding.spec for k, leaf in jax.tree_util.tree_leaves_with_path(model)}


def test_data_parallel_fit_matches_one_device(single):
    result = fit(compile_(D.DataParallel()))
    assert_same_training(result, single)
    trainer = result[0]
    assert trainer.distribution.data_axis_size == 8
    assert all(spec == P() for spec in param_specs(trainer).values())  # replicated


def test_model_parallel_splits_kernels_and_matches(single):
    mesh = D.DeviceMesh((2, 4), ("batch", "model"))
    layout = D.LayoutMap(mesh)
    layout["dense.*kernel"] = (None, "model")
    layout["dense.*bias"] = ("model",)
    result = fit(compile_(D.ModelParallel(layout_map=layout, batch_dim_name="batch")))
    assert_same_training(result, single)
    trainer = result[0]
    specs = param_specs(trainer)
    assert specs["sequential/dense/kernel"] == P(None, "model")
    assert specs["sequential/dense_1/bias"] == P("model")
    assert specs["sequential/batch_normalization/gamma"] == P()
    kernel = trainer.state.params.layers[0].kernel
    assert kernel.addressable_shards[0].data.shape == (12, 32 // 4)  # really split
    # Adam's moments follow their parameter's layout.
    mu = trainer.state.opt_state
    mirrored = [
        leaf
        for leaf in jax.tree_util.tree_leaves(mu)
        if leaf.shape == kernel.shape and leaf.sharding.spec == P(None, "model")
    ]
    assert len(mirrored) >= 2


def test_fsdp_shards_parameters_and_optimizer_state_on_the_data_axis(single):
    result = fit(compile_(D.DataParallel(fsdp=True)))
    assert_same_training(result, single)
    specs = param_specs(result[0])
    assert specs["sequential/dense/kernel"] == P(None, "batch")  # 32 is the largest dim
    assert specs["sequential/dense_1/bias"] == P()  # 4 units: not divisible by 8
    kernel = result[0].state.params.layers[0].kernel
    assert kernel.addressable_shards[0].data.shape == (12, 4)


def test_iterable_data_and_on_batch_methods_under_data_parallel():
    batches = [(X[i : i + 32], Y[i : i + 32]) for i in range(0, 96, 32)]
    ref, dist = compile_(None), compile_(D.DataParallel())
    for trainer in (ref, dist):
        trainer.fit(batches, epochs=1, verbose=0)
        trainer.train_on_batch(X[:16], Y[:16])
    for w, r in zip(dist.model.get_weights(), ref.model.get_weights()):
        np.testing.assert_allclose(w, r, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        dist.predict_on_batch(X[:8]), ref.predict_on_batch(X[:8]), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        list(dist.test_on_batch(X[:8], Y[:8]).values()),
        list(ref.test_on_batch(X[:8], Y[:8]).values()),
        rtol=1e-5,
    )


def test_scope_and_set_distribution_are_picked_up_by_compile():
    dist = D.DataParallel()
    with dist.scope():
        assert D.distribution() is dist
        assert compile_(None).distribution is dist
    assert D.distribution() is None
    D.set_distribution(dist)
    try:
        assert compile_(None).distribution is dist
    finally:
        D.set_distribution(None)
    assert compile_(None).distribution is None


def test_variable_paths_follow_keras():
    keras = pytest.importorskip("keras")
    k = keras.Sequential([keras.Input((12,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    model = fk.Sequential([fk.Input((12,)), L.Dense(3), L.Dense(2)], seed=0)
    assert list(D.variable_paths(model).values()) == [v.path for v in k.weights]


def test_global_batch_not_divisible_by_data_axis_fails_before_compiling():
    trainer = compile_(D.DataParallel())
    with pytest.raises(ValueError, match=r"multiple of 8.*Received: batch_size=30"):
        trainer.fit(X, Y, batch_size=30, verbose=0)
    with pytest.raises(ValueError, match=r"Received: batch_size=12"):
        trainer.evaluate(X, Y, batch_size=12, verbose=0)


def test_layout_naming_a_missing_axis_is_refused():
    layout = D.LayoutMap(D.DeviceMesh((2, 4), ("batch", "model")))
    with pytest.raises(ValueError, match=r"\['tensor'\] that the mesh lacks.*Received"):
        layout["dense.*kernel"] = (None, "tensor")
    with pytest.raises(TypeError, match="Received"):
        layout["dense.*kernel"] = "model"


def test_layout_not_fitting_the_variable_is_refused_at_compile():
    mesh = D.DeviceMesh((2, 4), ("batch", "model"))
    too_long = D.LayoutMap(mesh)
    too_long["dense/bias"] = (None, "model")  # a bias has rank 1
    with pytest.raises(ValueError, match=r"'sequential/dense/bias'.*rank 1.*Received"):
        compile_(D.ModelParallel(layout_map=too_long))
    uneven = D.LayoutMap(mesh)
    uneven["dense_1/kernel"] = (None, "model")  # 4 units over 4 devices is fine ...
    uneven["dense/kernel"] = ("model", None)  # ... but 12 inputs over 4 too; 32 over 8 below
    compile_(D.ModelParallel(layout_map=uneven))
    odd = D.LayoutMap(D.DeviceMesh((1, 8), ("batch", "model")))
    odd["dense/kernel"] = ("model", None)  # 12 rows over 8 devices
    with pytest.raises(ValueError, match=r"size 12 over 8 devices.*Received"):
        compile_(D.ModelParallel(layout_map=odd))


def test_mesh_and_distribution_arguments_are_checked():
    with pytest.raises(ValueError, match=r"needs 6 devices.*Received"):
        D.DeviceMesh((2, 3), ("a", "b"))
    with pytest.raises(ValueError, match="same length"):
        D.DeviceMesh((8,), ("a", "b"))
    mesh = D.DeviceMesh((2, 4), ("batch", "model"))
    with pytest.raises(ValueError, match="batch_dim_name=.data."):
        D.ModelParallel(layout_map=D.LayoutMap(mesh), batch_dim_name="data")
    with pytest.raises(TypeError, match="Received: distribution="):
        compile_("data_parallel")
    assert len(D.list_devices("cpu")) == 8
