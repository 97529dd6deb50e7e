"""Embedding, SimpleRNN, LSTM, GRU, Bidirectional and TimeDistributed: the shared harness,
parity with Keras 3 (JAX backend; same weights, rtol 1e-4), independent NumPy loops for the
LSTM and GRU cell equations, masks from `Embedding(mask_zero=True)`, training, and errors."""

import os
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_harness import run_layer_test

import fkeras as fk
from fkeras.layers.core import Dense
from fkeras.layers.embedding import Embedding
from fkeras.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN, TimeDistributed

os.environ["KERAS_BACKEND"] = "jax"
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":  # pragma: no cover - keras imported earlier elsewhere
    pytest.skip("Keras parity tests need the JAX backend", allow_module_level=True)

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

RTOL, ATOL = 1e-4, 1e-5
F32 = np.float32
B, T, F, U = 3, 5, 4, 6
FK_RNN = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
# The fkeras layers under test, addressed like `keras.layers` to build both models alike.
FKL = SimpleNamespace(
    SimpleRNN=SimpleRNN,
    LSTM=LSTM,
    GRU=GRU,
    Bidirectional=Bidirectional,
    TimeDistributed=TimeDistributed,
    Dense=Dense,
)

# Post-padded, pre-padded and unpadded rows (0 is padding for mask_zero).
IDS = np.array([[3, 1, 4, 0, 0], [5, 9, 2, 6, 5], [0, 0, 7, 1, 8]], dtype=np.int32)


@pytest.fixture(autouse=True)
def _full_precision_matmul():
    with jax.default_matmul_precision("highest"):
        yield


def normal(shape, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(F32)


def random_weights(weights, seed=1):
    """Random weights of the given shapes, large enough that every gate matters."""
    return [normal(np.shape(w), seed + i, 0.5) for i, w in enumerate(weights)]


def close(a, b, rtol=RTOL, atol=ATOL):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def keras_and_fk_layer(name, input_shape, seed=1, **kwargs):
    """A Keras layer and the fkeras one with the same (random) weights."""
    k_layer = getattr(keras.layers, name)(**kwargs)
    k_layer.build(input_shape)
    weights = random_weights(k_layer.get_weights(), seed)
    k_layer.set_weights(weights)
    fk_layer = FK_RNN[name](**kwargs).build(input_shape, key=0).set_weights(weights)
    return k_layer, fk_layer


# --------------------------------------------------------------------------- harness
@pytest.mark.parametrize(
    "make, input_shape, output_shape, n_params",
    [
        (lambda: SimpleRNN(3), (None, 4, 2), (None, 3), 2 * 3 + 3 * 3 + 3),
        (lambda: GRU(3, reset_after=False, use_bias=False), (None, 4, 2), (None, 3), 45),
        (
            lambda: Bidirectional(SimpleRNN(3, return_sequences=True), merge_mode="sum"),
            (None, 4, 2),
            (None, 4, 3),
            2 * 18,
        ),
        (lambda: TimeDistributed(Dense(5)), (None, 4, 2), (None, 4, 5), 15),
        (lambda: Embedding(10, 3), (None, 4), (None, 4, 3), 30),
    ],
    ids=["simple_rnn", "gru-v1-nobias", "bidirectional", "time_distributed", "embedding"],
)
def test_harness(make, input_shape, output_shape, n_params):
    # The embedding's float inputs are cast to ids (normal draws: small, in range). Layers
    # with several outputs (return_state, merge_mode=None) are checked below instead: the
    # harness's last check puts the layer in a Sequential and expects one array.
    run_layer_test(make(), input_shape, output_shape, expected_num_params=n_params)


def test_harness_lstm_with_dropout():
    layer = LSTM(3, dropout=0.2, return_sequences=True, go_backwards=True)
    run_layer_test(layer, (None, 4, 2), (None, 4, 3), training_key=True, expected_num_params=72)


# ------------------------------------------------------------------- Keras parity
# return_sequences x go_backwards: two combinations here, the other two with masks below.
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences, go_backwards", [(True, False), (False, True)])
def test_parity(name, return_sequences, go_backwards):
    x = normal((B, T, F))
    k_layer, fk_layer = keras_and_fk_layer(
        name, (None, T, F), units=U, return_sequences=return_sequences, go_backwards=go_backwards
    )
    assert fk_layer.count_params() == k_layer.count_params()
    assert [w.shape for w in fk_layer.get_weights()] == [w.shape for w in k_layer.get_weights()]
    close(fk_layer(x), k_layer(x))


@pytest.mark.parametrize(
    "name, kwargs",
    [
        (
            "LSTM",
            {
                "unit_forget_bias": False,
                "activation": "relu",
                "recurrent_activation": "hard_sigmoid",
            },
        ),
        ("LSTM", {"use_bias": False}),
        ("GRU", {"reset_after": False}),
        ("GRU", {"use_bias": False}),
        ("SimpleRNN", {"activation": "relu", "use_bias": False}),
    ],
)
def test_parity_variants(name, kwargs):
    x = normal((B, T, F))
    k_layer, fk_layer = keras_and_fk_layer(name, (None, T, F), units=U, **kwargs)
    assert fk_layer.count_params() == k_layer.count_params()
    close(fk_layer(x), k_layer(x))


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_parity_return_state_and_initial_state(name):
    x = normal((B, T, F))
    k_layer, fk_layer = keras_and_fk_layer(
        name, (None, T, F), units=U, return_state=True, return_sequences=True
    )
    n_states = 2 if name == "LSTM" else 1
    out = fk_layer(x)
    assert isinstance(out, list) and len(out) == 1 + n_states
    close(out, list(k_layer(x)))
    states = [normal((B, U), 10 + i) for i in range(n_states)]
    out = fk_layer(x, initial_state=states)
    close(out, list(k_layer(x, initial_state=states)))
    # The final state of the sequences is the last output.
    close(out[1], out[0][:, -1])
    assert fk_layer.compute_mask(x, None) == [None] * (1 + n_states)


def _model(layers_module, embedding, rnn):
    return [layers_module.Input((T,), dtype="int32"), embedding, *rnn]


def _masked_pair(make_rnn, seed=3):
    """Keras and fkeras `Input -> Embedding(mask_zero=True) -> rnn layers`, same weights."""
    k_model = keras.Sequential(
        _model(keras, keras.layers.Embedding(10, F, mask_zero=True), make_rnn(keras.layers))
    )
    weights = random_weights(k_model.get_weights(), seed)
    k_model.set_weights(weights)
    fk_model = fk.Sequential(_model(fk, Embedding(10, F, mask_zero=True), make_rnn(FKL)), seed=0)
    return k_model, fk_model.set_weights(weights)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("return_sequences, go_backwards", [(False, False), (True, True)])
def test_parity_masked_through_embedding(name, return_sequences, go_backwards):
    """Post-padded, pre-padded and full rows; Keras applies the mask automatically."""
    k_model, fk_model = _masked_pair(
        lambda L: [
            getattr(L, name)(U, return_sequences=return_sequences, go_backwards=go_backwards)
        ]
    )
    close(fk_model(IDS), k_model(IDS))
    _, mask, _ = fk_model.apply_masked(jnp.asarray(IDS))
    if return_sequences:
        np.testing.assert_array_equal(mask, IDS != 0)
    else:
        assert mask is None


@pytest.mark.parametrize(
    "merge_mode, return_sequences",
    [("concat", True), ("sum", False), ("mul", True), ("ave", False), (None, True), (None, False)],
)
def test_parity_bidirectional(merge_mode, return_sequences):
    x = normal((B, T, F))
    k_layer = keras.layers.Bidirectional(
        keras.layers.LSTM(U, return_sequences=return_sequences), merge_mode=merge_mode
    )
    k_layer.build((None, T, F))
    weights = random_weights(k_layer.get_weights())
    k_layer.set_weights(weights)
    fk_layer = Bidirectional(LSTM(U, return_sequences=return_sequences), merge_mode=merge_mode)
    fk_layer = fk_layer.build((None, T, F), key=0).set_weights(weights)
    assert fk_layer.count_params() == k_layer.count_params()
    assert fk_layer.forward_layer.name == "forward_lstm"
    assert fk_layer.backward_layer.name == "backward_lstm"
    assert fk_layer.backward_layer.go_backwards
    close(fk_layer(x), list(k_layer(x)) if merge_mode is None else k_layer(x))


@pytest.mark.parametrize(
    "make",
    [
        lambda L: [L.Bidirectional(L.LSTM(U, return_sequences=True), merge_mode="concat")],
        lambda L: [L.Bidirectional(L.GRU(U), merge_mode="sum")],
        lambda L: [L.Bidirectional(L.SimpleRNN(U, return_sequences=True), merge_mode="mul")],
        lambda L: [L.Bidirectional(L.GRU(U, return_sequences=True, unroll=True))],
        lambda L: [L.GRU(U, return_sequences=True), L.LSTM(U)],
        lambda L: [L.LSTM(U, return_sequences=True), L.TimeDistributed(L.Dense(2))],
    ],
    ids=["bi-lstm-seq", "bi-gru-last", "bi-rnn-mul", "bi-unroll", "stacked", "td"],
)
def test_parity_masked_models(make):
    k_model, fk_model = _masked_pair(make)
    close(fk_model(IDS), k_model(IDS))


def test_parity_bidirectional_return_state_and_initial_state():
    x = normal((B, T, F))
    k_layer = keras.layers.Bidirectional(keras.layers.GRU(U, return_state=True))
    k_layer.build((None, T, F))
    weights = random_weights(k_layer.get_weights())
    k_layer.set_weights(weights)
    fk_layer = Bidirectional(GRU(U, return_state=True)).build((None, T, F), key=0)
    fk_layer = fk_layer.set_weights(weights)
    out = fk_layer(x)
    assert len(out) == 3 and out[0].shape == (B, 2 * U)
    close(out, list(k_layer(x)))
    states = [normal((B, U), 20), normal((B, U), 21)]
    close(fk_layer(x, initial_state=states), list(k_layer(x, initial_state=states)))


def test_parity_time_distributed_dense():
    x = normal((B, T, F))
    k_layer = keras.layers.TimeDistributed(keras.layers.Dense(3, activation="tanh"))
    k_layer.build((None, T, F))
    weights = random_weights(k_layer.get_weights())
    k_layer.set_weights(weights)
    fk_layer = TimeDistributed(Dense(3, activation="tanh")).build((None, T, F), key=0)
    fk_layer = fk_layer.set_weights(weights)
    assert fk_layer.count_params() == k_layer.count_params() == 15
    close(fk_layer(x), k_layer(x))
    # Independent: Dense on each timestep.
    kernel, bias = weights
    close(fk_layer(x), np.tanh(x.astype(np.float64) @ kernel + bias))
    mask = jnp.asarray(IDS != 0)
    np.testing.assert_array_equal(fk_layer.compute_mask(x, mask), mask)


def test_time_distributed_returns_the_updated_inner_layer():
    from fkeras.layers.normalization import BatchNormalization

    layer = TimeDistributed(BatchNormalization()).build((None, T, F), key=0)
    x = normal((B, T, F), scale=2.0) + 1.0
    y, updated = layer.apply(x, training=True)
    assert y.shape == x.shape
    # Statistics over batch and time together (timesteps are folded into the batch).
    expected = 0.99 * 0 + 0.01 * x.reshape(-1, F).mean(axis=0)
    close(updated.layer.moving_mean, expected)
    assert [w.shape for w in updated.weights] == [(F,)] * 4


def test_embedding_parity_and_ids():
    k_layer = keras.layers.Embedding(6, 3)
    k_layer.build()
    fk_layer = Embedding(6, 3).build((None, 4), key=0).set_weights(k_layer.get_weights())
    assert fk_layer.count_params() == k_layer.count_params() == 18
    table = np.asarray(k_layer.get_weights()[0])
    ids = np.array([[0, 5, 2, 1], [3, 3, 4, 0]], dtype=np.int32)
    close(fk_layer(ids), table[ids])
    close(fk_layer(ids), k_layer(ids))
    # Float ids are cast (truncated) as in Keras.
    floats = np.array([[0.7, 1.9, 4.2, 5.0]], dtype=F32)
    close(fk_layer(floats), table[[[0, 1, 4, 5]]])
    close(fk_layer(floats), k_layer(floats))
    # Out of range: negative ids count from the end, others give NaN rows (jnp.take, Keras JAX).
    odd = np.array([[-1, 6, -7, 2]], dtype=np.int32)
    got, expected = np.asarray(fk_layer(odd)), np.asarray(k_layer(odd))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[0, 0], table[-1])
    assert np.isnan(got[0, 1]).all() and np.isnan(got[0, 2]).all()


def test_embedding_mask_and_initializer():
    layer = Embedding(10, 4, mask_zero=True).build((None, 5), key=0)
    np.testing.assert_array_equal(layer.compute_mask(IDS), IDS != 0)
    assert Embedding(10, 4).build((None, 5), key=0).compute_mask(IDS) is None
    w = np.asarray(layer.embeddings)
    assert w.shape == (10, 4) and np.abs(w).max() <= 0.05 and w.std() > 0.01  # "uniform"
    assert layer.get_config()["embeddings_initializer"]["class_name"] == "RandomUniform"
    penalized = Embedding(10, 4, embeddings_regularizer=fk.regularizers.L2(0.1))
    penalized = penalized.build((None, 5), key=0)
    np.testing.assert_allclose(
        penalized.weight_regularization(),
        0.1 * np.sum(np.asarray(penalized.embeddings) ** 2),
        rtol=1e-5,
    )


# --------------------------------------------------------------- NumPy references
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_lstm(x, kernel, recurrent, bias, mask=None, go_backwards=False):
    """Keras' LSTM in plain NumPy (float64): gates i, f, c, o; masked steps keep the state."""
    x, kernel, recurrent, bias = (np.asarray(a, np.float64) for a in (x, kernel, recurrent, bias))
    batch, steps, _ = x.shape
    units = recurrent.shape[0]
    h = np.zeros((batch, units))
    c = np.zeros((batch, units))
    outputs = []
    for t in reversed(range(steps)) if go_backwards else range(steps):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * units : (k + 1) * units] for k in range(4))
        c_new = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h_new = _sigmoid(o) * np.tanh(c_new)
        if mask is not None:
            keep = mask[:, t, None]
            h_new, c_new = np.where(keep, h_new, h), np.where(keep, c_new, c)
        h, c = h_new, c_new
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def np_gru(x, kernel, recurrent, bias, reset_after, mask=None):
    """Keras' GRU in plain NumPy (float64): gates z, r, h."""
    x, kernel, recurrent = (np.asarray(a, np.float64) for a in (x, kernel, recurrent))
    bias = np.asarray(bias, np.float64)
    batch, steps, _ = x.shape
    u = recurrent.shape[0]
    in_bias, rec_bias = (bias[0], bias[1]) if reset_after else (bias, np.zeros(3 * u))
    h = np.zeros((batch, u))
    outputs = []
    for t in range(steps):
        xt = x[:, t]
        x_z = xt @ kernel[:, :u] + in_bias[:u]
        x_r = xt @ kernel[:, u : 2 * u] + in_bias[u : 2 * u]
        x_h = xt @ kernel[:, 2 * u :] + in_bias[2 * u :]
        z = _sigmoid(x_z + h @ recurrent[:, :u] + rec_bias[:u])
        r = _sigmoid(x_r + h @ recurrent[:, u : 2 * u] + rec_bias[u : 2 * u])
        if reset_after:
            candidate = np.tanh(x_h + r * (h @ recurrent[:, 2 * u :] + rec_bias[2 * u :]))
        else:
            candidate = np.tanh(x_h + (r * h) @ recurrent[:, 2 * u :])
        h_new = z * h + (1 - z) * candidate
        if mask is not None:
            h_new = np.where(mask[:, t, None], h_new, h)
        h = h_new
        outputs.append(h)
    return np.stack(outputs, axis=1), h


@pytest.mark.parametrize("go_backwards, masked", [(False, True), (True, False)])
def test_lstm_matches_numpy_loop(go_backwards, masked):
    x = normal((B, T, F))
    layer = LSTM(U, return_sequences=True, return_state=True, go_backwards=go_backwards)
    layer = layer.build((None, T, F), key=0)
    layer = layer.set_weights(random_weights(layer.get_weights()))
    mask = IDS != 0 if masked else None
    seq, h, c = layer(x, mask=None if mask is None else jnp.asarray(mask))
    ref_seq, ref_h, ref_c = np_lstm(x, *layer.get_weights(), mask=mask, go_backwards=go_backwards)
    close([seq, h, c], [ref_seq, ref_h, ref_c])


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_matches_numpy_loop(reset_after):
    x = normal((B, T, F))
    layer = GRU(U, return_sequences=True, return_state=True, reset_after=reset_after)
    layer = layer.build((None, T, F), key=0)
    layer = layer.set_weights(random_weights(layer.get_weights()))
    mask = IDS != 0
    for m in (None, mask):
        seq, h = layer(x, mask=None if m is None else jnp.asarray(m))
        ref_seq, ref_h = np_gru(x, *layer.get_weights(), reset_after=reset_after, mask=m)
        close([seq, h], [ref_seq, ref_h])


# ------------------------------------------------------------------ behaviour
def test_default_initializers_and_bias_layout():
    lstm = LSTM(4).build((None, T, 3), key=0)
    np.testing.assert_array_equal(lstm.bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    rk = np.asarray(lstm.recurrent_kernel)
    assert rk.shape == (4, 16) and np.allclose(rk @ rk.T, np.eye(4), atol=1e-5)  # orthogonal

    def shapes(layer):  # without computing anything
        built = jax.eval_shape(lambda: layer.build((None, T, 3), key=0))
        return [built.kernel.shape, built.recurrent_kernel.shape, built.bias.shape]

    assert shapes(GRU(4)) == [(3, 12), (4, 12), (2, 12)]
    assert shapes(GRU(4, reset_after=False)) == [(3, 12), (4, 12), (12,)]
    assert shapes(SimpleRNN(4)) == [(3, 4), (4, 4), (4,)]


def test_list_inputs_carry_initial_states_in_functional_models():
    x_in, h_in, c_in = fk.Input((T, F)), fk.Input((U,)), fk.Input((U,))
    layer = LSTM(U, name="lstm")
    model = fk.Model([x_in, h_in, c_in], layer([x_in, h_in, c_in]), seed=0)
    x, h, c = normal((B, T, F)), normal((B, U), 1), normal((B, U), 2)
    built = model.get_layer("lstm")
    close(model([x, h, c]), built(x, initial_state=[h, c]))
    assert not np.allclose(built(x, initial_state=[h, c]), built(x))


def test_dropout_uses_one_mask_for_all_timesteps():
    # Identity kernel, no recurrence, linear: output_t = x_t * dropout_mask.
    layer = SimpleRNN(F, activation=None, use_bias=False, dropout=0.5, return_sequences=True)
    layer = layer.build((None, T, F), key=0)
    layer = layer.set_weights([np.eye(F, dtype=F32), np.zeros((F, F), F32)])
    x = jnp.ones((8, T, F))
    y = np.asarray(layer(x, training=True, key=jax.random.key(1)))
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1], y.shape))
    assert set(np.unique(y)) == {0.0, 2.0}
    np.testing.assert_array_equal(layer(x), x)  # inference: no dropout
    other = np.asarray(layer(x, training=True, key=jax.random.key(2)))
    assert not np.array_equal(y, other)


def test_recurrent_dropout_per_gate_and_key_required():
    layer = GRU(U, dropout=0.3, recurrent_dropout=0.3, name="g").build((None, T, F), key=0)
    x = normal((B, T, F))
    a = layer(x, training=True, key=jax.random.key(0))
    assert a.shape == (B, U) and np.all(np.isfinite(a))
    dp, rec = layer._dropout_masks(x, True, jax.random.key(0))
    assert dp.shape == (3, B, F) and rec.shape == (3, B, U)  # one mask per gate, as Keras
    with pytest.raises(ValueError, match=r"GRU 'g' needs a PRNG key in training mode"):
        layer(x, training=True)


def test_recurrent_regularizer_and_constraint():
    layer = LSTM(
        3,
        recurrent_regularizer=fk.regularizers.L2(0.5),
        recurrent_constraint=fk.constraints.MaxNorm(0.1),
    ).build((None, T, 2), key=0)
    rk = np.asarray(layer.recurrent_kernel)
    np.testing.assert_allclose(layer.weight_regularization(), 0.5 * np.sum(rk**2), rtol=1e-6)
    assert layer.has_constraints()
    constrained = np.asarray(layer.apply_constraints().recurrent_kernel)
    assert np.sqrt((constrained**2).sum(axis=0)).max() <= 0.1 + 1e-6


def test_lstm_learns_a_masked_sequence_task():
    """Variable-length token sequences (post-padded with 0): is the first token > 5?"""
    rng = np.random.default_rng(0)
    n = 256
    ids = rng.integers(1, 10, size=(n, 8)).astype(np.int32)
    lengths = rng.integers(2, 9, size=n)
    ids[np.arange(8)[None, :] >= lengths[:, None]] = 0
    labels = (ids[:, 0] > 5).astype(F32)[:, None]
    model = fk.Sequential(
        [
            fk.Input((8,), dtype="int32"),
            Embedding(10, 8, mask_zero=True),
            LSTM(8),
            Dense(1, activation="sigmoid"),
        ],
        seed=0,
    )
    trainer = model.compile(
        optimizer=fk.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"]
    )
    trainer.fit(ids[:192], labels[:192], batch_size=32, epochs=8, verbose=0)
    logs = trainer.evaluate(ids[192:], labels[192:], verbose=0)
    assert logs["accuracy"] >= 0.9, logs  # chance is about 0.56


# ---------------------------------------------------------------------- errors
def test_rank_two_input_is_refused():
    with pytest.raises(
        ValueError,
        match=r"LSTM 'lstm' expects inputs of rank 3 \(batch, timesteps, features\)\. "
        r"Received: input_shape=\(None, 8\)",
    ):
        fk.Sequential([fk.Input((8,)), LSTM(4)])
    built = GRU(2, name="g").build((None, T, F), key=0)
    with pytest.raises(ValueError, match=r"GRU 'g' expects inputs of rank 3.*\(3, 4\)"):
        built(jnp.ones((3, 4)))
    with pytest.raises(ValueError, match=r"GRU 'g' expects inputs with dimension 4.*\(3, 5, 2\)"):
        built(jnp.ones((3, 5, 2)))


def test_stateful_and_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"stateful=True is not supported.*initial_state"):
        LSTM(4, stateful=True)
    with pytest.raises(ValueError, match=r"positive integer `units`.*units=0"):
        SimpleRNN(0)
    with pytest.raises(ValueError, match=r"`dropout` to be a float in \[0, 1\].*1.5"):
        GRU(3, dropout=1.5)
    with pytest.raises(ValueError, match=r"use_cudnn"):
        LSTM(3, use_cudnn="yes")
    with pytest.raises(ValueError, match=r"unknown activation"):
        LSTM(3, recurrent_activation="sigmoidd")
    with pytest.raises(ValueError, match=r"invalid merge_mode.*'max'"):
        Bidirectional(LSTM(3), merge_mode="max")
    with pytest.raises(ValueError, match=r"Bidirectional expects `layer` to be a recurrent"):
        Bidirectional(Dense(3))
    with pytest.raises(ValueError, match=r"different `go_backwards`"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3))
    with pytest.raises(ValueError, match=r"same `return_sequences`"):
        Bidirectional(LSTM(3), backward_layer=LSTM(3, go_backwards=True, return_sequences=True))
    with pytest.raises(ValueError, match=r"TimeDistributed expects inputs of rank >= 3"):
        TimeDistributed(Dense(2)).build((None, 4))
    with pytest.raises(ValueError, match=r"Embedding expects a positive integer `input_dim`"):
        Embedding(0, 3)


def test_bad_initial_state_is_refused():
    layer = LSTM(U, name="enc").build((None, T, F), key=0)
    x = normal((B, T, F))
    with pytest.raises(ValueError, match=r"LSTM 'enc' expects `initial_state` to be 2 array"):
        layer(x, initial_state=[np.zeros((B, U), F32)])
    with pytest.raises(ValueError, match=r"shape \(3, 6\).*\(3, 5\)"):
        layer(x, initial_state=[np.zeros((B, 5), F32)] * 2)
