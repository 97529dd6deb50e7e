"""summary() parameter counts equal Keras' for the same architectures."""

import re

import pytest

import fkeras as fk

keras = pytest.importorskip("keras")


def architectures(lib):
    L = lib.layers
    cnn = lib.Sequential(
        [
            lib.Input((8, 8, 1)),
            L.Conv2D(16, 3, padding="same", activation="relu"),
            L.BatchNormalization(),
            L.MaxPooling2D(2),
            L.SeparableConv2D(8, 3),
            L.GlobalAveragePooling2D(),
            L.Dropout(0.2),
            L.Dense(10),
        ]
    )
    rnn = lib.Sequential(
        [
            lib.Input((12,), dtype="int32"),
            L.Embedding(50, 8, mask_zero=True),
            L.Bidirectional(L.LSTM(6, return_sequences=True)),
            L.GRU(5),
            L.Dense(1),
        ]
    )
    inputs = lib.Input((6, 16))
    attended = L.MultiHeadAttention(num_heads=2, key_dim=4)(inputs, inputs)
    normed = L.LayerNormalization()(L.Add()([inputs, attended]))
    transformer = lib.Model(inputs, L.Dense(3)(L.GlobalAveragePooling1D()(normed)))
    return {"cnn": cnn, "rnn": rnn, "transformer": transformer}


@pytest.mark.parametrize("name", ["cnn", "rnn", "transformer"])
def test_summary_totals_equal_keras_count_params(name, capsys):
    ours, theirs = architectures(fk)[name], architectures(keras)[name]
    trainable = sum(int(w.size) for w in ours.trainable_weights)
    assert ours.count_params() == theirs.count_params()
    assert trainable == sum(int(w.numpy().size) for w in theirs.trainable_weights)
    ours.summary()
    text = capsys.readouterr().out
    total = int(re.search(r"Total params: ([\d,]+)", text).group(1).replace(",", ""))
    assert total == theirs.count_params()
    per_layer = [layer.count_params() for layer in ours.layers if hasattr(layer, "count_params")]
    assert sum(per_layer) == theirs.count_params()
