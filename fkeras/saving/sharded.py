"""Sharded, multi-host training checkpoints through Orbax (`pip install "fkeras[orbax]"`).

A sharded checkpoint is a directory written by Orbax's `Checkpointer` with two items:

- `state/`: every leaf of the `TrainState` as a sharded array (Orbax's `StandardSave`; each
  process writes only the shards it holds, into one OCDBT/TensorStore store). The leaves are
  stored flat, as `a0`, `a1`, ... in the order of `jax.tree_util.tree_leaves`; typed PRNG key
  arrays are stored as `jax.random.key_data` and rebuilt with `jax.random.wrap_key_data`.
- `metadata/`: a small JSON document (format, fkeras version, epoch, and for every leaf its path,
  shape and dtype), written by the primary process only.

**Atomic.** Orbax writes both items into `<directory>.orbax-checkpoint-tmp-*`, adds a
`commit_success.txt`, and renames the folder to `<directory>` only once every process has
finished writing; a crash mid-save never leaves a half-written `<directory>` (an unfinished
temporary folder is never read). On file systems without an atomic rename (e.g. some object
stores) Orbax relies on the `commit_success.txt` marker instead.

**Multi-host.** Every process calls `save_sharded_checkpoint` and `restore_sharded_checkpoint`
with the same directory (on storage that every process can reach); Orbax synchronizes the
processes itself, each process reads and writes only its own shards, and the primary process
writes the metadata and finalizes the directory.

**Another mesh.** Restoring reads the target's arrays (a trainer's `state`, or a `TrainState`)
only for their shape, dtype and `.sharding`: each leaf is read straight into the target's
sharding, so a checkpoint written on one mesh restores onto any other mesh, layout or device
count.
"""

from __future__ import annotations

import glob
import os
import shutil
import time
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from .checkpoint import _METRICS, _dict_keys

FORMAT = "fkeras-sharded-checkpoint"
FORMAT_VERSION = 1
_STATE, _METADATA = "state", "metadata"

T = TypeVar("T")


def _orbax(where: str):
    try:
        import orbax.checkpoint as ocp
    except ImportError:
        raise ImportError(
            f"{where} needs Orbax: pip install 'fkeras[orbax]' (or orbax-checkpoint). "
            "Received: orbax.checkpoint is not installed"
        ) from None
    return ocp


def _is_key(leaf) -> bool:
    dtype = getattr(leaf, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _spec(path, leaf) -> dict:
    """A leaf's path, shape and dtype, read without gathering a sharded array."""
    if _is_key(leaf):
        impl = str(jax.random.key_impl(leaf))
        return {
            "path": jax.tree_util.keystr(path),
            "shape": list(leaf.shape),
            "dtype": f"key<{impl}>",
            "impl": impl,
        }
    if not isinstance(leaf, jax.Array):
        leaf = np.asarray(leaf)
    return {
        "path": jax.tree_util.keystr(path),
        "shape": list(leaf.shape),
        "dtype": str(np.dtype(leaf.dtype)),
    }


def _split(trainer_or_state, where: str):
    """`(trainer or None, TrainState)` from what the user passed."""
    from ..training.state import TrainState

    if isinstance(trainer_or_state, TrainState):
        return None, trainer_or_state
    state = getattr(trainer_or_state, "state", None)
    if isinstance(state, TrainState):
        return trainer_or_state, state
    raise TypeError(
        f"{where} expects a trainer (what model.compile returns) or a TrainState. "
        f"Received: trainer_or_state of type {type(trainer_or_state).__name__}"
    )


def _path(directory, where: str) -> str:
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"{where} expects a directory path. Received: directory={directory!r}")
    directory = os.fspath(directory)
    # Orbax wants absolute paths; leave remote URLs (gs://...) as they are.
    return directory if "://" in directory else os.path.abspath(directory)


def save_sharded_checkpoint(
    directory: str | os.PathLike,
    trainer_or_state: Any,
    *,
    epoch: int | None = None,
    overwrite: bool = False,
) -> None:
    """Save a whole `TrainState` (sharded arrays included) to the directory `directory`.

    Every process of a multi-host run must call this with the same `directory`; each writes
    only its own shards, and the directory appears (atomically) only when all are done.

    **Arguments:**

    - `directory`: the checkpoint's directory; it must not exist yet unless `overwrite=True`.
      Missing parent folders are created. Remote paths that Orbax supports (`gs://...`) work.
    - `trainer_or_state`: a trainer (its `state` is saved) or a `TrainState`.
    - `epoch`: the number of epochs completed, kept in the metadata
      (`read_sharded_checkpoint_epoch`); optional.
    - `overwrite`: replace an existing checkpoint. The old one is deleted before the new one is
      written, so a crash during such a save loses both; write each checkpoint to a new
      directory (e.g. `f"ckpt/{epoch}"`) to always keep a complete one.

    **Returns:** None.

    ```python
    fk.saving.save_sharded_checkpoint("ckpt/3", trainer, epoch=3)
    ```
    """
    where = "save_sharded_checkpoint"
    ocp = _orbax(where)
    from .. import __version__

    if epoch is not None and (
        isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0
    ):
        raise ValueError(f"{where}: epoch must be a non-negative int or None. Received: {epoch=}")
    _, state = _split(trainer_or_state, where)
    path = _path(directory, where)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"{where}: the checkpoint directory already exists; pass overwrite=True to replace "
            f"it, or save to a new directory. Received: directory={path!r}"
        )
    if "://" not in path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _remove_stale_temporaries(path)
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    arrays = {
        f"a{i}": jax.random.key_data(leaf) if _is_key(leaf) else leaf
        for i, (_, leaf) in enumerate(leaves)
    }
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fkeras_version": __version__,
        "epoch": None if epoch is None else int(epoch),
        "leaves": [_spec(p, leaf) for p, leaf in leaves],
    }
    args = ocp.args.Composite(
        **{_STATE: ocp.args.StandardSave(arrays), _METADATA: ocp.args.JsonSave(metadata)}
    )
    for attempt in range(3):
        try:
            with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
                checkpointer.save(path, args=args, force=overwrite)
            return
        except FileExistsError:
            # Writer threads of a save that failed in this process may still be finishing
            # in its temporary folder; let them, clear it, and try again.
            if attempt == 2 or "://" in path:
                raise
            time.sleep(0.5)
            _remove_stale_temporaries(path)


def _remove_stale_temporaries(path: str) -> None:
    """Remove Orbax's temporary folders left by an earlier save that crashed or failed."""
    if jax.process_index() != 0:
        return
    for stale in glob.glob(glob.escape(path) + ".orbax-checkpoint-tmp*"):
        shutil.rmtree(stale, ignore_errors=True)


def _read_metadata(ocp, path: str, where: str) -> dict:
    if "://" not in path and not os.path.isdir(path):
        raise FileNotFoundError(
            f"{where}: no checkpoint directory there. Received: directory={path!r}"
        )
    try:
        with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
            restored = checkpointer.restore(
                path, args=ocp.args.Composite(**{_METADATA: ocp.args.JsonRestore()})
            )
        metadata = restored[_METADATA]
    except Exception as error:
        raise ValueError(
            f"{where}: not an fkeras sharded checkpoint (its metadata cannot be read: "
            f"{type(error).__name__}: {str(error)[:200]}). Received: directory={path!r}"
        ) from None
    if (
        not isinstance(metadata, dict)
        or metadata.get("format") != FORMAT
        or metadata.get("format_version") != FORMAT_VERSION
        or not isinstance(metadata.get("leaves"), list)
        or not all(
            isinstance(s, dict) and {"path", "shape", "dtype"} <= set(s) for s in metadata["leaves"]
        )
    ):
        raise ValueError(
            f"{where}: unsupported checkpoint format. Received: metadata={str(metadata)[:200]}"
        )
    return metadata


def read_sharded_checkpoint_epoch(directory: str | os.PathLike) -> int | None:
    """The epoch stored by `save_sharded_checkpoint` (None when none was given).

    **Arguments:**

    - `directory`: the checkpoint's directory.

    **Returns:** the epoch, an int, or None.

    ```python
    initial_epoch = fk.saving.read_sharded_checkpoint_epoch("ckpt/3")
    ```
    """
    where = "read_sharded_checkpoint_epoch"
    ocp = _orbax(where)
    return _read_metadata(ocp, _path(directory, where), where)["epoch"]


def _mismatch(where: str, detail: str, received: str) -> ValueError:
    return ValueError(
        f"{where}: the checkpoint does not match the target state ({detail}). Restore into a "
        "trainer built from the same model and compiled with the same optimizer, loss and "
        f"metrics. Received: {received}"
    )


def _check(where: str, saved: list[dict], target: list[dict], label: str) -> None:
    saved_paths = [s["path"] for s in saved]
    target_paths = [t["path"] for t in target]
    if saved_paths != target_paths:
        missing = [p for p in target_paths if p not in saved_paths]
        extra = [p for p in saved_paths if p not in target_paths]
        raise _mismatch(
            where,
            f"different {label} structure: {len(saved_paths)} leaves saved, "
            f"{len(target_paths)} in the target",
            f"leaves missing from the checkpoint: {missing[:5]}; leaves only in the "
            f"checkpoint: {extra[:5]}",
        )
    for s, t in zip(saved, target):
        if list(s["shape"]) != list(t["shape"]) or s["dtype"] != t["dtype"]:
            raise _mismatch(
                where,
                f"leaf {s['path']} differs",
                f"shape={tuple(s['shape'])}, dtype={s['dtype']} in the checkpoint, "
                f"shape={tuple(t['shape'])}, dtype={t['dtype']} in the target",
            )


def _fallback_sharding():
    """Where leaves without a sharding of their own go: replicated on every device."""
    if jax.process_count() == 1:
        return jax.sharding.SingleDeviceSharding(jax.devices()[0])
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("devices",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())


def _abstract(spec: dict, leaf, replicated) -> jax.ShapeDtypeStruct:
    """The stored array's shape and dtype, placed with `leaf`'s sharding."""
    if spec["dtype"].startswith("key"):
        data = jax.random.key_data(leaf) if leaf is not None else None
        shape = tuple(data.shape) if data is not None else None
        sharding = data.sharding if isinstance(data, jax.Array) else replicated
        if shape is None:  # a saved metric state without a target leaf: never a key
            raise ValueError("a PRNG key among the metric states")
        return jax.ShapeDtypeStruct(shape, np.dtype(np.uint32), sharding=sharding)
    sharding = leaf.sharding if isinstance(leaf, jax.Array) else replicated
    return jax.ShapeDtypeStruct(tuple(spec["shape"]), jnp.dtype(spec["dtype"]), sharding=sharding)


def _finish(array, spec: dict, leaf):
    """The restored array in the target leaf's form (typed key, NumPy array, jax array)."""
    if spec["dtype"].startswith("key"):
        return jax.random.wrap_key_data(array, impl=spec["impl"])
    if leaf is not None and not isinstance(leaf, jax.Array):
        return np.asarray(array)
    return array


def restore_sharded_checkpoint(directory: str | os.PathLike, trainer_or_state: T) -> T:
    """Restore a checkpoint written by `save_sharded_checkpoint` onto the target's shardings.

    Each leaf is read straight into the sharding of the matching leaf of the target, so the
    checkpoint can be restored onto another mesh or layout (for example a trainer compiled
    with another distribution, or a `TrainState` whose arrays were `jax.device_put` with the
    shardings wanted). Every process of a multi-host run must call this.

    The target must have the same leaves (paths, shapes and dtypes) as the saved state; the
    first difference raises a `ValueError`. A trainer whose metrics are not resolved yet (no
    `fit` or `evaluate` so far) takes the saved metric states as they are, replicated.

    **Arguments:**

    - `directory`: the checkpoint's directory.
    - `trainer_or_state`: a trainer (its `state` is replaced) or a `TrainState` (not changed).

    **Returns:** the trainer itself, or a new `TrainState`, holding the restored state.

    ```python
    trainer = model.compile(optimizer="adam", loss="mse", distribution=dist)
    fk.saving.restore_sharded_checkpoint("ckpt/3", trainer)
    trainer.fit(x, y, epochs=10, initial_epoch=fk.saving.read_sharded_checkpoint_epoch("ckpt/3"))
    ```
    """
    where = "restore_sharded_checkpoint"
    ocp = _orbax(where)
    trainer, state = _split(trainer_or_state, where)
    path = _path(directory, where)
    metadata = _read_metadata(ocp, path, where)
    saved = list(enumerate(metadata["leaves"]))

    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    target = [(_spec(p, leaf), leaf) for p, leaf in leaves]

    def is_metric(spec: dict) -> bool:
        return spec["path"].startswith(_METRICS)

    saved_rest = [(i, s) for i, s in saved if not is_metric(s)]
    saved_metrics = [(i, s) for i, s in saved if is_metric(s)]
    target_rest = [(s, leaf) for s, leaf in target if not is_metric(s)]
    target_metrics = [(s, leaf) for s, leaf in target if is_metric(s)]
    _check(where, [s for _, s in saved_rest], [s for s, _ in target_rest], "state")

    same_metrics = [s["path"] for _, s in saved_metrics] == [s["path"] for s, _ in target_metrics]
    take_saved_metrics = (
        not same_metrics
        and trainer is not None
        and getattr(trainer.steps, "metric_entries", None) is None
    )
    if not take_saved_metrics:
        _check(
            where, [s for _, s in saved_metrics], [s for s, _ in target_metrics], "metric_states"
        )
        pairs = list(
            zip(saved_rest + saved_metrics, [leaf for _, leaf in target_rest + target_metrics])
        )
    else:
        pairs = list(zip(saved_rest, [leaf for _, leaf in target_rest]))
        pairs += [(item, None) for item in saved_metrics]

    step = state.step
    replicated = (
        jax.sharding.NamedSharding(step.sharding.mesh, jax.sharding.PartitionSpec())
        if isinstance(step, jax.Array) and isinstance(step.sharding, jax.sharding.NamedSharding)
        else step.sharding
        if isinstance(step, jax.Array)
        else _fallback_sharding()
    )
    try:
        abstract = {f"a{i}": _abstract(spec, leaf, replicated) for (i, spec), leaf in pairs}
    except (ValueError, TypeError) as error:  # a corrupt metadata file
        raise ValueError(
            f"{where}: corrupt checkpoint metadata ({error}). Received: directory={path!r}"
        ) from None
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
        restored = checkpointer.restore(
            path, args=ocp.args.Composite(**{_STATE: ocp.args.StandardRestore(abstract)})
        )[_STATE]
    values = [_finish(restored[f"a{i}"], spec, leaf) for (i, spec), leaf in pairs]

    n_rest = len(saved_rest)
    rest = state.replace(metric_states={})
    rest = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(rest), values[:n_rest])
    if take_saved_metrics:
        metric_states = _nested(
            [(s, v) for (_, s), v in zip(saved_metrics, values[n_rest:])], where
        )
    else:
        metric_states = jax.tree_util.tree_unflatten(
            jax.tree_util.tree_structure(state.metric_states), values[n_rest:]
        )
    new_state = rest.replace(metric_states=metric_states)
    if trainer is None:
        return new_state
    trainer.state = new_state
    return trainer


def _nested(items: list, where: str) -> dict:
    """Saved metric states (nested dicts of arrays) rebuilt from their paths."""
    states: dict = {}
    for spec, value in items:
        keys = _dict_keys(spec["path"])
        if keys is None:
            raise ValueError(
                f"{where}: the checkpoint's metric states do not fit this trainer, whose metrics "
                "are not resolved yet: call fit or evaluate once before restoring. "
                f"Received: {spec['path']}"
            )
        node = states
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ValueError(f"{where}: corrupt metric state paths. Received: {spec['path']}")
        if keys[-1] in node:
            raise ValueError(f"{where}: corrupt metric state paths. Received: {spec['path']}")
        node[keys[-1]] = value
    return states
