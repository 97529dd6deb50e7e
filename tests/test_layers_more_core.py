"""EinsumDense, the Convolution* aliases, Lambda and SpectralNormalization: the shared harness,
Keras 3 numerics (Keras' weights copied in with `set_weights`), configs and errors."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_harness import run_layer_test

import fkeras as fk
from fkeras.layers.convolution_aliases import (
    Convolution1D,
    Convolution1DTranspose,
    Convolution2D,
    Convolution2DTranspose,
    Convolution3D,
    Convolution3DTranspose,
    SeparableConvolution1D,
    SeparableConvolution2D,
)
from fkeras.layers.einsum_dense import EinsumDense
from fkeras.layers.lambda_layer import Lambda
from fkeras.layers.spectral_normalization import SpectralNormalization

keras = pytest.importorskip("keras")

L = fk.layers


def _normal(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


# ------------------------------------------------------------------------------ EinsumDense
EINSUM_CASES = [
    ("ab,bc->ac", (4,), None, (None, 3), (None, 4), 12),
    ("ab,bc->ac", 4, "c", (None, 3), (None, 4), 16),
    ("abc,cd->abd", (None, 4), "d", (None, 2, 3), (None, 2, 4), 16),
    ("abc,cde->abde", (None, 2, 4), "de", (None, 2, 3), (None, 2, 2, 4), 24 + 8),
    ("...b,bc->...c", (4,), "c", (None, 2, 3), (None, 2, 4), 16),
    ("abc,cd->abd", (2, 4), "b", (None, 2, 3), (None, 2, 4), 12 + 2),
]
EINSUM_IDS = ["ab", "ab-int-bias", "abc-d", "abc-de", "ellipsis", "bias-b"]


@pytest.mark.parametrize("eq, out, bias_axes, in_shape, out_shape, n", EINSUM_CASES, ids=EINSUM_IDS)
def test_einsum_dense_harness(eq, out, bias_axes, in_shape, out_shape, n):
    layer = EinsumDense(eq, out, bias_axes=bias_axes, activation="tanh")
    run_layer_test(layer, in_shape, out_shape, expected_num_params=n)


@pytest.mark.parametrize("eq, out, bias_axes, in_shape, out_shape, n", EINSUM_CASES, ids=EINSUM_IDS)
def test_einsum_dense_matches_keras(eq, out, bias_axes, in_shape, out_shape, n):
    x = _normal((3, *in_shape[1:]))
    ref = keras.layers.EinsumDense(
        eq, out, bias_axes=bias_axes, activation="relu", bias_initializer="random_normal"
    )
    expected = np.asarray(ref(x))
    layer = EinsumDense(eq, out, bias_axes=bias_axes, activation="relu").build(in_shape)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in ref.get_weights()]
    layer = layer.set_weights(ref.get_weights())
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-6)
    # The Keras config loads and describes the same layer.
    from_keras = EinsumDense.from_config(ref.get_config())
    assert from_keras.get_config() == EinsumDense(
        eq, out, bias_axes=bias_axes, activation="relu", name=ref.name
    ).get_config() | {"bias_initializer": from_keras.get_config()["bias_initializer"]}


def test_einsum_dense_kernel_fans_follow_equation_axes():
    # Keras counts fan-in over the kernel's input axes ("c": 64) and fan-out over its output
    # axes ("d", "e": 8 * 16), not the convolution rule for rank-3 kernels.
    layer = EinsumDense("abc,cde->abde", (None, 8, 16)).build((None, 2, 64))
    limit = math.sqrt(6.0 / (64 + 8 * 16))
    ref = keras.layers.EinsumDense("abc,cde->abde", (None, 8, 16))
    ref.build((None, 2, 64))
    for kernel in (np.asarray(layer.kernel), np.asarray(ref.get_weights()[0])):
        assert kernel.shape == (64, 8, 16)
        assert limit * 0.98 < np.max(np.abs(kernel)) <= limit


def test_einsum_dense_trains_in_a_model():
    inputs = fk.Input((5, 3))
    outputs = EinsumDense("abc,cd->abd", (None, 2), bias_axes="d")(inputs)
    model = fk.Model(inputs, outputs)
    x = _normal((4, 5, 3))
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(model(x), np.einsum("abc,cd->abd", x, kernel) + bias, rtol=1e-5)


@pytest.mark.parametrize(
    "build_kwargs, input_shape, match",
    [
        ({"equation": "ab->b", "output_shape": 4}, (None, 3), "equation"),
        ({"equation": "ab,bc->ac", "output_shape": 4, "bias_axes": "x"}, (None, 3), "bias_axes"),
        ({"equation": "abc,cd->abd", "output_shape": (5, 4)}, (None, 2, 3), "shared dimension"),
        ({"equation": "ab,bcd->ac", "output_shape": 4}, (None, 3), "weight spec"),
        ({"equation": "ab,bc->ad", "output_shape": 4}, (None, 3), "output spec"),
    ],
    ids=["bad-equation", "bad-bias-axis", "shared-dim", "weight-dim", "output-dim"],
)
def test_einsum_dense_build_errors(build_kwargs, input_shape, match):
    with pytest.raises(ValueError, match=f"EinsumDense.*Received: .*{match}|{match}.*Received:"):
        EinsumDense(**build_kwargs).build(input_shape)


def test_einsum_dense_argument_errors():
    with pytest.raises(NotImplementedError, match=r"LoRA.*Received: lora_rank=4"):
        EinsumDense("ab,bc->ac", 4, lora_rank=4)
    with pytest.raises(TypeError, match=r"Received: output_shape='x'"):
        EinsumDense("ab,bc->ac", "x")
    with pytest.raises(NotImplementedError, match=r"Received: quantization_config="):
        EinsumDense.from_config(
            {"equation": "ab,bc->ac", "output_shape": [4], "quantization_config": {"mode": 1}}
        )


# --------------------------------------------------------------------------------- aliases
def test_convolution_aliases_are_the_keras_set_and_the_same_classes():
    keras_aliases = {n for n in dir(keras.layers) if "Convolution" in n}
    ours = {
        "Convolution1D": (Convolution1D, L.Conv1D),
        "Convolution2D": (Convolution2D, L.Conv2D),
        "Convolution3D": (Convolution3D, L.Conv3D),
        "Convolution1DTranspose": (Convolution1DTranspose, L.Conv1DTranspose),
        "Convolution2DTranspose": (Convolution2DTranspose, L.Conv2DTranspose),
        "Convolution3DTranspose": (Convolution3DTranspose, L.Conv3DTranspose),
        "SeparableConvolution1D": (SeparableConvolution1D, L.SeparableConv1D),
        "SeparableConvolution2D": (SeparableConvolution2D, L.SeparableConv2D),
    }
    assert set(ours) == keras_aliases
    assert {n for n in L.__all__ if "Convolution" in n} == keras_aliases
    assert (L.EinsumDense, L.Lambda, L.SpectralNormalization) == (
        EinsumDense,
        Lambda,
        SpectralNormalization,
    )
    for name, (alias, cls) in ours.items():
        assert alias is cls, name
        assert getattr(keras.layers, name) is getattr(keras.layers, cls.__name__)


def test_convolution_alias_harness():
    run_layer_test(Convolution1D(2, 3), (None, 6, 2), (None, 4, 2), expected_num_params=14)


# ---------------------------------------------------------------------------------- Lambda
@fk.saving.register_serializable(package="test_more_core")
def scaled_tanh(x, scale=1.0):
    return scale * jnp.tanh(x)


@fk.saving.register_serializable(package="test_more_core")
def first_half(x):
    return x[..., : x.shape[-1] // 2]


@fk.saving.register_serializable(package="test_more_core")
def keep_mask(inputs, mask):
    return mask


def test_lambda_harness():
    layer = Lambda(scaled_tanh, arguments={"scale": 2.0})
    built = run_layer_test(layer, (None, 4), (None, 4), expected_num_params=0)
    x = _normal((3, 4))
    np.testing.assert_allclose(built(x), 2.0 * np.tanh(x), rtol=1e-6)


def test_lambda_harness_shape_change_and_output_shape():
    run_layer_test(Lambda(first_half), (None, 6), (None, 3), expected_num_params=0)
    assert Lambda(first_half, output_shape=(3,)).compute_output_shape((None, 6)) == (None, 3)


def test_lambda_in_functional_model_jit_grad_vmap():
    inputs = fk.Input((4,))
    hidden = L.Dense(3)(inputs)
    outputs = Lambda(lambda t: t**2)(hidden)
    model = fk.Model(inputs, outputs)
    x = _normal((2, 4))
    kernel, bias = model.get_weights()
    expected = (x @ kernel + bias) ** 2
    np.testing.assert_allclose(jax.jit(lambda m, x: m(x))(model, x), expected, rtol=1e-5)
    grads = jax.grad(lambda x: jnp.sum(model(x)))(x)
    np.testing.assert_allclose(grads, (2 * (x @ kernel + bias)) @ kernel.T, rtol=1e-5)
    stacked = jax.vmap(model)(np.stack([x, 2 * x]))
    np.testing.assert_allclose(stacked[1], ((2 * x) @ kernel + bias) ** 2, rtol=1e-5)


def test_lambda_passes_training_and_mask():
    seen = {}

    def fn(x, training=False, mask=None):
        seen["training"], seen["mask"] = training, mask
        return x

    layer = Lambda(fn, mask=keep_mask)
    mask = jnp.array([True, False])
    out, out_mask, _ = layer.apply_masked(jnp.ones((2, 3)), training=True, mask=mask)
    assert seen["training"] is True and seen["mask"] is mask
    assert out_mask is mask
    assert Lambda(fn).compute_mask(jnp.ones((2, 3)), mask) is None  # Keras: no mask fn, no mask


def test_lambda_registered_function_round_trips_through_save(tmp_path):
    model = fk.Sequential(
        [fk.Input((4,)), L.Dense(3), Lambda(scaled_tanh, arguments={"scale": 3.0})], seed=0
    )
    path = str(tmp_path / "m.fkeras")
    fk.saving.save_model(model, path)
    loaded = fk.saving.load_model(path)
    x = _normal((2, 4))
    np.testing.assert_allclose(loaded(x), model(x), rtol=1e-6)
    config = Lambda(scaled_tanh, output_shape=first_half).get_config()
    assert config["function"]["registered_name"] == "test_more_core>scaled_tanh"
    restored = Lambda.from_config(json.loads(json.dumps(config)))
    assert restored.function is scaled_tanh and restored.output_shape is first_half


def test_lambda_unregistered_function_fails_at_save_time(tmp_path):
    def local(x):
        return x + 1.0

    for fn in (lambda x: x * 2.0, local):
        layer = Lambda(fn)
        with pytest.raises(TypeError, match=r"Lambda.*register_serializable.*Received: function="):
            layer.get_config()
        model = fk.Sequential([fk.Input((2,)), layer])
        np.testing.assert_allclose(model(np.ones((1, 2), "float32")), fn(np.ones((1, 2))))
        with pytest.raises(TypeError, match=r"Received: function="):
            fk.saving.save_model(model, str(tmp_path / "m.fkeras"))
    assert not (tmp_path / "m.fkeras").exists()
    with pytest.raises(TypeError, match=r"Received: mask="):
        Lambda(scaled_tanh, mask=lambda x, m: m).get_config()


def test_lambda_loading_never_executes_code():
    # A Keras-saved lambda carries marshalled code: refused, not run.
    keras_config = keras.layers.Lambda(lambda x: x + 1).get_config()
    assert keras_config["function"]["class_name"] == "__lambda__"
    with pytest.raises(ValueError, match=r"never executes code.*Received: function="):
        Lambda.from_config(keras_config)
    # A name that is not registered is refused (nothing is imported).
    for bad in ("os>system", {"class_name": "function", "config": "print"}, None):
        with pytest.raises(ValueError, match=r"no registered function.*Received: function="):
            Lambda.from_config({"function": bad})
    # A registered class is not a function.
    with pytest.raises(ValueError, match=r"Received: function='Dense'"):
        Lambda.from_config({"function": "Dense"})


def test_lambda_argument_errors():
    with pytest.raises(TypeError, match=r"Received: function=3"):
        Lambda(3)
    with pytest.raises(TypeError, match=r"Received: arguments="):
        Lambda(scaled_tanh, arguments={"scale": np.ones(3)})
    with pytest.raises(TypeError, match=r"Received: mask="):
        Lambda(scaled_tanh, mask=np.ones(3))


# ------------------------------------------------------------------- SpectralNormalization
def test_spectral_normalization_harness():
    built = run_layer_test(
        SpectralNormalization(L.Dense(3)), (None, 4), (None, 3), expected_num_params=4 * 3 + 3 + 3
    )
    params, state, _ = fk.partition(built)
    assert state.vector_u.shape == (1, 3) and params.vector_u is None
    assert [w.shape for w in built.get_weights()] == [(4, 3), (1, 3), (3,)]  # Keras' order


@pytest.mark.parametrize(
    "make, input_shape",
    [
        (lambda m: m.layers.Dense(4), (3, 5)),
        (lambda m: m.layers.Conv2D(3, 2), (2, 5, 5, 2)),
        (lambda m: m.layers.Embedding(6, 3), None),
    ],
    ids=["dense", "conv2d", "embedding"],
)
@pytest.mark.parametrize("power_iterations", [1, 3])
def test_spectral_normalization_matches_keras(make, input_shape, power_iterations):
    if input_shape is None:
        x = np.array([[0, 5, 2], [1, 1, 3]], "int32")
        input_shape = x.shape
    else:
        x = _normal(input_shape)
    ref = keras.layers.SpectralNormalization(make(keras), power_iterations=power_iterations)
    ref.build(input_shape)
    layer = SpectralNormalization(make(fk), power_iterations=power_iterations)
    layer = layer.build((None, *input_shape[1:])).set_weights(ref.get_weights())

    # Keras casts the wrapper's outputs to the input dtype (int ids: zeros); fkeras keeps the
    # inner layer's outputs, which the inner Keras layer gives directly.
    def keras_call(training):
        out = ref(x, training=training)
        return np.asarray(ref.layer(x) if x.dtype.kind == "i" else out)

    # Inference: the kernel as stored (Keras normalizes only in training).
    np.testing.assert_allclose(layer(x), keras_call(False), rtol=1e-5, atol=1e-6)
    # Training: outputs with the normalized kernel, and the updated kernel and vector_u.
    for _ in range(2):
        expected = keras_call(True)
        y, layer = jax.jit(lambda m, x: m.apply(x, training=True))(layer, x)
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
        for ours, theirs in zip(layer.get_weights(), ref.get_weights(), strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_spectral_normalization_sigma_is_the_largest_singular_value():
    layer = SpectralNormalization(L.Dense(5), power_iterations=50).build((None, 7), 1)
    _, kernel = layer.normalized_weights()
    np.testing.assert_allclose(np.linalg.svd(np.asarray(kernel), compute_uv=False)[0], 1.0, 1e-4)


def test_spectral_normalization_zero_kernel_unchanged():
    layer = SpectralNormalization(L.Dense(2, kernel_initializer="zeros")).build((None, 3))
    y, updated = layer.apply(jnp.ones((1, 3)), training=True)
    np.testing.assert_array_equal(updated.layer.kernel, 0)
    np.testing.assert_array_equal(updated.vector_u, layer.vector_u)
    assert np.all(np.isfinite(y))


def test_spectral_normalization_errors():
    with pytest.raises(ValueError, match=r"greater than zero.*Received: power_iterations=0"):
        SpectralNormalization(L.Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match=r"Received: layer="):
        SpectralNormalization("dense")
    with pytest.raises(ValueError, match=r"nor 'embeddings'.*Received: layer=LayerNormalization"):
        SpectralNormalization(L.LayerNormalization()).build((None, 3))
