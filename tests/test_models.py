"""Sequential and functional models: building, calling, weights, summary, config."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras as fk

L = fk.layers


def mlp(seed=0):
    return fk.Sequential(
        [
            fk.Input((6,)),
            L.Dense(8, activation="relu"),
            L.BatchNormalization(),
            L.Dropout(0.5),
            L.Dense(3),
        ],
        seed=seed,
    )


def test_sequential_from_input_is_built_and_deterministic():
    a, b, c = mlp(0), mlp(0), mlp(1)
    assert a.built and all(layer.built for layer in a.layers)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_global_seed_is_the_default():
    fk.utils.set_random_seed(5)
    try:
        np.testing.assert_array_equal(mlp(seed=None).get_weights()[0], mlp(5).get_weights()[0])
    finally:
        fk.core.rng._global_seed = None


def test_sequential_build_two_phase(getkey):
    spec = fk.Sequential([L.Dense(4), L.Dense(2)])
    assert not spec.built
    with pytest.raises(fk.NotBuiltError, match="Sequential 'sequential' is not built"):
        spec(jnp.ones((1, 3)))
    model = spec.build((None, 3), key=getkey())
    assert model.built and model(jnp.ones((5, 3))).shape == (5, 2)
    assert model.layers[0].kernel.shape == (3, 4)
    assert not spec.layers[0].built  # the spec itself did not change


def test_layer_names_are_unique_keras_style():
    model = fk.Sequential([fk.Input((2,)), L.Dense(2), L.Dense(2, name="dense_1"), L.Dense(2)])
    assert [layer.name for layer in model.layers] == ["dense", "dense_1", "dense_2"]
    assert model.get_layer("dense_2") is model.layers[2]
    assert model.get_layer(index=-1) is model.layers[2]
    with pytest.raises(ValueError, match=r"no layer named 'nope'.*\['dense', 'dense_1'"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="unique names"):
        fk.Sequential([L.Dense(2, name="x"), L.Dense(2, name="x")])


def test_weights_in_keras_order_and_set_weights_returns_a_new_model():
    model = mlp()
    shapes = [w.shape for w in model.get_weights()]
    # Keras order: per layer, trainable then non-trainable, in creation order.
    assert shapes == [(6, 8), (8,), (8,), (8,), (8,), (8,), (8, 3), (3,)]
    new_weights = [np.full(s, i, np.float32) for i, s in enumerate(shapes)]
    updated = model.set_weights(new_weights)
    assert updated is not model
    np.testing.assert_array_equal(updated.layers[1].moving_mean, 4)
    np.testing.assert_array_equal(updated.layers[0].kernel, 0)
    assert not np.array_equal(model.layers[0].kernel, 0)  # the original is unchanged
    assert [w.shape for w in model.trainable_weights] == [(6, 8), (8,), (8,), (8,), (8, 3), (3,)]
    assert [w.shape for w in model.non_trainable_weights] == [(8,), (8,)]


def test_set_weights_rejects_wrong_length_and_shapes_without_changing_anything():
    model = mlp()
    weights = model.get_weights()
    with pytest.raises(ValueError, match=r"expects a list of 8 arrays.*Received: a list of 7"):
        model.set_weights(weights[:-1])
    bad = list(weights)
    bad[6] = np.zeros((8, 4))
    with pytest.raises(ValueError, match=r"weight 6 .*expects shape \(8, 3\).*shape=\(8, 4\)"):
        model.set_weights(bad)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


def test_training_mode_apply_returns_updated_state_and_inference_is_pure(getkey):
    model = mlp()
    x = jax.random.normal(getkey(), (16, 6))
    y, updated = model.apply(x, training=True, key=getkey())
    assert y.shape == (16, 3)
    assert not np.allclose(updated.layers[1].moving_mean, model.layers[1].moving_mean)
    np.testing.assert_array_equal(model(x), model(x))  # inference needs no key and is pure
    params, state, static = fk.partition(model)
    new_params, _, _ = fk.partition(updated)
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(new_params)):
        np.testing.assert_array_equal(a, b)  # apply never touches parameters


def test_jit_grad_vmap_take_the_model_as_is(getkey):
    model = mlp()
    x = jax.random.normal(getkey(), (4, 6))
    np.testing.assert_allclose(jax.jit(lambda m, x: m(x))(model, x), model(x), rtol=1e-5)
    params, state, static = fk.partition(model)
    grads = jax.grad(lambda p: jnp.sum(fk.combine(p, state, static)(x)))(params)
    assert grads.layers[0].kernel.shape == (6, 8)
    assert grads.layers[1].moving_mean is None  # state gets no gradient
    per_example = jax.vmap(lambda xi: model(xi[None])[0])(x)
    np.testing.assert_allclose(per_example, model(x), rtol=1e-5, atol=1e-6)
    # jax.grad over the whole model works too (every leaf of a built model is a float array).
    whole = jax.grad(lambda m: jnp.sum(m(x)))(model)
    np.testing.assert_allclose(whole.layers[0].kernel, grads.layers[0].kernel, rtol=1e-6)


def test_partition_and_combine_round_trip_and_freezing():
    model = mlp()
    params, state, static = fk.partition(model)
    again = fk.combine(params, state, static)
    np.testing.assert_array_equal(again(jnp.ones((2, 6))), model(jnp.ones((2, 6))))
    n_param = sum(x.size for x in jax.tree_util.tree_leaves(params))
    n_state = sum(x.size for x in jax.tree_util.tree_leaves(state))
    assert (n_param, n_state) == (6 * 8 + 8 + 8 + 8 + 8 * 3 + 3, 16)
    frozen = fk.Sequential([fk.Input((6,)), L.Dense(4, trainable=False), L.Dense(2)])
    fp, fs, _ = fk.partition(frozen)
    assert fp.layers[0].kernel is None and fs.layers[0].kernel is not None
    assert fp.layers[1].kernel is not None
    mask = fk.trainable_mask(frozen)
    assert mask.layers[0].kernel is False and mask.layers[1].kernel is True


def test_functional_branches_merges_shared_layers_and_multiple_io(getkey):
    a_in, b_in = fk.Input((4,), name="a"), fk.Input((3,), name="b")
    shared = L.Dense(5, activation="relu", name="shared")
    ha = shared(a_in)
    hb = shared(L.Dense(4, name="pre")(b_in))  # the shared layer needs 4 features on both paths
    merged = L.Concatenate()([L.Add()([ha, hb]), ha])
    model = fk.Model([a_in, b_in], {"out": L.Dense(2, name="head")(merged), "aux": hb}, seed=0)
    assert {layer.name for layer in model.layers} == {
        "a",
        "b",
        "shared",
        "pre",
        "add",
        "concatenate",
        "head",
    }
    xa, xb = jax.random.normal(getkey(), (7, 4)), jax.random.normal(getkey(), (7, 3))
    out = model([xa, xb])
    assert out["out"].shape == (7, 2) and out["aux"].shape == (7, 5)
    by_name = model({"a": xa, "b": xb})
    np.testing.assert_array_equal(by_name["out"], out["out"])
    # One set of weights for the shared layer, used on both paths; check against numpy.
    k, bias = (np.asarray(w) for w in model.get_layer("shared").weights)
    k1, b1 = (np.asarray(w) for w in model.get_layer("pre").weights)
    ha_np = np.maximum(np.asarray(xa) @ k + bias, 0)
    hb_np = np.maximum((np.asarray(xb) @ k1 + b1) @ k + bias, 0)
    np.testing.assert_allclose(out["aux"], hb_np, rtol=1e-5, atol=1e-6)
    k2, b2 = (np.asarray(w) for w in model.get_layer("head").weights)
    expected = np.concatenate([ha_np + hb_np, ha_np], -1) @ k2 + b2
    np.testing.assert_allclose(out["out"], expected, rtol=1e-5, atol=1e-5)
    assert model.count_params() == (4 * 5 + 5) + (3 * 4 + 4) + (10 * 2 + 2)


def test_functional_shared_layer_with_incompatible_shapes_is_refused():
    a, b = fk.Input((4,)), fk.Input((5,))
    shared = L.Dense(2, name="shared")
    outputs = [shared(a), shared(b)]
    with pytest.raises(
        ValueError, match=r"Dense 'shared' expects inputs with dimension 4.*\(2, 5\)"
    ):
        fk.Model([a, b], outputs)


def test_functional_missing_input_is_refused():
    a, b = fk.Input((2,)), fk.Input((2,))
    with pytest.raises(ValueError, match="not among `inputs`"):
        fk.Model(a, L.Add()([a, b]))


def test_nested_models_and_training_state_flow(getkey):
    inner = fk.Sequential([L.Dense(4), L.BatchNormalization()], name="block")
    inputs = fk.Input((3,))
    model = fk.Model(inputs, L.Dense(1)(inner(inputs)))
    x = jax.random.normal(getkey(), (8, 3))
    _, updated = model.apply(x, training=True)
    block = updated.get_layer("block")
    assert not np.allclose(block.layers[1].moving_mean, 0)


def test_config_round_trips_through_json():
    model = mlp()
    config = json.loads(json.dumps(model.get_config()))
    restored = fk.Sequential.from_config(config).set_weights(model.get_weights())
    x = jnp.ones((2, 6))
    np.testing.assert_array_equal(restored(x), model(x))
    assert restored.get_config() == model.get_config()

    inputs = fk.Input((4,))
    shared = L.Dense(4)
    outputs = L.Add()([shared(inputs), shared(shared(inputs))])
    functional = fk.Model(inputs, [outputs, L.Dense(1)(outputs)])
    config = json.loads(json.dumps(fk.saving.serialize(functional)))
    again = fk.saving.deserialize(config).set_weights(functional.get_weights())
    assert again.get_config() == functional.get_config()
    for a, b in zip(again(jnp.ones((2, 4))), functional(jnp.ones((2, 4)))):
        np.testing.assert_array_equal(a, b)


def test_unknown_class_in_config_is_refused_without_importing():
    with pytest.raises(ValueError, match="Unknown class 'os.system'"):
        fk.saving.deserialize({"class_name": "os.system", "config": {}})


def test_summary_counts_and_shapes(capsys):
    model = mlp()
    model.summary()
    text = capsys.readouterr().out
    assert "dense (Dense)" in text and "(None, 8)" in text and "(None, 3)" in text
    trainable = 6 * 8 + 8 + 2 * 8 + 8 * 3 + 3
    assert f"Trainable params: {trainable:,}" in text
    assert "Non-trainable params: 16 " in text
    assert f"Total params: {trainable + 16:,}" in text


def test_fit_on_a_model_shows_the_compile_form():
    with pytest.raises(fk.ImmutableModelError, match=r"trainer = model\.compile\("):
        mlp().fit(np.ones((2, 6)), np.ones((2, 3)))


def test_names_shared_by_several_kinds_resolve_by_kind():
    loss_config = fk.losses.serialize(fk.losses.MeanSquaredError())
    metric_config = fk.metrics.serialize(fk.metrics.MeanSquaredError())
    assert loss_config["class_name"] == metric_config["class_name"] == "MeanSquaredError"
    assert isinstance(fk.losses.deserialize(loss_config), fk.losses.Loss)
    assert isinstance(fk.metrics.deserialize(metric_config), fk.metrics.Metric)
    # The generic lookup uses the recorded module; without it the name is ambiguous.
    assert isinstance(fk.saving.deserialize(loss_config), fk.losses.Loss)
    del loss_config["module"]
    with pytest.raises(ValueError, match="names several registered classes"):
        fk.saving.deserialize(loss_config)


def test_static_call_options_are_recorded_in_functional_graphs():
    x = fk.Input((5, 8))
    attention = L.MultiHeadAttention(num_heads=2, key_dim=4)
    y, scores = attention(x, x, use_causal_mask=True, return_attention_scores=True)
    model = fk.Model(x, [L.Dense(3)(y), scores], seed=0)
    data = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    _, probabilities = model(data)
    # Causal: no position attends to a later one; rows still sum to one.
    np.testing.assert_array_equal(np.triu(np.asarray(probabilities), 1), 0)
    np.testing.assert_allclose(np.asarray(probabilities).sum(-1), 1, rtol=1e-5)
    config = json.loads(json.dumps(model.get_config()))
    assert config["nodes"][0][2] == {"return_attention_scores": True, "use_causal_mask": True}
    again = fk.Model.from_config(config).set_weights(model.get_weights())
    for a, b in zip(again(data), model(data)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match=r"static options.*Received: \['units'\]"):
        L.Dense(3)(x, units=4)
