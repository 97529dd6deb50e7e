"""Categorical preprocessing layers (CategoryEncoding, Discretization, Hashing, IntegerLookup)
and RandomCrop. Outputs are checked against Keras 3 where Keras runs without TensorFlow
(CategoryEncoding, Discretization and its quantile summaries, RandomCrop's crops), and against
NumPy re-statements of Keras' rules where Keras needs TensorFlow (IntegerLookup; Hashing, whose
hash differs by design, is checked by its properties)."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_harness import run_layer_test

import fkeras as fk
from fkeras.layers.preprocessing import (
    CategoryEncoding,
    Discretization,
    Hashing,
    IntegerLookup,
    RandomCrop,
)

os.environ["KERAS_BACKEND"] = "jax"
keras = pytest.importorskip("keras")

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def ints(shape, high, seed=0, low=0):
    return np.random.default_rng(seed).integers(low, high, size=shape).astype(np.int32)


def roundtrip(layer):
    config = json.loads(json.dumps(layer.get_config()))
    restored = type(layer).from_config(config)
    assert restored.get_config() == layer.get_config()
    via_registry = fk.saving.deserialize(json.loads(json.dumps(fk.saving.serialize(layer))))
    assert type(via_registry) is type(layer)
    return restored


# ------------------------------------------------------------------------------- harness
@pytest.mark.parametrize(
    "make, input_shape, output_shape",
    [
        (lambda: CategoryEncoding(4), (None, 3), (None, 4)),
        (lambda: CategoryEncoding(4, "one_hot"), (None, 3), (None, 3, 4)),
        (lambda: CategoryEncoding(5, "count"), (None, 2), (None, 5)),
        (lambda: Discretization([-0.5, 0.0, 0.5], output_mode="one_hot"), (None, 1), (None, 4)),
        (lambda: Discretization([0.0, 1.0], output_mode="count"), (None, 3), (None, 3)),
        (lambda: Hashing(6, output_mode="multi_hot"), (None, 3), (None, 6)),
        (lambda: Hashing(4, mask_value=0, output_mode="one_hot"), (None, 2), (None, 2, 4)),
        (
            lambda: IntegerLookup(vocabulary=[0, -1, 2], oov_token=-7, output_mode="multi_hot"),
            (None, 3),
            (None, 4),
        ),
        (
            lambda: IntegerLookup(vocabulary=[1, 0], num_oov_indices=2, output_mode="count"),
            (None, 2),
            (None, 4),
        ),
    ],
    ids=[
        "catenc-multi",
        "catenc-one",
        "catenc-count",
        "disc-one",
        "disc-count",
        "hash-multi",
        "hash-one",
        "lookup-multi",
        "lookup-count",
    ],
)
def test_harness(make, input_shape, output_shape):
    # The harness feeds float normals: these layers truncate them to integers (Keras does too).
    run_layer_test(make(), input_shape, output_shape, trains=False)


def test_harness_random_crop():
    run_layer_test(RandomCrop(3, 2), (None, 5, 4, 2), (None, 3, 2, 2), training_key=True)
    # Inputs not larger on both sides: the aspect-ratio crop and resize, also in training.
    run_layer_test(RandomCrop(4, 4), (None, 3, 5, 1), (None, 4, 4, 1), training_key=True)


# ---------------------------------------------------------------------- CategoryEncoding
@pytest.mark.parametrize("mode", ["multi_hot", "one_hot", "count"])
@pytest.mark.parametrize("shape", [(5, 3), (5, 1), (6,)])
def test_category_encoding_matches_keras(mode, shape):
    x = ints(shape, 6, seed=1)
    layer = CategoryEncoding(6, mode)
    k = keras.layers.CategoryEncoding(6, mode)
    np.testing.assert_array_equal(layer(x), k(x))
    assert layer.compute_output_shape(shape) == k.compute_output_shape(shape)
    np.testing.assert_array_equal(jax.jit(lambda m, x: m(x))(layer, x), k(x))
    assert roundtrip(layer).get_config() == {**k.get_config(), **_fk_base(layer), "sparse": False}


def _fk_base(layer):
    return {"name": layer.name, "trainable": True, "dtype": "float32"}


def test_category_encoding_count_weights_and_numpy():
    x = ints((4, 5), 3, seed=2)
    w = np.random.default_rng(3).random((4, 5)).astype(np.float32)
    out = CategoryEncoding(3, "count")(x, count_weights=w)
    k = keras.layers.CategoryEncoding(3, "count")(x, count_weights=w)
    np.testing.assert_allclose(out, k, rtol=1e-6)
    ref = np.stack([np.bincount(x[i], weights=w[i], minlength=3) for i in range(4)])
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    # Out-of-range values encode as zeros (Keras' JAX backend).
    np.testing.assert_array_equal(CategoryEncoding(3)(np.array([[5, -1]])), [[0, 0, 0]])


def test_category_encoding_errors():
    with pytest.raises(
        ValueError, match=r"CategoryEncoding.*num_tokens.*Received: num_tokens=None"
    ):
        CategoryEncoding()
    with pytest.raises(ValueError, match=r"Received: num_tokens=0"):
        CategoryEncoding(0)
    with pytest.raises(ValueError, match=r"Received: output_mode='int'"):
        CategoryEncoding(3, "int")
    with pytest.raises(ValueError, match=r"sparse.*Received: sparse=True"):
        CategoryEncoding(3, sparse=True)
    with pytest.raises(ValueError, match=r"count_weights.*Received: output_mode='multi_hot'"):
        CategoryEncoding(3)(np.array([[1]]), count_weights=np.ones((1, 1)))


# ------------------------------------------------------------------------ Discretization
def test_discretization_adapt_matches_keras_summaries():
    from keras.src.layers.preprocessing import discretization as kd

    data = np.random.default_rng(4).normal(size=(300, 2)).astype(np.float32)
    batches = [data[i : i + 70] for i in range(0, 300, 70)]
    for num_bins, epsilon, source in [(4, 0.01, data), (5, 0.01, batches), (3, 0.1, batches)]:
        parts = [source] if isinstance(source, np.ndarray) else source
        summary = np.array([[], []], dtype="float32")
        for b in parts:  # Keras' own adapt (its layer needs TensorFlow for the loop)
            summary = kd.merge_summaries(kd.summarize(b, epsilon), summary, epsilon)
        ref = kd.get_bin_boundaries(summary, num_bins).tolist()
        layer = Discretization(num_bins=num_bins, epsilon=epsilon).adapt(source)
        assert list(layer.bin_boundaries) == ref
        if epsilon > 0.01:
            continue  # a coarse summary: Keras' boundaries are only roughly the quantiles
        # Approximate quantiles: close to NumPy's.
        q = np.quantile(data, np.arange(1, num_bins) / num_bins)
        np.testing.assert_allclose(layer.bin_boundaries, q, atol=0.1)
        # Roughly equal bucket populations.
        counts = np.bincount(np.asarray(layer(data)).ravel(), minlength=num_bins)
        assert counts.min() > 0.7 * data.size / num_bins


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_call_matches_keras(mode):
    bounds = [-1.0, 0.0, 0.5, 2.0]
    x = np.random.default_rng(5).normal(size=(6, 3)).astype(np.float32)
    x[0, :3] = bounds[:3]  # values exactly on boundaries go right (digitize)
    x1 = x[:, :1]
    for inp in (x, x1):
        layer = Discretization(bin_boundaries=bounds, output_mode=mode)
        k = keras.layers.Discretization(bin_boundaries=bounds, output_mode=mode)
        out = layer(inp)
        np.testing.assert_array_equal(out, k(inp))
        assert out.dtype == (jnp.int32 if mode == "int" else jnp.float32)
        assert layer.compute_output_shape(inp.shape) == tuple(k(inp).shape)
    np.testing.assert_array_equal(Discretization(bounds)(x), np.digitize(x, bounds))


def test_discretization_adapted_config_round_trip_and_immutability():
    data = np.linspace(0, 1, 101, dtype=np.float32)
    unadapted = Discretization(num_bins=4)
    layer = unadapted.adapt(data)
    assert unadapted.bin_boundaries is None and len(layer.bin_boundaries) == 3
    restored = roundtrip(layer)
    assert restored.bin_boundaries == layer.bin_boundaries
    np.testing.assert_array_equal(restored(data), layer(data))
    keras_config = keras.layers.Discretization(num_bins=4).get_config()
    assert set(keras_config) - {"dtype"} <= set(layer.get_config())
    model = fk.Sequential([fk.Input((1,)), layer], seed=0)
    np.testing.assert_array_equal(model(data[:, None]), layer(data[:, None]))


def test_discretization_errors():
    with pytest.raises(ValueError, match=r"Discretization.*Received: num_bins=None"):
        Discretization()
    with pytest.raises(ValueError, match=r"not both.*Received: num_bins=3"):
        Discretization([0.0], num_bins=3)
    with pytest.raises(ValueError, match=r"sorted.*Received: bin_boundaries=\[1.0, 0.0\]"):
        Discretization([1.0, 0.0])
    with pytest.raises(ValueError, match=r"Received: output_mode='tf_idf'"):
        Discretization([0.0], output_mode="tf_idf")
    with pytest.raises(ValueError, match=r"adapt.*Received: bin_boundaries=\[0.0\]"):
        Discretization([0.0]).adapt(np.ones(3))
    with pytest.raises(ValueError, match=r"no bucket boundaries.*Received: bin_boundaries=None"):
        Discretization(num_bins=3)(np.ones(3))


# ------------------------------------------------------------------------------- Hashing
def test_hashing_properties():
    x = np.arange(-2000, 2000, dtype=np.int32)
    layer = Hashing(8)
    bins = np.asarray(layer(x))
    assert bins.dtype == np.int32 and bins.min() >= 0 and bins.max() < 8
    # Deterministic: a new layer, jit and a shuffled order give the same bins per value.
    np.testing.assert_array_equal(Hashing(8)(x), bins)
    np.testing.assert_array_equal(jax.jit(lambda m, x: m(x))(layer, x), bins)
    perm = np.random.default_rng(6).permutation(x.size)
    np.testing.assert_array_equal(layer(x[perm]), bins[perm])
    # Roughly uniform: each bin within 20% of its expected 500 values.
    counts = np.bincount(bins, minlength=8)
    assert np.all(np.abs(counts - 500) < 100), counts
    # Salt changes the mapping; an int salt is the pair (s, s).
    salted = np.asarray(Hashing(8, salt=7)(x))
    assert np.mean(salted != bins) > 0.7
    np.testing.assert_array_equal(Hashing(8, salt=(7, 7))(x), salted)
    assert np.mean(np.asarray(Hashing(8, salt=8)(x)) != salted) > 0.7
    # Floats truncate to integers, as Keras casts them to int64.
    np.testing.assert_array_equal(layer(x.astype(np.float32) + 0.25), layer(x + (x < 0)))


def test_hashing_mask_value_and_encodings():
    x = np.array([[0, 5, 0, 9, 12]], dtype=np.int32)
    out = np.asarray(Hashing(5, mask_value=0)(x))
    assert out[0, 0] == out[0, 2] == 0 and np.all(
        (out[0, [1, 3, 4]] >= 1) & (out < 5)[0, [1, 3, 4]]
    )
    # Unmasked values: one plus their bin among num_bins - 1 (Keras' rule).
    plain = np.asarray(Hashing(4)(x))
    np.testing.assert_array_equal(out[0, [1, 3, 4]], plain[0, [1, 3, 4]] + 1)
    # Encoded modes are CategoryEncoding of the int bins.
    for mode in ("one_hot", "multi_hot", "count"):
        np.testing.assert_array_equal(
            Hashing(5, output_mode=mode)(x), CategoryEncoding(5, mode)(Hashing(5)(x))
        )
    restored = roundtrip(Hashing(5, mask_value=0, salt=3, output_mode="count"))
    assert restored.salt == (3, 3)


def test_hashing_errors():
    with pytest.raises(ValueError, match=r"Hashing.*num_bins.*Received: num_bins=0"):
        Hashing(0)
    with pytest.raises(ValueError, match=r"salt.*Received: salt='a'"):
        Hashing(3, salt="a")
    with pytest.raises(ValueError, match=r"integers only.*Received: mask_value=''"):
        Hashing(3, mask_value="")
    with pytest.raises(ValueError, match=r"Received: sparse=True"):
        Hashing(3, output_mode="one_hot", sparse=True)


# ------------------------------------------------------------------------- IntegerLookup
def np_lookup(x, vocab, num_oov=1, mask=None, mode="int"):
    """Keras' IntegerLookup rules restated in NumPy (index_lookup.py)."""
    oov_start = 1 if mask is not None and mode == "int" else 0
    start = oov_start + num_oov
    table = {t: start + i for i, t in enumerate(vocab)}
    out = np.empty(x.shape, np.int64)
    for idx, v in np.ndenumerate(x):
        if mask is not None and v == mask:
            out[idx] = 0 if mode == "int" else -1
        elif v in table:
            out[idx] = table[v]
        else:
            out[idx] = oov_start + (v % num_oov if num_oov > 1 else 0)
    if mode == "int":
        return out
    depth = start + len(vocab)
    hot = (out[..., None] == np.arange(depth)).astype(np.float32)
    return hot.max(axis=-2) if mode == "multi_hot" else hot.sum(axis=-2)


@pytest.mark.parametrize("mode", ["int", "multi_hot", "count"])
@pytest.mark.parametrize("num_oov, mask", [(1, None), (3, None), (2, 0)])
def test_integer_lookup_matches_keras_rules(mode, num_oov, mask):
    vocab = [12, 3, 7, 42, -5]
    x = ints((6, 4), 15, seed=7, low=-6)
    x[0, :3] = [12, -5, 0]
    layer = IntegerLookup(
        vocabulary=vocab, num_oov_indices=num_oov, mask_token=mask, output_mode=mode
    )
    out = np.asarray(layer(x))
    np.testing.assert_array_equal(out, np_lookup(x, vocab, num_oov, mask, mode))
    assert out.dtype == (np.int32 if mode == "int" else np.float32)
    np.testing.assert_array_equal(jax.jit(lambda m, x: m(x))(layer, x), out)
    special = [mask] * (mask is not None and mode == "int") + [-1] * num_oov
    assert layer.get_vocabulary() == special + vocab
    assert layer.get_vocabulary(include_special_tokens=False) == vocab
    assert layer.vocabulary_size() == len(special) + len(vocab)


def test_integer_lookup_adapt_by_frequency():
    data = np.array([[7, 7, 7, 3], [3, 9, 9, 5], [0, 0, 0, 0], [-1, -1, -1, 11]])
    unadapted = IntegerLookup(mask_token=0)
    layer = unadapted.adapt(data)
    assert unadapted.vocabulary is None
    # Keras: np.lexsort((tokens, counts))[::-1]: by count, ties by larger token; without the
    # mask and OOV tokens.
    tokens, counts = np.unique(data[(data != 0) & (data != -1)], return_counts=True)
    expected = tokens[np.lexsort((tokens, counts))[::-1]].tolist()
    assert expected == [7, 9, 3, 11, 5]
    assert layer.get_vocabulary() == [0, -1, *expected]
    # max_tokens keeps the most frequent; batches accumulate counts.
    capped = IntegerLookup(max_tokens=4).adapt([data[:2], data[2:]])
    assert capped.get_vocabulary() == [-1, 0, 7, 9]
    np.testing.assert_array_equal(capped(np.array([7, 9, 3])), [2, 3, 0])
    # Config round trip keeps the vocabulary; weights are the int32 vocabulary (state).
    restored = roundtrip(layer)
    assert restored.get_vocabulary() == layer.get_vocabulary()
    np.testing.assert_array_equal(restored(data), layer(data))
    assert [w.dtype for w in layer.get_weights()] == [np.int32]
    assert jax.tree_util.tree_leaves(fk.partition(layer).params) == []
    # A vocabulary from get_vocabulary() (special tokens first) builds the same layer.
    again = IntegerLookup(mask_token=0, vocabulary=layer.get_vocabulary())
    assert again.get_vocabulary() == layer.get_vocabulary()


def test_integer_lookup_invert_round_trip():
    vocab = [10, 20, 30]
    fwd = IntegerLookup(vocabulary=vocab, mask_token=0, num_oov_indices=2)
    inv = IntegerLookup(vocabulary=vocab, mask_token=0, num_oov_indices=2, invert=True)
    x = np.array([[10, 30, 0, 99], [20, 20, 5, 10]])
    back = np.asarray(inv(fwd(x)))
    expected = np.where(np.isin(x, vocab) | (x == 0), x, -1)  # OOV tokens come back as -1
    np.testing.assert_array_equal(back, expected)
    np.testing.assert_array_equal(
        inv(np.array([0, 1, 2, 3, 5, 6, 100])), [0, -1, -1, 10, 30, -1, -1]
    )


def test_integer_lookup_no_oov_and_padding():
    layer = IntegerLookup(vocabulary=[4, 5], num_oov_indices=0)
    np.testing.assert_array_equal(layer(np.array([5, 4])), [1, 0])
    with pytest.raises(
        ValueError, match=r"num_oov_indices=0.*Received: out-of-vocabulary tokens \[6\]"
    ):
        layer(np.array([4, 6]))
    np.testing.assert_array_equal(jax.jit(lambda m, x: m(x))(layer, np.array([4, 6])), [0, -1])
    padded = IntegerLookup(
        max_tokens=6, vocabulary=[4, 5], output_mode="multi_hot", pad_to_max_tokens=True
    )
    np.testing.assert_array_equal(padded(np.array([[4, 8]])), [[1, 1, 0, 0, 0, 0]])


def test_integer_lookup_errors():
    with pytest.raises(ValueError, match=r"IntegerLookup.*Received: max_tokens=1"):
        IntegerLookup(max_tokens=1)
    with pytest.raises(ValueError, match=r"Received: num_oov_indices=-1"):
        IntegerLookup(num_oov_indices=-1)
    with pytest.raises(ValueError, match=r"invert.*Received: output_mode='multi_hot'"):
        IntegerLookup(invert=True, output_mode="multi_hot")
    with pytest.raises(ValueError, match=r"Received: vocabulary_dtype='string'"):
        IntegerLookup(vocabulary_dtype="string")
    with pytest.raises(ValueError, match=r"distinct.*Received: repeated tokens \[3\]"):
        IntegerLookup(vocabulary=[3, 1, 3])
    with pytest.raises(
        ValueError, match=r"mask token.*Received: mask_token=0 at vocabulary index 1"
    ):
        IntegerLookup(vocabulary=[3, 0], mask_token=0)
    with pytest.raises(ValueError, match=r"larger than max_tokens.*Received: max_tokens=3"):
        IntegerLookup(vocabulary=[1, 2, 3], max_tokens=3)
    with pytest.raises(ValueError, match=r"no vocabulary.*Received: vocabulary=None"):
        IntegerLookup()(np.array([1]))
    with pytest.raises(ValueError, match=r"Received: output_mode='tf_idf'"):
        IntegerLookup(output_mode="tf_idf")


# ---------------------------------------------------------------------------- RandomCrop
def test_random_crop_transform_matches_keras_for_the_same_corner():
    x = np.random.default_rng(8).random((3, 6, 7, 2)).astype(np.float32)
    layer = RandomCrop(3, 4)
    k = keras.layers.RandomCrop(3, 4)
    for top, left in [(0, 0), (2, 1), (3, 3)]:
        t = {"top": jnp.full((3,), top), "left": jnp.full((3,), left)}
        ref = k.transform_images(x, (top, left), training=True)
        np.testing.assert_array_equal(layer.transform_images(x, t), ref)
        np.testing.assert_array_equal(layer.transform_images(x[0], t), ref[0])


def test_random_crop_training_draws_windows_per_image():
    x = np.arange(4 * 6 * 7, dtype=np.float32).reshape(4, 6, 7, 1)
    layer = RandomCrop(3, 4, seed=5)
    key = jax.random.key(0)
    y = layer(x, training=True, key=key)
    t = layer.get_random_transformation(x, key=key)
    for i in range(4):  # each output is the input window at the drawn corner
        top, left = int(t["top"][i]), int(t["left"][i])
        assert 0 <= top <= 3 and 0 <= left <= 3
        np.testing.assert_array_equal(y[i], x[i, top : top + 3, left : left + 4])
    np.testing.assert_array_equal(layer(x, training=True, key=key), y)  # same key, same crop
    corners = {
        tuple(
            tuple(np.asarray(v).tolist())
            for v in layer.get_random_transformation(x, key=jax.random.key(s)).values()
        )
        for s in range(5)
    }
    assert len(corners) > 1
    # Every corner is drawn: over many images all 4 x 4 positions occur.
    big = layer.get_random_transformation(np.zeros((400, 6, 7, 1)), key=key)
    assert len(set(zip(np.asarray(big["top"]).tolist(), np.asarray(big["left"]).tolist()))) == 16
    with pytest.raises(ValueError, match=r"RandomCrop.*PRNG key.*Received: key=None"):
        layer(x, training=True)


def test_random_crop_inference_is_center_crop_and_config():
    x = np.random.default_rng(9).random((2, 6, 9, 3)).astype(np.float32)
    for h, w in [(4, 5), (8, 8), (6, 9)]:
        out = RandomCrop(h, w)(x)
        ref = fk.layers.Resizing(h, w, crop_to_aspect_ratio=True)(x)
        np.testing.assert_allclose(out, ref, rtol=1e-6)
        assert out.shape == (2, h, w, 3)
    # Keras' training path for images not larger on both sides: the same window and resize.
    for h, w in [(8, 8), (6, 4), (7, 9), (3, 9)]:
        k = keras.layers.RandomCrop(h, w)
        out = RandomCrop(h, w)(x, training=True, key=jax.random.key(0))
        np.testing.assert_allclose(out, k(x, training=True), atol=1e-5)
    layer = roundtrip(RandomCrop(3, 4, seed=2))
    keras_config = keras.layers.RandomCrop(3, 4, seed=2).get_config()
    for name in ("height", "width", "seed", "data_format"):
        assert layer.get_config()[name] == keras_config[name]


def test_random_crop_errors():
    with pytest.raises(ValueError, match=r"RandomCrop.*Received: height=0"):
        RandomCrop(0, 3)
    with pytest.raises(ValueError, match=r"Received: data_format='channels_first'"):
        RandomCrop(2, 2, data_format="channels_first")
    with pytest.raises(ValueError, match=r"RandomCrop.*rank 3.*Received: x.shape=\(4, 4\)"):
        RandomCrop(2, 2)(np.ones((4, 4)))
