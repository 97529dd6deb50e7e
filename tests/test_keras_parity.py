"""Numerical parity with Keras 3 (JAX backend).

Every case is checked three ways: fkeras against Keras with the same weights, and both against
an independent NumPy formula written here (float64, from the same float32 inputs and weights).
"""

import math
import os

import jax
import numpy as np
import pytest

import fkeras as fk

os.environ["KERAS_BACKEND"] = "jax"
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":  # pragma: no cover - keras imported earlier elsewhere
    pytest.skip(
        f"Keras parity tests need the JAX backend; got {keras.backend.backend()!r}",
        allow_module_level=True,
    )

try:
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - scipy is optional
    _erf = np.vectorize(math.erf, otypes=[np.float64])

RTOL, ATOL = 1e-5, 1e-6
EPS = 1e-3  # Keras' default epsilon for BatchNormalization and LayerNormalization
MOMENTUM = 0.99
F32 = np.float32

pytestmark = pytest.mark.filterwarnings(
    # Raised inside Keras (variables.py `np.array(self)`), not by fkeras.
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


@pytest.fixture(autouse=True)
def _full_precision_matmul():
    # On GPUs, JAX's default float32 matmul may use TF32; the NumPy references are exact.
    with jax.default_matmul_precision("highest"):
        yield


def rng(seed=0):
    return np.random.default_rng(seed)


def normal(shape, seed=0, scale=1.0, loc=0.0):
    return (loc + scale * rng(seed).standard_normal(shape)).astype(F32)


def np64(x):
    return np.asarray(x, dtype=np.float64)


def assert_close(actual, expected):
    np.testing.assert_allclose(np64(actual), np64(expected), rtol=RTOL, atol=ATOL)


def assert_parity(fk_out, keras_out, reference):
    """fkeras == Keras, and both == the NumPy reference."""
    fk_out, keras_out = np.asarray(fk_out), np.asarray(keras_out)
    assert fk_out.shape == keras_out.shape == np.shape(reference)
    assert fk_out.dtype == np.float32
    assert_close(fk_out, keras_out)
    assert_close(fk_out, reference)
    assert_close(keras_out, reference)


def random_like(weights, seed):
    """Random float32 arrays of the shapes of `weights`."""
    g = rng(seed)
    return [(0.5 * g.standard_normal(np.shape(w))).astype(F32) for w in weights]


def shapes(weights):
    return [tuple(np.shape(w)) for w in weights]


# ----------------------------------------------------------------------------- activations
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _softplus(z):
    return np.logaddexp(0.0, z)


def _log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _hard_sigmoid(z):
    return np.clip(z + 3.0, 0.0, 6.0) / 6.0


NP_ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "relu6": lambda z: np.clip(z, 0.0, 6.0),
    "leaky_relu": lambda z: np.where(z >= 0, z, 0.2 * z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(z)),
    "selu": lambda z: SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(z)),
    "gelu": lambda z: 0.5 * z * (1.0 + _erf(z / np.sqrt(2.0))),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "hard_sigmoid": _hard_sigmoid,
    "hard_silu": lambda z: z * _hard_sigmoid(z),
    "hard_swish": lambda z: z * _hard_sigmoid(z),
    "softmax": lambda z: np.exp(_log_softmax(z)),
    "log_softmax": _log_softmax,
    "tanh": np.tanh,
    "silu": lambda z: z / (1.0 + np.exp(-z)),
    "swish": lambda z: z / (1.0 + np.exp(-z)),
    "softplus": _softplus,
    "softsign": lambda z: z / (1.0 + np.abs(z)),
    "mish": lambda z: z * np.tanh(_softplus(z)),
    "exponential": np.exp,
}
REQUIRED_ACTIVATIONS = [
    "relu", "gelu", "sigmoid", "softmax", "tanh", "elu", "selu", "swish", "silu", "softplus",
    "leaky_relu", "relu6", "mish", "hard_sigmoid", "linear",
]  # fmt: skip
ACTIVATION_NAMES = fk.activations.names()


def activation_inputs():
    x = normal((3, 8), seed=1, scale=2.5)
    # The kinks of relu/relu6/hard_sigmoid/leaky_relu and both saturated ends.
    special = np.array([[-7.0, -6.0, -3.0, -0.5, 0.0, 0.5, 3.0, 6.5]], dtype=F32)
    return np.concatenate([x, special], axis=0)


def test_every_fkeras_activation_has_a_numpy_formula():
    assert set(REQUIRED_ACTIVATIONS) <= set(ACTIVATION_NAMES)
    assert set(ACTIVATION_NAMES) == set(NP_ACTIVATIONS)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_layer(name):
    x = activation_inputs()
    reference = NP_ACTIVATIONS[name](np64(x))
    fk_out = fk.layers.Activation(name)(x)
    keras_out = keras.layers.Activation(name)(x)
    assert_parity(fk_out, keras_out, reference)
    # The function itself, by name.
    assert_parity(fk.activations.get(name)(x), keras.activations.get(name)(x), reference)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_dense_activation(name):
    x = normal((4, 7), seed=2)
    k_layer = keras.layers.Dense(5, activation=name)
    k_layer.build((None, 7))
    weights = random_like(k_layer.get_weights(), seed=3)
    k_layer.set_weights(weights)
    fk_layer = fk.layers.Dense(5, activation=name).build((None, 7), key=jax.random.key(0))
    assert shapes(fk_layer.get_weights()) == shapes(weights)
    fk_layer = fk_layer.set_weights(weights)
    kernel, bias = map(np64, weights)
    reference = NP_ACTIVATIONS[name](np64(x) @ kernel + bias)
    assert_parity(fk_layer(x), k_layer(x), reference)


# ----------------------------------------------------------------------------- Sequential
def fk_dense_stack(seed=0):
    L = fk.layers
    return fk.Sequential([fk.Input((7,)), L.Dense(5, activation="relu"), L.Dense(3)], seed=seed)


def keras_dense_stack():
    L = keras.layers
    return keras.Sequential([keras.Input((7,)), L.Dense(5, activation="relu"), L.Dense(3)])


def dense_stack_reference(x, weights):
    w1, b1, w2, b2 = map(np64, weights)
    return np.maximum(np64(x) @ w1 + b1, 0.0) @ w2 + b2


def test_sequential_dense_stack_keras_to_fkeras():
    x = normal((6, 7), seed=4)
    k_model = keras_dense_stack()
    k_model.set_weights(random_like(k_model.get_weights(), seed=5))
    fk_model = fk_dense_stack()
    assert shapes(fk_model.get_weights()) == shapes(k_model.get_weights())
    before = fk_model.get_weights()

    new_model = fk_model.set_weights(k_model.get_weights())
    # set_weights returns a new model and leaves the old one as it was.
    for old, kept in zip(before, fk_model.get_weights()):
        np.testing.assert_array_equal(old, kept)
    for ours, theirs in zip(new_model.get_weights(), k_model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)

    reference = dense_stack_reference(x, k_model.get_weights())
    assert_parity(new_model(x), k_model(x), reference)
    assert_parity(jax.jit(lambda m, v: m(v))(new_model, x), k_model(x), reference)


def test_sequential_dense_stack_fkeras_to_keras():
    x = normal((6, 7), seed=6)
    fk_model = fk_dense_stack(seed=3)
    fk_model = fk_model.set_weights(random_like(fk_model.get_weights(), seed=7))
    k_model = keras_dense_stack()
    k_model.set_weights(fk_model.get_weights())
    reference = dense_stack_reference(x, fk_model.get_weights())
    assert_parity(fk_model(x), k_model(x), reference)


def test_sequential_weight_order_with_batchnorm():
    """Per layer: trainable weights, then non-trainable (Keras' get_weights() order)."""
    L, K = fk.layers, keras.layers
    fk_model = fk.Sequential(
        [fk.Input((4,)), L.Dense(3), L.BatchNormalization(), L.Dropout(0.5), L.Dense(2)]
    )
    k_model = keras.Sequential(
        [keras.Input((4,)), K.Dense(3), K.BatchNormalization(), K.Dropout(0.5), K.Dense(2)]
    )
    assert shapes(fk_model.get_weights()) == shapes(k_model.get_weights())
    weights = random_like(k_model.get_weights(), seed=8)
    weights[5] = np.abs(weights[5]) + 0.5  # moving_variance
    k_model.set_weights(weights)
    fk_model = fk_model.set_weights(weights)
    assert len(fk_model.trainable_weights) == len(k_model.trainable_weights) == 6
    assert len(fk_model.non_trainable_weights) == len(k_model.non_trainable_weights) == 2

    x = normal((5, 4), seed=9)
    w1, b1, gamma, beta, mm, mv, w2, b2 = map(np64, weights)
    h = np64(x) @ w1 + b1
    h = (h - mm) / np.sqrt(mv + EPS) * gamma + beta
    reference = h @ w2 + b2
    assert_parity(fk_model(x), k_model(x, training=False), reference)


def test_sequential_frozen_layer_weight_order():
    """A frozen layer keeps its place in get_weights(); its weights become non-trainable."""
    L, K = fk.layers, keras.layers
    fk_model = fk.Sequential(
        [fk.Input((4,)), L.Dense(3, trainable=False), L.BatchNormalization(), L.Dense(2)]
    )
    k_frozen = K.Dense(3)
    k_frozen.trainable = False
    k_model = keras.Sequential([keras.Input((4,)), k_frozen, K.BatchNormalization(), K.Dense(2)])
    assert shapes(fk_model.get_weights()) == shapes(k_model.get_weights())
    assert shapes(fk_model.trainable_weights) == shapes(k_model.trainable_weights)
    assert shapes(fk_model.non_trainable_weights) == shapes(k_model.non_trainable_weights)
    weights = random_like(k_model.get_weights(), seed=30)
    weights[5] = np.abs(weights[5]) + 0.5  # moving_variance
    k_model.set_weights(weights)
    fk_model = fk_model.set_weights(weights)
    for ours, theirs in zip(fk_model.non_trainable_weights, k_model.non_trainable_weights):
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())

    x = normal((5, 4), seed=31)
    w1, b1, gamma, beta, mm, mv, w2, b2 = map(np64, weights)
    h = np64(x) @ w1 + b1
    h = (h - mm) / np.sqrt(mv + EPS) * gamma + beta
    assert_parity(fk_model(x), k_model(x), h @ w2 + b2)


def test_frozen_batchnorm_runs_in_inference_mode_when_training():
    fk_model, k_model, weights = bn_models((4,), -1)
    fk_model = fk_model.with_trainable(False)
    k_model.trainable = False
    x = normal((6, 4), seed=32, scale=2.0, loc=0.5)
    gamma, beta, mm, mv = map(np64, weights)
    reference = (np64(x) - mm) / np.sqrt(mv + EPS) * gamma + beta
    fk_y, fk_new = fk_model.apply(x, training=True)
    assert_parity(fk_y, k_model(x, training=True), reference)
    assert_parity(fk_new.layers[0].moving_mean, k_model.layers[0].moving_mean.numpy(), mm)
    assert_parity(fk_new.layers[0].moving_variance, k_model.layers[0].moving_variance.numpy(), mv)


def test_nested_models_weight_order():
    """A sub-model's weights come in its place, in its own order (Sequential and functional)."""
    L, K = fk.layers, keras.layers
    fk_inner = fk.Sequential([fk.Input((4,)), L.Dense(3), L.BatchNormalization()], name="inner")
    k_inner = keras.Sequential(
        [keras.Input((4,)), K.Dense(3), K.BatchNormalization()], name="inner"
    )
    fk_x, k_x = fk.Input((4,), name="x"), keras.Input((4,), name="x")
    fk_h = fk.layers.Dense(4, name="pre")(fk_x)
    k_h = keras.layers.Dense(4, name="pre")(k_x)
    fk_model = fk.Model(fk_x, L.Dense(2, name="post")(fk_inner(fk_h)))
    k_model = keras.Model(k_x, K.Dense(2, name="post")(k_inner(k_h)))
    assert layer_names(fk_model) == layer_names(k_model) == ["x", "pre", "inner", "post"]
    assert shapes(fk_model.get_weights()) == shapes(k_model.get_weights())
    weights = random_like(k_model.get_weights(), seed=33)
    weights[7] = np.abs(weights[7]) + 0.5  # inner moving_variance
    k_model.set_weights(weights)
    fk_model = fk_model.set_weights(weights)

    x = normal((5, 4), seed=34)
    wp, bp, wi, bi, gamma, beta, mm, mv, wo, bo = map(np64, weights)
    h = (np64(x) @ wp + bp) @ wi + bi
    h = (h - mm) / np.sqrt(mv + EPS) * gamma + beta
    assert_parity(fk_model(x), k_model(x), h @ wo + bo)


# ------------------------------------------------------------- Dropout, BatchNormalization
def test_dropout_inference_is_identity():
    x = normal((5, 6), seed=10)
    fk_model = fk.Sequential([fk.Input((6,)), fk.layers.Dropout(0.5)])
    k_model = keras.Sequential([keras.Input((6,)), keras.layers.Dropout(0.5)])
    assert_parity(fk_model(x), k_model(x, training=False), x)
    y, same = fk_model.apply(x, training=False)
    np.testing.assert_array_equal(np.asarray(y), x)
    np.testing.assert_array_equal(np.asarray(fk.layers.Dropout(0.3)(x)), x)


def bn_models(input_shape, axis):
    fk_model = fk.Sequential([fk.Input(input_shape), fk.layers.BatchNormalization(axis=axis)])
    k_model = keras.Sequential(
        [keras.Input(input_shape), keras.layers.BatchNormalization(axis=axis)]
    )
    assert shapes(fk_model.get_weights()) == shapes(k_model.get_weights())
    g = rng(11)
    size = shapes(k_model.get_weights())[0]
    gamma = (1.0 + 0.5 * g.standard_normal(size)).astype(F32)
    beta = (0.5 * g.standard_normal(size)).astype(F32)
    moving_mean = (0.5 * g.standard_normal(size)).astype(F32)
    moving_variance = g.uniform(0.5, 2.0, size).astype(F32)
    weights = [gamma, beta, moving_mean, moving_variance]
    k_model.set_weights(weights)
    return fk_model.set_weights(weights), k_model, weights


def bn_broadcast(value, axis, ndim):
    shape = [1] * ndim
    shape[axis] = -1
    return np64(value).reshape(shape)


BN_CASES = [((4,), -1), ((3, 4), -1), ((3, 4), 1)]


@pytest.mark.parametrize(("input_shape", "axis"), BN_CASES)
def test_batchnorm_inference(input_shape, axis):
    fk_model, k_model, weights = bn_models(input_shape, axis)
    x = normal((6, *input_shape), seed=12, scale=2.0, loc=0.5)
    ndim = x.ndim
    gamma, beta, mm, mv = (bn_broadcast(w, axis, ndim) for w in weights)
    reference = (np64(x) - mm) / np.sqrt(mv + EPS) * gamma + beta
    assert_parity(fk_model(x), k_model(x, training=False), reference)
    y, same = fk_model.apply(x, training=False)
    assert_close(y, reference)
    np.testing.assert_array_equal(np.asarray(same.layers[0].moving_mean), weights[2])


@pytest.mark.parametrize(("input_shape", "axis"), BN_CASES)
def test_batchnorm_training_step(input_shape, axis):
    fk_model, k_model, weights = bn_models(input_shape, axis)
    x = normal((6, *input_shape), seed=13, scale=2.0, loc=0.5)
    ndim = x.ndim
    axis_pos = axis % ndim
    reduce_axes = tuple(i for i in range(ndim) if i != axis_pos)
    batch_mean = np64(x).mean(axis=reduce_axes)
    batch_var = np64(x).var(axis=reduce_axes)  # biased, as in Keras
    gamma, beta = (bn_broadcast(w, axis, ndim) for w in weights[:2])
    reference = (np64(x) - bn_broadcast(batch_mean, axis, ndim)) / np.sqrt(
        bn_broadcast(batch_var, axis, ndim) + EPS
    ) * gamma + beta
    expected_mm = np64(weights[2]) * MOMENTUM + batch_mean * (1 - MOMENTUM)
    expected_mv = np64(weights[3]) * MOMENTUM + batch_var * (1 - MOMENTUM)

    fk_y, fk_new = fk_model.apply(x, training=True)
    k_y = k_model(x, training=True)
    assert_parity(fk_y, k_y, reference)

    fk_bn, k_bn = fk_new.layers[0], k_model.layers[0]
    assert_parity(fk_bn.moving_mean, k_bn.moving_mean.numpy(), expected_mm)
    assert_parity(fk_bn.moving_variance, k_bn.moving_variance.numpy(), expected_mv)
    for ours, theirs in zip(fk_new.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs)
    # The old model is unchanged; `model(x, training=True)` returns outputs only.
    np.testing.assert_array_equal(np.asarray(fk_model.layers[0].moving_mean), weights[2])
    assert_close(fk_model(x, training=True), reference)


@pytest.mark.parametrize(
    "kwargs", [{"center": False}, {"scale": False}, {"center": False, "scale": False}]
)
def test_batchnorm_without_center_or_scale(kwargs):
    fk_model = fk.Sequential([fk.Input((4,)), fk.layers.BatchNormalization(**kwargs)])
    k_model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(**kwargs)])
    assert shapes(fk_model.get_weights()) == shapes(k_model.get_weights())
    g = rng(35)
    gamma = (1.0 + 0.5 * g.standard_normal(4)).astype(F32)
    beta = (0.5 * g.standard_normal(4)).astype(F32)
    mm = (0.5 * g.standard_normal(4)).astype(F32)
    mv = g.uniform(0.5, 2.0, 4).astype(F32)
    use_gamma, use_beta = kwargs.get("scale", True), kwargs.get("center", True)
    weights = [gamma] * use_gamma + [beta] * use_beta + [mm, mv]
    k_model.set_weights(weights)
    fk_model = fk_model.set_weights(weights)
    x = normal((6, 4), seed=36, scale=2.0, loc=0.5)
    x64 = np64(x)
    scale = np64(gamma) if use_gamma else 1.0
    shift = np64(beta) if use_beta else 0.0
    assert_parity(fk_model(x), k_model(x), (x64 - mm) / np.sqrt(mv + EPS) * scale + shift)
    reference = (x64 - x64.mean(0)) / np.sqrt(x64.var(0) + EPS) * scale + shift
    fk_y, fk_new = fk_model.apply(x, training=True)
    assert_parity(fk_y, k_model(x, training=True), reference)
    for ours, theirs in zip(fk_new.get_weights(), k_model.get_weights()):
        assert_close(ours, theirs)


# ------------------------------------------------------------------------- LayerNormalization
LN_CASES = [
    pytest.param((6,), {}, id="default-axis"),
    pytest.param((3, 5), {"axis": [1, 2]}, id="axis-1-2"),
    pytest.param((3, 5), {"axis": -1}, id="3d-last-axis"),
    pytest.param((6,), {"rms_scaling": True}, id="rms-scaling"),
    pytest.param((3, 5), {"axis": [1, 2], "rms_scaling": True}, id="rms-scaling-axis-1-2"),
    pytest.param((6,), {"center": False}, id="no-center"),
    pytest.param((6,), {"scale": False}, id="no-scale"),
    pytest.param(
        (6,),
        {"rms_scaling": True, "scale": False},
        id="rms-scaling-no-scale",
    ),
]


@pytest.mark.filterwarnings("ignore:You passed `rms_scaling=True`")
@pytest.mark.parametrize(("input_shape", "kwargs"), LN_CASES)
def test_layer_normalization(input_shape, kwargs):
    fk_model = fk.Sequential([fk.Input(input_shape), fk.layers.LayerNormalization(**kwargs)])
    k_model = keras.Sequential(
        [keras.Input(input_shape), keras.layers.LayerNormalization(**kwargs)]
    )
    assert shapes(fk_model.get_weights()) == shapes(k_model.get_weights())
    weights = random_like(k_model.get_weights(), seed=14)
    has_gamma = kwargs.get("scale", True) or kwargs.get("rms_scaling", False)
    weights = [w + 1.0 if i == 0 and has_gamma else w for i, w in enumerate(weights)]
    k_model.set_weights(weights)
    fk_model = fk_model.set_weights(weights)

    x = normal((4, *input_shape), seed=15, scale=1.5, loc=0.3)
    ndim = x.ndim
    axis = kwargs.get("axis", -1)
    axes = tuple(sorted(a % ndim for a in ([axis] if isinstance(axis, int) else axis)))
    param_shape = [x.shape[i] if i in axes else 1 for i in range(ndim)]
    params = [np64(w).reshape(param_shape) for w in weights]
    scale = kwargs.get("scale", True) or kwargs.get("rms_scaling", False)  # Keras' rule
    gamma = params.pop(0) if scale else 1.0
    beta = params.pop(0) if params else 0.0

    x64 = np64(x)
    mean = x64.mean(axis=axes, keepdims=True)
    var = x64.var(axis=axes, keepdims=True)
    if kwargs.get("rms_scaling"):
        # Keras' (deprecated) definition: scale by the centred variance, no mean subtraction.
        reference = x64 / np.sqrt(var + EPS) * gamma
    else:
        reference = (x64 - mean) / np.sqrt(var + EPS) * gamma + beta
    assert_parity(fk_model(x), k_model(x), reference)


# ---------------------------------------------------------------------- Flatten, Reshape
@pytest.mark.parametrize(
    ("fk_layer", "k_layer", "target"),
    [
        (lambda: fk.layers.Flatten(), lambda: keras.layers.Flatten(), (24,)),
        (lambda: fk.layers.Reshape((4, 6)), lambda: keras.layers.Reshape((4, 6)), (4, 6)),
        (lambda: fk.layers.Reshape((-1, 3)), lambda: keras.layers.Reshape((-1, 3)), (8, 3)),
        (lambda: fk.layers.Reshape((3, 2, 4)), lambda: keras.layers.Reshape((3, 2, 4)), (3, 2, 4)),
        (lambda: fk.layers.Reshape(24), lambda: keras.layers.Reshape((24,)), (24,)),
    ],
    ids=["flatten", "reshape-4-6", "reshape-minus1-3", "reshape-3-2-4", "reshape-int"],
)
def test_flatten_reshape(fk_layer, k_layer, target):
    x = normal((5, 2, 3, 4), seed=16)
    reference = x.reshape((5, *target))
    fk_model = fk.Sequential([fk.Input((2, 3, 4)), fk_layer()])
    k_model = keras.Sequential([keras.Input((2, 3, 4)), k_layer()])
    assert_parity(fk_model(x), k_model(x), reference)
    np.testing.assert_array_equal(np.asarray(fk_model(x)), reference)
    assert fk_layer().compute_output_shape((None, 2, 3, 4)) == (None, *target)


# --------------------------------------------------------------------------- functional
def branchy_model(lib, Input, Model):
    """inputs -> a, b; add(a, b); concat(add, b); a shared layer called twice; out."""
    L = lib
    x = Input((4,), name="x")
    a = L.Dense(3, name="a")(x)
    b = L.Dense(3, activation="tanh", name="b")(x)
    s = L.Add(name="add")([a, b])
    c = L.Concatenate(name="concat")([s, b])
    shared = L.Dense(6, activation="relu", name="shared")
    h = shared(shared(c))
    out = L.Dense(2, name="out")(h)
    return Model(x, out)


def dense_ref(x, layer_weights, act=lambda z: z):
    kernel, bias = map(np64, layer_weights)
    return act(np64(x) @ kernel + bias)


def branchy_reference(x, k_model):
    w = {name: k_model.get_layer(name).get_weights() for name in ("a", "b", "shared", "out")}
    relu = lambda z: np.maximum(z, 0.0)
    a = dense_ref(x, w["a"])
    b = dense_ref(x, w["b"], np.tanh)
    c = np.concatenate([a + b, b], axis=-1)
    h = dense_ref(dense_ref(c, w["shared"], relu), w["shared"], relu)
    return dense_ref(h, w["out"])


def layer_names(model):
    return [layer.name for layer in model.layers]


def test_functional_branches_merges_and_shared_layer():
    fk_model = branchy_model(fk.layers, fk.Input, fk.Model)
    k_model = branchy_model(keras.layers, keras.Input, keras.Model)
    assert layer_names(fk_model) == layer_names(k_model)
    assert shapes(fk_model.get_weights()) == shapes(k_model.get_weights())
    assert len(fk_model.get_weights()) == 8  # the shared layer has one set of weights

    x = normal((5, 4), seed=17)
    k_model.set_weights(random_like(k_model.get_weights(), seed=18))
    fk_model = fk_model.set_weights(k_model.get_weights())
    assert_parity(fk_model(x), k_model(x), branchy_reference(x, k_model))

    # And back: fkeras weights into a fresh Keras model.
    fk_model = fk_model.set_weights(random_like(fk_model.get_weights(), seed=19))
    k_model2 = branchy_model(keras.layers, keras.Input, keras.Model)
    k_model2.set_weights(fk_model.get_weights())
    assert_parity(fk_model(x), k_model2(x), branchy_reference(x, k_model2))


def deep_branch_second_model(lib, Input, Model):
    """x -> a -> b (deep) and x -> c (shallow); concatenate([c, b]). Keras orders layers by
    depth from the outputs, then by DFS discovery: x, a, c, b, cat."""
    L = lib
    x = Input((4,), name="x")
    a = L.Dense(3, name="a")(x)
    b = L.Dense(3, name="b")(a)
    c = L.Dense(3, name="c")(x)
    out = L.Concatenate(name="cat")([c, b])
    return Model(x, out)


def test_functional_weight_order_matches_keras_when_branch_depths_differ():
    fk_model = deep_branch_second_model(fk.layers, fk.Input, fk.Model)
    k_model = deep_branch_second_model(keras.layers, keras.Input, keras.Model)
    k_model.set_weights(random_like(k_model.get_weights(), seed=20))
    x = normal((5, 4), seed=21)
    w = {name: k_model.get_layer(name).get_weights() for name in ("a", "b", "c")}
    reference = np.concatenate(
        [dense_ref(x, w["c"]), dense_ref(dense_ref(x, w["a"]), w["b"])], axis=-1
    )
    assert_close(k_model(x), reference)  # the reference is right for Keras
    fk_model = fk_model.set_weights(k_model.get_weights())
    assert_parity(fk_model(x), k_model(x), reference)
    assert layer_names(fk_model) == layer_names(k_model)


def multi_output_model(lib, Input, Model, *, deep_second_head=False):
    """3-D Dense, Dense without bias, Add of three, Concatenate on axis 1, Flatten, 2 heads."""
    L = lib
    x = Input((3, 4), name="x")
    a = L.Dense(5, name="a")(x)
    b = L.Dense(5, use_bias=False, name="b")(x)
    s = L.Add(name="add3")([a, b, a])
    f = L.Flatten(name="flat")(L.Concatenate(axis=1, name="cat1")([s, a]))
    o1 = L.Dense(2, name="o1")(f)
    if deep_second_head:
        o2 = L.Activation("softmax", name="o2")(L.Dense(3, name="pre2")(f))
    else:
        o2 = L.Dense(3, activation="softmax", name="o2")(f)
    return Model(x, [o1, o2])


def multi_output_reference(x, k_model, deep_second_head=False):
    w = {layer.name: layer.get_weights() for layer in k_model.layers}
    a = dense_ref(x, w["a"])
    b = np64(x) @ np64(w["b"][0])
    s = a + b + a
    f = np.concatenate([s, a], axis=1).reshape(len(x), -1)
    second = "pre2" if deep_second_head else "o2"
    return [dense_ref(f, w["o1"]), NP_ACTIVATIONS["softmax"](dense_ref(f, w[second]))]


@pytest.mark.parametrize(
    "deep_second_head",
    [
        False,
        pytest.param(
            True,
        ),
    ],
    ids=["same-depth-heads", "deeper-second-head"],
)
def test_functional_multi_output(deep_second_head):
    build = lambda lib, Input, Model: multi_output_model(
        lib, Input, Model, deep_second_head=deep_second_head
    )
    fk_model = build(fk.layers, fk.Input, fk.Model)
    k_model = build(keras.layers, keras.Input, keras.Model)
    assert len(fk_model.get_weights()) == len(k_model.get_weights())
    k_model.set_weights(random_like(k_model.get_weights(), seed=37))
    fk_model = fk_model.set_weights(k_model.get_weights())
    assert layer_names(fk_model) == layer_names(k_model)
    x = normal((2, 3, 4), seed=38)
    fk_out, k_out = fk_model(x), k_model(x)
    assert isinstance(fk_out, list) and len(fk_out) == len(k_out) == 2
    for ours, theirs, ref in zip(
        fk_out, k_out, multi_output_reference(x, k_model, deep_second_head)
    ):
        assert_parity(ours, theirs, ref)


# ----------------------------------------------------------------------- two-input models
def two_input_model(lib, Input, Model, *, as_dict=False):
    L = lib
    u = Input((3,), name="u")
    v = Input((2,), name="v")
    hu = L.Dense(4, activation="relu", name="hu")(u)
    hv = L.Dense(4, name="hv")(v)
    c = L.Concatenate(name="cat")([hu, hv])
    out = L.Dense(2, name="out")(c)
    return Model({"u": u, "v": v} if as_dict else [u, v], out)


def two_input_reference(xu, xv, k_model):
    w = {name: k_model.get_layer(name).get_weights() for name in ("hu", "hv", "out")}
    hu = dense_ref(xu, w["hu"], lambda z: np.maximum(z, 0.0))
    hv = dense_ref(xv, w["hv"])
    return dense_ref(np.concatenate([hu, hv], axis=-1), w["out"])


@pytest.mark.parametrize("as_dict", [False, True], ids=["list-model", "dict-model"])
def test_two_input_functional_model(as_dict):
    fk_model = two_input_model(fk.layers, fk.Input, fk.Model, as_dict=as_dict)
    k_model = two_input_model(keras.layers, keras.Input, keras.Model, as_dict=as_dict)
    assert shapes(fk_model.get_weights()) == shapes(k_model.get_weights())
    k_model.set_weights(random_like(k_model.get_weights(), seed=22))
    fk_model = fk_model.set_weights(k_model.get_weights())

    xu, xv = normal((5, 3), seed=23), normal((5, 2), seed=24)
    reference = two_input_reference(xu, xv, k_model)
    by_name = {"v": xv, "u": xu}  # not in input order: matched by fk.Input name
    assert_parity(fk_model(by_name), k_model(by_name), reference)
    if not as_dict:
        assert_parity(fk_model([xu, xv]), k_model([xu, xv]), reference)
        assert_parity(fk_model((xu, xv)), k_model([xu, xv]), reference)

    # Reverse transfer into a fresh Keras model.
    fk_model = fk_model.set_weights(random_like(fk_model.get_weights(), seed=25))
    k_model2 = two_input_model(keras.layers, keras.Input, keras.Model, as_dict=as_dict)
    k_model2.set_weights(fk_model.get_weights())
    assert_parity(fk_model(by_name), k_model2(by_name), two_input_reference(xu, xv, k_model2))


def inputs_at_different_depths(lib, Input, Model):
    L = lib
    u = Input((3,), name="u")
    v = Input((2,), name="v")
    d2 = L.Dense(2, name="d2")(L.Dense(4, name="d1")(u))
    return Model([u, v], L.Concatenate(name="cat")([d2, v]))


def test_two_inputs_at_different_depths_weights():
    fk_model = inputs_at_different_depths(fk.layers, fk.Input, fk.Model)
    k_model = inputs_at_different_depths(keras.layers, keras.Input, keras.Model)
    k_model.set_weights(random_like(k_model.get_weights(), seed=26))
    fk_model = fk_model.set_weights(k_model.get_weights())
    xu, xv = normal((5, 3), seed=27), normal((5, 2), seed=28)
    w = {name: k_model.get_layer(name).get_weights() for name in ("d1", "d2")}
    reference = np.concatenate([dense_ref(dense_ref(xu, w["d1"]), w["d2"]), xv], axis=-1)
    assert_parity(fk_model([xu, xv]), k_model([xu, xv]), reference)


def test_two_inputs_at_different_depths_layer_order():
    fk_model = inputs_at_different_depths(fk.layers, fk.Input, fk.Model)
    k_model = inputs_at_different_depths(keras.layers, keras.Input, keras.Model)
    assert layer_names(fk_model) == layer_names(k_model)
