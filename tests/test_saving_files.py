"""`.fkeras` files: exact round trips, atomic writes, and hostile or broken files refused."""

import io
import json
import os
import pickle
import zipfile

import jax
import numpy as np
import pytest

import fkeras as fk

L = fk.layers


def model():
    return fk.Sequential(
        [fk.Input((4,)), L.Dense(8, activation="relu"), L.BatchNormalization(), L.Dense(2)],
        seed=0,
    )


def write_zip(path, members: dict):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def valid_members(m):
    path_buffer = io.BytesIO()
    np.savez(path_buffer, **{f"w{i}": w for i, w in enumerate(m.get_weights())})
    return {
        "metadata.json": json.dumps({"format_version": 1}),
        "config.json": json.dumps(fk.saving.serialize(m)),
        "weights.npz": path_buffer.getvalue(),
    }


def test_round_trip_is_bit_identical_including_trained_state(tmp_path):
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = np.random.default_rng(1).integers(0, 2, 32)
    trainer = model().compile(
        optimizer="adam", loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    trainer.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "trained.fkeras"
    trainer.model.save(path)
    loaded = fk.saving.load_model(path)
    np.testing.assert_array_equal(loaded(x), trainer.model(x))
    assert loaded.get_config() == trainer.model.get_config()
    weights = tmp_path / "w.weights.npz"
    trainer.model.save_weights(weights)
    np.testing.assert_array_equal(model().load_weights(weights)(x), trainer.model(x))


def test_a_crash_mid_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.fkeras"
    first = model()
    first.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed during the rename")

    monkeypatch.setattr(os, "replace", crash)
    other = fk.Sequential([fk.Input((4,)), L.Dense(3)])
    with pytest.raises(KeyboardInterrupt):
        other.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.fkeras"]  # the temporary file was cleaned up
    x = np.ones((2, 4), "float32")
    np.testing.assert_array_equal(fk.saving.load_model(path)(x), first(x))


@pytest.mark.parametrize(
    "content, message",
    [
        (lambda data: data[: len(data) // 2], "not a valid .fkeras archive"),
        (lambda data: os.urandom(256), "not a valid .fkeras archive"),
    ],
    ids=["truncated", "random-bytes"],
)
def test_broken_files_are_refused(tmp_path, content, message):
    path = tmp_path / "m.fkeras"
    model().save(path)
    path.write_bytes(content(path.read_bytes()))
    with pytest.raises(ValueError, match=message):
        fk.saving.load_model(path)


def hostile(members, name, change):
    members = dict(members)
    members[name] = change(members[name])
    return members


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda m: hostile(m, "config.json", lambda c: c.replace('"Sequential"', '"os.system"')),
            "Unknown class 'os.system'",
        ),
        (
            lambda m: hostile(m, "config.json", lambda c: c.replace('"Dense"', '"MyLayer"')),
            "Unknown class 'MyLayer'",
        ),
        (
            lambda m: hostile(m, "config.json", lambda c: c.replace('"relu"', '"builtins.eval"')),
            "unknown activation 'builtins.eval'",
        ),
        (lambda m: {**m, "../evil.py": "import os"}, "expected members"),
        (
            lambda m: {"../" + k if k == "weights.npz" else k: v for k, v in m.items()},
            "expected members",
        ),
        (
            lambda m: hostile(m, "weights.npz", lambda w: pickle.dumps([np.zeros(3)])),
            "not a valid fkeras weights archive",
        ),
        (
            lambda m: hostile(m, "metadata.json", lambda _: json.dumps({"format_version": 99})),
            "unsupported file format",
        ),
        (lambda m: hostile(m, "config.json", lambda c: c[:-5]), "corrupt JSON"),
    ],
    ids=[
        "module-path-class",
        "unregistered-class",
        "callable-reference",
        "extra-dotdot-member",
        "dotdot-path",
        "pickle-as-weights",
        "future-format",
        "corrupt-json",
    ],
)
def test_hostile_files_are_refused_and_nothing_runs(tmp_path, edit, message):
    path = tmp_path / "hostile.fkeras"
    write_zip(path, edit(valid_members(model())))
    with pytest.raises(ValueError, match=message):
        fk.saving.load_model(path)
    assert sorted(os.listdir(tmp_path)) == ["hostile.fkeras"]  # nothing written anywhere


def test_object_arrays_disguised_in_npz_and_wrong_shapes(tmp_path):
    members = valid_members(model())
    buffer = io.BytesIO()
    np.savez(buffer, w0=np.array([{"x": 1}], dtype=object))
    path = tmp_path / "object.fkeras"
    write_zip(path, {**members, "weights.npz": buffer.getvalue()})
    with pytest.raises(ValueError, match="not a valid fkeras weights archive"):
        fk.saving.load_model(path)
    weights = model().get_weights()
    weights[0] = np.zeros((5, 8), "float32")
    buffer = io.BytesIO()
    np.savez(buffer, **{f"w{i}": w for i, w in enumerate(weights)})
    path = tmp_path / "shapes.fkeras"
    write_zip(path, {**members, "weights.npz": buffer.getvalue()})
    with pytest.raises(ValueError, match=r"expects shape \(4, 8\).*Received: shape=\(5, 8\)"):
        fk.saving.load_model(path)


def test_suffixes_are_checked():
    with pytest.raises(ValueError, match="ending in '.fkeras'"):
        model().save("model.h5")
    with pytest.raises(ValueError, match="ending in '.weights.npz'"):
        model().save_weights("weights.npz")
    assert jax.tree_util.tree_leaves(model())  # the model itself is untouched by the refusals
