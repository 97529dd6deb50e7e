"""Training checkpoints: the whole `TrainState` of a trainer plus the epoch, to resume a run.

A checkpoint is a zip with two members: `metadata.json` (format, fkeras version, the epoch, and
for every leaf of the state its path, shape and dtype) and `state.npz` (the leaves as arrays
`a0`, `a1`, ...). It holds every leaf of the `TrainState`: the parameters, the layer state
(moving statistics), the optimizer state (optax states and injected hyperparameters), the
metric states, the step counter and the PRNG key (typed key arrays are stored as
`jax.random.key_data` and rebuilt with `jax.random.wrap_key_data`). Arrays are read with
`allow_pickle=False` and nothing in the file is executed.

The write goes to a temporary file in the target's folder, is flushed to disk and renamed over
the target, so a crash in the middle of a save leaves the previous checkpoint intact (a stray
`.tmp-*` file left by a hard kill is never read).
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import zipfile

import jax
import jax.numpy as jnp
import numpy as np

from .files import (
    DEFAULT_MAX_COMPRESSION_RATIO,
    DEFAULT_MAX_JSON_BYTES,
    DEFAULT_MAX_WEIGHTS_BYTES,
    ReadLimits,
    _atomic_write,
    _check_npz,
)


def _read_limits(where: str) -> ReadLimits:
    # A checkpoint is read under the same bounds as a model file (decompression bombs,
    # members longer than declared, array headers larger than their bytes).
    return ReadLimits(
        where, DEFAULT_MAX_WEIGHTS_BYTES, DEFAULT_MAX_JSON_BYTES, DEFAULT_MAX_COMPRESSION_RATIO
    )


FORMAT = "fkeras-checkpoint"
FORMAT_VERSION = 1
_MEMBERS = ("metadata.json", "state.npz")
_METRICS = ".metric_states"


def _is_key(leaf) -> bool:
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _leaf_spec(path, leaf) -> dict:
    if _is_key(leaf):
        return {
            "path": jax.tree_util.keystr(path),
            "shape": list(leaf.shape),
            "dtype": f"key<{jax.random.key_impl(leaf)}>",
            "impl": str(jax.random.key_impl(leaf)),
        }
    array = np.asarray(leaf)
    return {
        "path": jax.tree_util.keystr(path),
        "shape": list(array.shape),
        "dtype": str(array.dtype),
    }


def _to_numpy(leaf) -> np.ndarray:
    """The leaf as a NumPy array that `np.load(allow_pickle=False)` reads back."""
    array = np.asarray(jax.random.key_data(leaf)) if _is_key(leaf) else np.asarray(leaf)
    if array.dtype.kind == "V":  # bfloat16, float8...: store the raw bits
        array = array.view(f"u{array.dtype.itemsize}")
    return array


def save_checkpoint(trainer, path, *, epoch: int) -> None:
    """Write `trainer.state` (every leaf) and `epoch` to a checkpoint file at `path`,
    atomically. Missing folders are created.

    `epoch` is the epoch to resume from (the number of epochs already completed).
    """
    from .. import __version__

    path = os.fspath(path)
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise ValueError(
            f"save_checkpoint: epoch must be a non-negative int. Received: epoch={epoch!r}"
        )
    if os.path.isdir(path):
        raise ValueError(
            f"save_checkpoint expects a file path, not an existing directory. Received: {path!r}"
        )
    leaves = jax.tree_util.tree_flatten_with_path(trainer.state)[0]
    specs = [_leaf_spec(p, leaf) for p, leaf in leaves]
    buffer = io.BytesIO()
    np.savez(buffer, **{f"a{i}": _to_numpy(leaf) for i, (_, leaf) in enumerate(leaves)})
    metadata = json.dumps(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "fkeras_version": __version__,
            "epoch": int(epoch),
            "leaves": specs,
        }
    )
    state_bytes = buffer.getvalue()

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr("metadata.json", metadata)
            archive.writestr("state.npz", state_bytes)

    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    _atomic_write(path, write)


def read_checkpoint_epoch(path) -> int:
    """The epoch stored in the checkpoint at `path` (reads the metadata only)."""
    path = os.fspath(path)
    where = f"read_checkpoint_epoch({path!r})"
    return _read_metadata(path, where, arrays=False)[0]["epoch"]


def _read_metadata(path: str, where: str, *, arrays: bool):
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(archive.namelist())
            if names != sorted(_MEMBERS):
                raise ValueError(
                    f"{where}: not an fkeras checkpoint: expected members {list(_MEMBERS)}. "
                    f"Received: {names[:10]}"
                )
            limits = _read_limits(where)
            metadata = json.loads(limits.read(archive, "metadata.json", json_member=True))
            data = limits.read(archive, "state.npz", json_member=False) if arrays else None
            if data is not None:
                _check_npz(data, limits)
    except zipfile.BadZipFile:
        raise ValueError(
            f"{where}: the file is not a valid checkpoint (truncated or corrupt)."
        ) from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: corrupt JSON in the checkpoint ({error}).") from None
    if (
        not isinstance(metadata, dict)
        or metadata.get("format") != FORMAT
        or metadata.get("format_version") != FORMAT_VERSION
        or not isinstance(metadata.get("epoch"), int)
        or not isinstance(metadata.get("leaves"), list)
    ):
        raise ValueError(f"{where}: unsupported checkpoint format. Received: {str(metadata)[:200]}")
    return metadata, data


def _read_arrays(data: bytes, count: int, where: str) -> list[np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            expected = [f"a{i}" for i in range(count)]
            if sorted(npz.files) != sorted(expected):
                raise ValueError(f"expected {count} arrays, found {len(npz.files)}")
            return [npz[name] for name in expected]
    except ValueError as error:  # includes "Object arrays cannot be loaded ..."
        raise ValueError(f"{where}: the checkpoint's arrays are not valid ({error}).") from None
    except Exception as error:
        raise ValueError(
            f"{where}: cannot read the checkpoint's arrays ({type(error).__name__}: {error})."
        ) from None


def _mismatch(where: str, detail: str) -> ValueError:
    return ValueError(
        f"{where}: the checkpoint does not match this trainer's state ({detail}). Restore into a "
        "trainer built from the same model and compiled with the same optimizer, loss and "
        "metrics."
    )


def _check(where: str, saved: list[dict], current: list[dict], label: str) -> None:
    saved_paths = [s["path"] for s in saved]
    current_paths = [c["path"] for c in current]
    if saved_paths != current_paths:
        missing = [p for p in current_paths if p not in saved_paths]
        extra = [p for p in saved_paths if p not in current_paths]
        raise _mismatch(
            where,
            f"different {label} structure: {len(saved_paths)} leaves saved, "
            f"{len(current_paths)} expected; not in the checkpoint: {missing[:5]}; "
            f"only in the checkpoint: {extra[:5]}",
        )
    for s, c in zip(saved, current):
        if list(s["shape"]) != list(c["shape"]) or s["dtype"] != c["dtype"]:
            raise _mismatch(
                where,
                f"leaf {s['path']} has shape {tuple(s['shape'])} and dtype {s['dtype']} in the "
                f"checkpoint, but shape {tuple(c['shape'])} and dtype {c['dtype']} here",
            )


def _rebuild(array: np.ndarray, spec: dict, current, where: str = "restore_checkpoint"):
    if spec["dtype"].startswith("key"):
        if array.dtype != np.uint32:
            raise ValueError(f"{where}: corrupt checkpoint: key data of {spec['path']}")
        return jax.random.wrap_key_data(jnp.asarray(array), impl=spec["impl"])
    try:
        dtype = np.dtype(jnp.dtype(spec["dtype"]))
    except TypeError:
        dtype = None
    raw_bits = dtype is not None and dtype.kind == "V" and array.dtype == f"u{dtype.itemsize}"
    if dtype is None or dtype.kind not in "biufcV" or (array.dtype != dtype and not raw_bits):
        raise ValueError(
            f"{where}: corrupt checkpoint: leaf {spec['path']} is stored as {array.dtype}, "
            f"its description says {spec['dtype']}"
        )
    if raw_bits:
        array = array.view(dtype)  # bfloat16, float8...: stored as their raw bits
    if isinstance(current, jax.Array):
        sharding = getattr(current, "sharding", None)
        return jax.device_put(array, sharding) if sharding is not None else jnp.asarray(array)
    if isinstance(current, np.ndarray):
        return np.array(array, copy=True)
    return jnp.asarray(array)


def restore_checkpoint(trainer, path) -> int:
    """Set `trainer.state` to the state stored at `path`; returns the stored epoch.

    The checkpoint must match the trainer's current state: the same tree of leaves, and the
    same shape and dtype for each (a clear `ValueError` names the first difference). A trainer
    whose metrics are not resolved yet (no `fit` or `evaluate` so far) takes the saved metric
    states as they are (fit resets metric states at each epoch start anyway).
    """
    path = os.fspath(path)
    where = f"restore_checkpoint({path!r})"
    metadata, data = _read_metadata(path, where, arrays=True)
    saved = metadata["leaves"]
    arrays = _read_arrays(data, len(saved), where)
    for spec, array in zip(saved, arrays):
        if not isinstance(spec, dict) or not {"path", "shape", "dtype"} <= set(spec):
            raise ValueError(f"{where}: corrupt leaf description in the checkpoint: {spec!r}")
        shape = list(array.shape)[:-1] if spec["dtype"].startswith("key") else list(array.shape)
        if shape != list(spec["shape"]):
            raise ValueError(
                f"{where}: corrupt checkpoint: leaf {spec['path']} has shape {array.shape}, "
                f"its description says {tuple(spec['shape'])}"
            )

    state = trainer.state
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    current = [(_leaf_spec(p, leaf), leaf) for p, leaf in leaves]

    def split(items, spec_of):
        rest = [x for x in items if not spec_of(x)["path"].startswith(_METRICS)]
        metrics = [x for x in items if spec_of(x)["path"].startswith(_METRICS)]
        return rest, metrics

    saved_rest, saved_metrics = split(list(zip(saved, arrays)), lambda x: x[0])
    current_rest, current_metrics = split(current, lambda x: x[0])

    _check(where, [s for s, _ in saved_rest], [c for c, _ in current_rest], "state")
    rest = state.replace(metric_states={})
    rest = jax.tree_util.tree_unflatten(
        jax.tree_util.tree_structure(rest),
        [_rebuild(a, s, leaf, where) for (s, a), (_, leaf) in zip(saved_rest, current_rest)],
    )
    same_names = [s["path"] for s, _ in saved_metrics] == [c["path"] for c, _ in current_metrics]
    if not same_names and getattr(trainer.steps, "metric_entries", None) is None:
        metric_states = _saved_metric_states(saved_metrics, where)
    else:
        _check(
            where, [s for s, _ in saved_metrics], [c for c, _ in current_metrics], "metric_states"
        )
        metric_states = jax.tree_util.tree_unflatten(
            jax.tree_util.tree_structure(state.metric_states),
            [
                _rebuild(a, s, leaf, where)
                for (s, a), (_, leaf) in zip(saved_metrics, current_metrics)
            ],
        )
    trainer.state = rest.replace(metric_states=metric_states)
    return metadata["epoch"]


_DICT_KEY = re.compile(r"""\[('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]""")


def _dict_keys(path: str) -> list[str] | None:
    """`.metric_states['a']['b']` -> `["a", "b"]`; None for anything but string dict keys."""
    rest, keys = path[len(_METRICS) :], []
    while rest:
        match = _DICT_KEY.match(rest)
        if match is None:
            return None
        keys.append(ast.literal_eval(match.group(1)))  # a string literal only; nothing runs
        rest = rest[match.end() :]
    return keys or None


def _saved_metric_states(saved: list, where: str) -> dict:
    """The saved metric states (nested dicts of arrays) rebuilt from their paths."""
    states: dict = {}
    for spec, array in saved:
        keys = _dict_keys(spec["path"])
        if keys is None or spec["dtype"].startswith("key"):
            raise ValueError(
                f"{where}: the checkpoint's metric states ({spec['path']}) do not fit this "
                "trainer, whose metrics are not resolved yet: call fit or evaluate once before "
                "restoring."
            )
        node = states
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"{where}: corrupt metric state paths in the checkpoint.")
        if keys[-1] in node:
            raise ValueError(f"{where}: corrupt metric state paths in the checkpoint.")
        node[keys[-1]] = _rebuild(array, spec, None, where)
    return states
