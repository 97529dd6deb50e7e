"""Reading Keras 3 `.keras` files and live Keras models into fkeras, and refusing hostile files."""

import io
import json
import zipfile

import jax
import numpy as np
import pytest

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

from fkeras.saving.keras_format import from_keras, load_keras_model  # noqa: E402


def _randomize(model, seed=0):
    """Random weights (positive variances), so a wrong mapping cannot pass by accident."""
    rng = np.random.default_rng(seed)
    weights = []
    for w, v in zip(model.get_weights(), model.weights):
        w = rng.normal(size=w.shape).astype(w.dtype) * 0.3
        weights.append(np.abs(w) + 0.5 if "variance" in v.path else w)
    model.set_weights(weights)
    return model


def _mlp():
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def _cnn():
    return keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(5),
        ]
    )


def _lstm():
    return keras.Sequential(
        [
            keras.Input((7,), dtype="int32"),
            keras.layers.Embedding(20, 6),
            keras.layers.LSTM(5),
            keras.layers.Dense(2),
        ]
    )


def _branches():
    a = keras.Input((5,))
    b1 = keras.layers.Dense(4, activation="tanh")(a)
    b2 = keras.layers.Dense(3)(a)
    return keras.Model(a, keras.layers.Dense(2)(keras.layers.Concatenate()([b1, b2])))


def _mha():
    x = keras.Input((6, 8))
    h = keras.layers.MultiHeadAttention(2, 4)(x, x)
    h = keras.layers.LayerNormalization()(keras.layers.Add()([x, h]))
    return keras.Model(x, keras.layers.GlobalAveragePooling1D()(h))


def _nested():
    x = keras.Input((6, 8))
    inner = keras.Sequential([keras.layers.Dense(3), keras.layers.BatchNormalization()])
    y = inner(x)
    z = keras.layers.Bidirectional(keras.layers.GRU(4))(y)
    return keras.Model(x, [z, keras.layers.Concatenate()([x, y])])


_RNG = np.random.default_rng(0)
CASES = {
    "mlp": (_mlp, _RNG.normal(size=(4, 6)), 1e-5),
    "cnn": (_cnn, _RNG.normal(size=(2, 8, 8, 2)), 1e-5),
    "lstm": (_lstm, _RNG.integers(0, 20, size=(3, 7)), 1e-4),
    "branches": (_branches, _RNG.normal(size=(4, 5)), 1e-5),
    "mha": (_mha, _RNG.normal(size=(2, 6, 8)), 1e-4),
    "nested": (_nested, _RNG.normal(size=(2, 6, 8)), 1e-4),
}


def _close(out, ref, rtol):
    outs = out if isinstance(out, (list, tuple)) else [out]
    refs = ref if isinstance(ref, (list, tuple)) else [ref]
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs):
        np.testing.assert_allclose(np.asarray(o), np.asarray(r), rtol=rtol, atol=1e-5)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Each case built once, randomized, saved; its reference predictions."""
    folder = tmp_path_factory.mktemp("keras_models")
    out = {}
    for name, (make, x, rtol) in CASES.items():
        model = _randomize(make())
        path = folder / f"{name}.keras"
        model.save(path)
        ref = model(x, training=False)
        out[name] = (model, path, x, jax.tree_util.tree_map(np.asarray, ref), rtol)
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_load_keras_file_matches_predictions(saved, name):
    model, path, x, ref, rtol = saved[name]
    fk_model = load_keras_model(path)
    _close(fk_model(x), ref, rtol)
    flat = fk_model.get_weights()
    assert [w.shape for w in flat] == [w.shape for w in model.get_weights()]
    for a, b in zip(flat, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["mlp", "branches", "mha", "nested"])
def test_from_keras_live_model(saved, name):
    model, _, x, ref, rtol = saved[name]
    _close(from_keras(model)(x), ref, rtol)


def test_names_and_hyperparameters_carry_over(saved):
    fk_model = load_keras_model(saved["mlp"][1])
    keras_model = saved["mlp"][0]
    assert [layer.name for layer in fk_model.layers] == [layer.name for layer in keras_model.layers]
    assert fk_model.layers[2].rate == pytest.approx(0.3)


# ------------------------------------------------------------------------------ hostile files
def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _with_config(saved, tmp_path, edit):
    members = _members(saved["mlp"][1])
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config)
    return _write(tmp_path / "edited.keras", members)


def test_refuses_path_traversal_member(saved, tmp_path):
    members = _members(saved["mlp"][1])
    members["../evil"] = b"x"
    with pytest.raises(ValueError, match=r"unsafe member path '\.\./evil'"):
        load_keras_model(_write(tmp_path / "evil.keras", members))


def test_refuses_absolute_member(saved, tmp_path):
    members = _members(saved["mlp"][1])
    members["/etc/evil"] = b"x"
    with pytest.raises(ValueError, match="unsafe member path"):
        load_keras_model(_write(tmp_path / "abs.keras", members))


def test_refuses_unknown_class(saved, tmp_path):
    def edit(config):
        config["config"]["layers"][1]["class_name"] = "FancyLayer"

    with pytest.raises(ValueError, match="FancyLayer.*cannot be mapped"):
        load_keras_model(_with_config(saved, tmp_path, edit))


def test_refuses_foreign_module(saved, tmp_path):
    def edit(config):
        config["config"]["layers"][1]["module"] = "os"

    with pytest.raises(ValueError, match="module 'os' is not a Keras built-in"):
        load_keras_model(_with_config(saved, tmp_path, edit))


def test_refuses_custom_registered_name(saved, tmp_path):
    def edit(config):
        layer = config["config"]["layers"][1]
        layer["module"] = "keras.layers"
        layer["registered_name"] = "my_package>Dense"

    with pytest.raises(ValueError, match="my_package>Dense.*custom class"):
        load_keras_model(_with_config(saved, tmp_path, edit))


def test_refuses_function_references(saved, tmp_path):
    def edit(config):
        config["config"]["layers"][1]["config"]["activation"] = {
            "module": "__main__",
            "class_name": "function",
            "config": "my_activation",
            "registered_name": "function",
        }

    with pytest.raises(ValueError, match=r"'dense(_\d+)?'.*custom functions cannot be imported"):
        load_keras_model(_with_config(saved, tmp_path, edit))


def test_builtin_activation_reference_accepted(saved, tmp_path):
    def edit(config):
        config["config"]["layers"][1]["config"]["activation"] = {
            "module": "keras.activations",
            "class_name": "function",
            "config": "relu",
            "registered_name": "function",
        }

    model, _, x, ref, rtol = saved["mlp"]
    _close(load_keras_model(_with_config(saved, tmp_path, edit))(x), ref, rtol)


def test_refuses_custom_initializer(saved, tmp_path):
    def edit(config):
        config["config"]["layers"][1]["config"]["kernel_initializer"] = {
            "module": "evil_pkg.init",
            "class_name": "Boom",
            "config": {},
            "registered_name": "evil_pkg>Boom",
        }

    with pytest.raises(ValueError, match="kernel_initializer"):
        load_keras_model(_with_config(saved, tmp_path, edit))


def test_refuses_lora(saved, tmp_path):
    def edit(config):
        config["config"]["layers"][1]["config"]["lora_rank"] = 4

    with pytest.raises(ValueError, match="lora_rank=4"):
        load_keras_model(_with_config(saved, tmp_path, edit))


def test_truncated_file(saved, tmp_path):
    data = saved["mlp"][1].read_bytes()
    path = tmp_path / "cut.keras"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_keras_model(path)


def test_missing_member(saved, tmp_path):
    members = _members(saved["mlp"][1])
    del members["model.weights.h5"]
    with pytest.raises(ValueError, match="missing"):
        load_keras_model(_write(tmp_path / "partial.keras", members))


def test_wrong_weight_shape(saved, tmp_path):
    members = _members(saved["mlp"][1])
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((7, 8), "float32")
    members["model.weights.h5"] = buffer.getvalue()
    path = _write(tmp_path / "shape.keras", members)
    with pytest.raises(ValueError, match=r"shape\.keras.*do not fit"):
        load_keras_model(path)


def test_not_a_model(saved, tmp_path):
    members = _members(saved["mlp"][1])
    members["config.json"] = json.dumps({"class_name": "Dense", "config": {"units": 1}})
    with pytest.raises(ValueError, match="expected a Sequential or functional model"):
        load_keras_model(_write(tmp_path / "layer.keras", members))


def test_non_numeric_weights_refused(saved, tmp_path):
    members = _members(saved["mlp"][1])
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "r+") as f:
        del f["layers/dense/vars/1"]
        f["layers/dense/vars/1"] = "not an array"
    members["model.weights.h5"] = buffer.getvalue()
    with pytest.raises(ValueError, match="not a numeric array"):
        load_keras_model(_write(tmp_path / "strings.keras", members))


def test_initializers_regularizers_constraints_carry_over():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(
                3,
                kernel_initializer=keras.initializers.HeNormal(seed=3),
                kernel_regularizer=keras.regularizers.L1L2(0.01, 0.02),
                bias_regularizer="l2",
                kernel_constraint=keras.constraints.MaxNorm(2.0),
            ),
            keras.layers.Reshape((3, 1)),
            keras.layers.Conv1D(2, 2, padding="causal"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Activation("gelu"),
        ]
    )
    fk_model = from_keras(model)
    dense = fk_model.layers[0]
    assert type(dense.kernel_regularizer).__name__ == "L1L2"
    assert dense.kernel_regularizer.l2 == pytest.approx(0.02)
    assert type(dense.kernel_constraint).__name__ == "MaxNorm"
    assert type(dense.kernel_initializer).__name__ == "HeNormal"
    x = np.random.default_rng(1).random((2, 4)).astype("float32")
    _close(fk_model(x), model(x), 1e-5)


def test_unknown_initializer_named(saved, tmp_path):
    def edit(config):
        config["config"]["layers"][1]["config"]["kernel_initializer"]["class_name"] = "Mystery"

    with pytest.raises(ValueError, match="kernel_initializer: fkeras has no initializer 'Mystery'"):
        load_keras_model(_with_config(saved, tmp_path, edit))


def test_lambda_layer_refused(saved, tmp_path):
    def edit(config):
        config["config"]["layers"][1] = {
            "module": "keras.layers",
            "class_name": "Lambda",
            "config": {"name": "lam", "function": {"class_name": "__lambda__", "config": {}}},
            "registered_name": None,
        }

    with pytest.raises(ValueError, match="'lam' \\(Lambda\\).*lambdas cannot be imported"):
        load_keras_model(_with_config(saved, tmp_path, edit))


def test_public_entry_points_load_keras_files_and_live_models(tmp_path):
    import fkeras as fk

    keras_model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)]
    )
    path = tmp_path / "public.keras"
    keras_model.save(path)
    data = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    expected = np.asarray(keras_model(data))
    np.testing.assert_allclose(fk.saving.load_model(path)(data), expected, rtol=1e-5, atol=1e-6)
    converted = fk.utils.from_keras(keras_model)
    np.testing.assert_allclose(converted(data), expected, rtol=1e-5, atol=1e-6)
