"""`.fkeras` model files and `.weights.npz` weight files: JSON plus NumPy arrays, no pickle.

A `.fkeras` file is a zip with exactly three members: `metadata.json` (format and fkeras
version), `config.json` (registered class names and hyperparameters) and `weights.npz` (the
arrays in Keras' `get_weights()` order). Arrays are read with `allow_pickle=False`, and class
names are only looked up in the registry, so opening a file never runs code from it. Every write
goes to a temporary file in the target's folder, is flushed to disk, then renamed over the
target, so a crash mid-save leaves the previous file intact.

Reading is bounded (zip-bomb guard, also used for Keras' `.keras` files): a member whose
declared uncompressed size is above a limit (`max_weights_bytes`, 8 GiB by default, for the
weights; `max_json_bytes`, 32 MiB, for each JSON member), or which is larger than 1 MiB and
compressed more than `max_compression_ratio` (100) times, is refused before anything is
decompressed; no read returns more than the declared size (a member whose data does not match
its declared size and CRC is refused); and an array in the weights must not declare more bytes
than its member holds.
"""

from __future__ import annotations

import io
import json
import math
import numbers
import os
import tempfile
import zipfile

import numpy as np

from ..core.registry import deserialize, serialize

FORMAT_VERSION = 1
_MEMBERS = ("metadata.json", "config.json", "weights.npz")
DEFAULT_MAX_WEIGHTS_BYTES = 8 * 2**30
DEFAULT_MAX_JSON_BYTES = 32 * 2**20  # configs are small; refuse a decompression bomb posing as one
DEFAULT_MAX_COMPRESSION_RATIO = 100.0
# Smaller members may be compressed more (a few zero-filled arrays): they cannot exhaust memory.
_RATIO_MIN_BYTES = 2**20


class ReadLimits:
    """The bounds on what reading one model file may decompress (see the module docstring)."""

    def __init__(self, where: str, max_weights_bytes, max_json_bytes, max_compression_ratio):
        for name, value in (
            ("max_weights_bytes", max_weights_bytes),
            ("max_json_bytes", max_json_bytes),
            ("max_compression_ratio", max_compression_ratio),
        ):
            integral = name != "max_compression_ratio"
            kind = numbers.Integral if integral else numbers.Real
            if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
                raise ValueError(
                    f"{where}: `{name}` must be a positive {'int' if integral else 'number'}. "
                    f"Received: {name}={value!r}"
                )
        self.where = where
        self.weights = int(max_weights_bytes)
        self.json = int(max_json_bytes)
        self.ratio = float(max_compression_ratio)

    def check(self, info: zipfile.ZipInfo, limit: int, option: str) -> None:
        """Refuse a member from its declared sizes alone, before decompressing anything."""
        name, size = info.filename, info.file_size
        if size > limit:
            raise ValueError(
                f"{self.where}: the archive member {name!r} declares {size} bytes uncompressed, "
                f"more than the limit of {limit} bytes, so it is not read (a decompression bomb, "
                f"or a larger file than expected: raise the limit with `{option}=`). "
                f"Received: file_size={size}"
            )
        ratio = size / max(info.compress_size, 1)
        if size > _RATIO_MIN_BYTES and ratio > self.ratio:
            raise ValueError(
                f"{self.where}: the archive member {name!r} is compressed {ratio:.0f} times "
                f"({info.compress_size} bytes for {size}), more than the limit of "
                f"{self.ratio:g}, so it is not read (a decompression bomb, or very repetitive "
                f"data: raise the limit with `max_compression_ratio=`). "
                f"Received: compress_size={info.compress_size}, file_size={size}"
            )

    def read(self, archive: zipfile.ZipFile, name: str, *, json_member: bool) -> bytes:
        """The member's bytes, after `check`, reading never more than its declared size."""
        info = archive.getinfo(name)
        limit, option = (
            (self.json, "max_json_bytes") if json_member else (self.weights, "max_weights_bytes")
        )
        self.check(info, limit, option)
        with archive.open(info) as member:
            # zipfile stops at the declared size and checks the CRC there, so a member whose
            # data is longer than declared fails here instead of filling memory.
            data = member.read(info.file_size + 1)
        if len(data) != info.file_size:
            raise ValueError(
                f"{self.where}: the archive member {name!r} holds {len(data)} bytes but declares "
                f"{info.file_size}; the file is corrupt. Received: file_size={info.file_size}"
            )
        return data


def _limits(where, max_weights_bytes, max_json_bytes, max_compression_ratio) -> ReadLimits:
    return ReadLimits(where, max_weights_bytes, max_json_bytes, max_compression_ratio)


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


def _check_npz(data: bytes, limits: ReadLimits) -> None:
    """The weights archive (itself a zip of `.npy` members) under the same bounds: member sizes,
    their total, and each array's declared shape against the bytes its member holds."""
    try:
        npz = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return  # not an .npz at all: np.load says what it is (a pickle is refused there)
    with npz:
        infos = npz.infolist()
        for info in infos:
            limits.check(info, limits.weights, "max_weights_bytes")
        total = sum(info.file_size for info in infos)
        if total > limits.weights:
            raise ValueError(
                f"{limits.where}: the weights declare {total} bytes uncompressed, more than the "
                f"limit of {limits.weights} bytes (raise it with `max_weights_bytes=`). "
                f"Received: total file_size={total}"
            )
        for info in infos:
            with npz.open(info) as member:
                try:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                    elif version == (2, 0):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                    else:
                        continue  # np.load checks the rest; the member size is bounded anyway
                except ValueError:
                    continue  # not an array: np.load says so below
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes > info.file_size:
                raise ValueError(
                    f"{limits.where}: the array {info.filename!r} declares shape {shape} of "
                    f"{dtype} ({nbytes} bytes) but its member holds {info.file_size} bytes; "
                    f"the file is corrupt. Received: shape={shape}"
                )


def _read_weights(data: bytes, where: str, limits: ReadLimits | None = None) -> list[np.ndarray]:
    try:
        if limits is not None:
            _check_npz(data, limits)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            names = sorted(npz.files, key=lambda n: int(n[1:]) if n[1:].isdigit() else -1)
            if names != [f"w{i}" for i in range(len(names))]:
                raise ValueError(f"unexpected array names {npz.files[:5]}")
            return [npz[n] for n in names]
    except ValueError as error:  # includes "Object arrays cannot be loaded when allow_pickle=False"
        if str(error).startswith(where):  # a limit of `_check_npz`, already explained
            raise
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


def load_model(
    path,
    *,
    max_weights_bytes: int = DEFAULT_MAX_WEIGHTS_BYTES,
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
    max_compression_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO,
):
    """Read a model saved with `model.save(path)` (`.fkeras`), or a Keras 3 `.keras` file
    (needs h5py: `pip install "fkeras[keras-import]"`); nothing in the file is executed.

    Reading is bounded against decompression bombs: a member of the archive is refused, before
    it is decompressed, when its declared size is above the limit or (above 1 MiB) it is
    compressed more than `max_compression_ratio` times, and no read goes past a member's
    declared size.

    **Arguments:**

    - `path`: a `.fkeras` or `.keras` file.
    - `max_weights_bytes`: the most bytes the weights may take uncompressed (8 GiB).
    - `max_json_bytes`: the most bytes each JSON member (config, metadata) may take (32 MiB).
    - `max_compression_ratio`: the highest compression ratio accepted for a member larger
        than 1 MiB (100).

    **Returns:** the model, with its weights.

    ```python
    model = fk.saving.load_model("model.fkeras")
    big = fk.saving.load_model("big.fkeras", max_weights_bytes=64 * 2**30)
    ```
    """
    if os.fspath(path).endswith(".keras"):
        from .keras_format import load_keras_model

        return load_keras_model(
            path,
            max_weights_bytes=max_weights_bytes,
            max_json_bytes=max_json_bytes,
            max_compression_ratio=max_compression_ratio,
        )
    path = _check_suffix(path, ".fkeras", "load_model")
    where = f"load_model({path!r})"
    limits = _limits(where, max_weights_bytes, max_json_bytes, max_compression_ratio)
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(archive.namelist())
            if names != sorted(_MEMBERS):
                raise ValueError(
                    f"{where}: not an fkeras model file: expected members "
                    f"{list(_MEMBERS)}. Received: {names[:10]}"
                )
            metadata = json.loads(limits.read(archive, "metadata.json", json_member=True))
            config = json.loads(limits.read(archive, "config.json", json_member=True))
            weights_bytes = limits.read(archive, "weights.npz", json_member=False)
        weights = _read_weights(weights_bytes, where, limits)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile):
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


def load_weights(model, path, *, max_weights_bytes: int = DEFAULT_MAX_WEIGHTS_BYTES):
    """A copy of `model` with the weights stored at `path` (checked against its shapes).

    The `.weights.npz` archive is read under the bounds of `load_model`: at most
    `max_weights_bytes` bytes uncompressed (8 GiB by default), no member compressed more than
    100 times, and no array larger than its member.
    """
    path = _check_suffix(path, ".weights.npz", "load_weights")
    where = f"load_weights({path!r})"
    limits = _limits(
        where, max_weights_bytes, DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_COMPRESSION_RATIO
    )
    with open(path, "rb") as f:
        weights = _read_weights(f.read(), where, limits)
    try:
        return model.set_weights(weights)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
