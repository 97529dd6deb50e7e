"""Preprocessing layers: Normalization (with adapt), Rescaling, Resizing, CenterCrop and the
random image augmentations. Deterministic layers are checked against Keras 3 and NumPy; random
ones by properties (identity in inference, determinism per key, exact special cases) and by
Keras parity of their transforms for the same drawn parameters."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_harness import run_layer_test

import fkeras as fk
from fkeras.layers.preprocessing import (
    CenterCrop,
    Normalization,
    RandomBrightness,
    RandomContrast,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
    Resizing,
)
from fkeras.layers.preprocessing._image import affine_transform
from fkeras.layers.preprocessing.random_augmentation import (
    rotation_matrix,
    translation_matrix,
    zoom_matrix,
)

os.environ["KERAS_BACKEND"] = "jax"
keras = pytest.importorskip("keras")

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

RTOL, ATOL = 1e-5, 1e-5
F32 = np.float32


def normal(shape, seed=0, scale=1.0, loc=0.0):
    return (loc + scale * np.random.default_rng(seed).standard_normal(shape)).astype(F32)


def image(shape, seed=0):
    return (255 * np.random.default_rng(seed).random(shape)).astype(F32)


def close(a, b, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol, atol)


# ------------------------------------------------------------------------------- harness
@pytest.mark.parametrize(
    "make, input_shape, output_shape, n_params",
    [
        (lambda: Normalization(), (None, 4), (None, 4), 9),
        (lambda: Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0]), (None, 2), (None, 2), 0),
        (lambda: Rescaling(1 / 255, offset=-0.5), (None, 3, 3, 2), (None, 3, 3, 2), 0),
        (lambda: Resizing(5, 3), (None, 4, 4, 2), (None, 5, 3, 2), 0),
        (lambda: CenterCrop(3, 2), (None, 5, 4, 2), (None, 3, 2, 2), 0),
    ],
    ids=[
        "norm",
        "norm-given",
        "rescaling",
        "resizing",
        "centercrop",
    ],
)
def test_harness_deterministic(make, input_shape, output_shape, n_params):
    run_layer_test(make(), input_shape, output_shape, expected_num_params=n_params)


RANDOM_LAYERS = {
    "flip": lambda: RandomFlip(),
    "rotation": lambda: RandomRotation(0.2),
    "zoom": lambda: RandomZoom(0.2, (-0.1, 0.3), fill_mode="constant"),
    "translation": lambda: RandomTranslation(0.2, 0.1, interpolation="nearest"),
    "contrast": lambda: RandomContrast(0.5),
    "brightness": lambda: RandomBrightness(0.3, value_range=(0, 1)),
}


@pytest.mark.parametrize("name", list(RANDOM_LAYERS))
def test_harness_random(name):
    shape = (None, 4, 4, 2)
    run_layer_test(RANDOM_LAYERS[name](), shape, shape, expected_num_params=0, training_key=True)


# ------------------------------------------------------------------------- Normalization
def np_normalize(x, mean, var, invert=False):
    x = np.asarray(x, np.float64)
    std = np.maximum(np.sqrt(var), 1e-7)
    return mean + x * std if invert else (x - mean) / std


@pytest.mark.parametrize(
    "axis, shape, reduced",
    [
        (-1, (20, 3), (0,)),
        (None, (20, 3), (0, 1)),
        ((1, 2), (10, 2, 3), (0,)),
        (1, (8, 3, 2), (0, 2)),
    ],
)
def test_normalization_adapt_matches_keras_and_numpy(axis, shape, reduced):
    data = normal(shape, seed=1, scale=3.0, loc=5.0)
    x = normal(shape, seed=2, scale=3.0, loc=5.0)[:4]
    unbuilt = Normalization(axis=axis)
    layer = unbuilt.adapt(data)
    assert not unbuilt.built and layer.built  # adapt returns a new layer
    k = keras.layers.Normalization(axis=axis)
    k.adapt(data)
    fk_w, k_w = layer.get_weights(), k.get_weights()
    assert [w.shape for w in fk_w] == [w.shape for w in k_w]
    assert [w.dtype for w in fk_w] == [w.dtype for w in k_w]
    for a, b in zip(fk_w, k_w):
        close(a, b)
    assert layer.count_params() == k.count_params()
    close(layer(x), k(x))
    # NumPy: the statistics of the adapt data, over the reduced axes.
    d = np.asarray(data, np.float64)
    ref = (np.asarray(x, np.float64) - d.mean(axis=reduced, keepdims=True)) / np.sqrt(
        d.var(axis=reduced, keepdims=True)
    )
    close(layer(x), ref, rtol=1e-4)
    # The same weights through set_weights on a freshly built layer.
    other = Normalization(axis=axis).build((None, *shape[1:])).set_weights(k.get_weights())
    close(other(x), k(x))


def test_normalization_adapt_streams_batches_stably():
    data = normal((300, 4), seed=3, scale=0.01, loc=1e4)  # large mean, tiny variance
    whole = Normalization().adapt(data)
    batches = Normalization().adapt([data[i : i + 70] for i in range(0, 300, 70)])
    chunked = Normalization().adapt(jnp.asarray(data), batch_size=64)
    generator = Normalization().adapt((data[i : i + 50], None) for i in range(0, 300, 50))
    d = np.asarray(data, np.float64)
    for layer in (whole, batches, chunked, generator):
        close(layer.mean, d.mean(axis=0), rtol=1e-7)
        close(layer.variance, d.var(axis=0), rtol=1e-4, atol=0)


def test_normalization_given_mean_variance_and_invert_match_keras():
    x = normal((4, 3), seed=4)
    for invert in (False, True):
        for mean, var in [(3.0, 2.0), ([1.0, -2.0, 0.5], [4.0, 0.25, 0.0])]:
            layer = Normalization(mean=mean, variance=var, invert=invert).build((None, 3))
            k = keras.layers.Normalization(mean=mean, variance=var, invert=invert)
            k.build((None, 3))
            assert layer.get_weights() == k.get_weights() == []
            assert layer.count_params() == k.count_params() == 0
            ref = np_normalize(x, np.asarray(mean), np.asarray(var), invert)
            close(layer(x), k(x))
            close(layer(x), ref)
    # Lower-rank mean broadcast against the kept axes from the right (as Keras).
    x3 = normal((2, 2, 3), seed=5)
    layer = Normalization(axis=(1, 2), mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0])
    k = keras.layers.Normalization(axis=(1, 2), mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0])
    k.build((None, 2, 3))
    close(layer.build((None, 2, 3))(x3), k(x3))


def test_normalization_invert_undoes_adapted_normalization():
    data = normal((50, 3), seed=6, scale=4.0, loc=-2.0)
    norm = Normalization().adapt(data)
    inv = Normalization(invert=True).build((None, 3)).set_weights(norm.get_weights())
    close(inv(norm(data)), data, rtol=1e-5, atol=1e-4)


def test_normalization_adapted_inside_a_model_and_jit():
    data = normal((40, 5), seed=7, loc=3.0)
    layer = Normalization().adapt(data)
    model = fk.Sequential([fk.Input((5,)), layer], seed=0)
    close(model.layers[0].mean, layer.mean, rtol=0, atol=0)
    out = jax.jit(lambda m, x: m(x))(layer, data)
    close(out.mean(axis=0), np.zeros(5), atol=1e-5)
    close(model(data), out, rtol=0, atol=0)
    config = layer.get_config()
    assert config["axis"] == -1 and config["mean"] is None and not config["invert"]


def test_normalization_errors():
    with pytest.raises(ValueError, match=r"Normalization 'n' needs both `mean` and `variance`"):
        Normalization(mean=1.0, name="n")
    with pytest.raises(ValueError, match=r"Normalization.*same shape"):
        Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match=r"Normalization.*axis 2 is out of range.*\(None, 3\)"):
        Normalization(axis=2).build((None, 3))
    with pytest.raises(ValueError, match=r"Normalization.*kept axes.*\(None, None\)"):
        Normalization(axis=1).build((None, None))
    with pytest.raises(ValueError, match=r"Normalization.*do not broadcast.*\(None, 4\)"):
        Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0]).build((None, 4))
    with pytest.raises(ValueError, match=r"Normalization.*`adapt` computes them"):
        Normalization(mean=1.0, variance=1.0).adapt(np.ones((3, 2)))
    built = Normalization().build((None, 3))
    with pytest.raises(ValueError, match=r"Normalization.*size \(3,\).*x.shape=\(2, 4\)"):
        built(jnp.ones((2, 4)))
    with pytest.raises(ValueError, match=r"Normalization.*adapt: a batch has size \(4,\)"):
        built.adapt(np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"Normalization.*no data"):
        Normalization().adapt([])
    with pytest.raises(TypeError, match=r"Normalization.*every batch.*list"):
        Normalization().adapt([[1.0, 2.0]])
    with pytest.raises(fk.NotBuiltError, match="Normalization"):
        Normalization()(jnp.ones((2, 3)))


# ------------------------------------------------------------- Rescaling, Resizing, CenterCrop
def test_rescaling_matches_keras_and_numpy():
    x = image((2, 3, 3, 3))
    for scale, offset in [(1 / 255, 0.0), (1 / 127.5, -1.0), ([0.5, 2.0, -1.0], [0.0, 1.0, 2.0])]:
        fk_out = Rescaling(scale, offset)(x)
        k_out = keras.layers.Rescaling(scale, offset)(x)
        ref = np.asarray(x, np.float64) * np.asarray(scale) + np.asarray(offset)
        close(fk_out, k_out)
        close(fk_out, ref)
    ints = np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3)
    out = Rescaling(0.5)(ints)
    assert out.dtype == jnp.float32
    close(out, ints * 0.5)


def np_resize_bilinear(x, out_h, out_w):
    """Half-pixel-centre bilinear with clamped edges (antialias off), one image (H, W, C)."""
    x = np.asarray(x, np.float64)

    def axis_weights(n_in, n_out):
        src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    ylo, yhi, fy = axis_weights(x.shape[0], out_h)
    xlo, xhi, fx = axis_weights(x.shape[1], out_w)
    out = np.zeros((out_h, out_w, x.shape[2]))
    for i in range(out_h):
        for j in range(out_w):
            top = x[ylo[i], xlo[j]] * (1 - fx[j]) + x[ylo[i], xhi[j]] * fx[j]
            bottom = x[yhi[i], xlo[j]] * (1 - fx[j]) + x[yhi[i], xhi[j]] * fx[j]
            out[i, j] = top * (1 - fy[i]) + bottom * fy[i]
    return out


def np_resize_nearest(x, out_h, out_w):
    rows = np.floor((np.arange(out_h) + 0.5) * x.shape[0] / out_h).astype(int)
    cols = np.floor((np.arange(out_w) + 0.5) * x.shape[1] / out_w).astype(int)
    return np.asarray(x)[rows][:, cols]


@pytest.mark.parametrize(
    "in_hw, out_hw, kwargs",
    [
        ((4, 6), (7, 5), {}),
        ((8, 8), (3, 5), {}),
        ((5, 4), (8, 8), {"interpolation": "nearest"}),
        ((6, 9), (4, 4), {"crop_to_aspect_ratio": True}),
        ((9, 4), (3, 4), {"crop_to_aspect_ratio": True, "interpolation": "nearest"}),
        ((4, 8), (6, 6), {"pad_to_aspect_ratio": True, "fill_value": 7.0}),
        ((8, 8), (3, 3), {"interpolation": "bicubic", "antialias": True}),
    ],
)
def test_resizing_matches_keras(in_hw, out_hw, kwargs):
    x = image((2, *in_hw, 3), seed=8)
    fk_out = Resizing(*out_hw, **kwargs)(x)
    k_out = keras.layers.Resizing(*out_hw, **kwargs)(x)
    assert fk_out.shape == k_out.shape == (2, *out_hw, 3)
    close(fk_out, k_out, rtol=1e-5, atol=1e-3)  # pixel values up to 255
    close(Resizing(*out_hw, **kwargs)(x[0]), fk_out[0], rtol=1e-6, atol=1e-4)  # unbatched


def test_resizing_matches_numpy():
    x = image((1, 5, 7, 2), seed=9)
    for h, w in [(8, 10), (3, 4)]:
        close(Resizing(h, w)(x)[0], np_resize_bilinear(x[0], h, w), rtol=1e-5, atol=1e-3)
        close(Resizing(h, w, "nearest")(x)[0], np_resize_nearest(x[0], h, w), rtol=0, atol=0)
    # crop_to_aspect_ratio = crop the centred window, then resize.
    out = Resizing(4, 4, crop_to_aspect_ratio=True)(x)[0]
    close(out, np_resize_bilinear(x[0, :, 1:6], 4, 4), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("in_hw, out_hw", [((6, 7), (3, 4)), ((5, 5), (5, 2)), ((3, 4), (6, 4))])
def test_center_crop_matches_keras_and_numpy(in_hw, out_hw):
    x = image((2, *in_hw, 2), seed=10)
    fk_out = CenterCrop(*out_hw)(x)
    k_out = keras.layers.CenterCrop(*out_hw)(x)
    close(fk_out, k_out, rtol=1e-5, atol=1e-3)
    h, w = in_hw
    th, tw = out_hw
    if h >= th and w >= tw:
        top, left = (h - th) // 2, (w - tw) // 2
        close(fk_out, x[:, top : top + th, left : left + tw], rtol=0, atol=0)


def test_weightless_layers_count_no_params_like_keras():
    shape = (None, 6, 6, 2)
    for fk_layer, k_layer in [
        (Rescaling(0.5), keras.layers.Rescaling(0.5)),
        (Resizing(3, 3), keras.layers.Resizing(3, 3)),
        (CenterCrop(3, 3), keras.layers.CenterCrop(3, 3)),
        (RandomFlip(), keras.layers.RandomFlip()),
        (RandomRotation(0.1), keras.layers.RandomRotation(0.1)),
        (RandomZoom(0.1), keras.layers.RandomZoom(0.1)),
        (RandomTranslation(0.1, 0.1), keras.layers.RandomTranslation(0.1, 0.1)),
        (RandomContrast(0.1), keras.layers.RandomContrast(0.1)),
        (RandomBrightness(0.1), keras.layers.RandomBrightness(0.1)),
    ]:
        k_layer.build(shape)
        assert fk_layer.build(shape).count_params() == k_layer.count_params() == 0
        assert fk_layer.compute_output_shape(shape) == k_layer.compute_output_shape(shape)


def test_image_layer_errors():
    for layer in (Resizing(2, 2, name="r"), CenterCrop(2, 2, name="r"), RandomFlip(name="r")):
        with pytest.raises(ValueError, match=r"'r' expects images of rank 3.*x.shape=\(2, 5\)"):
            layer(jnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"Resizing.*channels_last.*channels_first"):
        Resizing(2, 2, data_format="channels_first")
    with pytest.raises(ValueError, match=r"Resizing.*only one of.*crop_to_aspect_ratio"):
        Resizing(2, 2, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
    with pytest.raises(ValueError, match=r"Resizing.*interpolation.*'area'"):
        Resizing(2, 2, interpolation="area")
    with pytest.raises(ValueError, match=r"CenterCrop.*positive integer.*height=0"):
        CenterCrop(0, 2)
    with pytest.raises(ValueError, match=r"Rescaling.*scale.*'big'"):
        Rescaling("big")
    with pytest.raises(ValueError, match=r"RandomRotation.*factor.*\[-1.0, 1.0\].*1.5"):
        RandomRotation(1.5)
    with pytest.raises(ValueError, match=r"RandomZoom.*height_factor.*\(-1.0, 1.0\]"):
        RandomZoom(-1.0)
    with pytest.raises(ValueError, match=r"RandomContrast.*factor.*\[0.0, 1.0\]"):
        RandomContrast(-0.2)
    with pytest.raises(ValueError, match=r"RandomTranslation.*fill_mode.*'mirror'"):
        RandomTranslation(0.1, 0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match=r"RandomBrightness.*value_range.*\(0, 1, 2\)"):
        RandomBrightness(0.1, value_range=(0, 1, 2))
    with pytest.raises(ValueError, match=r"RandomFlip.*mode.*'diagonal'"):
        RandomFlip("diagonal")


# ---------------------------------------------------------------------- random augmentation
ALL_RANDOM = RANDOM_LAYERS
X_RANDOM = image((3, 4, 4, 2), seed=11)  # the harness' shape: compiled code is reused


@pytest.mark.parametrize("name", list(ALL_RANDOM))
def test_random_layers_identity_in_inference_deterministic_per_key(name):
    layer = ALL_RANDOM[name]()
    x = X_RANDOM
    close(layer(x), x, rtol=0, atol=0)
    close(layer(x, training=False, key=jax.random.key(0)), x, rtol=0, atol=0)
    key = jax.random.key(1)
    y = layer(x, training=True, key=key)
    assert y.shape == x.shape and y.dtype == jnp.float32
    close(layer(x, training=True, key=key), y, rtol=0, atol=0)
    close(jax.jit(lambda m, x, k: m(x, training=True, key=k))(layer, x, key), y, 1e-5, 1e-3)
    assert not np.allclose(y, x)  # this key does draw a visible change
    with pytest.raises(ValueError, match=rf"{type(layer).__name__} needs a PRNG key.*key=None"):
        layer(x, training=True)


def test_random_layer_vmaps_over_keys():
    layer = RandomRotation(0.2)
    keys = jax.random.split(jax.random.key(2), 2)
    stacked = jax.vmap(lambda k: layer(X_RANDOM, training=True, key=k))(keys)
    for i in range(2):
        close(stacked[i], layer(X_RANDOM, training=True, key=keys[i]), 1e-5, 1e-3)
    assert not np.allclose(stacked[0], stacked[1])


@pytest.mark.parametrize(
    "layer",
    [
        RandomRotation(0.0),
        RandomZoom(0.0),
        RandomZoom(0.0, 0.0, fill_mode="constant"),
        RandomTranslation(0.0, 0.0),
        RandomContrast(0.0),
        RandomBrightness(0.0),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_zero_factor_is_identity_in_training(layer):
    close(layer(X_RANDOM, training=True, key=jax.random.key(3)), X_RANDOM, 1e-5, 1e-3)


def test_flip_matches_np_flip_per_drawn_image():
    x = image((8, 3, 4, 2), seed=13)
    key = jax.random.key(4)
    for mode, axes in [
        ("horizontal", (1,)),
        ("vertical", (0,)),
        ("horizontal_and_vertical", (0, 1)),
    ]:
        layer = RandomFlip(mode)
        flips = np.asarray(layer.get_random_transformation(x, key=key)["flips"]).reshape(-1)
        assert 0 < flips.sum() < len(flips)  # both outcomes occur in this draw
        y = np.asarray(layer(x, training=True, key=key))
        for i, flipped in enumerate(flips):
            close(y[i], np.flip(x[i], axis=axes) if flipped else x[i], rtol=0, atol=0)
        # One unbatched image: one draw.
        flip = bool(layer.get_random_transformation(x[0], key=key)["flips"].reshape(()))
        y0 = layer(x[0], training=True, key=key)
        close(y0, np.flip(x[0], axis=axes) if flip else x[0], rtol=0, atol=0)


def test_rotation_by_90_degrees_matches_rot90():
    x = X_RANDOM  # square images
    layer = RandomRotation((0.25, 0.25))
    angle = layer.get_random_transformation(x, key=jax.random.key(0))["angle"]
    close(angle, [90.0, 90.0, 90.0], rtol=0, atol=0)
    y = layer(x, training=True, key=jax.random.key(0))
    close(y, np.rot90(x, k=1, axes=(1, 2)), rtol=1e-5, atol=1e-3)  # counter-clockwise
    y = RandomRotation((-0.5, -0.5))(x, training=True, key=jax.random.key(0))
    close(y, np.rot90(x, k=2, axes=(1, 2)), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_translation_by_whole_pixels_matches_numpy_shift(interpolation):
    x = image((2, 8, 4, 1), seed=15)
    # dy = 0.25 * 8 = 2 pixels down, dx = -0.25 * 4 = 1 pixel left, exactly.
    layer = RandomTranslation(
        (0.25, 0.25), (-0.25, -0.25), "constant", interpolation, fill_value=-1
    )
    t = layer.get_random_transformation(x, key=jax.random.key(0))
    close(t["translations"], [[-1.0, 2.0], [-1.0, 2.0]], rtol=0, atol=0)
    expected = np.full_like(x, -1.0)
    expected[:, 2:, :-1] = x[:, :-2, 1:]
    close(layer(x, training=True, key=jax.random.key(0)), expected, rtol=0, atol=1e-4)


def test_zoom_factor_formula_and_identity():
    x = image((2, 7, 7, 1), seed=16)
    layer = RandomZoom((-0.5, -0.5), fill_mode="constant", interpolation="nearest")
    t = layer.get_random_transformation(x, key=jax.random.key(0))
    close(t["height_zoom"], [[0.5], [0.5]], rtol=0, atol=0)
    y = np.asarray(layer(x, training=True, key=jax.random.key(0)))
    # Zooming in 2x about the centre (3, 3): output (i, j) reads input (1.5 + i/2, 1.5 + j/2),
    # rounded half away from zero (map_coordinates' nearest).
    rows = np.floor(1.5 + np.arange(7) / 2 + 0.5).astype(int)
    close(y, x[:, rows][:, :, rows], rtol=0, atol=0)


def test_contrast_and_brightness_follow_their_formulas_for_the_drawn_factor():
    x = image((4, 3, 5, 2), seed=17)
    key = jax.random.key(6)
    contrast = RandomContrast((0.4, 0.9))
    c = np.asarray(contrast.get_random_transformation(x, key=key)["contrast_factor"], np.float64)
    assert c.shape == (4, 1, 1, 1) and np.all((c >= 0.6) & (c <= 1.9))
    mean = np.asarray(x, np.float64).mean(axis=(1, 2), keepdims=True)
    expected = np.clip((x - mean) * c + mean, 0, 255)
    close(contrast(x, training=True, key=key), expected, rtol=1e-5, atol=1e-3)
    brightness = RandomBrightness((-0.5, 0.5), value_range=(255, 0))
    delta = np.asarray(brightness.get_random_transformation(x, key=key)["rgb_delta"])
    assert np.all(np.abs(delta) <= 0.5 * 255)
    expected = np.clip(np.asarray(x, np.float64) + delta, 0, 255)
    close(brightness(x, training=True, key=key), expected, rtol=1e-6, atol=1e-3)
    assert RandomContrast(0.3).factor == (0.0, 0.3)  # Keras 3: a number only raises contrast
    assert keras.layers.RandomContrast(0.3).factor == (0, 0.3)


@pytest.mark.parametrize("layer", [RandomContrast(1.0, (0, 1)), RandomBrightness(1.0, (0, 1))])
def test_outputs_stay_in_value_range(layer):
    x = jnp.asarray(np.random.default_rng(18).random((16, 4, 4, 3)), jnp.float32)
    for i in range(3):
        y = np.asarray(layer(x, training=True, key=jax.random.key(i)))
        assert y.min() >= 0.0 and y.max() <= 1.0
        assert (y == 0.0).any() or (y == 1.0).any()  # clipping happened


def test_seed_is_folded_into_the_key():
    x = image((4, 4, 4, 1), seed=19)
    key = jax.random.key(7)
    a = RandomBrightness(0.5, seed=1)(x, training=True, key=key)
    b = RandomBrightness(0.5, seed=2)(x, training=True, key=key)
    assert not np.allclose(a, b)


def test_random_layers_train_inside_a_model():
    model = fk.Sequential(
        [fk.Input((4, 4, 1)), RandomFlip(), RandomRotation(0.1), fk.layers.Flatten()], seed=0
    )
    x = image((2, 4, 4, 1), seed=20)
    close(model(x), x.reshape(2, -1), rtol=0, atol=0)
    y, _ = model.apply(x, training=True, key=jax.random.key(0))
    assert y.shape == (2, 16) and not np.allclose(y, x.reshape(2, -1))


# ------------------------------------------------ Keras parity of the transforms, same draws
@pytest.mark.parametrize(
    "interpolation, fill_mode",
    [
        ("bilinear", "reflect"),
        ("bilinear", "constant"),
        ("bilinear", "nearest"),
        ("nearest", "wrap"),
    ],
)
def test_affine_transform_matches_keras(interpolation, fill_mode):
    x = image((2, 5, 6, 2), seed=21)
    g = np.random.default_rng(22)
    transform = np.concatenate(
        [np.eye(2, 3).reshape(1, 6) + 0.3 * g.standard_normal((2, 6)), np.zeros((2, 2))], axis=1
    ).astype(F32)
    transform[:, [2, 5]] *= 5
    kwargs = dict(interpolation=interpolation, fill_mode=fill_mode, fill_value=2.5)
    fk_out = affine_transform(jnp.asarray(x), jnp.asarray(transform), **kwargs)
    k_out = keras.ops.image.affine_transform(x, transform, **kwargs)
    close(fk_out, k_out, rtol=1e-5, atol=1e-3)


def test_rotation_zoom_translation_matrices_match_keras_for_the_same_draw():
    x = image((3, 6, 5, 2), seed=23)
    k = keras.layers.RandomRotation(0.3, seed=1)
    kt = k.get_random_transformation(x, training=True)
    close(rotation_matrix(jnp.asarray(kt["angle"]), 6, 5), kt["rotation_matrix"], 1e-5, 1e-5)
    k = keras.layers.RandomZoom(0.3, (-0.2, 0.4), seed=2)
    kt = k.get_random_transformation(x, training=True)
    zooms = np.concatenate([kt["width_zoom"], kt["height_zoom"]], axis=1)
    close(
        zoom_matrix(jnp.asarray(kt["height_zoom"]), jnp.asarray(kt["width_zoom"]), 6, 5),
        k._get_zoom_matrix(zooms, 6, 5),
        1e-6,
        1e-6,
    )
    k = keras.layers.RandomTranslation(0.3, 0.2, seed=3)
    kt = k.get_random_transformation(x, training=True)
    close(
        translation_matrix(jnp.asarray(kt["translations"])),
        k._get_translation_matrix(kt["translations"]),
        0,
        0,
    )


def test_contrast_brightness_flip_transforms_match_keras_for_the_same_draw():
    x = image((3, 4, 5, 2), seed=24)
    for k, fk_layer in [
        (keras.layers.RandomContrast(0.5, seed=1), RandomContrast(0.5)),
        (keras.layers.RandomBrightness(0.4, seed=2), RandomBrightness(0.4)),
        (keras.layers.RandomFlip(seed=3), RandomFlip()),
    ]:
        kt = k.get_random_transformation(x, training=True)
        kt_arrays = {name: np.asarray(v) for name, v in kt.items() if name != "input_shape"}
        close(fk_layer.transform_images(x, kt_arrays), k.transform_images(x, kt), 1e-5, 1e-3)
