"""`.fkeras` model files and `.weights.npz` weight files: JSON plus NumPy arrays, no pickle.

A `.fkeras` file is a zip with exactly three members: `metadata.json` (format and fkeras
version), `config.json` (registered class names and hyperparameters) and `weights.npz` (the
arrays in Keras' `get_weights()` order). Arrays are read with `allow_pickle=False`, and class
names are only looked up in the registry, so opening a file never runs code from it. Every write
goes to a temporary file in the target's folder, is flushed to disk, then renamed over the
target, so a crash mid-save leaves the previous file intact.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile

import numpy as np

from ..core.registry import deserialize, serialize

FORMAT_VERSION = 1
_MEMBERS = ("metadata.json", "config.json", "weights.npz")
_MAX_JSON_BYTES = 64 * 2**20  # configs are small; refuse a decompression bomb posing as one


def _atomic_write(path: str, write) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _weights_bytes(weights) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{f"w{i}": np.asarray(w) for i, w in enumerate(weights)})
    return buffer.getvalue()


def _read_weights(data: bytes, where: str) -> list[np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            names = sorted(npz.files, key=lambda n: int(n[1:]) if n[1:].isdigit() else -1)
            if names != [f"w{i}" for i in range(len(names))]:
                raise ValueError(f"unexpected array names {npz.files[:5]}")
            return [npz[n] for n in names]
    except ValueError as error:  # includes "Object arrays cannot be loaded when allow_pickle=False"
        raise ValueError(
            f"{where}: the weights are not a valid fkeras weights archive ({error})."
        ) from None
    except Exception as error:
        raise ValueError(
            f"{where}: cannot read the weights ({type(error).__name__}: {error})."
        ) from None


def _check_suffix(path, suffix: str, what: str) -> str:
    path = os.fspath(path)
    if not path.endswith(suffix):
        raise ValueError(f"{what} expects a path ending in '{suffix}'. Received: path={path!r}")
    return path


def save_model(model, path) -> None:
    """Write `model` (config and weights) to a `.fkeras` file, atomically."""
    from .. import __version__

    path = _check_suffix(path, ".fkeras", "save_model")
    config = json.dumps(serialize(model))
    metadata = json.dumps({"format_version": FORMAT_VERSION, "fkeras_version": __version__})
    weights = _weights_bytes(model.get_weights())

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("metadata.json", metadata)
            archive.writestr("config.json", config)
            archive.writestr("weights.npz", weights)

    _atomic_write(path, write)


def load_model(path):
    """Read a model saved with `model.save(path)` (`.fkeras`), or a Keras 3 `.keras` file
    (needs h5py: `pip install "fkeras[keras-import]"`); nothing in the file is executed."""
    if os.fspath(path).endswith(".keras"):
        from .keras_format import load_keras_model

        return load_keras_model(path)
    path = _check_suffix(path, ".fkeras", "load_model")
    where = f"load_model({path!r})"
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(archive.namelist())
            if names != sorted(_MEMBERS):
                raise ValueError(
                    f"{where}: not an fkeras model file: expected members "
                    f"{list(_MEMBERS)}. Received: {names[:10]}"
                )
            for name in ("metadata.json", "config.json"):
                if archive.getinfo(name).file_size > _MAX_JSON_BYTES:
                    raise ValueError(f"{where}: {name} is implausibly large; refusing to read it.")
            metadata = json.loads(archive.read("metadata.json"))
            config = json.loads(archive.read("config.json"))
            weights = _read_weights(archive.read("weights.npz"), where)
    except zipfile.BadZipFile:
        raise ValueError(
            f"{where}: the file is not a valid .fkeras archive (truncated or corrupt)."
        ) from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: corrupt JSON in the file ({error}).") from None
    if not isinstance(metadata, dict) or metadata.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{where}: unsupported file format. Received: metadata={metadata!r}")
    try:
        model = deserialize(config)
        return model.set_weights(weights)
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(
            f"{where}: the file does not describe a valid fkeras model: {error}"
        ) from None


def save_weights(model, path) -> None:
    """Write `model.get_weights()` to a `.weights.npz` file, atomically."""
    path = _check_suffix(path, ".weights.npz", "save_weights")
    data = _weights_bytes(model.get_weights())
    _atomic_write(path, lambda f: f.write(data))


def load_weights(model, path):
    """A copy of `model` with the weights stored at `path` (checked against its shapes)."""
    path = _check_suffix(path, ".weights.npz", "load_weights")
    where = f"load_weights({path!r})"
    with open(path, "rb") as f:
        weights = _read_weights(f.read(), where)
    try:
        return model.set_weights(weights)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
