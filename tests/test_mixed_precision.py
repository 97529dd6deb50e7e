"""Dtype policies (Keras 3's mixed precision) and dynamic loss scaling for float16."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fkeras as fk
from fkeras.examples.digits import load_digits_split
from fkeras.optimizers.loss_scale import for_model

L = fk.layers
mp = fk.mixed_precision
LossScaleOptimizer, LossScaleState = mp.LossScaleOptimizer, mp.LossScaleState
get_loss_scale = mp.get_loss_scale


@pytest.fixture(autouse=True)
def _float32_global_policy():
    mp.set_global_policy("float32")
    yield
    mp.set_global_policy("float32")


def _x(shape, seed=0):
    return jnp.asarray(np.random.default_rng(seed).normal(size=shape), jnp.float32)


# ----------------------------------------------------------------------------- policies


@pytest.mark.parametrize(
    "name, compute, variable",
    [
        ("float32", "float32", "float32"),
        ("float16", "float16", "float16"),
        ("bfloat16", "bfloat16", "bfloat16"),
        ("mixed_float16", "float16", "float32"),
        ("mixed_bfloat16", "bfloat16", "float32"),
    ],
)
def test_policy_dtypes(name, compute, variable):
    policy = mp.DTypePolicy(name)
    assert (policy.name, policy.compute_dtype, policy.variable_dtype) == (name, compute, variable)
    layer = L.Dense(3, dtype=name)
    assert (layer.dtype, layer.compute_dtype, layer.variable_dtype) == (variable, compute, variable)
    assert layer.dtype_policy == policy
    assert L.Dense(3, dtype=policy).dtype_policy == policy


@pytest.mark.parametrize("bad", ["mixed_float8", "float33", "mixed"])
def test_bad_policy_name_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=f"Received: dtype='{bad}'"):
        L.Dense(3, dtype=bad)
    with pytest.raises(ValueError, match=f"Received: dtype='{bad}'"):
        mp.DTypePolicy(bad)
    with pytest.raises(ValueError, match=f"Received: dtype='{bad}'"):
        mp.set_global_policy(bad)
    with pytest.raises(TypeError, match="Received: dtype=3.5"):
        L.Dense(3, dtype=3.5)


def test_global_policy_is_read_at_construction_and_per_layer_dtype_wins():
    assert mp.global_policy().name == "float32"
    before = L.Dense(2)
    mp.set_global_policy("mixed_bfloat16")
    assert mp.global_policy() == mp.DTypePolicy("mixed_bfloat16")
    after, override = L.Dense(2), L.Dense(2, dtype="float32")
    assert before.compute_dtype == "float32"  # built before the change: unchanged
    assert (after.dtype, after.compute_dtype) == ("float32", "bfloat16")
    assert override.dtype_policy.name == "float32"
    mp.set_global_policy(None)
    assert mp.global_policy().name == "float32"
    with mp.policy_scope("mixed_float16") as policy:
        assert policy.name == "mixed_float16" and L.Dense(2).compute_dtype == "float16"
    assert L.Dense(2).compute_dtype == "float32"
    with pytest.raises(ValueError, match="Received: policy='int32'"):
        mp.set_global_policy("int32")


# ----------------------------------------------------------------------------- numerics


def test_mixed_dense_keeps_float32_weights_and_computes_in_bfloat16():
    layer = L.Dense(5, activation="relu", dtype="mixed_bfloat16").build((None, 4), key=0)
    assert layer.kernel.dtype == jnp.float32 and layer.bias.dtype == jnp.float32
    x = _x((3, 4))
    y = layer(x)
    assert y.dtype == jnp.bfloat16
    bf = jnp.bfloat16
    expected = jax.nn.relu(x.astype(bf) @ layer.kernel.astype(bf) + layer.bias.astype(bf))
    np.testing.assert_array_equal(np.asarray(y, np.float32), np.asarray(expected, np.float32))
    grads = jax.grad(lambda m: jnp.sum(m(x).astype(jnp.float32)))(layer)
    assert grads.kernel.dtype == jnp.float32


def test_float32_policy_numerics_unchanged():
    layer = L.Dense(5, dtype="float32").build((None, 4), key=0)
    x = _x((3, 4))
    np.testing.assert_array_equal(layer(x), x @ layer.kernel + layer.bias)
    # float32 inputs are not touched; a bfloat16 input is cast up to the compute dtype.
    y16 = layer(x.astype(jnp.bfloat16))
    assert y16.dtype == jnp.float32
    np.testing.assert_array_equal(
        y16, x.astype(jnp.bfloat16).astype(jnp.float32) @ layer.kernel + layer.bias
    )


def test_batch_normalization_statistics_in_float32():
    layer = L.BatchNormalization(dtype="mixed_bfloat16").build((None, 6), key=0)
    x = _x((16, 6)) * 3.0 + 1.0
    y, updated = layer.apply(x, training=True)
    assert y.dtype == jnp.bfloat16
    assert updated.moving_mean.dtype == jnp.float32
    assert updated.moving_variance.dtype == jnp.float32
    xb = x.astype(jnp.bfloat16).astype(jnp.float32)  # what the layer receives
    mean, var = xb.mean(0), xb.var(0)
    np.testing.assert_allclose(updated.moving_mean, 0.99 * 0.0 + 0.01 * mean, rtol=1e-6)
    np.testing.assert_allclose(updated.moving_variance, 0.99 + 0.01 * var, rtol=1e-6)
    expected = ((xb - mean) / jnp.sqrt(var + 1e-3)).astype(jnp.bfloat16)
    np.testing.assert_array_equal(np.asarray(y, np.float32), np.asarray(expected, np.float32))


def test_layer_normalization_and_softmax_run_in_float32():
    x = _x((4, 8)) * 5.0
    xb = x.astype(jnp.bfloat16).astype(jnp.float32)
    ln = L.LayerNormalization(dtype="mixed_bfloat16").build((None, 8), key=0)
    y = ln(x)
    expected = (xb - xb.mean(-1, keepdims=True)) / jnp.sqrt(xb.var(-1, keepdims=True) + 1e-3)
    assert y.dtype == jnp.bfloat16
    np.testing.assert_array_equal(
        np.asarray(y, np.float32), np.asarray(expected.astype(jnp.bfloat16), np.float32)
    )
    p = L.Softmax(dtype="mixed_bfloat16")(x)
    assert p.dtype == jnp.bfloat16
    np.testing.assert_array_equal(
        np.asarray(p, np.float32),
        np.asarray(jax.nn.softmax(xb).astype(jnp.bfloat16), np.float32),
    )


# ----------------------------------------------------------------------------- configs and files


def test_config_round_trip_of_a_mixed_layer():
    layer = L.Dense(4, dtype="mixed_bfloat16")
    config = json.loads(json.dumps(layer.get_config()))
    assert config["dtype"] == "mixed_bfloat16"
    assert L.Dense.from_config(config).dtype_policy == layer.dtype_policy
    restored = fk.saving.deserialize(json.loads(json.dumps(fk.saving.serialize(layer))))
    assert restored.dtype_policy.name == "mixed_bfloat16"
    # Configs written before policies (a plain dtype) and Keras 3.4+ policy dicts both load.
    old = dict(config, dtype="float32")
    assert L.Dense.from_config(old).dtype_policy.name == "float32"
    keras_style = dict(
        config,
        dtype={"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_float16"}},
    )
    assert L.Dense.from_config(keras_style).compute_dtype == "float16"
    # The policy itself serializes through the registry.
    policy = fk.saving.deserialize(fk.saving.serialize(mp.DTypePolicy("mixed_bfloat16")))
    assert policy == mp.DTypePolicy("mixed_bfloat16")


def test_saved_model_keeps_its_policies(tmp_path):
    with mp.policy_scope("mixed_bfloat16"):
        model = fk.Sequential(
            [
                fk.Input((6,)),
                L.Dense(8, activation="relu"),
                L.BatchNormalization(),
                L.Dense(3, dtype="float32"),
            ],
            seed=0,
        )
    x = _x((5, 6))
    path = tmp_path / "mixed.fkeras"
    model.save(path)
    loaded = fk.saving.load_model(path)
    assert [layer.dtype_policy.name for layer in loaded.layers] == [
        "mixed_bfloat16",
        "mixed_bfloat16",
        "float32",
    ]
    assert all(w.dtype == np.float32 for w in loaded.get_weights())
    np.testing.assert_array_equal(loaded(x), model(x))
    # The hidden layers compute in bfloat16, the last one in float32.
    assert model.layers[0](x).dtype == jnp.bfloat16 and model(x).dtype == jnp.float32


# ----------------------------------------------------------------------------- training


def _digits_model(seed=0):
    return fk.Sequential([fk.Input((64,)), L.Dense(64, activation="relu"), L.Dense(10)], seed=seed)


def test_mixed_bfloat16_trains_on_digits():
    (x, y), (x_test, y_test) = load_digits_split(0)
    mp.set_global_policy("mixed_bfloat16")
    model = _digits_model()
    mp.set_global_policy("float32")
    assert [layer.compute_dtype for layer in model.layers] == ["bfloat16", "bfloat16"]
    trainer = model.compile(
        optimizer=fk.optimizers.Adam(3e-3),
        loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    assert get_loss_scale(trainer.state.opt_state) is None  # bfloat16 needs no loss scaling
    trainer.fit(x, y, batch_size=64, epochs=5, verbose=0)
    trained = trainer.model
    assert all(w.dtype == np.float32 for w in trained.get_weights())
    assert trained(x_test).dtype == jnp.bfloat16
    logs = trainer.evaluate(x_test, y_test, verbose=0)
    assert logs["accuracy"] > 0.9, logs


# ----------------------------------------------------------------------------- loss scaling


def test_loss_scale_halves_and_skips_on_overflow_and_grows_after_finite_steps():
    inner = optax.sgd(0.5)
    optimizer = LossScaleOptimizer(inner, initial_scale=8.0, dynamic_growth_steps=3)
    params = {"w": jnp.array([1.0, 2.0])}
    state = optimizer.init(params)
    assert isinstance(state, LossScaleState) and float(get_loss_scale(state)) == 8.0

    # An overflowing step: no update, the scale halves, the counter restarts.
    bad = {"w": jnp.array([jnp.inf, 1.0])}
    updates, state = jax.jit(optimizer.update)(bad, state, params)
    np.testing.assert_array_equal(updates["w"], [0.0, 0.0])
    assert float(state.scale) == 4.0 and int(state.growth_count) == 0

    # Finite steps: the gradients are unscaled before the inner optimizer sees them.
    scaled = {"w": jnp.array([4.0, -8.0])}  # = 4.0 * true gradient [1, -2]
    for step in range(1, 4):
        scale_before = float(state.scale)
        updates, state = jax.jit(optimizer.update)(
            jax.tree.map(lambda g, s=scale_before: g * s / 4.0, scaled), state, params
        )
        np.testing.assert_allclose(updates["w"], [-0.5, 1.0])
        if step < 3:
            assert float(state.scale) == 4.0 and int(state.growth_count) == step
    # After 3 finite steps in a row the scale doubles and the counter restarts.
    assert float(state.scale) == 8.0 and int(state.growth_count) == 0

    # NaN skips too, and the inner state (here Adam's moments) is left as it was.
    adam = LossScaleOptimizer(optax.adam(0.1), initial_scale=2.0)
    s0 = adam.init(params)
    _, s1 = adam.update({"w": jnp.array([jnp.nan, 1.0])}, s0, params)
    assert jax.tree.all(
        jax.tree.map(lambda a, b: bool(jnp.all(a == b)), s0.inner_state, s1.inner_state)
    )
    assert float(s1.scale) == 1.0


def test_loss_scale_optimizer_checks_arguments():
    with pytest.raises(ValueError, match="Received: dynamic_growth_steps=0"):
        LossScaleOptimizer("adam", dynamic_growth_steps=0)
    with pytest.raises(ValueError, match="initial_scale"):
        LossScaleOptimizer("adam", initial_scale=0.0)


def test_for_model_wraps_only_float16_models_once():
    float16_model = fk.Sequential([fk.Input((4,)), L.Dense(2, dtype="mixed_float16")], seed=0)
    bf16_model = fk.Sequential([fk.Input((4,)), L.Dense(2, dtype="mixed_bfloat16")], seed=0)
    params = fk.partition(float16_model).params
    wrapped = for_model(optax.sgd(0.1), float16_model)
    assert get_loss_scale(wrapped.init(params)) is not None
    assert for_model(wrapped, float16_model) is wrapped
    plain = optax.sgd(0.1)
    assert for_model(plain, bf16_model) is plain


def test_mixed_float16_model_trains_with_loss_scaling():
    (x, y), (x_test, y_test) = load_digits_split(0)
    with mp.policy_scope("mixed_float16"):
        model = _digits_model()
    trainer = model.compile(
        optimizer=LossScaleOptimizer(fk.optimizers.Adam(3e-3), dynamic_growth_steps=10),
        loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    trainer.fit(x, y, batch_size=64, epochs=5, verbose=0)
    assert all(w.dtype == np.float32 for w in trainer.model.get_weights())
    assert trainer.model(x_test).dtype == jnp.float16
    logs = trainer.evaluate(x_test, y_test, verbose=0)
    assert logs["accuracy"] > 0.9, logs
    # 23 steps an epoch, 5 epochs, no overflow: the scale grew every 10 steps.
    assert float(get_loss_scale(trainer.state.opt_state)) > 2.0**15


def test_an_overflowing_train_step_is_skipped():
    with mp.policy_scope("mixed_float16"):
        model = fk.Sequential(
            [fk.Input((64,)), L.Dense(32, activation="relu"), L.BatchNormalization(), L.Dense(10)],
            seed=0,
        )
    # 2**100 overflows the float16 activation gradients (max 65504) on the first step.
    trainer = model.compile(
        optimizer=LossScaleOptimizer(fk.optimizers.Adam(1e-2), initial_scale=2.0**100),
        loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    (x, y), _ = load_digits_split(0)
    before = trainer.state
    before_weights = [np.asarray(w) for w in trainer.model.get_weights()]
    state, logs = jax.jit(trainer.train_step)(before, (x[:32], y[:32]))
    assert float(get_loss_scale(state.opt_state)) == 2.0**99
    for old, new in zip(before_weights, combine_weights(trainer, state), strict=True):
        np.testing.assert_array_equal(old, new)  # parameters and BN statistics unchanged
    assert np.isfinite(float(logs["loss"]))  # the logged loss is the unscaled one


def combine_weights(trainer, state):
    return fk.combine(state.params, state.layer_state, trainer.steps.static).get_weights()


def test_compile_wraps_the_optimizer_for_mixed_float16():
    with mp.policy_scope("mixed_float16"):
        model = _digits_model()
    trainer = model.compile(optimizer="adam", loss="mse")
    assert float(get_loss_scale(trainer.state.opt_state)) == 2.0**15


def test_keras_file_with_a_mixed_policy_loads_with_it(tmp_path):
    keras = pytest.importorskip("keras")
    pytest.importorskip("h5py")
    from fkeras.saving.keras_format import load_keras_model

    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(8, activation="relu", dtype="mixed_bfloat16")(inputs)
    outputs = keras.layers.Dense(3, dtype="float32")(hidden)
    model = keras.Model(inputs, outputs)
    path = tmp_path / "mixed.keras"
    model.save(path)
    loaded = load_keras_model(path)
    policies = [layer.dtype_policy.name for layer in loaded.layers[1:]]
    assert policies == [layer.dtype_policy.name for layer in model.layers[1:]]
    assert policies == ["mixed_bfloat16", "float32"]
    x = np.asarray(_x((4, 6)))
    np.testing.assert_allclose(loaded(x), np.asarray(model(x)), rtol=1e-2, atol=1e-2)
