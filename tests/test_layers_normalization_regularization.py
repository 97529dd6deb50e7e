"""GroupNormalization, RMSNormalization, UnitNormalization; SpatialDropout1D/2D/3D,
GaussianDropout, GaussianNoise, AlphaDropout, ActivityRegularization.

Deterministic layers: the shared harness, parity with Keras 3 (same weights) and an independent
NumPy formula. Random layers: the harness, then properties (inference identity, determinism
for a fixed key, rates and moments over many draws, Keras' formula for a fixed noise draw).
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_harness import run_layer_test

import fkeras as fk
from fkeras.core.collect import collect_losses
from fkeras.layers.normalization_more import (
    GroupNormalization,
    RMSNormalization,
    UnitNormalization,
)
from fkeras.layers.regularization_more import (
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)

os.environ["KERAS_BACKEND"] = "jax"
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":  # pragma: no cover - keras imported earlier elsewhere
    pytest.skip("Keras parity tests need the JAX backend", allow_module_level=True)

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

RTOL, ATOL = 1e-5, 1e-6
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def normal(shape, seed=0, scale=1.0, loc=0.0):
    return (loc + scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def keras_twin(k_layer, fk_layer, input_shape, seed=1):
    """Build both layers for `input_shape`, give Keras random weights, copy them to fkeras."""
    k_layer.build(input_shape)
    weights = [normal(w.shape, seed + i) for i, w in enumerate(k_layer.get_weights())]
    k_layer.set_weights(weights)
    built = fk_layer.build(input_shape, jax.random.key(0)).set_weights(k_layer.get_weights())
    assert built.count_params() == k_layer.count_params()
    return built


# ------------------------------------------------------------------------------------ harness
@pytest.mark.parametrize(
    "layer, input_shape, params",
    [
        (GroupNormalization(groups=2), (None, 3, 3, 4), 8),
        (RMSNormalization(), (None, 5, 4), 4),
        (UnitNormalization(axis=[1, 2]), (None, 3, 4), 0),
        (ActivityRegularization(l1=0.01, l2=0.02), (None, 4), 0),
    ],
    ids=lambda v: getattr(type(v), "__name__", None) if isinstance(v, fk.layers.Layer) else None,
)
def test_harness_deterministic(layer, input_shape, params):
    run_layer_test(layer, input_shape, input_shape, expected_num_params=params)


@pytest.mark.parametrize(
    "layer, input_shape",
    [
        (SpatialDropout1D(0.3), (None, 5, 4)),
        (SpatialDropout2D(0.3, seed=3), (None, 4, 4, 3)),
        (SpatialDropout3D(0.3), (None, 2, 3, 2, 3)),
        (GaussianDropout(0.2), (None, 6)),
        (GaussianNoise(0.1, seed=1), (None, 6)),
        (AlphaDropout(0.2, noise_shape=(None, 1, 4)), (None, 3, 4)),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, fk.layers.Layer) else None,
)
def test_harness_random(layer, input_shape):
    run_layer_test(layer, input_shape, input_shape, expected_num_params=0, training_key=True)


# --------------------------------------------------------------------------- GroupNormalization
@pytest.mark.parametrize(
    "shape, kwargs",
    [
        ((3, 6), dict(groups=1)),
        ((3, 6), dict(groups=2)),
        ((3, 6), dict(groups=6)),
        ((2, 3, 4, 6), dict(groups=1)),
        ((2, 3, 4, 6), dict(groups=2)),
        ((2, 3, 4, 6), dict(groups=-1)),
        ((2, 3, 4, 6), dict(groups=3, center=False)),
        ((2, 3, 4, 6), dict(groups=3, scale=False, epsilon=0.1)),
        ((2, 6, 5), dict(groups=2, axis=1)),
    ],
)
def test_group_normalization_matches_keras(shape, kwargs):
    x = normal(shape, 0, scale=2.0, loc=0.5)
    k_layer = keras.layers.GroupNormalization(**kwargs)
    layer = keras_twin(k_layer, GroupNormalization(**kwargs), (None, *shape[1:]))
    np.testing.assert_allclose(layer(x), k_layer(x), rtol=RTOL, atol=ATOL)


def naive_group_norm(x, groups, gamma, beta, epsilon):
    """Channels-last group normalization with explicit loops over examples and groups."""
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    size = x.shape[-1] // groups
    for n in range(x.shape[0]):
        for g in range(groups):
            block = x[n, ..., g * size : (g + 1) * size]
            mean, var = block.mean(), ((block - block.mean()) ** 2).mean()
            out[n, ..., g * size : (g + 1) * size] = (block - mean) / np.sqrt(var + epsilon)
    return out * gamma + beta


def test_group_normalization_formula(getkey):
    x = normal((2, 3, 4, 6), 2, scale=3.0, loc=-1.0)
    layer = GroupNormalization(groups=3).build((None, 3, 4, 6), getkey())
    gamma, beta = normal((6,), 3), normal((6,), 4)
    layer = layer.set_weights([gamma, beta])
    assert [w.shape for w in layer.weights] == [(6,), (6,)]  # Keras order: gamma, beta
    expected = naive_group_norm(x, 3, gamma, beta, 1e-3)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-5)


def test_group_normalization_weight_regularizers_and_constraints_match_keras():
    kwargs = dict(groups=2, gamma_regularizer="l2", beta_regularizer="l1")
    k_layer = keras.layers.GroupNormalization(**kwargs)
    layer = keras_twin(k_layer, GroupNormalization(**kwargs), (None, 4))
    k_layer(normal((2, 4)))
    np.testing.assert_allclose(
        layer.weight_regularization(), sum(float(v) for v in k_layer.losses), rtol=1e-6
    )
    constrained = GroupNormalization(2, gamma_constraint="non_neg").build((None, 4), 0)
    constrained = constrained.set_weights([-np.ones(4, np.float32), -np.ones(4, np.float32)])
    projected = constrained.apply_constraints()
    np.testing.assert_array_equal(projected.gamma, 0)
    np.testing.assert_array_equal(projected.beta, -1)  # no constraint on beta


# ----------------------------------------------------------------------------- RMSNormalization
@pytest.mark.parametrize(
    "shape, kwargs",
    [((3, 6), {}), ((2, 4, 6), dict(epsilon=0.1)), ((2, 4, 6), dict(axis=[1, 2]))],
)
def test_rms_normalization_matches_keras(shape, kwargs):
    x = normal(shape, 5, loc=0.3)
    k_layer = keras.layers.RMSNormalization(**kwargs)
    layer = keras_twin(k_layer, RMSNormalization(**kwargs), (None, *shape[1:]))
    assert k_layer.weights[0].path.endswith("/scale")  # Keras' name; fkeras' field: scale
    assert layer.scale.shape == (shape[1:] if "axis" in kwargs else shape[-1:])
    np.testing.assert_allclose(layer(x), k_layer(x), rtol=RTOL, atol=ATOL)


def test_rms_normalization_formula(getkey):
    x = normal((2, 4, 6), 6)
    scale = normal((4,), 7)
    layer = RMSNormalization(axis=1).build((None, 4, 6), getkey()).set_weights([scale])
    x64 = x.astype(np.float64)
    expected = x64 / np.sqrt(np.mean(x64**2, axis=1, keepdims=True) + 1e-6)
    expected = expected * scale[None, :, None]
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(RMSNormalization().build((None, 3), getkey()).scale, 1.0)


# ---------------------------------------------------------------------------- UnitNormalization
@pytest.mark.parametrize("shape, axis", [((3, 6), -1), ((2, 4, 6), 1), ((2, 4, 6), [1, 2])])
def test_unit_normalization_matches_keras_and_numpy(shape, axis):
    x = normal(shape, 8)
    x[0] = 0.0  # an all-zero example stays zero
    y = UnitNormalization(axis=axis)(x)
    np.testing.assert_allclose(y, keras.layers.UnitNormalization(axis=axis)(x), rtol=RTOL)
    axes = tuple(axis) if isinstance(axis, list) else axis
    norms = np.sqrt(np.sum(x.astype(np.float64) ** 2, axis=axes, keepdims=True))
    expected = np.divide(x, norms, out=np.zeros(x.shape), where=norms > 0)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------- normalization errors
def test_group_normalization_groups_must_divide_channels():
    message = (
        r"GroupNormalization 'group_normalization' expects the number of channels \(6\) to be "
        r"a multiple of groups \(4\)\. Received: input_shape=\(None, 6\)"
    )
    with pytest.raises(ValueError, match=message):
        GroupNormalization(groups=4, name="group_normalization").build((None, 6), 0)
    with pytest.raises(ValueError, match=message):  # named by the model
        fk.Sequential([fk.Input((6,)), GroupNormalization(groups=4)])
    with pytest.raises(ValueError, match=r"channels \(6\) to be a multiple of groups \(32\)"):
        GroupNormalization().build((None, 6), 0)  # Keras' default: 32 groups


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: GroupNormalization(groups=0), ValueError, "positive integer.*groups=0"),
        (lambda: GroupNormalization(groups=2.0), ValueError, "groups=2.0"),
        (lambda: GroupNormalization(axis=[1]), TypeError, r"axis=\[1\]"),
        (lambda: GroupNormalization(epsilon=0), ValueError, "epsilon > 0"),
        (lambda: RMSNormalization(axis="x"), TypeError, "RMSNormalization.*axis='x'"),
        (lambda: UnitNormalization(axis=1.5), TypeError, "UnitNormalization.*axis=1.5"),
    ],
)
def test_normalization_bad_hyperparameters(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_normalization_bad_axis_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"GroupNormalization 'gn'.*axis=3.*\(None, 6\)"):
        GroupNormalization(groups=2, axis=3, name="gn").build((None, 6), 0)
    with pytest.raises(ValueError, match=r"RMSNormalization 'rms'.*axis=0.*\(None, 6\)"):
        RMSNormalization(axis=0, name="rms").build((None, 6), 0)  # the batch axis
    with pytest.raises(ValueError, match=r"UnitNormalization 'un'.*axis=2.*\(2, 6\)"):
        UnitNormalization(axis=2, name="un")(jnp.ones((2, 6)))
    with pytest.raises(ValueError, match=r"GroupNormalization.*needs the size.*\(None, None\)"):
        GroupNormalization(groups=2).build((None, None), 0)
    built = GroupNormalization(groups=2, name="gn").build((None, 6), 0)
    with pytest.raises(ValueError, match=r"GroupNormalization 'gn' was built for 6.*\(2, 4\)"):
        built(jnp.ones((2, 4)))


# ------------------------------------------------------------------------ ActivityRegularization
@pytest.mark.parametrize("l1, l2", [(0.01, 0.0), (0.0, 0.02), (0.01, 0.02)])
def test_activity_regularization_loss_matches_keras(l1, l2):
    x = normal((4, 3, 5), 9)
    layer = ActivityRegularization(l1=l1, l2=l2)
    with collect_losses() as losses:
        y, _, _ = layer.apply_masked(jnp.asarray(x))
    np.testing.assert_array_equal(y, x)
    k_layer = keras.layers.ActivityRegularization(l1=l1, l2=l2)
    k_layer(x)
    assert len(losses) == len(k_layer.losses) == 1
    np.testing.assert_allclose(losses[0], k_layer.losses[0], rtol=1e-6)
    x64 = x.astype(np.float64)
    expected = (l1 * np.abs(x64).sum() + l2 * (x64**2).sum()) / x.shape[0]  # per example
    np.testing.assert_allclose(losses[0], expected, rtol=1e-5)
    assert layer.get_config() == {**k_layer.get_config(), "dtype": "float32", "name": None}


def test_activity_regularization_in_a_model_adds_its_loss():
    model = fk.Sequential([fk.Input((3,)), ActivityRegularization(l2=0.5)])
    x = jnp.asarray(normal((2, 3), 10))
    with collect_losses() as losses:
        model(x)
    np.testing.assert_allclose(sum(losses), 0.5 * np.sum(np.square(x)) / 2, rtol=1e-6)


def test_activity_regularization_bad_factors():
    with pytest.raises(ValueError, match=r"ActivityRegularization 'ar'.*l1.*l1=-0.1"):
        ActivityRegularization(l1=-0.1, name="ar")
    with pytest.raises(ValueError, match=r"`l2`.*l2='x'"):
        ActivityRegularization(l2="x")


# ------------------------------------------------------------------------ random layers: common
RANDOM_LAYERS = [
    (SpatialDropout1D(0.4), (3, 5, 4)),
    (SpatialDropout2D(0.4), (2, 3, 3, 4)),
    (SpatialDropout3D(0.4), (2, 2, 2, 2, 3)),
    (GaussianDropout(0.4), (3, 5)),
    (GaussianNoise(0.4), (3, 5)),
    (AlphaDropout(0.4), (3, 5)),
]


@pytest.mark.parametrize(
    "layer, shape", RANDOM_LAYERS, ids=[type(layer).__name__ for layer, _ in RANDOM_LAYERS]
)
def test_random_layers_identity_in_inference_and_deterministic_per_key(layer, shape, getkey):
    x = jnp.asarray(normal(shape, 11))
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False, key=getkey()), x)
    key = getkey()
    y1 = layer(x, training=True, key=key)
    np.testing.assert_array_equal(layer(x, training=True, key=key), y1)  # same key, same noise
    assert not np.allclose(y1, x)
    assert not np.allclose(y1, layer(x, training=True, key=getkey()))
    named = type(layer).from_config({**layer.get_config(), "name": "noisy"})
    with pytest.raises(ValueError, match=rf"{type(layer).__name__} 'noisy' needs a PRNG key"):
        named(x, training=True)
    seeded = type(layer).from_config({**layer.get_config(), "seed": 5})
    assert not np.allclose(seeded(x, training=True, key=key), y1)  # the seed is folded in


@pytest.mark.parametrize(
    "make", [SpatialDropout1D, SpatialDropout2D, SpatialDropout3D, GaussianDropout, AlphaDropout]
)
@pytest.mark.parametrize("rate", [-0.1, 1.5, "0.5", True])
def test_random_layers_bad_rate(make, rate):
    with pytest.raises(ValueError, match=rf"{make.__name__} 'r' expects `rate`.*\[0, 1\]"):
        make(rate, name="r")


def test_gaussian_noise_bad_stddev_and_bad_seed():
    with pytest.raises(ValueError, match=r"GaussianNoise expects `stddev`.*stddev=2"):
        GaussianNoise(2)  # Keras bounds stddev to [0, 1] too
    with pytest.raises(TypeError, match=r"GaussianNoise expects `seed`"):
        GaussianNoise(0.1, seed="a")


def test_rate_one_is_accepted_but_undefined_in_training(getkey):
    x = jnp.ones((2, 3))
    for layer in (GaussianDropout(1.0, name="g"), AlphaDropout(1.0, name="a")):
        np.testing.assert_array_equal(layer(x), x)
        with pytest.raises(ValueError, match=r"'[ga]': rate=1 makes the noise scale infinite"):
            layer(x, training=True, key=getkey())
    y = SpatialDropout1D(1.0)(jnp.ones((2, 3, 4)), training=True, key=getkey())
    np.testing.assert_array_equal(y, 0)


# ------------------------------------------------------------------------------ SpatialDropout
@pytest.mark.parametrize(
    "make, spatial",
    [(SpatialDropout1D, (6,)), (SpatialDropout2D, (3, 2)), (SpatialDropout3D, (2, 2, 2))],
)
def test_spatial_dropout_drops_whole_feature_maps(make, spatial, getkey):
    rate, batch, channels = 0.3, 64, 50
    x = jnp.asarray(normal((batch, *spatial, channels), 12, loc=3.0))  # no exact zeros
    y = np.asarray(make(rate)(x, training=True, key=getkey()))
    axes = tuple(range(1, 1 + len(spatial)))
    dropped = np.all(y == 0, axis=axes)  # (batch, channels)
    kept = np.all(np.isclose(y, np.asarray(x) / (1 - rate), rtol=1e-6), axis=axes)
    assert np.all(dropped ^ kept), "each feature map is either all zero or all scaled"
    # 3200 Bernoulli draws: std of the fraction ~0.008.
    assert abs(dropped.mean() - rate) < 0.035
    assert dropped.any(axis=0).sum() > 1 and dropped.any(axis=1).sum() > 1  # not per batch/chan


def test_spatial_dropout_rank_and_data_format_errors():
    with pytest.raises(ValueError, match=r"SpatialDropout2D 'sd' expects 4D.*\(2, 3, 4\)"):
        SpatialDropout2D(0.5, name="sd")(jnp.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"SpatialDropout1D expects 3D.*\(2, 3\)"):
        SpatialDropout1D(0.5)(jnp.ones((2, 3)), training=True, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"SpatialDropout3D.*channels_last.*'channels_first'"):
        SpatialDropout3D(0.5, data_format="channels_first")
    layer = SpatialDropout2D(0.5, data_format="channels_last")
    assert layer.get_config()["data_format"] == "channels_last"
    assert SpatialDropout2D(0.5).get_config() == {
        **keras.layers.SpatialDropout2D(0.5).get_config(),
        "dtype": "float32",
        "name": None,
        "trainable": True,
    }


# --------------------------------------------------------------- GaussianDropout, GaussianNoise
def test_gaussian_dropout_and_noise_moments(getkey):
    x = jnp.full((400, 500), 2.0)
    rate = 0.2
    y = np.asarray(GaussianDropout(rate)(x, training=True, key=getkey()))
    # 200,000 draws: the mean's std is ~0.001 * 2.
    np.testing.assert_allclose(y.mean(), 2.0, atol=0.01)
    np.testing.assert_allclose(y.std(), 2.0 * np.sqrt(rate / (1 - rate)), rtol=0.01)
    z = np.asarray(GaussianNoise(0.3)(x, training=True, key=getkey()))
    np.testing.assert_allclose(z.mean(), 2.0, atol=0.005)
    np.testing.assert_allclose(z.std(), 0.3, rtol=0.01)


def test_gaussian_layers_match_keras_for_the_same_draw(monkeypatch, getkey):
    """Keras' GaussianDropout/GaussianNoise, handed the standard normal draw fkeras uses."""
    x = normal((4, 5), 13)
    key = getkey()
    z = np.asarray(jax.random.normal(key, x.shape))
    monkeypatch.setattr(
        keras.src.backend.random,
        "normal",
        lambda shape, mean=0.0, stddev=1.0, dtype=None, seed=None: mean + stddev * z,
    )
    for fk_layer, k_layer in [
        (GaussianDropout(0.3), keras.layers.GaussianDropout(0.3)),
        (GaussianNoise(0.4), keras.layers.GaussianNoise(0.4)),
    ]:
        expected = k_layer(x, training=True)
        np.testing.assert_allclose(fk_layer(x, training=True, key=key), expected, rtol=1e-6)
    np.testing.assert_allclose(
        GaussianDropout(0.3)(x, training=True, key=key),
        x * (1 + np.sqrt(0.3 / 0.7) * z),
        rtol=1e-6,
    )


# -------------------------------------------------------------------------------- AlphaDropout
def test_alpha_dropout_matches_keras_formula_for_a_fixed_mask(monkeypatch, getkey):
    rate = 0.3
    x = normal((6, 7), 14)
    key = getkey()
    uniform = np.asarray(jax.random.uniform(key, x.shape))  # the draw fkeras makes
    kept = uniform >= rate
    # Keras' own layer, handed the same uniform draw.
    monkeypatch.setattr(keras.src.ops.random, "uniform", lambda shape, seed=None: uniform)
    expected_keras = keras.layers.AlphaDropout(rate)(x, training=True)
    y = AlphaDropout(rate)(x, training=True, key=key)
    np.testing.assert_allclose(y, expected_keras, rtol=1e-6, atol=1e-6)
    # The formula, written out.
    alpha_p = -SELU_ALPHA * SELU_SCALE
    a = ((1 - rate) * (1 + rate * alpha_p**2)) ** -0.5
    b = -a * alpha_p * rate
    expected = np.where(kept, a * x.astype(np.float64) + b, a * alpha_p + b)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_alpha_dropout_noise_shape_shares_the_mask(getkey):
    x = jnp.asarray(normal((4, 6, 5), 15))
    y = np.asarray(AlphaDropout(0.5, noise_shape=(None, 1, 5))(x, training=True, key=getkey()))
    alpha_p = -SELU_ALPHA * SELU_SCALE
    a = (0.5 * (1 + 0.5 * alpha_p**2)) ** -0.5
    dropped = np.isclose(y, a * alpha_p - a * alpha_p * 0.5)
    np.testing.assert_array_equal(dropped, np.broadcast_to(dropped[:, :1], dropped.shape))
    with pytest.raises(ValueError, match=r"AlphaDropout expects `noise_shape` of the inputs' rank"):
        AlphaDropout(0.5, noise_shape=(None, 5))(x, training=True, key=getkey())


def test_alpha_dropout_preserves_selu_moments(getkey):
    x = jax.random.normal(getkey(), (400, 500))  # SELU's fixed point: mean 0, variance 1
    for rate in (0.1, 0.4):
        y = np.asarray(AlphaDropout(rate)(x, training=True, key=getkey()))
        np.testing.assert_allclose(y.mean(), 0.0, atol=0.01)
        np.testing.assert_allclose(y.var(), 1.0, atol=0.02)
