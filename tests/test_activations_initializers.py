"""Activations by name against their formulas; initializers against Keras' variance formulas."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fkeras as fk

X = np.linspace(-5, 5, 41).astype("float32")
_erf = np.vectorize(math.erf)

FORMULAS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "hard_sigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),
    "softmax": lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum(),
    "tanh": np.tanh,
    "silu": lambda x: x / (1 + np.exp(-x)),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_named_activation_matches_formula(name):
    got = fk.activations.get(name)(jnp.asarray(X))
    np.testing.assert_allclose(got, FORMULAS[name](X.astype("float64")), rtol=1e-5, atol=1e-6)
    layer = fk.layers.Activation(name)
    np.testing.assert_allclose(layer(jnp.asarray(X)), got, rtol=0, atol=0)


def test_every_registered_activation_has_a_formula_here_or_is_an_alias():
    untested = set(fk.activations.names()) - set(FORMULAS)
    assert untested <= {"log_softmax", "hard_silu", "hard_swish", "softsign", "exponential"}
    np.testing.assert_allclose(fk.activations.get("softsign")(X), X / (1 + np.abs(X)), rtol=1e-6)
    np.testing.assert_allclose(
        fk.activations.get("hard_silu")(X), X * np.clip(X / 6 + 0.5, 0, 1), rtol=1e-5, atol=1e-6
    )


def test_unknown_initializer_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Dense: unknown initializer 'glorot_unifrom'.*Did you"):
        fk.layers.Dense(3, kernel_initializer="glorot_unifrom")


@pytest.mark.parametrize(
    "name, shape, expected_variance",
    [
        ("glorot_uniform", (200, 300), 2 / (200 + 300)),
        ("glorot_normal", (200, 300), 2 / (200 + 300)),
        ("he_uniform", (200, 300), 2 / 200),
        ("he_normal", (200, 300), 2 / 200),
        ("lecun_uniform", (200, 300), 1 / 200),
        ("lecun_normal", (200, 300), 1 / 200),
        ("glorot_uniform", (3, 3, 16, 32), 2 / (9 * 16 + 9 * 32)),  # conv fans
        ("random_normal", (200, 300), 0.05**2),
        ("random_uniform", (200, 300), 0.1**2 / 12),
    ],
)
def test_initializer_variance_follows_keras_formula(name, shape, expected_variance):
    values = np.asarray(fk.initializers.get(name)(jax.random.key(0), shape, jnp.float32))
    assert values.shape == shape
    assert abs(values.mean()) < 0.05 * math.sqrt(expected_variance) * 10
    assert values.var() == pytest.approx(expected_variance, rel=0.05)


def test_truncated_initializers_stay_within_two_stddevs():
    values = np.asarray(fk.initializers.get("he_normal")(jax.random.key(0), (100, 100)))
    stddev = math.sqrt(2 / 100) / 0.87962566103423978
    assert np.abs(values).max() <= 2 * stddev + 1e-6


def test_orthogonal_identity_constant_and_seeded_initializers():
    q = np.asarray(fk.initializers.Orthogonal(gain=2.0)(jax.random.key(0), (6, 4)))
    np.testing.assert_allclose(q.T @ q, 4 * np.eye(4), atol=1e-5)
    np.testing.assert_array_equal(fk.initializers.get("identity")(None, (2, 3)), np.eye(2, 3))
    np.testing.assert_array_equal(fk.initializers.Constant(3.0)(None, (2,)), [3.0, 3.0])
    seeded = fk.initializers.GlorotUniform(seed=3)
    a, b = seeded(jax.random.key(0), (4, 4)), seeded(jax.random.key(1), (4, 4))
    np.testing.assert_array_equal(a, b)  # a seeded initializer ignores the key, as in Keras


def test_initializer_config_round_trip():
    for init in [
        fk.initializers.GlorotUniform(seed=2),
        fk.initializers.VarianceScaling(2.0, "fan_out", "uniform"),
        fk.initializers.Constant(1.5),
    ]:
        again = fk.initializers.get(fk.initializers.serialize(init))
        assert again == init
    layer = fk.layers.Dense(3, kernel_initializer=jax.nn.initializers.zeros)
    built = layer.build((None, 2), jax.random.key(0))
    np.testing.assert_array_equal(built.kernel, 0)  # plain JAX initializers are accepted
