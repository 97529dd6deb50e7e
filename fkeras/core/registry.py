"""Registry of serializable classes by name. Deserialization only ever looks names up here:
nothing is imported or executed from a config.

One name may stand for several built-in classes of different kinds (the loss and the metric
`MeanSquaredError`); `deserialize(..., expected=Loss)` picks the one of the expected kind, and
an ambiguous lookup without `expected` is an error rather than a silent guess.
"""

from __future__ import annotations

from typing import Any

_REGISTRY: dict[str, list[type]] = {}


def register_serializable(package: str = "Custom", name: str | None = None):
    """Register a class so configs can name it (Keras' `register_keras_serializable`).

    Built-in fkeras classes register under their plain class name; user classes under
    `"package>Name"`, so a user class never shadows a built-in one.

    ```python
    @fk.saving.register_serializable(package="my_project")
    class Scale(fk.layers.Layer): ...
    ```
    """

    def decorator(cls):
        key = _registered_name(package, name or cls.__name__)
        entries = _REGISTRY.setdefault(key, [])
        # Re-registering the same class (a module reloaded) replaces it.
        entries[:] = [
            c
            for c in entries
            if (c.__module__, c.__qualname__) != (cls.__module__, cls.__qualname__)
        ]
        if entries and package != "fkeras":
            existing = entries[0]
            raise ValueError(
                f"Cannot register {cls.__qualname__} as '{key}': that name is already taken by "
                f"{existing.__module__}.{existing.__qualname__}."
            )
        entries.append(cls)
        cls._registered_name = key
        return cls

    return decorator


def _registered_name(package: str, name: str) -> str:
    return name if package == "fkeras" else f"{package}>{name}"


def get_registered_object(name: str, expected: type | None = None) -> Any:
    """The class (or function) registered as `name` (of kind `expected`, if given), or None."""
    candidates = [
        c
        for c in _REGISTRY.get(name, ())
        if expected is None or (isinstance(c, type) and issubclass(c, expected))
    ]
    return candidates[0] if candidates else None


def get_registered_name(obj: Any) -> str | None:
    cls = obj if isinstance(obj, type) else type(obj)
    key = cls.__dict__.get("_registered_name")
    if key is None and not isinstance(obj, type):  # a registered function
        key = getattr(obj, "_registered_name", None)
        cls = obj
    return key if key is not None and cls in _REGISTRY.get(key, ()) else None


def serialize(obj: Any) -> dict:
    """`{"class_name": ..., "config": ...}` for a registered object with `get_config()`."""
    key = get_registered_name(obj)
    if key is None:
        raise TypeError(
            f"Cannot serialize {type(obj).__qualname__}: the class is not registered. Decorate it "
            "with `@fk.saving.register_serializable()` and give it `get_config()`. "
            f"Received: {obj!r}"
        )
    # "module" only picks among registered classes sharing a name (the layer and the
    # initializer `Identity`); it is never imported.
    return {"module": type(obj).__module__, "class_name": key, "config": obj.get_config()}


def deserialize(config: Any, *, expected: type | None = None) -> Any:
    """Rebuild an object from `serialize()`'s output, looking its class up in the registry only."""
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise ValueError(
            "A serialized object must be a dict with 'class_name' and 'config'. "
            f"Received: {config!r}"
        )
    name = config["class_name"]
    entries = _REGISTRY.get(name, []) if isinstance(name, str) else []
    if not entries:
        raise ValueError(
            f"Unknown class '{name}': it is not a registered fkeras class. Register custom classes "
            "with `@fk.saving.register_serializable()` before loading. (Names in configs are "
            "only looked up, never imported.)"
        )
    candidates = [
        c for c in entries if expected is None or (isinstance(c, type) and issubclass(c, expected))
    ]
    if not candidates:
        raise TypeError(f"Class '{name}' is not a {expected.__name__}. Received: {config!r}")
    if len(candidates) > 1 and isinstance(config.get("module"), str):
        candidates = [c for c in candidates if c.__module__ == config["module"]] or candidates
    if len(candidates) > 1:
        kinds = ", ".join(f"{c.__module__}.{c.__qualname__}" for c in candidates)
        raise ValueError(
            f"'{name}' names several registered classes ({kinds}); deserialize it "
            "through the module of its kind (fk.losses.deserialize, say)."
        )
    cls = candidates[0]
    if not isinstance(config["config"], dict):
        raise ValueError(f"The config of '{name}' must be a dict. Received: {config['config']!r}")
    return cls.from_config(config["config"])
