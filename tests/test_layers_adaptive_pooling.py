"""Adaptive pooling layers: the shared harness, parity with Keras 3 (both data formats, sizes
that divide and that don't, output larger than input), a naive NumPy reference, gradients and
the errors for bad arguments."""

import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_harness import run_layer_test

import fkeras as fk
from fkeras.core.shapes import TensorSpec
from fkeras.layers.pooling import adaptive_pooling
from fkeras.layers.pooling.adaptive_pooling import adaptive_bins

os.environ.setdefault("KERAS_BACKEND", "jax")
keras = pytest.importorskip("keras")

NAMES = [
    f"Adaptive{mode}Pooling{rank}D"
    for mode, rank in itertools.product(("Max", "Average"), (1, 2, 3))
]


def normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def np_adaptive(x, output_size, mode, data_format="channels_last"):
    """Naive reference: loop over every output position and reduce its box of inputs."""
    x = np.asarray(x, np.float64)
    if data_format == "channels_first":
        x = np.moveaxis(x, 1, -1)
    sizes = x.shape[1:-1]
    y = np.zeros((x.shape[0], *output_size, x.shape[-1]))
    reduce = np.max if mode == "Max" else np.mean
    for idx in itertools.product(*[range(o) for o in output_size]):
        box = tuple(
            slice(int(np.floor(i * n / o)), int(np.ceil((i + 1) * n / o)))
            for i, n, o in zip(idx, sizes, output_size)
        )
        values = x[(slice(None), *box, slice(None))]
        y[(slice(None), *idx, slice(None))] = reduce(values, axis=tuple(range(1, len(sizes) + 1)))
    if data_format == "channels_first":
        y = np.moveaxis(y, -1, 1)
    return y


# (class name, output_size, spatial input size): divisible, non-divisible (7 -> 3, 10 -> 4),
# mixed per axis, and output larger than the input (overlapping one-element bins).
PARITY = [
    ("AdaptiveMaxPooling1D", 4, (8,)),
    ("AdaptiveMaxPooling1D", 3, (7,)),
    ("AdaptiveAveragePooling1D", 4, (10,)),
    ("AdaptiveAveragePooling1D", 5, (3,)),
    ("AdaptiveMaxPooling2D", (3, 4), (7, 10)),
    ("AdaptiveMaxPooling2D", 2, (6, 4)),
    ("AdaptiveAveragePooling2D", (3, 4), (7, 10)),
    ("AdaptiveAveragePooling2D", (2, 5), (8, 3)),
    ("AdaptiveMaxPooling3D", (3, 2, 4), (7, 4, 10)),
    ("AdaptiveAveragePooling3D", (3, 2, 2), (7, 5, 4)),
    ("AdaptiveAveragePooling3D", 2, (4, 4, 4)),
]


def _input_shape(spatial, data_format, channels=3, batch=2):
    if data_format == "channels_last":
        return (batch, *spatial, channels)
    return (batch, channels, *spatial)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("name,output_size,spatial", PARITY)
def test_matches_keras_and_numpy(name, output_size, spatial, data_format):
    x = normal(_input_shape(spatial, data_format))
    layer = getattr(fk.layers, name)(output_size, data_format=data_format)
    y = np.asarray(layer(jnp.asarray(x)))
    expected = np.asarray(
        getattr(keras.layers, name)(output_size, data_format=data_format)(x), np.float64
    )
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    rank = len(spatial)
    sizes = (output_size,) * rank if isinstance(output_size, int) else output_size
    mode = "Max" if "Max" in name else "Average"
    np.testing.assert_allclose(y, np_adaptive(x, sizes, mode, data_format), rtol=1e-5, atol=1e-6)
    assert layer.compute_output_shape(x.shape) == y.shape


# (class name, kwargs, input shape, output shape): every layer through the shared harness.
HARNESS = [
    ("AdaptiveMaxPooling1D", dict(output_size=3), (None, 7, 2), (None, 3, 2)),
    ("AdaptiveAveragePooling1D", dict(output_size=4, data_format="channels_first"),
     (None, 2, 10), (None, 2, 4)),
    ("AdaptiveMaxPooling2D", dict(output_size=(3, 2), data_format="channels_first"),
     (None, 2, 7, 4), (None, 2, 3, 2)),
    ("AdaptiveAveragePooling2D", dict(output_size=(3, 4)), (None, 7, 10, 2), (None, 3, 4, 2)),
    ("AdaptiveMaxPooling3D", dict(output_size=2), (None, 3, 4, 5, 2), (None, 2, 2, 2, 2)),
    ("AdaptiveAveragePooling3D", dict(output_size=(1, 2, 3), data_format="channels_first"),
     (None, 2, 3, 4, 7), (None, 2, 1, 2, 3)),
]  # fmt: skip


@pytest.mark.parametrize("name,kwargs,input_shape,output_shape", HARNESS)
def test_harness(name, kwargs, input_shape, output_shape):
    run_layer_test(
        getattr(fk.layers, name)(**kwargs), input_shape, output_shape, expected_num_params=0
    )


def test_every_layer_is_exported_and_in_a_harness_case():
    assert sorted(NAMES) == sorted(n for n in adaptive_pooling.__dict__ if n in NAMES)
    assert sorted(NAMES) == sorted(case[0] for case in HARNESS)
    for name in NAMES:
        assert getattr(fk.layers, name) is getattr(adaptive_pooling, name)


@pytest.mark.parametrize("length,out", [(7, 3), (10, 4), (8, 4), (3, 5), (5, 1), (1, 3)])
def test_bins_follow_floor_ceil_and_cover_the_axis(length, out):
    index, weight = adaptive_bins(length, out)
    for i in range(out):
        start, end = int(np.floor(i * length / out)), int(np.ceil((i + 1) * length / out))
        members = sorted(set(index[i].tolist()))
        assert members == list(range(start, end))
        np.testing.assert_allclose(weight[i].sum(), 1.0)
        assert np.count_nonzero(weight[i]) == end - start
    assert sorted(set(index.ravel().tolist())) == list(range(length))


def test_average_gradient_counts_each_bin_an_input_belongs_to():
    # d(sum of outputs)/dx = sum over the output bins containing x of 1 / (bin size).
    x = jnp.asarray(normal((1, 7, 10, 1)))
    layer = fk.layers.AdaptiveAveragePooling2D((3, 4))
    grad = np.asarray(jax.grad(lambda x: jnp.sum(layer(x)))(x))[0, :, :, 0]
    expected = np.zeros((7, 10))
    for i, j in itertools.product(range(3), range(4)):
        r0, r1 = int(np.floor(i * 7 / 3)), int(np.ceil((i + 1) * 7 / 3))
        c0, c1 = int(np.floor(j * 10 / 4)), int(np.ceil((j + 1) * 10 / 4))
        expected[r0:r1, c0:c1] += 1.0 / ((r1 - r0) * (c1 - c0))
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


def test_max_gradient_reaches_each_bin_maximum():
    # Distinct values: each output's gradient goes to the one input that is its bin's max.
    x = jnp.asarray(np.random.default_rng(0).permutation(10).astype(np.float32))[None, :, None]
    layer = fk.layers.AdaptiveMaxPooling1D(4)
    grad = np.asarray(jax.grad(lambda x: jnp.sum(layer(x)))(x))[0, :, 0]
    expected = np.zeros(10)
    flat = np.asarray(x)[0, :, 0]
    for i in range(4):
        start, end = int(np.floor(i * 10 / 4)), int(np.ceil((i + 1) * 10 / 4))
        expected[start + int(np.argmax(flat[start:end]))] += 1.0
    np.testing.assert_array_equal(grad, expected)


def test_integer_inputs():
    x = np.arange(2 * 7 * 3).reshape(2, 7, 3).astype(np.int32)
    y_max = fk.layers.AdaptiveMaxPooling1D(3)(jnp.asarray(x))
    assert y_max.dtype == jnp.int32
    np.testing.assert_array_equal(y_max, np_adaptive(x, (3,), "Max"))
    avg = fk.layers.AdaptiveAveragePooling1D(3)
    y_avg = avg(jnp.asarray(x))
    assert y_avg.dtype == jnp.float32
    spec = avg.compute_output_spec(TensorSpec((None, 7, 3), jnp.int32))
    assert (spec.shape, spec.dtype) == ((None, 3, 3), jnp.float32)
    np.testing.assert_allclose(y_avg, np_adaptive(x, (3,), "Average"), rtol=1e-6)


def test_unknown_spatial_sizes_in_the_output_shape():
    layer = fk.layers.AdaptiveAveragePooling2D((3, 4))
    assert layer.compute_output_shape((None, None, None, 5)) == (None, 3, 4, 5)
    layer = fk.layers.AdaptiveMaxPooling3D(2, data_format="channels_first")
    assert layer.compute_output_shape((None, 5, None, 7, None)) == (None, 5, 2, 2, 2)


def test_config_matches_keras():
    layer = fk.layers.AdaptiveMaxPooling2D([3, 4], data_format="channels_first", name="pool")
    config = layer.get_config()
    reference = keras.layers.AdaptiveMaxPooling2D((3, 4), data_format="channels_first")
    assert tuple(config["output_size"]) == tuple(reference.get_config()["output_size"])
    assert config["data_format"] == reference.get_config()["data_format"]
    assert layer.output_size == (3, 4)
    assert fk.layers.AdaptiveAveragePooling1D(5).data_format == "channels_last"


@pytest.mark.parametrize(
    "name,output_size",
    [
        ("AdaptiveMaxPooling1D", 0),
        ("AdaptiveMaxPooling1D", (2, 2)),
        ("AdaptiveAveragePooling1D", -1),
        ("AdaptiveMaxPooling2D", (3,)),
        ("AdaptiveAveragePooling2D", (3, 0)),
        ("AdaptiveAveragePooling2D", 2.0),
        ("AdaptiveMaxPooling3D", (2, 2)),
        ("AdaptiveAveragePooling3D", "2"),
        ("AdaptiveAveragePooling3D", (2, 2, True)),
        ("AdaptiveMaxPooling2D", None),
    ],
)
def test_bad_output_size(name, output_size):
    with pytest.raises(ValueError, match=f"{name}.*Received: output_size="):
        getattr(fk.layers, name)(output_size)


def test_bad_data_format_and_inputs():
    with pytest.raises(ValueError, match="Received: data_format='channels_middle'"):
        fk.layers.AdaptiveMaxPooling2D(2, data_format="channels_middle")
    with pytest.raises(ValueError, match=r"4-D inputs .*Received: input_shape=\(2, 5, 3\)"):
        fk.layers.AdaptiveAveragePooling2D(2)(jnp.ones((2, 5, 3)))
    with pytest.raises(ValueError, match=r"channels, steps.*Received: input_shape=\(2, 5\)"):
        fk.layers.AdaptiveMaxPooling1D(2, data_format="channels_first").compute_output_shape((2, 5))
    with pytest.raises(ValueError, match=r"at least 1.*Received: input_shape=\(2, 0, 3\)"):
        fk.layers.AdaptiveMaxPooling1D(2)(jnp.ones((2, 0, 3)))


def test_in_a_model_before_flatten_and_dense():
    # The adaptive output size fixes Flatten's width, so Dense sees the same features for any
    # input size the pooling accepts.
    model = fk.Sequential(
        [
            fk.Input((None, None, 2)),
            fk.layers.AdaptiveMaxPooling2D((2, 3)),
            fk.layers.Flatten(),
            fk.layers.Dense(1),
        ],
        seed=0,
    )
    dense = model.layers[-1]
    for spatial in [(9, 11), (4, 3)]:
        x = normal((4, *spatial, 2))
        pooled = np_adaptive(x, (2, 3), "Max").reshape(4, -1)
        expected = pooled @ np.asarray(dense.kernel) + np.asarray(dense.bias)
        np.testing.assert_allclose(model(jnp.asarray(x)), expected, rtol=1e-5, atol=1e-5)
