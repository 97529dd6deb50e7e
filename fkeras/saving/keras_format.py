"""Read Keras 3 `.keras` files (and live Keras models) into fkeras models, safely.

A `.keras` file is a zip holding `config.json`, `metadata.json` and `model.weights.h5`. The
config is parsed as JSON and every class name is only *looked up* in fkeras' registry: nothing
is imported or executed from the file. Only Keras built-ins are accepted; a custom class, a
lambda or a function reference is refused with an error naming the layer. The archive is read
under the bounds of `fk.saving.load_model` (declared sizes and compression ratios checked before
decompressing, reads never past a member's declared size).
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from .files import (
    DEFAULT_MAX_COMPRESSION_RATIO,
    DEFAULT_MAX_JSON_BYTES,
    DEFAULT_MAX_WEIGHTS_BYTES,
    ReadLimits,
)
from .keras_config import MODELS, build_layer

_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")


# ---------------------------------------------------------------------------------- weights
def _vars(group) -> list[np.ndarray]:
    if group is None or "vars" not in group:
        return []
    v = group["vars"]
    out = []
    for i in range(len(v)):
        item = v.get(str(i))
        if item is None or not hasattr(item, "dtype") or item.dtype.kind not in "fiub":
            raise ValueError(f"weights entry {v.name}/{i} is missing or not a numeric array")
        out.append(np.asarray(item))
    return out


# Sub-objects of Keras composite layers, in Keras' `get_weights()` order.
_SUBLAYERS = {
    "MultiHeadAttention": ("query_dense", "key_dense", "gate_dense", "value_dense", "output_dense"),
    "LSTM": ("cell",),
    "GRU": ("cell",),
    "SimpleRNN": ("cell",),
    "RNN": ("cell",),
    "ConvLSTM1D": ("cell",),
    "ConvLSTM2D": ("cell",),
    "ConvLSTM3D": ("cell",),
    "Bidirectional": ("forward_layer", "backward_layer"),
    "TimeDistributed": ("layer",),
}


def _h5_names(entries: list, sequential: bool) -> dict[str, str]:
    """Config layer name -> its h5 group: Keras names them by class (`dense`, `dense_1`...)."""
    from ..models.base import to_snake_case

    used: dict[str, int] = {}
    out = {}
    for entry in entries:
        if sequential and entry.get("class_name") == "InputLayer":
            continue
        base = to_snake_case(entry.get("class_name", ""))
        used[base] = used.get(base, -1) + 1
        name = entry.get("name") or entry.get("config", {}).get("name")
        out[name] = base if used[base] == 0 else f"{base}_{used[base]}"
    return out


def _layer_weights(layer, group, entry: dict) -> list[np.ndarray]:
    """`layer`'s weights read from its h5 group, in fkeras' (= Keras') `get_weights()` order."""
    from ..models.base import BaseModel, layer_name

    if isinstance(layer, BaseModel):
        entries = entry["config"]["layers"]
        keys = _h5_names(entries, entry["class_name"] == "Sequential")
        by_name = {e.get("name") or e.get("config", {}).get("name"): e for e in entries}
        sub = group["layers"] if group is not None and "layers" in group else None
        out = _vars(group)
        for child in layer.layers:
            name = layer_name(child)
            key = keys.get(name)
            child_group = sub[key] if sub is not None and key in sub else None
            out += _layer_weights(child, child_group, by_name.get(name, {}))
        return out
    out = _vars(group)
    for attr in _SUBLAYERS.get(type(layer).__name__, ()):
        if group is None or attr not in group:
            continue
        child = getattr(layer, attr, None)
        if attr in ("layer", "forward_layer", "backward_layer") and child is not None:
            out += _layer_weights(child, group[attr], {})
        else:
            out += _all_vars(group[attr])
    return out


def _all_vars(group) -> list[np.ndarray]:
    return _vars(group) + [a for k in ("cell",) if k in group for a in _vars(group[k])]


def _set_from_h5(model, h5file, config: dict, where: str):
    try:
        return model.set_weights(_layer_weights(model, h5file, config))
    except Exception as error:
        raise ValueError(f"{where}: the weights do not fit the model ({error})") from error


# ---------------------------------------------------------------------------------- entry points
def _model_from_config(config, where: str):
    if not isinstance(config, dict) or config.get("class_name") not in MODELS:
        name = config.get("class_name") if isinstance(config, dict) else None
        raise ValueError(f"{where}: expected a Sequential or functional model, got {name!r}.")
    return build_layer(config, where)


def load_keras_model(
    path,
    *,
    max_weights_bytes: int = DEFAULT_MAX_WEIGHTS_BYTES,
    max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
    max_compression_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO,
):
    """An fkeras model read from a Keras 3 `.keras` file; nothing in the file is executed.

    The limits are those of `fk.saving.load_model`, which calls this for `.keras` paths.
    """
    import h5py

    path = os.fspath(path)
    where = f"load_keras_model({path!r})"
    limits = ReadLimits(where, max_weights_bytes, max_json_bytes, max_compression_ratio)
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                parts = member.replace("\\", "/").split("/")
                if member.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
                    raise ValueError(f"{where}: unsafe member path {member!r} in the archive.")
            names = set(archive.namelist())
            missing = [m for m in _MEMBERS if m not in names]
            if missing:
                raise ValueError(f"{where}: not a Keras 3 .keras file: missing {missing}.")
            config = json.loads(limits.read(archive, "config.json", json_member=True))
            json.loads(limits.read(archive, "metadata.json", json_member=True))
            weights_bytes = limits.read(archive, "model.weights.h5", json_member=False)
    except zipfile.BadZipFile:
        raise ValueError(f"{where}: not a valid .keras archive (truncated or corrupt).") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: corrupt JSON in the file ({error}).") from None
    except (OSError, EOFError, zipfile.LargeZipFile) as error:
        raise ValueError(f"{where}: cannot read the archive ({error}).") from None
    model = _model_from_config(config, where)
    try:
        h5 = h5py.File(io.BytesIO(weights_bytes), "r")
    except OSError as error:
        raise ValueError(f"{where}: model.weights.h5 is not a valid HDF5 file ({error}).") from None
    with h5:
        return _set_from_h5(model, h5, config, where)


def from_keras(keras_model):
    """An fkeras model with the architecture and weights of a live Keras 3 model."""
    import keras

    config = keras.saving.serialize_keras_object(keras_model)
    config = json.loads(json.dumps(config, default=lambda o: None))
    where = f"from_keras({type(keras_model).__name__} {getattr(keras_model, 'name', '')!r})"
    model = _model_from_config(config, where)
    try:
        return model.set_weights(keras_model.get_weights())
    except Exception as error:
        raise ValueError(f"{where}: the weights do not fit the model ({error})") from error
