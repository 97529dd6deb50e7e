"""Keras 3 model configs (parsed JSON) to fkeras models, by registry lookup only.

Every class name is looked up in fkeras' registry; nothing is imported or executed. Only Keras
built-ins are accepted: a custom class, a lambda or a function reference is refused with an
error naming the layer.
"""

from __future__ import annotations

import inspect
from typing import Any

from ..core.registry import get_registered_object

# Keras-only config keys fkeras has no use for (no effect on inference or weights).
_IGNORED = {
    "build_config",
    "compile_config",
    "build_input_shape",
    "registered_name",
    "shared_object_id",
    "renorm_momentum",
    "renorm_clipping",
    "sparse",
    "ragged",
    "optional",
}
# Keras options fkeras does not take, harmless at these (Keras' default) values.
_DEFAULTS = {"data_format": "channels_last", "synchronized": False}
MODELS = ("Sequential", "Functional", "Model")


def _is_builtin_module(module: Any) -> bool:
    return module is None or module == "keras" or str(module).startswith("keras.")


def _check_builtin(entry: dict, what: str) -> None:
    module = entry.get("module")
    registered = entry.get("registered_name")
    if not _is_builtin_module(module):
        raise ValueError(
            f"{what}: module {module!r} is not a Keras built-in; only Keras' own classes can be "
            "imported (nothing from a file is imported or executed)."
        )
    if registered is not None and registered != entry.get("class_name"):
        raise ValueError(
            f"{what}: registered_name {registered!r} names a custom class, which fkeras cannot "
            "map (nothing from a file is imported or executed)."
        )
    if entry.get("class_name") in ("function", "Lambda", "__lambda__"):
        raise ValueError(f"{what}: functions and lambdas cannot be imported safely.")


def _plain_object(value: dict, what: str, kind: str) -> dict:
    """A Keras `{"module", "class_name", "config"}` dict as fkeras' registry format."""
    from .. import constraints, initializers, regularizers

    _check_builtin(value, what)
    config = value.get("config") or {}
    expected = {
        "initializer": initializers.Initializer,
        "regularizer": regularizers.Regularizer,
        "constraint": constraints.Constraint,
    }[kind]
    cls = get_registered_object(value.get("class_name", ""), expected=expected)
    if cls is None:
        raise ValueError(f"{what}: fkeras has no {kind} '{value.get('class_name')}'.")
    if isinstance(config, dict):
        try:
            params = inspect.signature(cls.__init__).parameters
        except (TypeError, ValueError):
            params = {}
        if params and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            extra = {k: v for k, v in config.items() if k not in params}
            if any(v is not None for v in extra.values()):
                raise ValueError(f"{what}: options {sorted(extra)} are not supported by fkeras.")
            config = {k: v for k, v in config.items() if k in params}
    return {"class_name": value["class_name"], "config": config}


def _convert_value(key: str, value: Any, what: str) -> Any:
    if key == "dtype" and isinstance(value, dict):
        _check_builtin(value, f"{what} dtype")
        return value.get("config", {}).get("name", "float32")
    if key.endswith("activation") and isinstance(value, dict):
        # Keras' own functions: {"module": "keras.activations", "config": "relu", ...}.
        module = value.get("module")
        if module and str(module).startswith("keras.") and isinstance(value.get("config"), str):
            return value["config"]
        raise ValueError(
            f"{what}: activation {value!r} is not a Keras built-in function; custom functions "
            "cannot be imported safely."
        )
    if isinstance(value, dict) and "class_name" in value:
        if key in ("layer", "backward_layer", "cell"):
            return value  # converted by build_layer
        for kind in ("initializer", "regularizer", "constraint"):
            if key.endswith(kind):
                return _plain_object(value, f"{what} {key}", kind)
        _check_builtin(value, f"{what} {key}")
        raise ValueError(f"{what}: argument '{key}' holds an object fkeras cannot map: {value!r}")
    return value


def _layer_kwargs(cls: type, config: dict, what: str) -> dict:
    params = inspect.signature(cls.__init__).parameters
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    kwargs = {}
    for key, value in config.items():
        if key == "lora_rank" and value:
            raise ValueError(f"{what}: LoRA layers (lora_rank={value}) are not supported.")
        if key == "quantization_config" and value is not None:
            raise ValueError(f"{what}: quantized layers are not supported.")
        if key not in params and not accepts_any:
            if key in _IGNORED or value in (None, False, 0, "", [], {}) or key == "seed":
                continue
            if _DEFAULTS.get(key, _DEFAULTS) == value:
                continue
            raise ValueError(
                f"{what}: option {key}={value!r} has no fkeras equivalent, so the layer "
                "cannot be mapped."
            )
        kwargs[key] = _convert_value(key, value, what)
    return kwargs


def build_layer(entry: Any, where: str):
    """An fkeras layer (or model) from one Keras layer entry."""
    if not isinstance(entry, dict) or "class_name" not in entry:
        raise ValueError(f"{where}: a layer entry must be a dict with 'class_name'.")
    config = entry.get("config") or {}
    name = config.get("name") if isinstance(config, dict) else None
    what = f"{where}: layer {name or '?'!r} ({entry['class_name']})"
    _check_builtin(entry, what)
    class_name = entry["class_name"]
    if class_name in MODELS:
        return _build_model(entry, where)
    from ..layers import Layer

    cls = get_registered_object(class_name, expected=Layer)
    if cls is None:
        raise ValueError(f"{what}: fkeras has no layer '{class_name}', so it cannot be mapped.")
    if not isinstance(config, dict):
        raise ValueError(f"{what}: the layer config must be a dict.")
    kwargs = _layer_kwargs(cls, config, what)
    for key in ("layer", "backward_layer", "cell"):
        if isinstance(kwargs.get(key), dict):
            kwargs[key] = build_layer(kwargs[key], where)
    if isinstance(kwargs.get("cells"), list):  # StackedRNNCells
        kwargs["cells"] = [build_layer(c, where) for c in kwargs["cells"]]
    try:
        return cls(**kwargs)
    except Exception as error:
        raise ValueError(f"{what}: cannot build the fkeras layer ({error})") from error


def _shape_input(batch_shape, dtype, name=None):
    from ..layers import Input

    if not isinstance(batch_shape, (list, tuple)) or not batch_shape:
        raise ValueError(f"Input '{name}' has no usable batch_shape: {batch_shape!r}")
    dtype = dtype["config"]["name"] if isinstance(dtype, dict) else (dtype or "float32")
    return Input(tuple(batch_shape[1:]), dtype=dtype, name=name)


def _build_model(entry: dict, where: str):
    from ..models import Sequential

    config = entry.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"{where}: model '{entry.get('class_name')}' has no layer list.")
    name = config.get("name")
    if entry["class_name"] != "Sequential":
        return _build_functional(config, where)
    layers = list(config["layers"])
    start = []
    if layers and isinstance(layers[0], dict) and layers[0].get("class_name") == "InputLayer":
        first = layers.pop(0)
        _check_builtin(first, f"{where}: input layer")
        c = first.get("config", {})
        start = [_shape_input(c.get("batch_shape"), c.get("dtype"))]
    elif config.get("build_input_shape"):
        start = [_shape_input(config["build_input_shape"], None)]
    built = [build_layer(layer, where) for layer in layers]
    return Sequential(start + built, name=name)


def _history(value) -> tuple | None:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        h = value.get("config", {}).get("keras_history")
        if isinstance(h, list) and len(h) == 3:
            return tuple(h)
        raise ValueError(f"Malformed Keras tensor reference: {value!r}")
    return None


def _resolve(value, tensors: dict):
    h = _history(value)
    if h is not None:
        return tensors[h]
    if isinstance(value, list):
        return [_resolve(v, tensors) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, tensors) for k, v in value.items()}
    return value


def _refs(value) -> list:
    h = _history(value)
    if h is not None:
        return [h]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    return []


def _endpoints(spec, tensors: dict, where: str):
    """Keras' `input_layers`/`output_layers`: `[name, node, index]` or a list/dict of them."""
    if isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str):
        return tensors[tuple(spec)]
    if isinstance(spec, list):
        return [_endpoints(s, tensors, where) for s in spec]
    if isinstance(spec, dict):
        return {k: _endpoints(v, tensors, where) for k, v in spec.items()}
    raise ValueError(f"{where}: malformed model inputs/outputs {spec!r}")


def _build_functional(config: dict, where: str):
    from ..models import Model

    tensors: dict[tuple, Any] = {}
    pending = []
    for entry in config["layers"]:
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: a layer entry must be a dict.")
        name = entry.get("name") or entry.get("config", {}).get("name")
        if entry.get("class_name") == "InputLayer":
            _check_builtin(entry, f"{where}: input layer {name!r}")
            c = entry.get("config", {})
            tensors[(name, 0, 0)] = _shape_input(c.get("batch_shape"), c.get("dtype"), name)
            continue
        layer = build_layer(entry, where)
        for index, node in enumerate(entry.get("inbound_nodes") or []):
            pending.append((name, index, layer, node))
    while pending:
        progress = []
        for item in pending:
            name, index, layer, node = item
            args, kwargs = node.get("args", []), node.get("kwargs", {}) or {}
            if not all(r in tensors for r in _refs([args, kwargs])):
                continue
            args = _resolve(args, tensors)
            kwargs = {
                k: _resolve(v, tensors)
                for k, v in kwargs.items()
                if v is not None and k != "training"
            }
            try:
                out = layer(*args, **kwargs)
            except Exception as error:
                raise ValueError(f"{where}: cannot call layer {name!r} ({error})") from error
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            for i, t in enumerate(outs):
                tensors[(name, index, i)] = t
            progress.append(item)
        if not progress:
            missing = sorted({r[0] for _, _, _, n in pending for r in _refs(n) if r not in tensors})
            raise ValueError(f"{where}: the graph references unknown layers {missing}.")
        pending = [p for p in pending if p not in progress]
    try:
        inputs = _endpoints(config.get("input_layers"), tensors, where)
        outputs = _endpoints(config.get("output_layers"), tensors, where)
    except KeyError as error:
        raise ValueError(f"{where}: model inputs/outputs name unknown tensor {error}") from None
    return Model(inputs, outputs, name=config.get("name"))
