"""Registry of serializable classes by name. Deserialization only ever looks names up here:
nothing is imported or executed from a config."""

from __future__ import annotations

from typing import Any

_REGISTRY: dict[str, type] = {}


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
        existing = _REGISTRY.get(key)
        if (
            existing is not None
            and existing is not cls
            and existing.__qualname__ != cls.__qualname__
        ):
            raise ValueError(
                f"Cannot register {cls.__qualname__} as '{key}': that name is already taken by "
                f"{existing.__module__}.{existing.__qualname__}."
            )
        _REGISTRY[key] = cls
        cls._registered_name = key
        return cls

    return decorator


def _registered_name(package: str, name: str) -> str:
    return name if package == "fkeras" else f"{package}>{name}"


def get_registered_object(name: str) -> type | None:
    return _REGISTRY.get(name)


def get_registered_name(obj: Any) -> str | None:
    cls = obj if isinstance(obj, type) else type(obj)
    key = cls.__dict__.get("_registered_name")
    return key if key is not None and _REGISTRY.get(key) is cls else None


def serialize(obj: Any) -> dict:
    """`{"class_name": ..., "config": ...}` for a registered object with `get_config()`."""
    key = get_registered_name(obj)
    if key is None:
        raise TypeError(
            f"Cannot serialize {type(obj).__qualname__}: the class is not registered. Decorate it "
            "with `@fk.saving.register_serializable()` and give it `get_config()`. "
            f"Received: {obj!r}"
        )
    return {"class_name": key, "config": obj.get_config()}


def deserialize(config: Any, *, expected: type | None = None) -> Any:
    """Rebuild an object from `serialize()`'s output, looking its class up in the registry only."""
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise ValueError(
            "A serialized object must be a dict with 'class_name' and 'config'. "
            f"Received: {config!r}"
        )
    name = config["class_name"]
    cls = _REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            f"Unknown class '{name}': it is not a registered fkeras class. Register custom classes "
            "with `@fk.saving.register_serializable()` before loading. (Names in configs are "
            "only looked up, never imported.)"
        )
    if expected is not None and not issubclass(cls, expected):
        raise TypeError(f"Class '{name}' is not a {expected.__name__}. Received: {config!r}")
    if not isinstance(config["config"], dict):
        raise ValueError(f"The config of '{name}' must be a dict. Received: {config['config']!r}")
    return cls.from_config(config["config"])
