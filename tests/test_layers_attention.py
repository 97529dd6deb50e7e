"""Attention layers: MultiHeadAttention, GroupedQueryAttention, Attention, AdditiveAttention.

Each is checked through the shared harness, against Keras 3 (same weights, rtol 1e-4) and
against an independent NumPy computation written here.
"""

import os

import jax
import numpy as np
import pytest
from layer_harness import run_layer_test

import fkeras as fk
from fkeras.core.collect import collect_losses
from fkeras.layers.attention import (
    AdditiveAttention,
    Attention,
    GroupedQueryAttention,
    GroupQueryAttention,
    MultiHeadAttention,
)

os.environ["KERAS_BACKEND"] = "jax"
keras = pytest.importorskip("keras")

RTOL, ATOL = 1e-4, 1e-5
F32 = np.float32

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
    ),
    # Keras warns about its own EinsumDense sub-layers dropping masks; not about fkeras.
    pytest.mark.filterwarnings("ignore:Layer '.*' \\(of type EinsumDense\\):UserWarning"),
]


@pytest.fixture(autouse=True)
def _full_precision_matmul():
    with jax.default_matmul_precision("highest"):
        yield


def normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(F32)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), RTOL, ATOL)


def keras_run(keras_layer, inputs, **call):
    """A Keras call, compiled as one program (Keras' eager calls compile op by op: slow)."""
    return jax.jit(lambda xs: keras_layer(*xs, **call))(list(inputs))


def keras_pair(keras_layer, fk_layer, inputs, **call):
    """Build both layers for `inputs`, copy Keras' weights into fkeras; Keras' output."""
    keras_layer.build(*[x.shape for x in inputs])
    shapes = [(None, *x.shape[1:]) for x in inputs]
    built = fk_layer.build(shapes, jax.random.key(0)).set_weights(keras_layer.get_weights())
    assert built.count_params() == keras_layer.count_params()
    return built, keras_run(keras_layer, inputs, **call)


# ------------------------------------------------------------------------------ harness
@pytest.mark.parametrize(
    "layer, shapes, out_shape, n_params",
    [
        (
            MultiHeadAttention(
                2, 3, value_dim=4, output_shape=5, use_bias=False, dropout=0.5, seed=3
            ),
            [(None, 4, 8), (None, 6, 6), (None, 6, 7)],
            (None, 4, 5),
            8 * 6 + 7 * 6 + 6 * 8 + 8 * 5,
        ),
        (
            GroupedQueryAttention(3, 4, 2),
            [(None, 4, 8), (None, 6, 8)],
            (None, 4, 8),
            (8 * 12 + 12) + 2 * (8 * 6 + 6) + 12 * 8 + 8,
        ),
        (
            Attention(use_scale=True, score_mode="concat"),
            [(None, 4, 8), (None, 6, 5), (None, 6, 8)],
            (None, 4, 5),
            2,
        ),
        (AdditiveAttention(), [(None, 4, 8), (None, 6, 8)], (None, 4, 8), 8),
    ],
    ids=["mha", "gqa", "attention", "additive"],
)
def test_harness(layer, shapes, out_shape, n_params):
    run_layer_test(layer, shapes, out_shape, expected_num_params=n_params, training_key=True)


# ------------------------------------------------------------------ MultiHeadAttention parity
Q, V, K = normal((2, 4, 8), 1), normal((2, 6, 8), 2), normal((2, 6, 8), 3)
V6 = normal((2, 6, 6), 4)
MASK = np.random.default_rng(4).random((2, 4, 6)) > 0.3
MASK[0, 1] = False  # a query row with nothing to attend to
VALUE_MASK = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], bool)


def _compare(outputs, expected, scores: bool):
    if scores:
        close(outputs[0], expected[0])
        close(outputs[1], expected[1])
    else:
        close(outputs, expected)


@pytest.mark.parametrize("cls", ["MultiHeadAttention", "GroupQueryAttention"])
def test_call_options_match_keras(cls):
    """One layer pair, called with Keras' call options: self- and cross-attention (different
    lengths), a key tensor, attention_mask (with a fully masked query row), causal masks,
    returned scores, value masks."""
    args = (2, 3) if cls == "MultiHeadAttention" else (3, 4, 2)
    keras_layer = getattr(keras.layers, cls)(*args)
    fk_layer = {
        "MultiHeadAttention": MultiHeadAttention,
        "GroupQueryAttention": GroupQueryAttention,
    }[cls](*args)
    built, _ = keras_pair(keras_layer, fk_layer, (Q, V))
    cases = [
        ((Q, Q), {"use_causal_mask": True}),
        ((Q, V), {}),
        ((Q, V, K), {"attention_mask": MASK, "return_attention_scores": True}),
        ((Q, V), {"use_causal_mask": True, "return_attention_scores": True}),
        ((Q, V), {"use_causal_mask": True, "attention_mask": MASK, "value_mask": VALUE_MASK}),
    ]
    expected = [keras_run(keras_layer, inputs, **call) for inputs, call in cases]
    for (inputs, call), keras_out in zip(cases, expected):
        _compare(built(*inputs, **call), keras_out, call.get("return_attention_scores", False))
    # the packed form and apply (containers' protocol) give the same results
    packed = built([Q, V], mask=[None, VALUE_MASK], use_causal_mask=True, attention_mask=MASK)
    close(packed, expected[4])
    applied, _ = built.apply([Q, V, K], attention_mask=MASK, return_attention_scores=True)
    _compare(applied, expected[2], True)
    call = {"attention_mask": MASK, "return_attention_scores": True}
    _compare(jax.jit(lambda m, xs: m(*xs, **call))(built, (Q, V, K)), expected[2], True)


@pytest.mark.parametrize(
    "config, inputs, call",
    [
        # Keras' fused path fails when value_dim != key_dim: compare on its explicit path
        ({"value_dim": 5, "output_shape": (2, 3)}, (Q, V6), {"return_attention_scores": True}),
        ({"use_bias": False, "output_shape": 4, "use_gate": True}, (Q, V6), {}),
        ({"dropout": 0.3, "sliding_window": 2}, (Q, Q), {"use_causal_mask": True}),
        (
            {"attention_axes": (1, 2)},
            (normal((2, 3, 4, 5)),) * 2,
            {"return_attention_scores": True},
        ),
        ({"attention_axes": -2}, (normal((2, 3, 4, 5)), normal((2, 3, 2, 5))), {}),
    ],
    ids=["value-dim-output-shape", "no-bias-gate", "dropout-sliding", "2d", "axis-2"],
)
def test_multi_head_attention_configs_match_keras(config, inputs, call):
    config = {"num_heads": 2, "key_dim": 3, **config}
    built, expected = keras_pair(
        keras.layers.MultiHeadAttention(**config), MultiHeadAttention(**config), inputs, **call
    )
    _compare(built(*inputs, **call), expected, call.get("return_attention_scores", False))


def numpy_mha(q, v, weights, num_heads, key_dim, mask=None):
    """Scaled dot-product multi-head attention, one head and one example at a time."""
    wq, bq, wk, bk, wv, bv, wo, bo = [np.asarray(w, np.float64) for w in weights]
    q, v = np.asarray(q, np.float64), np.asarray(v, np.float64)
    out = np.zeros((q.shape[0], q.shape[1], wo.shape[-1]))
    scores = np.zeros((q.shape[0], num_heads, q.shape[1], v.shape[1]))
    for b in range(q.shape[0]):
        for h in range(num_heads):
            qh = q[b] @ wq[:, h] + bq[h]  # (T, key_dim)
            kh = v[b] @ wk[:, h] + bk[h]
            vh = v[b] @ wv[:, h] + bv[h]
            logits = qh @ kh.T / np.sqrt(key_dim)
            if mask is not None:
                logits = np.where(mask[b], logits, -np.inf)
            p = np.exp(logits - logits.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            scores[b, h] = p
            out[b] += (p @ vh) @ wo[h]
    return out + bo, scores


def test_multi_head_attention_matches_numpy():
    mha = MultiHeadAttention(3, 4, name="mha").build(
        [(None, 4, 8), (None, 6, 8)], jax.random.key(1)
    )
    mask = MASK.copy()
    mask[0, 1, 0] = True  # every query attends to something
    out, scores = mha(Q, V, attention_mask=mask, return_attention_scores=True)
    ref_out, ref_scores = numpy_mha(Q, V, mha.get_weights(), 3, 4, mask)
    close(out, ref_out)
    close(scores, ref_scores)


def test_multi_head_attention_regularizers_match_keras():
    config = {
        "num_heads": 2,
        "key_dim": 3,
        "kernel_regularizer": "l2",
        "bias_regularizer": "l1",
        "activity_regularizer": "l2",
        "bias_initializer": "ones",
    }
    k = keras.layers.MultiHeadAttention(**config)
    built, _ = keras_pair(k, MultiHeadAttention(**config), (Q, V))
    k(Q, V)  # eagerly, so that k.losses holds this call's values
    with collect_losses() as activity:
        built.apply_masked([Q, V])
    assert len(activity) == 4  # query, key, value and output projections, as Keras
    keras_total = sum(float(x) for x in k.losses)
    close(float(built.weight_regularization()) + float(sum(activity)), keras_total)


def test_grouped_query_attention_activity_regularizer_matches_keras():
    k = keras.layers.GroupQueryAttention(3, 4, 2, activity_regularizer="l2")
    built, _ = keras_pair(k, GroupedQueryAttention(3, 4, 2, activity_regularizer="l2"), (Q, Q))
    k(Q, Q)
    with collect_losses() as activity:
        built.apply_masked([Q, Q])
    close(float(sum(activity)), sum(float(x) for x in k.losses))  # projections + layer output


# --------------------------------------------------------------- GroupedQueryAttention parity
QG, VG = normal((2, 4, 8), 5), normal((2, 6, 8), 6)


@pytest.mark.parametrize(
    "config, inputs, call",
    [
        ({"num_key_value_heads": 1, "use_bias": False}, (QG, VG, normal((2, 6, 5))), {}),
        (
            {"use_gate": True, "sliding_window": 3, "dropout": 0.2},
            (QG, QG),
            {"use_causal_mask": True},
        ),
    ],
    ids=["multi-query", "gate-sliding-dropout"],
)
def test_grouped_query_attention_configs_match_keras(config, inputs, call):
    config = {"head_dim": 3, "num_query_heads": 4, "num_key_value_heads": 2, **config}
    built, expected = keras_pair(
        keras.layers.GroupQueryAttention(**config), GroupedQueryAttention(**config), inputs, **call
    )
    close(built(*inputs, **call), expected)


def test_grouped_query_attention_matches_numpy():
    gqa = GroupQueryAttention(2, 4, 2).build([(None, 4, 8), (None, 6, 8)], jax.random.key(2))
    wq, bq, wk, bk, wv, bv, wo, bo = [np.asarray(w, np.float64) for w in gqa.get_weights()]
    expected = np.zeros((2, 4, 8))
    for b in range(2):
        for h in range(4):
            g = h // 2  # query heads 0, 1 share key/value head 0; 2, 3 share head 1
            logits = (QG[b] @ wq[:, h] + bq[h]) @ (VG[b] @ wk[:, g] + bk[g]).T / np.sqrt(2)
            p = np.exp(logits - logits.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            expected[b] += (p @ (VG[b] @ wv[:, g] + bv[g])) @ wo[h]
    close(gqa(QG, VG), expected + bo)


# ------------------------------------------------------------ Attention / AdditiveAttention
QA, VA, KA = normal((2, 4, 5), 7), normal((2, 6, 3), 8), normal((2, 6, 5), 9)
Q_MASK = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], bool)
V_MASK = np.array([[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0]], bool)


@pytest.mark.parametrize(
    "make, call",
    [
        (lambda m: m.Attention(), {}),
        (lambda m: m.Attention(use_scale=True), {"mask": [Q_MASK, V_MASK]}),
        (lambda m: m.Attention(score_mode="concat"), {"return_attention_scores": True}),
        (
            lambda m: m.Attention(use_scale=True, score_mode="concat"),
            {"use_causal_mask": True, "mask": [None, V_MASK]},
        ),
        (
            lambda m: m.AdditiveAttention(),
            {"mask": [Q_MASK, V_MASK], "return_attention_scores": True},
        ),
        (lambda m: m.AdditiveAttention(use_scale=False), {"use_causal_mask": True}),
    ],
)
def test_attention_layers_match_keras(make, call):
    keras_layer = make(keras.layers)
    inputs = [QA, VA, KA]
    keras_layer.build([x.shape for x in inputs])
    expected = jax.jit(lambda xs: keras_layer(xs, **call))(inputs)
    fk_layer = make(fk.layers.attention).build([(None, *x.shape[1:]) for x in inputs])
    fk_layer = fk_layer.set_weights(keras_layer.get_weights())
    assert fk_layer.count_params() == keras_layer.count_params()
    assert [w.shape for w in fk_layer.get_weights()] == [w.shape for w in keras_layer.get_weights()]
    outputs = fk_layer(inputs, **call)
    for a, b in zip(jax.tree_util.tree_leaves(outputs), jax.tree_util.tree_leaves(expected)):
        close(a, b)


def test_attention_layers_match_numpy():
    dot = Attention(use_scale=True).build([(None, 4, 5), (None, 6, 3), (None, 6, 5)])
    dot = dot.set_weights([np.asarray(0.7, F32)])
    additive = AdditiveAttention().build(
        [(None, 4, 5), (None, 6, 3), (None, 6, 5)], jax.random.key(3)
    )
    scale = np.asarray(additive.scale, np.float64)
    for layer, score in [
        (dot, lambda q, k: 0.7 * q @ k.T),
        (additive, lambda q, k: (scale * np.tanh(q[:, None] + k[None])).sum(-1)),
    ]:
        expected = np.zeros((2, 4, 3))
        for b in range(2):
            logits = score(QA[b].astype(np.float64), KA[b].astype(np.float64))
            logits = np.where(V_MASK[b], logits, -np.inf)
            p = np.exp(logits - logits.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            expected[b] = (p @ VA[b]) * Q_MASK[b][:, None]
        close(layer([QA, VA, KA], mask=[Q_MASK, V_MASK]), expected)


def test_attention_output_mask_is_the_query_mask():
    layer = Attention().build([(None, 4, 5), (None, 6, 5)])
    np.testing.assert_array_equal(layer.compute_mask([QA, KA], [Q_MASK, V_MASK]), Q_MASK)
    assert layer.compute_mask([QA, KA], None) is None


# ---------------------------------------------------------------------- functional models
def test_masks_from_embedding_in_a_functional_model_match_keras():
    """Embedding(mask_zero=True) feeds all four layers in one model: the padding mask reaches
    each as Keras' query/value masks, outputs carry the query mask, weights line up."""
    from fkeras.layers.embedding import Embedding

    def model(L, Emb, Input, Model, gqa):
        ids = Input((5,), dtype="int32")
        x = Emb(10, 6, mask_zero=True)(ids)
        outputs = [
            L.MultiHeadAttention(2, 3)(x, x),
            gqa(3, 2, 1)(x, x),
            L.Attention(use_scale=True)([x, x]),
            L.AdditiveAttention()([x, x]),
        ]
        return Model(ids, outputs)

    keras_model = model(
        keras.layers,
        keras.layers.Embedding,
        keras.Input,
        keras.Model,
        keras.layers.GroupQueryAttention,
    )
    fk_model = model(fk.layers.attention, Embedding, fk.Input, fk.Model, GroupedQueryAttention)
    fk_model = fk_model.set_weights(keras_model.get_weights())
    ids = np.array([[3, 5, 2, 0, 0], [4, 1, 7, 7, 0]], np.int32)
    outputs, masks, _ = fk_model.apply_masked(ids)
    for out, mask, expected in zip(outputs, masks, jax.jit(keras_model)(ids)):
        close(out, expected)
        np.testing.assert_array_equal(mask, ids != 0)


def test_masking_layer_and_symbolic_call_forms_in_functional_models():
    q_in, v_in = fk.Input((4, 8)), fk.Input((6, 8))
    mha = MultiHeadAttention(2, 3)
    forms = {
        "positional": lambda q, v: mha(q, v),
        "list": lambda q, v: mha([q, v]),
        "keyword": lambda q, v: mha(query=q, value=v),
    }
    x = [Q, V * (np.arange(6) < 4)[None, :, None]]  # value steps 4, 5 are padding
    value_mask = np.arange(6)[None].repeat(2, 0) < 4
    for form in forms.values():
        model = fk.Model([q_in, v_in], form(q_in, fk.layers.Masking()(v_in)), seed=0)
        assert len(model.graph.nodes) == 2  # Masking, then one attention node on both inputs
        close(model(x), model.layers[-1](x[0], x[1], value_mask=value_mask))


def test_attention_mask_and_key_tensors_in_functional_models_match_keras():
    def build(L, Input, Model):
        q, v, k = Input((4, 8)), Input((6, 8)), Input((6, 5))
        m = Input((4, 6), dtype="bool")
        return Model([q, v, k, m], L.MultiHeadAttention(2, 3)(q, v, k, attention_mask=m))

    keras_model = build(keras.layers, keras.Input, keras.Model)
    fk_model = build(fk.layers.attention, fk.Input, fk.Model).set_weights(keras_model.get_weights())
    K5 = normal((2, 6, 5), 9)
    expected = jax.jit(keras_model)([Q, V, K5, MASK])
    close(fk_model([Q, V, K5, MASK]), expected)
    config = fk_model.get_config()
    restored = fk.Model.from_config(config).set_weights(fk_model.get_weights())
    close(restored([Q, V, K5, MASK]), expected)


def test_call_options_in_a_graph_match_eager_calls():
    x = fk.Input((4, 8))
    model = fk.Model(x, MultiHeadAttention(2, 3)(x, x, use_causal_mask=True), seed=0)
    close(model(Q), model.layers[1](Q, Q, use_causal_mask=True))
    assert not np.allclose(model(Q), model.layers[1](Q, Q))
    attention = fk.Model(x, Attention()([x, x], use_causal_mask=True))
    close(attention(Q), attention.layers[1]([Q, Q], use_causal_mask=True))
    with pytest.raises(TypeError, match="MultiHeadAttention.*training"):
        MultiHeadAttention(2, 3)(x, x, training=True)


# ------------------------------------------------------------------- PRNG key and dropout
def test_prng_key_forms_and_dropout():
    mha = MultiHeadAttention(2, 3, dropout=0.5).build([(None, 4, 8), (None, 6, 8)])
    k = jax.random.key(7)
    a = mha(Q, V, training=True, dropout_key=k)
    close(a, mha([Q, V], training=True, key=k))
    close(a, mha.apply([Q, V], training=True, key=k)[0])
    close(a, mha([Q, V], training=True, dropout_key=k))
    assert not np.allclose(a, mha(Q, V))  # inference: no dropout
    assert not np.allclose(a, mha(Q, V, training=True, dropout_key=jax.random.key(8)))
    close(mha(Q, V, training=True, dropout_key=k), a)  # deterministic per key
    with pytest.raises(ValueError, match="MultiHeadAttention.*PRNG key.*dropout_key="):
        mha(Q, V, training=True)
    with pytest.raises(
        TypeError, match="MultiHeadAttention.*`key` is Keras' key tensor.*dropout_key"
    ):
        mha(Q, V, key=k)
    with pytest.raises(
        TypeError, match="MultiHeadAttention.*packed form.*Received: key with shape"
    ):
        mha([Q, V], key=K)
    # in a functional model, the model's key reaches the attention dropout
    q_in, v_in = fk.Input((4, 8)), fk.Input((6, 8))
    model = fk.Model([q_in, v_in], MultiHeadAttention(2, 3, dropout=0.5)(q_in, v_in))
    y1 = model([Q, V], training=True, key=jax.random.key(1))
    y2 = model([Q, V], training=True, key=jax.random.key(2))
    assert not np.allclose(y1, y2)
    close(model([Q, V]), model([Q, V]))


def test_attention_dropout_needs_a_key():
    layer = AdditiveAttention(dropout=0.5).build([(None, 4, 5), (None, 6, 5)])
    with pytest.raises(ValueError, match="AdditiveAttention.*PRNG key"):
        layer([QA, KA], training=True)
    a = layer([QA, KA], training=True, key=jax.random.key(0))
    assert not np.allclose(a, layer([QA, KA]))


# ------------------------------------------------------------------------------ errors
def test_bad_hyperparameters():
    with pytest.raises(TypeError, match="key_dim"):
        MultiHeadAttention(2)
    with pytest.raises(
        ValueError, match="MultiHeadAttention expects `key_dim`.*Received: key_dim=None"
    ):
        MultiHeadAttention(2, None)
    with pytest.raises(ValueError, match="num_heads.*Received: num_heads=0"):
        MultiHeadAttention(0, 4)
    with pytest.raises(
        ValueError,
        match="GroupedQueryAttention.*divisible.*num_query_heads=4, num_key_value_heads=3",
    ):
        GroupedQueryAttention(2, 4, 3)
    with pytest.raises(ValueError, match="Attention.*score_mode.*Received: score_mode='cosine'"):
        Attention(score_mode="cosine")
    with pytest.raises(ValueError, match="dropout.*Received: dropout=1.5"):
        MultiHeadAttention(2, 3, dropout=1.5)


def test_bad_input_shapes():
    with pytest.raises(
        ValueError,
        match="GroupedQueryAttention.*same last dimension.*"
        "query_shape=\\(None, 4, 8\\), value_shape=\\(None, 6, 6\\)",
    ):
        GroupedQueryAttention(2, 2, 1).build([(None, 4, 8), (None, 6, 6)])
    with pytest.raises(
        ValueError,
        match="Attention 'att'.*query and key.*last dimension.*query_shape=\\(None, 4, 5\\)",
    ):
        Attention(name="att").build([(None, 4, 5), (None, 6, 3)])
    with pytest.raises(
        ValueError, match="MultiHeadAttention.*value and key.*key_shape=\\(None, 5, 5\\)"
    ):
        MultiHeadAttention(2, 3).build([(None, 4, 8), (None, 6, 6), (None, 5, 5)])
    with pytest.raises(
        ValueError, match="MultiHeadAttention.*build\\(\\[query_shape, value_shape\\]\\)"
    ):
        MultiHeadAttention(2, 3).build((None, 4, 8))
    mha = MultiHeadAttention(2, 3, name="mha").build([(None, 4, 8), (None, 6, 6)])
    with pytest.raises(
        ValueError,
        match="MultiHeadAttention 'mha' was built for .* query=8.*"
        "Received: query.shape=\\(2, 4, 6\\)",
    ):
        mha(V6[:, :4], V6)
    with pytest.raises(
        ValueError,
        match="'mha' expects an attention mask.*Received: attention_mask.shape=\\(2, 3, 6\\)",
    ):
        mha(Q, V6, attention_mask=MASK[:, :3])
    with pytest.raises(ValueError, match="'mha' expects `query` and `value`.*value=None"):
        mha(Q)
    with pytest.raises(ValueError, match="Attention must be called on a list"):
        Attention().build([(None, 4, 5), (None, 6, 5)])(QA)
    with pytest.raises(fk.NotBuiltError, match="MultiHeadAttention.*build"):
        MultiHeadAttention(2, 3)(Q, V)
