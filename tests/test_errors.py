"""User mistakes give specific errors naming the layer, the expectation and the received value."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras as fk

L = fk.layers


def test_wrong_input_shape_names_layer_expected_and_received():
    layer = L.Dense(3, name="hidden").build((None, 16), jax.random.key(0))
    with pytest.raises(ValueError) as info:
        layer(jnp.ones((4, 17)))
    message = str(info.value)
    assert "Dense 'hidden'" in message and "16" in message and "x.shape=(4, 17)" in message


def test_wrong_input_shape_to_a_model():
    model = fk.Sequential([fk.Input((16,)), L.Dense(3)])
    with pytest.raises(
        ValueError,
        match=r"Sequential 'sequential' expects inputs of shape "
        r"\(None, 16\).*Received: x.shape=\(4, 17\)",
    ):
        model(np.ones((4, 17)))
    inputs = fk.Input((2, 2), name="image")
    functional = fk.Model(inputs, L.Flatten()(inputs))
    with pytest.raises(ValueError, match=r"input 'image' of shape \(None, 2, 2\).*\(3, 4\)"):
        functional(np.ones((3, 4)))


def test_wrong_shape_is_caught_inside_jit_too():
    model = fk.Sequential([fk.Input((16,)), L.Dense(3)])
    with pytest.raises(ValueError, match="Received: x.shape=\\(4, 17\\)"):
        jax.jit(lambda m, x: m(x))(model, jnp.ones((4, 17)))


def test_bad_hyperparameters_are_refused_at_construction():
    with pytest.raises(ValueError, match=r"Dense expects a positive integer `units`.*units=0"):
        L.Dense(0)
    with pytest.raises(ValueError, match=r"Dropout expects `rate`.*rate=1.5"):
        L.Dropout(1.5)
    with pytest.raises(ValueError, match=r"Reshape expects target_shape.*\(-1, -1\)"):
        L.Reshape((-1, -1))
    with pytest.raises(TypeError, match=r"fk.Input expects shape"):
        fk.Input("784")


def test_bad_reshape_and_merge_inputs():
    with pytest.raises(ValueError, match=r"Reshape 'r' cannot reshape examples of shape \(6,\)"):
        fk.Sequential([fk.Input((6,)), L.Reshape((4, 2), name="r")])
    a, b = fk.Input((3,)), fk.Input((4,))
    with pytest.raises(
        ValueError, match=r"Add expects inputs of the same shape.*\(2, 3\), \(2, 4\)"
    ):
        L.Add()([a, b])
    with pytest.raises(ValueError, match=r"Concatenate expects inputs with matching shapes"):
        L.Concatenate(axis=1)([fk.Input((3, 2)), fk.Input((3, 4))])
    with pytest.raises(ValueError, match="Add expects a list of input tensors"):
        L.Add()(jnp.ones((2, 2)))


def test_normalization_axis_errors():
    with pytest.raises(ValueError, match=r"BatchNormalization: axis 3 is out of range.*rank 2"):
        L.BatchNormalization(axis=3).build((None, 4))
    bn = L.BatchNormalization(name="bn").build((None, 4))
    with pytest.raises(ValueError, match=r"BatchNormalization 'bn' was built for size \(4,\)"):
        bn(jnp.ones((2, 5)))


def test_symbolic_tensors_refuse_array_operations():
    x = fk.Input((3,))
    with pytest.raises(TypeError, match="placeholder in a functional model"):
        np.asarray(x)
    with pytest.raises(TypeError, match="placeholder"):
        x + 1
    with pytest.raises(TypeError, match="training="):
        L.Dropout(0.1)(x, training=True)


def test_non_layer_in_sequential_and_bad_model_arguments():
    with pytest.raises(TypeError, match=r"element 1 of `layers` is not a layer.*'relu'"):
        fk.Sequential([L.Dense(2), "relu"])
    with pytest.raises(TypeError, match="`outputs` must be symbolic tensors"):
        fk.Model(fk.Input((2,)), jnp.ones(2))
    model = fk.Sequential([fk.Input((2,)), L.Dense(2)])
    with pytest.raises(ValueError, match="exactly one of `name` or `index`"):
        model.get_layer()


def test_models_cannot_be_mutated():
    model = fk.Sequential([fk.Input((2,)), L.Dense(2)])
    with pytest.raises(AttributeError):
        model.layers = ()
    for method in ("fit", "evaluate", "train_on_batch", "test_on_batch"):
        with pytest.raises(fk.ImmutableModelError, match=rf"trainer\.{method}\("):
            getattr(model, method)(np.ones((2, 2)), np.ones((2, 2)))


def test_several_positional_symbolic_inputs_are_refused_not_dropped():
    a, b = fk.Input((3,)), fk.Input((3,))
    with pytest.raises(TypeError, match=r"Add: .*one list, e.g. `layer\(\[a, b\]\)`"):
        L.Add()(a, b)
