"""Every foundation layer through the shared harness, plus each layer's own behaviour."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_harness import run_layer_test

import fkeras as fk

L = fk.layers


@pytest.mark.parametrize(
    "layer, input_shape, output_shape, n_params",
    [
        (lambda: L.Dense(4), (None, 3), (None, 4), 3 * 4 + 4),
        (lambda: L.Dense(4, activation="tanh", use_bias=False), (None, 3), (None, 4), 12),
        (lambda: L.Dense(2), (None, 5, 3), (None, 5, 2), 8),
        (lambda: L.LayerNormalization(), (None, 6), (None, 6), 12),
        (lambda: L.LayerNormalization(axis=[1, 2]), (None, 2, 3), (None, 2, 3), 12),
        (lambda: L.LayerNormalization(rms_scaling=True), (None, 6), (None, 6), 6),
    ],
    ids=["dense", "dense-tanh-nobias", "dense-3d", "layernorm", "layernorm-axes", "rmsnorm"],
)
def test_harness_layers_with_params(layer, input_shape, output_shape, n_params):
    run_layer_test(layer(), input_shape, output_shape, expected_num_params=n_params)


@pytest.mark.parametrize(
    "layer, input_shape, output_shape",
    [
        (lambda: L.Identity(), (None, 3), (None, 3)),
        (lambda: L.Activation("relu"), (None, 3), (None, 3)),
        (lambda: L.Flatten(), (None, 2, 3, 4), (None, 24)),
        (lambda: L.Reshape((3, 2)), (None, 6), (None, 3, 2)),
        (lambda: L.Reshape((-1, 2)), (None, 2, 3), (None, 3, 2)),
        (lambda: L.Add(), [(None, 3), (None, 3)], (None, 3)),
        (lambda: L.Concatenate(), [(None, 3), (None, 2)], (None, 5)),
        (lambda: L.Concatenate(axis=1), [(None, 1, 2), (None, 3, 2)], (None, 4, 2)),
    ],
    ids=[
        "identity",
        "activation",
        "flatten",
        "reshape",
        "reshape-infer",
        "add",
        "concatenate",
        "concatenate-axis1",
    ],
)
def test_harness_weightless_layers(layer, input_shape, output_shape):
    run_layer_test(layer(), input_shape, output_shape, expected_num_params=0)


def test_harness_dropout():
    run_layer_test(L.Dropout(0.3), (None, 8), (None, 8), expected_num_params=0, training_key=True)


def test_harness_batch_normalization():
    # 4 * 5 weights: gamma, beta trainable; moving mean and variance as state.
    built = run_layer_test(L.BatchNormalization(), (None, 5), (None, 5), expected_num_params=20)
    params, state, _ = fk.partition(built)
    assert [p.shape for p in jax.tree_util.tree_leaves(params)] == [(5,), (5,)]
    assert state.moving_mean is not None and params.moving_mean is None


def test_dense_formula(getkey):
    layer = L.Dense(3, activation="relu").build((None, 4), getkey())
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    expected = np.maximum(x @ np.asarray(layer.kernel) + np.asarray(layer.bias), 0)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-6)
    assert layer.kernel.shape == (4, 3) and layer.bias.shape == (3,)
    np.testing.assert_array_equal(layer.bias, 0)  # Keras: zero biases


def test_dropout_keeps_expected_fraction_and_scales(getkey):
    layer = L.Dropout(0.25)
    x = jnp.ones((200, 100))
    y = layer(x, training=True, key=getkey())
    kept = np.asarray(y != 0)
    assert abs(kept.mean() - 0.75) < 0.02  # 20,000 Bernoulli draws: std ~0.003
    np.testing.assert_allclose(np.asarray(y)[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(layer(x), x)  # inference: identity


def test_dropout_noise_shape_drops_whole_columns(getkey):
    y = L.Dropout(0.5, noise_shape=(1, None))(jnp.ones((50, 40)), training=True, key=getkey())
    column_kept = np.asarray(y[0] != 0)
    np.testing.assert_array_equal(np.asarray(y != 0), np.broadcast_to(column_kept, (50, 40)))


def test_dropout_in_training_without_key_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Dropout 'drop' needs a PRNG key.*key=None"):
        L.Dropout(0.5, name="drop")(jnp.ones((2, 3)), training=True)


def test_batch_normalization_training_updates_moving_statistics(getkey):
    layer = L.BatchNormalization(momentum=0.9).build((None, 3), getkey())
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(64, 3)).astype("float32")
    y, updated = layer.apply(x, training=True)
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(updated.moving_mean, 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(updated.moving_variance, 0.9 + 0.1 * var, rtol=1e-5)
    np.testing.assert_array_equal(layer.moving_mean, 0)  # the original is unchanged
    # A frozen BatchNormalization runs in inference mode even in training (as in Keras).
    frozen = layer.with_trainable(False)
    y_frozen, same = frozen.apply(x, training=True)
    np.testing.assert_allclose(y_frozen, frozen(x), rtol=1e-6)
    assert same is frozen


def test_batch_normalization_on_images_normalizes_channels(getkey):
    layer = L.BatchNormalization().build((None, 4, 4, 2), getkey())
    x = np.random.default_rng(0).normal(size=(8, 4, 4, 2)).astype("float32")
    y, updated = layer.apply(x, training=True)
    np.testing.assert_allclose(np.asarray(y).mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(updated.moving_mean, 0.01 * x.mean(axis=(0, 1, 2)), rtol=1e-4)


def test_layer_normalization_formula(getkey):
    layer = L.LayerNormalization(epsilon=1e-3).build((None, 5), getkey())
    x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(layer(x), (x - mean) / np.sqrt(var + 1e-3), rtol=1e-5, atol=1e-6)


def test_merges_compute_the_right_values():
    a, b = jnp.arange(6.0).reshape(2, 3), jnp.ones((2, 3))
    np.testing.assert_array_equal(L.Add()([a, b]), np.asarray(a) + 1)
    np.testing.assert_array_equal(L.Concatenate()([a, b]), np.concatenate([a, b], -1))


def test_unknown_and_callable_activations():
    with pytest.raises(ValueError, match=r"unknown activation 'rleu'.*Did you mean 'relu'"):
        L.Dense(3, activation="rleu")
    layer = L.Activation(jax.nn.relu)
    np.testing.assert_array_equal(layer(jnp.array([-1.0, 2.0])), [0.0, 2.0])
    with pytest.raises(TypeError, match="custom activation"):
        layer.get_config()


def test_output_shapes_with_unknown_dimensions():
    assert L.Flatten().compute_output_shape((None, None, 4)) == (None, None)
    assert L.Dense(3).compute_output_shape((None, None, 4)) == (None, None, 3)
    assert L.Concatenate(axis=1).compute_output_shape([(None, None, 2), (None, 3, 2)]) == (
        None,
        None,
        2,
    )
