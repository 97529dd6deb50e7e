"""Pooling, spatial reshaping, merging and activation layers: the shared harness, parity with
Keras 3 (same config, same inputs and weights), an independent NumPy computation for every
layer, masks, and the errors for bad inputs."""

import itertools
import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_harness import run_layer_test

import fkeras as fk
from fkeras.layers import activation_layers, merging_more, pooling, reshaping_nd
from fkeras.layers.activation_layers import PReLU, ReLU, Softmax
from fkeras.layers.merging_more import Dot, Maximum, Multiply, Subtract
from fkeras.layers.pooling import (
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    MaxPooling1D,
    MaxPooling2D,
)
from fkeras.layers.reshaping_nd import (
    Cropping1D,
    Cropping2D,
    Permute,
    RepeatVector,
    UpSampling2D,
    ZeroPadding2D,
)

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")

pytestmark = pytest.mark.filterwarnings(
    # Raised inside Keras (variables.py `np.array(self)`), not by fkeras.
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

F32 = np.float32
MODULES = (pooling, reshaping_nd, merging_more, activation_layers)


def fk_class(name):
    return next(getattr(m, name) for m in MODULES if hasattr(m, name))


def normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(F32)


def inputs_for(shape, seed=0, batch=2):
    if isinstance(shape, list):
        return [inputs_for(s, seed + i, batch) for i, s in enumerate(shape)]
    return normal((batch, *shape[1:]), seed)


def np64(x):
    if isinstance(x, list):
        return [np64(a) for a in x]
    return np.asarray(x, np.float64)


# ------------------------------------------------------------------ NumPy references
def np_pool(x, pool, strides, padding, mode):
    """Naive windowed max/mean; "same" pads as XLA/TF and averages only real elements."""
    x = np64(x)
    sizes = x.shape[1:-1]
    if padding == "valid":
        out = [(n - p) // s + 1 for n, p, s in zip(sizes, pool, strides)]
        before = [0] * len(sizes)
    else:
        out = [math.ceil(n / s) for n, s in zip(sizes, strides)]
        before = [max((o - 1) * s + p - n, 0) // 2 for o, s, p, n in zip(out, strides, pool, sizes)]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    axes = tuple(range(1, len(sizes) + 1))
    for idx in itertools.product(*[range(o) for o in out]):
        window = tuple(
            slice(max(i * s - b, 0), min(i * s - b + p, n))
            for i, s, b, p, n in zip(idx, strides, before, pool, sizes)
        )
        values = x[(slice(None), *window, slice(None))]
        reduce = np.max if mode == "max" else np.mean
        y[(slice(None), *idx, slice(None))] = reduce(values, axis=axes)
    return y


def np_bilinear_2x(x):
    """Half-pixel-centre bilinear upsampling by 2 along rows and columns (edges clamped)."""
    x = np64(x)
    for axis in (1, 2):
        n = x.shape[axis]
        src = np.clip((np.arange(2 * n) + 0.5) / 2 - 0.5, 0, n - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        w = (src - lo).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
        x = np.take(x, lo, axis=axis) * (1 - w) + np.take(x, hi, axis=axis) * w
    return x


def np_softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_relu(z, max_value=None, negative_slope=0.0, threshold=0.0):
    y = np.where(z >= threshold, z, negative_slope * (z - threshold))
    return y if max_value is None else np.minimum(y, max_value)


def pads(x, widths):
    return np.pad(np64(x), [(0, 0), *widths, (0, 0)])


def unit(v, axis):
    return v / np.linalg.norm(v, axis=axis, keepdims=True)


# ------------------------------------------------------------------------- the cases
# (class name, kwargs, input shape(s), output shape, NumPy reference of the inputs)
CASES = [
    ("MaxPooling1D", {}, (None, 6, 3), (None, 3, 3),
     lambda x: np_pool(x, (2,), (2,), "valid", "max")),
    ("MaxPooling1D", dict(pool_size=3, strides=2, padding="same"), (None, 6, 2), (None, 3, 2),
     lambda x: np_pool(x, (3,), (2,), "same", "max")),
    ("MaxPooling2D", {}, (None, 5, 4, 2), (None, 2, 2, 2),
     lambda x: np_pool(x, (2, 2), (2, 2), "valid", "max")),
    ("MaxPooling2D", dict(pool_size=(3, 2), strides=1, padding="same"), (None, 4, 5, 2),
     (None, 4, 5, 2), lambda x: np_pool(x, (3, 2), (1, 1), "same", "max")),
    ("MaxPooling3D", {}, (None, 4, 4, 5, 1), (None, 2, 2, 2, 1),
     lambda x: np_pool(x, (2, 2, 2), (2, 2, 2), "valid", "max")),
    ("AveragePooling1D", dict(pool_size=3, strides=2, padding="same"), (None, 7, 2), (None, 4, 2),
     lambda x: np_pool(x, (3,), (2,), "same", "avg")),
    ("AveragePooling2D", dict(pool_size=2), (None, 4, 6, 2), (None, 2, 3, 2),
     lambda x: np_pool(x, (2, 2), (2, 2), "valid", "avg")),
    ("AveragePooling2D", dict(pool_size=(3, 3), strides=(2, 1), padding="same"), (None, 5, 4, 2),
     (None, 3, 4, 2), lambda x: np_pool(x, (3, 3), (2, 1), "same", "avg")),
    ("AveragePooling3D", dict(pool_size=2, padding="same"), (None, 3, 4, 3, 1),
     (None, 2, 2, 2, 1), lambda x: np_pool(x, (2, 2, 2), (2, 2, 2), "same", "avg")),
    ("GlobalMaxPooling1D", {}, (None, 5, 3), (None, 3), lambda x: np64(x).max(1)),
    ("GlobalAveragePooling1D", dict(keepdims=True), (None, 5, 3), (None, 1, 3),
     lambda x: np64(x).mean(1, keepdims=True)),
    ("GlobalMaxPooling2D", dict(keepdims=True), (None, 3, 4, 2), (None, 1, 1, 2),
     lambda x: np64(x).max((1, 2), keepdims=True)),
    ("GlobalAveragePooling2D", {}, (None, 3, 4, 2), (None, 2), lambda x: np64(x).mean((1, 2))),
    ("GlobalMaxPooling3D", {}, (None, 2, 3, 2, 2), (None, 2), lambda x: np64(x).max((1, 2, 3))),
    ("GlobalAveragePooling3D", {}, (None, 2, 3, 2, 2), (None, 2),
     lambda x: np64(x).mean((1, 2, 3))),
    ("Permute", dict(dims=(2, 1)), (None, 3, 4), (None, 4, 3),
     lambda x: np64(x).transpose(0, 2, 1)),
    ("Permute", dict(dims=(3, 1, 2)), (None, 2, 3, 4), (None, 4, 2, 3),
     lambda x: np64(x).transpose(0, 3, 1, 2)),
    ("RepeatVector", dict(n=3), (None, 4), (None, 3, 4),
     lambda x: np.stack([np64(x)] * 3, axis=1)),
    ("Cropping1D", dict(cropping=(1, 2)), (None, 6, 2), (None, 3, 2), lambda x: np64(x)[:, 1:4]),
    ("Cropping2D", dict(cropping=((1, 0), (2, 1))), (None, 4, 5, 2), (None, 3, 2, 2),
     lambda x: np64(x)[:, 1:, 2:4]),
    ("Cropping3D", dict(cropping=1), (None, 3, 4, 5, 1), (None, 1, 2, 3, 1),
     lambda x: np64(x)[:, 1:2, 1:3, 1:4]),
    ("UpSampling1D", dict(size=3), (None, 2, 2), (None, 6, 2), lambda x: np.repeat(np64(x), 3, 1)),
    ("UpSampling2D", dict(size=(2, 3)), (None, 2, 3, 2), (None, 4, 9, 2),
     lambda x: np.repeat(np.repeat(np64(x), 2, 1), 3, 2)),
    ("UpSampling2D", dict(size=2, interpolation="bilinear"), (None, 3, 4, 2), (None, 6, 8, 2),
     np_bilinear_2x),
    ("UpSampling3D", dict(size=(1, 2, 2)), (None, 2, 2, 2, 1), (None, 2, 4, 4, 1),
     lambda x: np.repeat(np.repeat(np64(x), 2, 2), 2, 3)),
    ("ZeroPadding1D", dict(padding=(1, 2)), (None, 3, 2), (None, 6, 2),
     lambda x: pads(x, [(1, 2)])),
    ("ZeroPadding2D", dict(padding=((1, 0), (2, 1))), (None, 2, 3, 2), (None, 3, 6, 2),
     lambda x: pads(x, [(1, 0), (2, 1)])),
    ("ZeroPadding3D", dict(padding=1), (None, 2, 2, 1, 1), (None, 4, 4, 3, 1),
     lambda x: pads(x, [(1, 1)] * 3)),
    ("Subtract", {}, [(None, 3, 4), (None, 3, 4)], (None, 3, 4), lambda x: np64(x[0]) - x[1]),
    ("Multiply", {}, [(None, 4), (None, 4), (None, 4)], (None, 4),
     lambda x: np64(x[0]) * x[1] * x[2]),
    ("Average", {}, [(None, 3, 4), (None, 4)], (None, 3, 4),
     lambda x: (np64(x[0]) + np64(x[1])[:, None]) / 2),
    ("Maximum", {}, [(None, 4), (None, 4)], (None, 4), lambda x: np.maximum(*np64(x))),
    ("Minimum", {}, [(None, 2, 4), (None, 1, 4)], (None, 2, 4), lambda x: np.minimum(*np64(x))),
    ("Dot", dict(axes=1), [(None, 4), (None, 4)], (None, 1),
     lambda x: np.sum(np64(x[0]) * x[1], axis=1, keepdims=True)),
    ("Dot", dict(axes=(1, 2)), [(None, 3, 5), (None, 2, 3)], (None, 5, 2),
     lambda x: np.einsum("bij,bki->bjk", *np64(x))),
    ("Dot", dict(axes=-1, normalize=True), [(None, 2, 4), (None, 4)], (None, 2),
     lambda x: np.einsum("bij,bj->bi", unit(np64(x[0]), 2), unit(np64(x[1]), 1))),
    ("ReLU", {}, (None, 6), (None, 6), np_relu),
    ("ReLU", dict(max_value=0.8, negative_slope=0.1, threshold=0.3), (None, 3, 4), (None, 3, 4),
     lambda x: np_relu(np64(x), 0.8, 0.1, 0.3)),
    ("ReLU", dict(max_value=6.0), (None, 6), (None, 6), lambda x: np_relu(np64(x), 6.0)),
    ("LeakyReLU", {}, (None, 6), (None, 6), lambda x: np.where(x >= 0, np64(x), 0.3 * np64(x))),
    ("ELU", dict(alpha=0.5), (None, 6), (None, 6),
     lambda x: np.where(x > 0, np64(x), 0.5 * np.expm1(np64(x)))),
    ("Softmax", {}, (None, 2, 5), (None, 2, 5), lambda x: np_softmax(np64(x))),
    ("Softmax", dict(axis=(1, 2)), (None, 2, 3), (None, 2, 3),
     lambda x: np_softmax(np64(x).reshape(-1, 6)).reshape(-1, 2, 3)),
]  # fmt: skip
IDS = [f"{name}-{i}" for i, (name, *_) in enumerate(CASES)]
# The harness (jit, grad, vmap, config, Sequential) once per class keeps the file fast.
FIRST_OF_EACH = [c for i, c in enumerate(CASES) if c[0] not in [d[0] for d in CASES[:i]]]


@pytest.mark.parametrize(
    "name, kwargs, input_shape, output_shape, reference",
    FIRST_OF_EACH,
    ids=[c[0] for c in FIRST_OF_EACH],
)
def test_harness(name, kwargs, input_shape, output_shape, reference):
    run_layer_test(fk_class(name)(**kwargs), input_shape, output_shape, expected_num_params=0)


@pytest.mark.parametrize("name, kwargs, input_shape, output_shape, reference", CASES, ids=IDS)
def test_matches_keras_and_numpy(name, kwargs, input_shape, output_shape, reference):
    x = jax.tree_util.tree_map(lambda a: 4 * a, inputs_for(input_shape, seed=len(name)))
    layer = fk_class(name)(**kwargs)
    keras_layer = getattr(keras.layers, name)(**kwargs)
    ours, theirs = np.asarray(layer(x)), np.asarray(keras_layer(x))
    assert ours.shape == theirs.shape == tuple(2 if d is None else d for d in output_shape)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours, reference(x), rtol=1e-5, atol=1e-6)
    assert layer.count_params() == keras_layer.count_params() == 0


# ---------------------------------------------------------------------------- PReLU
def test_prelu_harness_weights_and_parity():
    built = run_layer_test(
        PReLU(shared_axes=[1]), (None, 3, 4), (None, 3, 4), expected_num_params=4
    )
    assert built.alpha.shape == (1, 4)
    keras_layer = keras.layers.PReLU(alpha_initializer="random_normal", shared_axes=[1])
    keras_layer.build((None, 3, 4))
    layer = fk.Sequential([fk.Input((3, 4)), PReLU(shared_axes=[1])])
    layer = layer.set_weights(keras_layer.get_weights())
    x = 4 * normal((2, 3, 4), seed=3)
    alpha = np64(keras_layer.get_weights()[0])
    expected = np.where(x >= 0, np64(x), alpha * np64(x))
    np.testing.assert_allclose(layer(x), keras_layer(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-6)
    assert layer.count_params() == keras_layer.count_params() == 4


def test_prelu_unshared_images_count_params_as_keras():
    keras_layer = keras.layers.PReLU()
    keras_layer.build((None, 2, 3, 4))
    layer = PReLU(alpha_initializer="ones").build((None, 2, 3, 4), key=jax.random.key(0))
    assert layer.alpha.shape == (2, 3, 4)
    assert layer.count_params() == keras_layer.count_params() == 24
    np.testing.assert_allclose(layer(jnp.full((1, 2, 3, 4), -2.0)), -2.0)  # alpha=1: identity
    assert PReLU().get_config()["shared_axes"] is None


# ---------------------------------------------------------------------------- masks
def padded_steps(seed=0):
    x = normal((3, 5, 2), seed)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0]], bool)
    return x, mask


def test_global_average_pooling_1d_averages_unmasked_steps_as_keras():
    x, mask = padded_steps()
    expected = (np64(x) * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    ours = GlobalAveragePooling1D()(x, mask=mask)
    np.testing.assert_allclose(ours, expected, rtol=1e-6)
    np.testing.assert_allclose(
        ours, keras.layers.GlobalAveragePooling1D()(x, mask=mask), rtol=1e-6, atol=1e-7
    )
    keep = GlobalAveragePooling1D(keepdims=True)(x, mask=mask)
    np.testing.assert_allclose(keep[:, 0], expected, rtol=1e-6)


def test_global_max_pooling_1d_skips_masked_steps():
    x, mask = padded_steps(1)
    mask[2] = False  # an example with every step masked gives 0
    expected = np.where(mask[..., None], np64(x), -np.inf).max(1)
    expected[2] = 0.0
    np.testing.assert_allclose(GlobalMaxPooling1D()(x, mask=mask), expected, rtol=1e-6)


def test_masks_stop_at_pooling_and_reshaping_layers_and_pass_activations():
    x, _ = padded_steps()
    x[:, 3:] = 0.0
    expected = np.any(x != 0, axis=-1)
    for layer in [
        GlobalAveragePooling1D(),  # consume the mask
        GlobalMaxPooling1D(),
        MaxPooling1D(),  # drop it, as in Keras 3
        Cropping1D(),
        Permute((2, 1)),
        ReLU(),
    ]:
        model = fk.Sequential([fk.Input((5, 2)), fk.layers.Masking(), layer])
        _, mask, _ = model.apply_masked(x)
        if isinstance(layer, ReLU):  # activation layers carry the mask on
            np.testing.assert_array_equal(mask, expected)
        else:
            assert mask is None, type(layer).__name__
    # A masked average inside a model matches the direct masked call.
    model = fk.Sequential([fk.Input((5, 2)), fk.layers.Masking(), GlobalAveragePooling1D()])
    np.testing.assert_allclose(
        model(x), GlobalAveragePooling1D()(x, mask=expected), rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("name", ["Maximum", "Minimum", "Multiply", "Subtract", "Average"])
def test_merges_of_masked_inputs_match_keras_values(name):
    x, y = normal((2, 4, 3), 0), normal((2, 4, 3), 1)
    x[0, 1] = 0.0
    y[0, 2] = 0.0
    x[1, 3] = y[1, 3] = 0.0

    def build(lib):
        a, b = lib.Input((4, 3)), lib.Input((4, 3))
        ma, mb = lib.layers.Masking()(a), lib.layers.Masking()(b)
        merge = getattr(keras.layers, name)() if lib is keras else fk_class(name)()
        return lib.Model([a, b], [merge([ma, mb]), merge([ma, b])])

    ours, theirs = build(fk)([x, y]), build(keras)([x, y])
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, t, rtol=1e-6, atol=1e-7)
    mx, my = np.any(x != 0, -1), np.any(y != 0, -1)
    merged_mask = build(fk).apply_masked([x, y])[1]
    np.testing.assert_array_equal(merged_mask[0], mx | my)  # Keras 3: OR of the masks
    assert merged_mask[1] is None  # ... and no mask when an input is unmasked


def test_masked_maximum_and_multiply_follow_keras_rule_in_numpy():
    x, y = np.array([[[1.0], [5.0], [-3.0]]], F32), np.array([[[2.0], [-4.0], [-7.0]]], F32)
    masks = [np.array([[True, False, False]]), np.array([[True, True, False]])]
    np.testing.assert_allclose(Maximum()([x, y], mask=masks)[0, :, 0], [2.0, -4.0, -3.0])
    np.testing.assert_allclose(Multiply()([x, y], mask=masks)[0, :, 0], [2.0, -4.0, 0.0])


def test_softmax_mask_matches_keras():
    x = normal((2, 3, 4), 2)
    mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0]], bool)[:, None, :]
    ours = Softmax()(x, mask=mask)
    np.testing.assert_allclose(ours, keras.layers.Softmax()(x, mask=mask), rtol=1e-6, atol=1e-7)
    e = np.exp(np64(x) - np64(x).max(-1, keepdims=True)) * mask
    total = e.sum(-1, keepdims=True)
    expected = e / np.where(total == 0, 1.0, total)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-7)  # all-masked rows: 0
    float_mask = mask.astype(F32)  # numbers > 0.5 mean "kept"
    np.testing.assert_allclose(Softmax()(x, mask=float_mask), ours)


# ------------------------------------------------------------------ unknown sizes
def test_output_shapes_with_unknown_spatial_sizes():
    assert MaxPooling2D(3).compute_output_shape((None, None, 7, 2)) == (None, None, 2, 2)
    assert Cropping2D(2).compute_output_shape((None, None, 7, 2)) == (None, None, 3, 2)
    assert Subtract().compute_output_shape([(None, None, 4), (None, 3, 4)]) == (None, None, 4)
    model = fk.Sequential(
        [fk.Input((None, None, 3)), MaxPooling2D(3), Cropping2D(1), GlobalAveragePooling2D()]
    )
    assert model(jnp.ones((2, 9, 12, 3))).shape == (2, 3)


def test_config_round_trip_keeps_normalized_tuples():
    layer = ZeroPadding2D((1, 2))
    assert layer.padding == ((1, 1), (2, 2))
    assert ZeroPadding2D.from_config(layer.get_config()).padding == ((1, 1), (2, 2))
    assert MaxPooling2D(3).strides == (3, 3)
    assert Dot([1, 2]).axes == (1, 2)
    assert AveragePooling2D(2, padding="SAME").padding == "same"
    for layer in [Softmax(axis=[1, 2]), Cropping2D((1, 2)), PReLU(shared_axes=2), Dot((1, -1))]:
        config = json.loads(json.dumps(layer.get_config()))
        assert type(layer).from_config(config).get_config() == layer.get_config()
    assert Softmax(axis=[1, 2]).axis == (1, 2) and PReLU(shared_axes=2).shared_axes == (2,)


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "make, x_shape, match",
    [
        (MaxPooling2D, (2, 4, 3), r"MaxPooling2D expects 4-D inputs.*input_shape=\(2, 4, 3\)"),
        (lambda: MaxPooling1D(4), (2, 3, 1), r"MaxPooling1D.*pool_size=\(4,\).*\(2, 3, 1\)"),
        (lambda: Cropping1D((2, 2)), (2, 4, 1), r"Cropping1D.*input_shape=\(2, 4, 1\)"),
        (lambda: RepeatVector(2), (2, 3, 4), r"RepeatVector expects 2-D.*\(2, 3, 4\)"),
        (lambda: Permute((2, 1)), (2, 3), r"Permute expects 3-D.*\(2, 3\)"),
        (GlobalAveragePooling2D, (2, 3, 4), r"GlobalAveragePooling2D expects 4-D.*\(2, 3, 4\)"),
        (lambda: UpSampling2D(interpolation="bilinear"), (2, 3, 4), r"UpSampling2D.*\(2, 3, 4\)"),
    ],
)
def test_bad_input_shapes_are_clear_errors(make, x_shape, match):
    layer = make()
    with pytest.raises(ValueError, match=match):
        layer(jnp.ones(x_shape))
    with pytest.raises(ValueError, match=type(layer).__name__):
        layer.compute_output_shape((None, *x_shape[1:]))


def test_pool_larger_than_a_known_input_fails_when_the_model_is_built():
    with pytest.raises(ValueError, match=r"MaxPooling2D.*pool_size=\(3, 3\).*\(None, 2, 5, 1\)"):
        fk.Sequential([fk.Input((2, 5, 1)), MaxPooling2D(3)])
    fk.Sequential([fk.Input((2, 5, 1)), MaxPooling2D(3, padding="same")])  # fine


@pytest.mark.parametrize(
    "inputs, match",
    [
        ([jnp.ones((2, 3))] * 3, r"Subtract expects exactly 2 inputs.*3 inputs.*\(2, 3\)"),
        ([jnp.ones((2, 3)), jnp.ones((2, 4))], r"Subtract expects inputs.*\[\(2, 3\), \(2, 4\)\]"),
        ([jnp.ones((2, 3)), jnp.ones((4, 3))], r"Subtract.*batch size.*\(4, 3\)"),
        (jnp.ones((2, 3)), r"Subtract expects a list"),
    ],
)
def test_merge_errors_name_the_layer_and_shapes(inputs, match):
    with pytest.raises(ValueError, match=match):
        Subtract()(inputs)


def test_dot_errors():
    with pytest.raises(ValueError, match=r"Dot.*axes \(1, 1\).*\[\(2, 3\), \(2, 4\)\]"):
        Dot(1)([jnp.ones((2, 3)), jnp.ones((2, 4))])
    with pytest.raises(ValueError, match=r"Dot expects `axes`.*axes=\(0, 1\)"):
        Dot((0, 1))
    with pytest.raises(ValueError, match=r"Dot expects exactly 2 inputs"):
        Dot(1)([jnp.ones((2, 3))])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: MaxPooling2D(data_format="channels_first"), "MaxPooling2D supports only"),
        (lambda: AveragePooling2D((2, 2, 2)), r"AveragePooling2D expects `pool_size`"),
        (lambda: MaxPooling1D(padding="full"), "MaxPooling1D expects padding"),
        (lambda: Permute((1, 3)), r"Permute expects `dims`.*\(1, 3\)"),
        (lambda: Cropping2D(((1, 2, 3), (0, 0))), "Cropping2D expects `cropping`"),
        (lambda: UpSampling2D(interpolation="area"), "UpSampling2D expects `interpolation`"),
        (lambda: PReLU(shared_axes=[0]), r"PReLU expects `shared_axes`.*\[0\]"),
        (lambda: ReLU(max_value=-1.0), "ReLU expects `max_value`"),
        (lambda: Softmax(axis="last"), "Softmax expects `axis`"),
        (lambda: RepeatVector(0), "RepeatVector expects a positive int"),
    ],
)
def test_bad_arguments_are_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_prelu_shared_axes_beyond_the_input_rank_and_mismatched_inputs():
    with pytest.raises(ValueError, match=r"PReLU.*shared_axes=\[3\].*\(None, 4, 2\)"):
        PReLU(shared_axes=3).build((None, 4, 2))
    layer = PReLU().build((None, 4, 2))
    with pytest.raises(ValueError, match=r"PReLU.*\(batch, \*\(4, 2\)\).*\(3, 5, 2\)"):
        layer(jnp.ones((3, 5, 2)))


def test_softmax_mask_must_broadcast():
    with pytest.raises(ValueError, match=r"Softmax.*mask.shape=\(2, 3\), x.shape=\(2, 3, 4\)"):
        Softmax()(jnp.ones((2, 3, 4)), mask=jnp.ones((2, 3), bool))
