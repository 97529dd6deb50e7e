"""Convolution layers: the shared harness, parity with Keras 3 (JAX backend) and with naive
NumPy loops written here, weight names and layouts, and the build-time errors."""

import inspect
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_harness import run_layer_test

import fkeras as fk
from fkeras.layers.convolutional import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)

os.environ["KERAS_BACKEND"] = "jax"
keras = pytest.importorskip("keras")

RTOL, ATOL = 1e-5, 1e-5
F32 = np.float32

pytestmark = pytest.mark.filterwarnings(
    # Raised inside Keras (variables.py `np.array(self)`), not by fkeras.
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


@pytest.fixture(autouse=True)
def _full_precision():
    # On GPUs, JAX's default float32 convolutions may use TF32; the NumPy references are exact.
    with jax.default_matmul_precision("highest"):
        yield


# ------------------------------------------------------------------------------- harness
HARNESS_CASES = {  # one per layer, each with some non-default arguments
    "conv1d-causal-dilated": (
        lambda: Conv1D(4, 3, padding="causal", dilation_rate=2),
        (None, 9, 2),
        (None, 9, 4),
        3 * 2 * 4 + 4,
    ),
    "conv2d-same-strided-groups": (
        lambda: Conv2D(4, 3, strides=2, padding="same", groups=2, activation="relu"),
        (None, 6, 5, 2),
        (None, 3, 3, 4),
        9 * 1 * 4 + 4,
    ),
    "conv3d": (lambda: Conv3D(2, 2), (None, 4, 3, 3, 2), (None, 3, 2, 2, 2), 8 * 2 * 2 + 2),
    "conv1d-transpose-same": (
        lambda: Conv1DTranspose(3, 3, strides=2, padding="same"),
        (None, 5, 2),
        (None, 10, 3),
        3 * 3 * 2 + 3,
    ),
    "conv2d-transpose-output-padding": (
        lambda: Conv2DTranspose(3, 3, strides=2, output_padding=1, use_bias=False),
        (None, 4, 3, 2),
        (None, 10, 8, 3),
        9 * 3 * 2,
    ),
    "conv3d-transpose": (
        lambda: Conv3DTranspose(2, 2, strides=2),
        (None, 2, 3, 2, 2),
        (None, 4, 6, 4, 2),
        8 * 2 * 2 + 2,
    ),
    "depthwise1d": (lambda: DepthwiseConv1D(3), (None, 9, 2), (None, 7, 2), 3 * 2 + 2),
    "depthwise2d-multiplier": (
        lambda: DepthwiseConv2D(3, depth_multiplier=2),
        (None, 6, 5, 2),
        (None, 4, 3, 4),
        9 * 2 * 2 + 4,
    ),
    "separable1d": (lambda: SeparableConv1D(4, 3), (None, 9, 2), (None, 7, 4), 6 + 8 + 4),
    "separable2d-multiplier-same": (
        lambda: SeparableConv2D(4, 3, depth_multiplier=2, padding="same"),
        (None, 6, 5, 2),
        (None, 6, 5, 4),
        9 * 2 * 2 + 4 * 4 + 4,
    ),
}


@pytest.mark.parametrize("case", HARNESS_CASES.values(), ids=HARNESS_CASES.keys())
def test_harness(case):
    make, input_shape, output_shape, n_params = case
    run_layer_test(make(), input_shape, output_shape, expected_num_params=n_params)


# ------------------------------------------------------------------ NumPy references
def same_padding(size, kernel, stride, dilation):
    """TensorFlow's "SAME": output ceil(size / stride), the odd pixel padded at the end."""
    window = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def np_conv(x, kernel, strides, pads, dilation, groups=1):
    """Naive grouped cross-correlation: x (N, *S, C), kernel (*K, C // groups, F)."""
    rank = x.ndim - 2
    x = np.pad(x, [(0, 0), *pads, (0, 0)])
    ksize, cin, filters = kernel.shape[:rank], kernel.shape[-2], kernel.shape[-1]
    fout = filters // groups
    out_size = [
        (x.shape[1 + i] - dilation[i] * (ksize[i] - 1) - 1) // strides[i] + 1 for i in range(rank)
    ]
    out = np.zeros((x.shape[0], *out_size, filters))
    for o in np.ndindex(*out_size):
        for k in np.ndindex(*ksize):
            pixel = x[(slice(None), *(o[i] * strides[i] + k[i] * dilation[i] for i in range(rank)))]
            for g in range(groups):
                w = kernel[k][:, g * fout : (g + 1) * fout]
                out[(slice(None), *o, slice(g * fout, (g + 1) * fout))] += (
                    pixel[:, g * cin : (g + 1) * cin] @ w
                )
    return out


def np_depthwise(x, kernel, strides, pads, dilation):
    """Each channel c convolved with kernel[..., c, m] gives output channel c * M + m."""
    channels, multiplier = kernel.shape[-2:]
    out = []
    for c in range(channels):
        for m in range(multiplier):
            out.append(
                np_conv(
                    x[..., c : c + 1], kernel[..., c : c + 1, m : m + 1], strides, pads, dilation
                )
            )
    return np.concatenate(out, axis=-1)


def np_conv_transpose(x, kernel, strides, padding, output_padding, dilation):
    """Scatter each input pixel through the kernel (*K, F, C), then crop as TensorFlow's
    `conv2d_transpose` does for the Keras output size."""
    rank = x.ndim - 2
    ksize = kernel.shape[:rank]
    sizes = x.shape[1:-1]
    window = [(k - 1) * d + 1 for k, d in zip(ksize, dilation)]
    full = [(n - 1) * s + w for n, s, w in zip(sizes, strides, window)]
    out = np.zeros((x.shape[0], *full, kernel.shape[-2]))
    for i in np.ndindex(*sizes):
        for k in np.ndindex(*ksize):
            at = tuple(i[a] * strides[a] + k[a] * dilation[a] for a in range(rank))
            out[(slice(None), *at)] += x[(slice(None), *i)] @ kernel[k].T
    lengths, crops = [], []
    for a in range(rank):
        n, s, w = sizes[a], strides[a], window[a]
        p = None if output_padding is None else output_padding[a]
        if padding == "valid":
            length = (n - 1) * s + (max(w, s) if p is None else w + p)
            crop = 0
        else:
            length = n * s if p is None else (n - 1) * s + w % 2 + p
            crop = max((n - 1) * s + w - length, 0) // 2  # the forward conv's "SAME" pad
        lengths.append(length)
        crops.append(crop)
    extra = [(0, 0)] + [(0, max(c + n - f, 0)) for c, n, f in zip(crops, lengths, full)] + [(0, 0)]
    out = np.pad(out, extra)
    return out[(slice(None), *(slice(c, c + n) for c, n in zip(crops, lengths)))]


NP_ACTIVATIONS = {"linear": lambda z: z, "relu": lambda z: np.maximum(z, 0.0)}


def reference(cls, kwargs, x, weights):
    rank = x.ndim - 2
    tup = lambda v: (v,) * rank if isinstance(v, int) else tuple(v)  # noqa: E731
    x = np.asarray(x, np.float64)
    weights = [np.asarray(w, np.float64) for w in weights]
    strides = tup(kwargs.get("strides", 1))
    dilation = tup(kwargs.get("dilation_rate", 1))
    padding = kwargs.get("padding", "valid")
    ksize = weights[0].shape[:rank]

    def pads():
        if padding == "valid":
            return [(0, 0)] * rank
        if padding == "causal":
            return [((ksize[0] - 1) * dilation[0], 0)]
        return [
            same_padding(n, k, s, d) for n, k, s, d in zip(x.shape[1:-1], ksize, strides, dilation)
        ]

    name = cls.__name__
    if name.startswith("Conv") and name.endswith("Transpose"):
        op = kwargs.get("output_padding")
        op = None if op is None else tup(op)
        out = np_conv_transpose(x, weights[0], strides, padding, op, dilation)
    elif name.startswith("Conv"):
        out = np_conv(x, weights[0], strides, pads(), dilation, kwargs.get("groups", 1))
    elif name.startswith("Depthwise"):
        out = np_depthwise(x, weights[0], strides, pads(), dilation)
    else:  # separable: depthwise, then a pointwise matmul over channels
        out = np_depthwise(x, weights[0], strides, pads(), dilation)
        out = out @ weights[1].reshape(weights[1].shape[-2:])
    if kwargs.get("use_bias", True):
        out = out + weights[-1]
    return NP_ACTIVATIONS[kwargs.get("activation") or "linear"](out)


def test_references_agree_with_each_other():
    """The transposed reference is the adjoint of the convolution reference."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 7, 6, 2))
    kernel = rng.normal(size=(3, 4, 2, 5))  # conv: (*K, in=2, out=5)
    for padding in ("valid", "same"):
        pads = [same_padding(n, k, 2, 1) for n, k in zip((7, 6), (3, 4))]
        pads = pads if padding == "same" else [(0, 0)] * 2
        y = np_conv(x, kernel, (2, 2), pads, (1, 1))
        g = rng.normal(size=y.shape)
        # <conv(x), g> == <x, conv_transpose(g)> when conv_transpose has x's size.
        op = [
            n - ((m - 1) * 2 + (k % 2 if padding == "same" else k))
            for n, m, k in zip((7, 6), y.shape[1:3], (3, 4))
        ]
        back = np_conv_transpose(g, kernel, (2, 2), padding, op, (1, 1))
        assert back.shape == x.shape
        np.testing.assert_allclose(np.sum(y * g), np.sum(x * back), rtol=1e-10)


# -------------------------------------------------------------------- Keras parity
S1, S2, S3 = (None, 9, 4), (None, 7, 6, 4), (None, 5, 4, 3, 2)
PARITY_CASES = [
    # (fkeras class; the Keras class has the same name, kwargs, input shape)
    (Conv1D, {"filters": 3, "kernel_size": 3}, S1),
    (Conv1D, {"filters": 3, "kernel_size": 3, "strides": 2}, S1),
    (Conv1D, {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"}, S1),
    (Conv1D, {"filters": 3, "kernel_size": 3, "padding": "causal", "dilation_rate": 2}, S1),
    (Conv1D, {"filters": 3, "kernel_size": 2, "padding": "causal", "strides": 2}, S1),
    (Conv1D, {"filters": 6, "kernel_size": 3, "groups": 2, "activation": "relu"}, S1),
    (Conv2D, {"filters": 3, "kernel_size": 3}, S2),
    (Conv2D, {"filters": 3, "kernel_size": 3, "strides": 2}, S2),
    (Conv2D, {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, S2),
    (Conv2D, {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"}, S2),
    (Conv2D, {"filters": 3, "kernel_size": (2, 3), "strides": (1, 2), "padding": "same"}, S2),
    (Conv2D, {"filters": 3, "kernel_size": 3, "dilation_rate": 2, "padding": "same"}, S2),
    (Conv2D, {"filters": 3, "kernel_size": 2, "dilation_rate": (2, 1)}, S2),
    (Conv2D, {"filters": 4, "kernel_size": 3, "groups": 2, "use_bias": False}, S2),
    (Conv3D, {"filters": 3, "kernel_size": 2}, S3),
    (Conv3D, {"filters": 2, "kernel_size": 2, "strides": 2, "padding": "same"}, S3),
    (Conv1DTranspose, {"filters": 3, "kernel_size": 3}, S1),
    (Conv1DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, S1),
    (Conv1DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2, "output_padding": 1}, S1),
    (Conv1DTranspose, {"filters": 3, "kernel_size": 2, "strides": 3}, S1),
    (Conv1DTranspose, {"filters": 3, "kernel_size": 3, "dilation_rate": 2, "padding": "same"}, S1),
    (Conv2DTranspose, {"filters": 3, "kernel_size": 3}, S2),
    (Conv2DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2}, S2),
    (Conv2DTranspose, {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, S2),
    (Conv2DTranspose, {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same"}, S2),
    (
        Conv2DTranspose,
        {"filters": 3, "kernel_size": 4, "strides": 2, "padding": "same", "output_padding": 1},
        S2,
    ),
    (
        Conv2DTranspose,
        {"filters": 3, "kernel_size": 3, "strides": (2, 3), "padding": "same", "output_padding": 0},
        S2,
    ),
    (Conv2DTranspose, {"filters": 3, "kernel_size": 1, "strides": 2, "padding": "same"}, S2),
    (Conv2DTranspose, {"filters": 3, "kernel_size": 2, "dilation_rate": 2}, S2),
    (Conv3DTranspose, {"filters": 2, "kernel_size": 2}, S3),
    (Conv3DTranspose, {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, S3),
    (DepthwiseConv1D, {"kernel_size": 3}, S1),
    (
        DepthwiseConv1D,
        {"kernel_size": 4, "strides": 2, "padding": "same", "depth_multiplier": 2},
        S1,
    ),
    (DepthwiseConv1D, {"kernel_size": 2, "dilation_rate": 2, "depth_multiplier": 3}, S1),
    (DepthwiseConv2D, {"kernel_size": 3}, S2),
    (DepthwiseConv2D, {"kernel_size": 3, "depth_multiplier": 2, "activation": "relu"}, S2),
    (DepthwiseConv2D, {"kernel_size": 4, "strides": 2, "padding": "same"}, S2),
    (DepthwiseConv2D, {"kernel_size": 2, "dilation_rate": 2, "strides": 2}, S2),
    (SeparableConv1D, {"filters": 3, "kernel_size": 3}, S1),
    (
        SeparableConv1D,
        {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same", "depth_multiplier": 2},
        S1,
    ),
    (SeparableConv2D, {"filters": 3, "kernel_size": 3}, S2),
    (
        SeparableConv2D,
        {"filters": 5, "kernel_size": 3, "depth_multiplier": 2, "padding": "same"},
        S2,
    ),
    (SeparableConv2D, {"filters": 2, "kernel_size": 2, "dilation_rate": 2, "use_bias": False}, S2),
]


def _case_id(case):
    cls, kwargs, _ = case
    args = ",".join(f"{k}={v}" for k, v in kwargs.items() if k not in ("filters", "kernel_size"))
    return f"{cls.__name__}[k={kwargs['kernel_size']}{',' if args else ''}{args}]"


@pytest.mark.parametrize("case", PARITY_CASES, ids=[_case_id(c) for c in PARITY_CASES])
def test_keras_parity(case):
    cls, kwargs, input_shape = case
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, *input_shape[1:])).astype(F32)
    # Zero initializers: the weights are replaced anyway, and random ones would compile a
    # random-number kernel per shape on both sides (most of this test's time).
    init = {f"{n}_initializer": "zeros" for n in ("kernel", "depthwise", "pointwise")}
    init = {k: v for k, v in init.items() if k in inspect.signature(cls.__init__).parameters}
    k_layer = getattr(keras.layers, cls.__name__)(**kwargs, **init)
    k_layer.build(input_shape)
    weights = [(0.5 * rng.normal(size=w.shape)).astype(F32) for w in k_layer.get_weights()]
    k_layer.set_weights(weights)

    fk_layer = cls(**kwargs, **init).build(input_shape, key=jax.random.key(0))
    assert fk_layer.count_params() == k_layer.count_params()
    # Keras' weight names, shapes and order.
    assert [w.name for w in k_layer.weights] == [
        n
        for n in ("kernel", "depthwise_kernel", "pointwise_kernel", "bias")
        if hasattr(fk_layer, n) and getattr(fk_layer, n) is not None
    ]
    fk_layer = fk_layer.set_weights(weights)
    for w in k_layer.weights:
        np.testing.assert_array_equal(getattr(fk_layer, w.name), np.asarray(w))

    expected_shape = tuple(k_layer.compute_output_shape(input_shape))
    assert fk_layer.compute_output_shape(input_shape) == expected_shape
    fk_out = np.asarray(fk_layer(x))
    k_out = np.asarray(k_layer(x))
    assert fk_out.shape == k_out.shape == (2, *expected_shape[1:])
    assert fk_out.dtype == np.float32
    np.testing.assert_allclose(fk_out, k_out, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(fk_out, reference(cls, kwargs, x, weights), rtol=RTOL, atol=ATOL)


def test_causal_conv1d_never_sees_the_future():
    layer = Conv1D(2, 3, padding="causal", dilation_rate=2).build((None, 10, 1), key=0)
    x = np.random.default_rng(1).normal(size=(1, 10, 1)).astype(F32)
    changed = x.copy()
    changed[:, 6:] += 1.0
    np.testing.assert_array_equal(layer(x)[:, :6], layer(changed)[:, :6])


def test_unknown_spatial_size_builds_and_runs():
    layer = Conv1D(3, 3, strides=2, padding="same")
    assert layer.compute_output_shape((None, None, 2)) == (None, None, 3)
    built = layer.build((None, None, 2), key=0)
    assert built(jnp.ones((2, 9, 2))).shape == (2, 5, 3)
    transposed = Conv2DTranspose(3, 3, strides=2)
    assert transposed.compute_output_shape((None, None, 4, 2)) == (None, None, 9, 3)


def test_default_initializers_follow_keras():
    # Glorot uniform with Keras' receptive-field fans; the bias starts at zero.
    layer = Conv2D(8, 3).build((None, 6, 6, 4), key=0)
    limit = math.sqrt(6.0 / (9 * 4 + 9 * 8))
    assert 0.8 * limit < float(jnp.max(jnp.abs(layer.kernel))) <= limit
    np.testing.assert_array_equal(layer.bias, np.zeros(8))
    transposed = Conv2DTranspose(8, 3).build((None, 6, 6, 4), key=0)  # (3, 3, 8, 4)
    assert 0.8 * limit < float(jnp.max(jnp.abs(transposed.kernel))) <= limit


# ------------------------------------------------------ regularizers and constraints
def test_depthwise_and_separable_regularizers_and_constraints():
    init = fk.initializers.Constant(-0.5)
    depthwise = DepthwiseConv2D(
        2,
        depthwise_initializer=init,
        depthwise_regularizer=fk.regularizers.L2(0.5),
        depthwise_constraint="non_neg",
    ).build((None, 4, 4, 3), key=0)
    kernel = depthwise.kernel
    np.testing.assert_allclose(
        depthwise.weight_regularization(), 0.5 * jnp.sum(kernel**2), rtol=1e-6
    )
    assert depthwise.has_constraints()
    assert float(jnp.min(depthwise.apply_constraints().kernel)) >= 0.0

    separable = SeparableConv1D(
        2,
        2,
        depthwise_initializer=init,
        pointwise_initializer=init,
        depthwise_regularizer=fk.regularizers.L1(0.1),
        pointwise_regularizer=fk.regularizers.L2(0.2),
        pointwise_constraint="non_neg",
    ).build((None, 5, 3), key=0)
    expected = 0.1 * jnp.sum(jnp.abs(separable.depthwise_kernel)) + 0.2 * jnp.sum(
        separable.pointwise_kernel**2
    )
    np.testing.assert_allclose(separable.weight_regularization(), expected, rtol=1e-6)
    constrained = separable.apply_constraints()
    assert float(jnp.min(constrained.pointwise_kernel)) >= 0.0
    np.testing.assert_array_equal(constrained.depthwise_kernel, separable.depthwise_kernel)

    conv = Conv1DTranspose(2, 2, kernel_initializer=init, kernel_regularizer="l2").build(
        (None, 5, 3), key=0
    )
    np.testing.assert_allclose(
        conv.weight_regularization(), 0.01 * jnp.sum(conv.kernel**2), rtol=1e-6
    )


# ------------------------------------------------------------------------------ errors
def test_wrong_input_rank_names_the_layer_and_shape():
    with pytest.raises(
        ValueError,
        match=r"Conv2D 'conv2d' expects inputs of rank 4 \(batch, height, width, channels\)\. "
        r"Received: input_shape=\(None, 8, 3\)",
    ):
        Conv2D(4, 3, name="conv2d").build((None, 8, 3))
    with pytest.raises(
        ValueError, match=r"Conv1DTranspose expects inputs of rank 3 .*\(None, 8, 8, 3\)"
    ):
        Conv1DTranspose(4, 3).build((None, 8, 8, 3))
    with pytest.raises(ValueError, match=r"SeparableConv2D 'sep' expects inputs of rank 4"):
        fk.Sequential([fk.Input((8, 3)), SeparableConv2D(4, 3, name="sep")])


@pytest.mark.parametrize(
    "layer, input_shape, match",
    [
        (Conv2D(4, 3), (None, 8, 8, None), r"Conv2D needs inputs whose channel .* known.*None\)"),
        (DepthwiseConv1D(3), (None, 8, None), r"DepthwiseConv1D needs .*channel"),
        (
            Conv2D(4, 3, groups=2),
            (None, 8, 8, 3),
            r"Conv2D expects input channels divisible by groups=2\. .*\(None, 8, 8, 3\)",
        ),
        (
            Conv2D(4, 5, name="c"),
            (None, 4, 8, 3),
            r"Conv2D 'c' expects each spatial dimension .* kernel size \(5, 5\) with "
            r"padding='valid'\. Received: input_shape=\(None, 4, 8, 3\)",
        ),
        (Conv1D(4, 3, dilation_rate=3), (None, 6, 3), r"kernel size \(7,\)"),
        (DepthwiseConv2D(3), (None, 2, 8, 3), r"DepthwiseConv2D expects each spatial"),
        (SeparableConv1D(2, 4), (None, 3, 3), r"SeparableConv1D expects each spatial"),
        (Conv3D(2, 2), (None, 1, 4, 4, 2), r"Conv3D expects each spatial"),
    ],
    ids=["channels", "depthwise-channels", "groups", "kernel", "dilated", "dw", "sep", "3d"],
)
def test_build_errors(layer, input_shape, match):
    with pytest.raises(ValueError, match=match):
        layer.build(input_shape)


BAD_HYPERPARAMETERS = {
    "causal-2d": (
        lambda: Conv2D(4, 3, padding="causal"),
        r"Conv2D expects padding .*causal padding exists only for Conv1D",
    ),
    "causal-depthwise": (
        lambda: DepthwiseConv1D(3, padding="causal"),
        r"DepthwiseConv1D expects padding",
    ),
    "padding": (lambda: Conv2DTranspose(4, 3, padding="full"), r"Received: padding='full'"),
    "channels-first": (
        lambda: Conv2D(4, 3, data_format="channels_first"),
        r"only data_format='channels_last'",
    ),
    "groups": (
        lambda: Conv2D(6, 3, groups=4),
        r"`filters` to be divisible by `groups`.*filters=6, groups=4",
    ),
    "filters": (lambda: Conv2D(0, 3), r"positive integer `filters`"),
    "kernel-rank": (
        lambda: Conv2D(4, (3, 3, 3)),
        r"`kernel_size` to be an int or a tuple of 2 ints",
    ),
    "kernel-zero": (lambda: Conv1D(4, 0), r"`kernel_size` to be > 0"),
    "strides-dilation": (
        lambda: Conv2D(4, 3, strides=2, dilation_rate=2),
        r"strides > 1 together with dilation",
    ),
    "output-padding": (
        lambda: Conv1DTranspose(4, 3, strides=2, output_padding=2),
        r"`output_padding` to be less",
    ),
    "multiplier": (
        lambda: DepthwiseConv2D(3, depth_multiplier=0),
        r"positive integer `depth_multiplier`",
    ),
    "activation": (lambda: SeparableConv2D(4, 3, activation="nope"), r"SeparableConv2D"),
}


@pytest.mark.parametrize(
    "make, match", BAD_HYPERPARAMETERS.values(), ids=BAD_HYPERPARAMETERS.keys()
)
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_call_with_wrong_channels_names_the_layer():
    layer = Conv2D(4, 3, name="c").build((None, 8, 8, 3), key=0)
    with pytest.raises(
        ValueError,
        match=r"Conv2D 'c' expects .* with 3 channels\. Received: x\.shape=\(2, 8, 8, 5\)",
    ):
        layer(jnp.ones((2, 8, 8, 5)))


def test_config_matches_keras_keys_and_values():
    kwargs = {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same", "output_padding": 1}
    ours = Conv2DTranspose(**kwargs).get_config()
    theirs = keras.layers.Conv2DTranspose(**kwargs).get_config()
    for key in (
        "filters",
        "kernel_size",
        "strides",
        "padding",
        "output_padding",
        "data_format",
        "dilation_rate",
        "use_bias",
    ):
        assert list(np.atleast_1d(ours[key])) == list(np.atleast_1d(theirs[key])), key
