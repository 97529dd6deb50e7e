"""RNN cells (SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells), the generic RNN layer and
ConvLSTM1D/2D/3D: the shared harness, equality with the SimpleRNN/LSTM/GRU layers (one step
implementation), parity with Keras 3 (JAX backend, same weights), a custom cell against a NumPy
loop, masks, and errors."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_harness import run_layer_test

import fkeras as fk
from fkeras.core.layer import static
from fkeras.layers.embedding import Embedding
from fkeras.layers.recurrent import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    ConvLSTM1D,
    ConvLSTM2D,
    ConvLSTM3D,
    GRUCell,
    LSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    StackedRNNCells,
)

os.environ["KERAS_BACKEND"] = "jax"
keras = pytest.importorskip("keras")
if keras.backend.backend() != "jax":  # pragma: no cover - keras imported earlier elsewhere
    pytest.skip("Keras parity tests need the JAX backend", allow_module_level=True)

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

F32 = np.float32
B, T, F, U = 3, 5, 4, 6
MASK = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 1, 1]], dtype=bool)
FK_CELLS = {"SimpleRNNCell": SimpleRNNCell, "LSTMCell": LSTMCell, "GRUCell": GRUCell}
LAYER_OF = {"SimpleRNNCell": SimpleRNN, "LSTMCell": LSTM, "GRUCell": GRU}


@pytest.fixture(autouse=True)
def _full_precision_matmul():
    with jax.default_matmul_precision("highest"):
        yield


def normal(shape, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).standard_normal(shape)).astype(F32)


def random_weights(weights, seed=1):
    return [normal(np.shape(w), seed + i, 0.5) for i, w in enumerate(weights)]


def close(a, b, rtol=1e-5, atol=1e-6):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def same(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


# --------------------------------------------------------------------------- a custom cell
@fk.saving.register_serializable(package="tests")
class MinimalRNNCell(fk.layers.Layer):
    """Keras' documented example cell: `h' = tanh(x @ kernel + h @ recurrent_kernel)`."""

    units: int = static()
    kernel: jax.Array | None
    recurrent_kernel: jax.Array | None

    def __init__(self, units, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.units = units
        self.kernel = self.recurrent_kernel = None

    @property
    def state_size(self):
        return self.units

    def create_weights(self, input_shape, key):
        k1, k2 = jax.random.split(key)
        return {
            "kernel": jax.random.normal(k1, (input_shape[-1], self.units), self.dtype) * 0.5,
            "recurrent_kernel": jax.random.normal(k2, (self.units, self.units), self.dtype) * 0.5,
        }

    def __call__(self, inputs, states):
        h = jnp.tanh(inputs @ self.kernel + states[0] @ self.recurrent_kernel)
        return h, [h]


def np_minimal_rnn(x, kernel, recurrent, mask=None):
    x, kernel, recurrent = (np.asarray(a, np.float64) for a in (x, kernel, recurrent))
    h = np.zeros((x.shape[0], kernel.shape[1]))
    outputs = []
    for t in range(x.shape[1]):
        new = np.tanh(x[:, t] @ kernel + h @ recurrent)
        h = new if mask is None else np.where(mask[:, t, None], new, h)
        outputs.append(h)
    return np.stack(outputs, axis=1), h


# --------------------------------------------------------------------------- harness
@pytest.mark.parametrize(
    "make, input_shape, output_shape, n_params, training_key",
    [
        (
            lambda: RNN(
                StackedRNNCells(
                    [LSTMCell(3, dropout=0.2), GRUCell(2, reset_after=False), SimpleRNNCell(2)]
                ),
                return_sequences=True,
                go_backwards=True,
            ),
            (None, 4, 2),
            (None, 4, 2),
            72 + 3 * 2 * (3 + 2) + 6 + (2 * 2 + 2 * 2 + 2),
            True,
        ),
        (lambda: RNN(MinimalRNNCell(3)), (None, 4, 2), (None, 3), 15, False),
        (lambda: ConvLSTM1D(2, 3), (None, 4, 6, 2), (None, 4, 2), 3 * 2 * 8 * 2 + 8, False),
        (
            lambda: ConvLSTM2D(2, 2, padding="same", return_sequences=True),
            (None, 3, 4, 4, 1),
            (None, 3, 4, 4, 2),
            2 * 2 * 1 * 8 + 2 * 2 * 2 * 8 + 8,
            False,
        ),
        (lambda: ConvLSTM3D(1, 2), (None, 2, 3, 3, 3, 1), (None, 2, 2, 2, 1), 68, False),
    ],
    ids=["stacked_cells", "custom_cell", "conv1d", "conv2d", "conv3d"],
)
def test_harness(make, input_shape, output_shape, n_params, training_key):
    run_layer_test(
        make(),
        input_shape,
        output_shape,
        expected_num_params=n_params,
        training_key=training_key,
    )


# ------------------------------------------------- cells vs the SimpleRNN/LSTM/GRU layers
@pytest.mark.parametrize("name", ["SimpleRNNCell", "LSTMCell", "GRUCell"])
def test_rnn_of_cell_is_the_layer(name):
    kwargs = {"return_sequences": True, "return_state": True, "go_backwards": True}
    layer = LAYER_OF[name](U, dropout=0.25, recurrent_dropout=0.25, **kwargs)
    layer = layer.build((None, T, F), key=0)
    layer = layer.set_weights(random_weights(layer.get_weights()))
    rnn = RNN(FK_CELLS[name](U, dropout=0.25, recurrent_dropout=0.25), **kwargs)
    rnn = rnn.build((None, T, F), key=5).set_weights(layer.get_weights())
    assert [w.shape for w in rnn.get_weights()] == [w.shape for w in layer.get_weights()]
    x, mask = normal((B, T, F)), jnp.asarray(MASK)
    same(rnn(x), layer(x))
    same(rnn(x, mask=mask), layer(x, mask=mask))
    # Dropout: the same masks from the same key (drawn once per sequence, as the layer does).
    key = jax.random.key(4)
    same(rnn(x, training=True, key=key), layer(x, training=True, key=key))
    # Built from the same key, the cell's initial weights are the layer's.
    same(
        RNN(FK_CELLS[name](U)).build((None, T, F), key=3).get_weights(),
        LAYER_OF[name](U).build((None, T, F), key=3).get_weights(),
    )


def test_stacked_cells_equal_two_stacked_layers():
    stacked = RNN(StackedRNNCells([LSTMCell(U), GRUCell(4)]), return_sequences=True)
    stacked = stacked.build((None, T, F), key=0)
    weights = random_weights(stacked.get_weights())
    stacked = stacked.set_weights(weights)
    model = fk.Sequential(
        [fk.Input((T, F)), LSTM(U, return_sequences=True), GRU(4, return_sequences=True)], seed=0
    ).set_weights(weights)
    x = normal((B, T, F))
    close(stacked(x), model(x), rtol=1e-6)
    mask = jnp.asarray(MASK)
    # Masked steps keep every cell's states, as two masked layers do.
    y_model, _, _ = model.apply_masked(jnp.asarray(x), mask=mask)
    close(stacked(x, mask=mask), y_model, rtol=1e-6)
    # A list of cells is a StackedRNNCells.
    assert isinstance(RNN([LSTMCell(2), GRUCell(2)]).cell, StackedRNNCells)


def test_custom_cell_matches_numpy_and_round_trips():
    rnn = RNN(MinimalRNNCell(U, name="mine"), return_sequences=True, return_state=True)
    rnn = rnn.build((None, T, F), key=0)
    x = normal((B, T, F))
    kernel, recurrent = rnn.get_weights()
    for mask in (None, MASK):
        seq, h = rnn(x, mask=None if mask is None else jnp.asarray(mask))
        ref_seq, ref_h = np_minimal_rnn(x, kernel, recurrent, mask)
        close([seq, h], [ref_seq, ref_h])
    config = fk.saving.serialize(rnn)
    assert config["config"]["cell"]["class_name"] == "tests>MinimalRNNCell"
    restored = fk.saving.deserialize(config).build((None, T, F), key=1)
    close(restored.set_weights(rnn.get_weights())(x), rnn(x))
    # The cell called on its own: one step.
    out, [h1] = rnn.cell(x[:, 0], [jnp.zeros((B, U))])
    close(out, np.tanh(x[:, 0].astype(np.float64) @ kernel))


# ------------------------------------------------------------------- Keras parity
def _keras_pair(k_layer, fk_layer, input_shape, seed=1):
    k_layer.build(input_shape)
    weights = random_weights(k_layer.get_weights(), seed)
    k_layer.set_weights(weights)
    fk_layer = fk_layer.build(input_shape, key=0).set_weights(weights)
    assert fk_layer.count_params() == k_layer.count_params()
    assert [w.shape for w in fk_layer.get_weights()] == [w.shape for w in k_layer.get_weights()]
    return k_layer, fk_layer


@pytest.mark.parametrize(
    "make_cell",
    [
        lambda L: L.SimpleRNNCell(U, activation="relu"),
        lambda L: L.LSTMCell(U, unit_forget_bias=False),
        lambda L: L.GRUCell(U, reset_after=False),
        lambda L: L.StackedRNNCells([L.LSTMCell(U), L.GRUCell(4), L.SimpleRNNCell(3)]),
    ],
    ids=["simple", "lstm", "gru-v1", "stacked"],
)
@pytest.mark.parametrize("go_backwards", [False, True])
def test_rnn_parity_with_keras(make_cell, go_backwards):
    kwargs = {"return_sequences": True, "return_state": True, "go_backwards": go_backwards}
    k_layer, fk_layer = _keras_pair(
        keras.layers.RNN(make_cell(keras.layers), **kwargs),
        RNN(make_cell(fk.layers.recurrent), **kwargs),
        (None, T, F),
    )
    x = normal((B, T, F))
    k_out, fk_out = list(k_layer(x)), fk_layer(x)
    # Same structure (stacked cells return one list of states per cell, as in Keras).
    assert jax.tree_util.tree_structure(fk_out) == jax.tree_util.tree_structure(
        [jnp.zeros(1) if not isinstance(o, list) else [jnp.zeros(1)] * len(o) for o in k_out]
    )
    close(fk_out, k_out)
    close(fk_layer(x, mask=jnp.asarray(MASK)), list(k_layer(x, mask=MASK)))


def test_cells_called_directly_match_keras():
    x = normal((B, F))
    for name in FK_CELLS:
        k_cell, fk_cell = _keras_pair(
            getattr(keras.layers, name)(U), FK_CELLS[name](U), (None, F), seed=7
        )
        n = 2 if name == "LSTMCell" else 1
        states = [normal((B, U), 20 + i) for i in range(n)]
        k_out, k_states = k_cell(x, states)
        fk_out, fk_states = fk_cell(x, states)
        assert isinstance(fk_states, list) and len(fk_states) == n
        close([fk_out, fk_states], [k_out, list(k_states)])
        assert fk_cell.state_size == k_cell.state_size and fk_cell.output_size == U
    # A single state passed bare comes back bare (Keras' GRUCell/SimpleRNNCell).
    gru = GRUCell(U).build((None, F), key=0)
    out, h = gru(x, jnp.zeros((B, U)))
    assert isinstance(h, jax.Array) and h.shape == (B, U)
    same(out, gru(x, [jnp.zeros((B, U))])[0])


def test_rnn_masked_through_embedding_matches_keras():
    ids = np.where(MASK, np.arange(1, T + 1)[None, :], 0).astype(np.int32)

    def stack(L, M):
        return [
            M.Input((T,), dtype="int32"),
            L.Embedding(10, F, mask_zero=True),
            L.RNN(L.GRUCell(U), return_sequences=True),
            L.RNN(L.LSTMCell(U)),
        ]

    k_model = keras.Sequential(stack(keras.layers, keras))
    weights = random_weights(k_model.get_weights(), 3)
    k_model.set_weights(weights)

    class FKL:
        Embedding, RNN, GRUCell, LSTMCell = Embedding, RNN, GRUCell, LSTMCell

    fk_model = fk.Sequential(stack(FKL, fk), seed=0).set_weights(weights)
    close(fk_model(ids), k_model(ids))


@pytest.mark.parametrize(
    "cls, input_shape, kwargs",
    [
        (
            ConvLSTM1D,
            (2, 4, 7, 3),
            {
                "filters": 2,
                "kernel_size": 3,
                "padding": "same",
                "strides": 2,
                "go_backwards": True,
                "return_state": True,
                "recurrent_activation": "hard_sigmoid",
            },
        ),
        (
            ConvLSTM2D,
            (2, 3, 5, 6, 2),
            {
                "filters": 3,
                "kernel_size": (3, 2),
                "padding": "same",
                "return_sequences": True,
                "return_state": True,
            },
        ),
        (
            ConvLSTM2D,
            (2, 3, 6, 6, 2),
            {
                "filters": 2,
                "kernel_size": 2,
                "dilation_rate": 2,
                "use_bias": False,
                "activation": "relu",
            },
        ),
        (
            ConvLSTM2D,
            (2, 3, 2, 5, 6),
            {
                "filters": 2,
                "kernel_size": 3,
                "data_format": "channels_first",
                "return_sequences": True,
                "return_state": True,
            },
        ),
    ],
    ids=["1d-strided-backwards", "2d-same-state", "2d-dilated", "2d-channels-first"],
)
def test_conv_lstm_parity_with_keras(cls, input_shape, kwargs):
    k_layer, fk_layer = _keras_pair(
        getattr(keras.layers, cls.__name__)(**kwargs), cls(**kwargs), (None, *input_shape[1:])
    )
    x = normal(input_shape)
    close(fk_layer(x), as_list(k_layer(x)) if kwargs.get("return_state") else k_layer(x))
    shape = (None, *input_shape[1:])
    ours, theirs = fk_layer.compute_output_shape(shape), k_layer.compute_output_shape(shape)
    assert as_list(ours) == as_list(theirs) if kwargs.get("return_state") else ours == theirs
    if kwargs.get("return_state"):  # start from given states
        states = [normal(s.shape, 30 + i) for i, s in enumerate(as_list(k_layer(x))[1:])]
        close(fk_layer(x, initial_state=states), as_list(k_layer(x, initial_state=states)))


def test_conv_lstm_defaults_match_keras():
    k_layer = keras.layers.ConvLSTM2D(4, 3)
    k_layer.build((None, 2, 5, 5, 2))
    layer = ConvLSTM2D(4, 3).build((None, 2, 5, 5, 2), key=0)
    np.testing.assert_array_equal(layer.bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    ours, theirs = layer.get_config(), k_layer.get_config()
    for arg in (
        "filters",
        "padding",
        "data_format",
        "activation",
        "recurrent_activation",
        "use_bias",
        "unit_forget_bias",
        "dropout",
        "recurrent_dropout",
        "return_sequences",
        "return_state",
        "go_backwards",
        "stateful",
        "unroll",
        "zero_output_for_mask",
    ):
        assert ours[arg] == theirs[arg], arg
    for arg in ("kernel_size", "strides", "dilation_rate"):
        assert tuple(ours[arg]) == tuple(theirs[arg])
    for arg in ("kernel_initializer", "recurrent_initializer", "bias_initializer"):
        assert ours[arg]["class_name"] == theirs[arg]["class_name"]


# ----------------------------------------------------------------------------- masks
def test_conv_lstm_mask_skips_padded_steps():
    """A post-padded row ends as if the sequence were shorter; a pre-padded one as if it
    started later (masked steps keep the states)."""
    layer = ConvLSTM2D(2, 2, padding="same", return_state=True).build((None, T, 3, 3, 2), key=0)
    layer = layer.set_weights(random_weights(layer.get_weights()))
    x = normal((2, T, 3, 3, 2))
    mask = np.ones((2, T), bool)
    mask[0, -2:] = False
    mask[1, :2] = False
    out, h, c = layer(x, mask=jnp.asarray(mask))
    short = layer(x[:1, : T - 2])
    late = layer(x[1:, 2:])
    close([out[:1], h[:1], c[:1]], short)
    close([out[1:], h[1:], c[1:]], late)
    assert layer.compute_mask(x, jnp.asarray(mask)) == [None, None, None]
    seq = ConvLSTM1D(2, 1, return_sequences=True).build((None, T, 3, 1), key=0)
    np.testing.assert_array_equal(seq.compute_mask(x, jnp.asarray(mask)), mask)


def test_bidirectional_of_rnn_equals_bidirectional_layer():
    bi_rnn = Bidirectional(RNN(LSTMCell(U), return_sequences=True)).build((None, T, F), key=0)
    weights = random_weights(bi_rnn.get_weights())
    bi_rnn = bi_rnn.set_weights(weights)
    bi = Bidirectional(LSTM(U, return_sequences=True)).build((None, T, F), key=0)
    bi = bi.set_weights(weights)
    x, mask = normal((B, T, F)), jnp.asarray(MASK)
    same(bi_rnn(x, mask=mask), bi(x, mask=mask))
    assert bi_rnn.forward_layer.name == "forward_rnn"


# ---------------------------------------------------------------------------- errors
def test_bad_arguments_and_inputs_are_refused():
    with pytest.raises(ValueError, match=r"RNN expects `cell` to be an fkeras layer.*Received"):
        RNN(lambda x, s: (x, s))
    with pytest.raises(ValueError, match=r"needs a `state_size`.*Received: state_size=None"):
        RNN(fk.layers.Dense(3))
    with pytest.raises(ValueError, match=r"stateful=True is not supported.*Received"):
        RNN(LSTMCell(3), stateful=True)
    with pytest.raises(ValueError, match=r"stateful=True is not supported"):
        ConvLSTM2D(3, 3, stateful=True)
    with pytest.raises(ValueError, match=r"StackedRNNCells expects a non-empty list.*Received"):
        StackedRNNCells([])
    with pytest.raises(ValueError, match=r"LSTMCell expects a positive integer `units`"):
        LSTMCell(0)
    with pytest.raises(ValueError, match=r"GRUCell expects `dropout` to be a float.*2"):
        GRUCell(3, dropout=2)
    with pytest.raises(ValueError, match=r"data_format.*Received: data_format='nchw'"):
        ConvLSTM2D(2, 3, data_format="nchw")
    with pytest.raises(ValueError, match=r"strides > 1 together with dilation_rate > 1"):
        ConvLSTM1D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"kernel_size.*Received: kernel_size=\(3, 3, 3\)"):
        ConvLSTM2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match=r"RNN 'r' expects inputs of rank >= 3.*\(None, 4\)"):
        RNN(LSTMCell(2), name="r").build((None, 4))
    with pytest.raises(ValueError, match=r"LSTMCell expects step inputs of rank 2.*RNN\(cell\)"):
        LSTMCell(2).build((None, 3, 4))
    with pytest.raises(
        ValueError,
        match=r"ConvLSTM2D 'c' expects inputs of rank 5 \(batch, timesteps, rows, cols, "
        r"channels\)\. Received: input_shape=\(None, 4, 4, 2\)",
    ):
        ConvLSTM2D(2, 3, name="c").build((None, 4, 4, 2))
    with pytest.raises(ValueError, match=r"at least the \(dilated\) kernel size"):
        ConvLSTM1D(2, 5).build((None, 3, 4, 1))


def test_bad_call_inputs_are_refused():
    rnn = RNN(LSTMCell(U), name="enc").build((None, T, F), key=0)
    x = normal((B, T, F))
    with pytest.raises(ValueError, match=r"initial_state.*Received: shapes \[\(3, 6\)\]"):
        rnn(x, initial_state=[np.zeros((B, U), F32)])
    with pytest.raises(ValueError, match=r"LSTMCell expects inputs with dimension 4.*\(3, 2\)"):
        rnn(normal((B, T, 2)))
    with pytest.raises(ValueError, match=r"needs a PRNG key in training mode.*Received: key=None"):
        RNN(LSTMCell(U, dropout=0.5)).build((None, T, F), key=0)(x, training=True)
    cell = rnn.cell
    with pytest.raises(ValueError, match=r"expects `states` to be 2 array.*Received: shapes"):
        cell(x[:, 0], [np.zeros((B, U), F32)])
    with pytest.raises(ValueError, match=r"expects step inputs of rank 2.*Received: inputs.shape"):
        cell(x, [np.zeros((B, U), F32)] * 2)
    conv = ConvLSTM2D(2, 3, name="c").build((None, 2, 5, 5, 2), key=0)
    with pytest.raises(ValueError, match=r"expects inputs with 2 channels.*\(1, 2, 5, 5, 3\)"):
        conv(normal((1, 2, 5, 5, 3)))
    with pytest.raises(ValueError, match=r"expects `initial_state` to be 2 arrays.*Received"):
        conv(normal((1, 2, 5, 5, 2)), initial_state=[np.zeros((1, 3, 3, 2), F32)])
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, timesteps\)"):
        rnn(x, mask=jnp.ones((B, T + 1), bool))


@pytest.mark.parametrize("kind", ["conv_lstm2d", "rnn_lstm_cell"])
def test_keras_files_with_new_recurrent_layers_load_and_match(tmp_path, kind):
    keras = pytest.importorskip("keras")
    pytest.importorskip("h5py")
    if kind == "conv_lstm2d":
        k = keras.Sequential(
            [keras.Input((3, 5, 5, 2)), keras.layers.ConvLSTM2D(4, 3, padding="same")]
        )
        x = np.random.default_rng(0).normal(size=(2, 3, 5, 5, 2)).astype("float32")
    else:
        k = keras.Sequential([keras.Input((4, 3)), keras.layers.RNN(keras.layers.LSTMCell(5))])
        x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    path = tmp_path / "m.keras"
    k.save(path)
    model = fk.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(k(x)), rtol=1e-5, atol=1e-6)
