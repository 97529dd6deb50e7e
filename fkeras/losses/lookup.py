"""`get`, `serialize` and `deserialize`: losses from Keras names, configs and callables."""

from __future__ import annotations

import difflib
import inspect
from typing import Any

from ..core.registry import deserialize as _deserialize
from ..core.registry import serialize as _serialize
from . import crossentropy as _ce
from . import hinges as _hinge
from . import probabilistic as _prob
from . import regression as _reg
from .base import Loss, LossFunctionWrapper

_CLASSES: tuple[type[Loss], ...] = (
    _ce.SparseCategoricalCrossentropy,
    _ce.CategoricalCrossentropy,
    _ce.BinaryCrossentropy,
    _ce.CategoricalFocalCrossentropy,
    _ce.BinaryFocalCrossentropy,
    _reg.MeanSquaredError,
    _reg.MeanAbsoluteError,
    _reg.MeanAbsolutePercentageError,
    _reg.MeanSquaredLogarithmicError,
    _reg.Huber,
    _reg.LogCosh,
    _prob.KLDivergence,
    _prob.Poisson,
    _reg.CosineSimilarity,
    _hinge.Hinge,
    _hinge.SquaredHinge,
    _hinge.CategoricalHinge,
)

# Keras' function names (and their Keras aliases) name the class with default arguments.
_FUNCTION_NAMES: dict[str, type[Loss]] = {
    "sparse_categorical_crossentropy": _ce.SparseCategoricalCrossentropy,
    "categorical_crossentropy": _ce.CategoricalCrossentropy,
    "binary_crossentropy": _ce.BinaryCrossentropy,
    "categorical_focal_crossentropy": _ce.CategoricalFocalCrossentropy,
    "binary_focal_crossentropy": _ce.BinaryFocalCrossentropy,
    "mean_squared_error": _reg.MeanSquaredError,
    "mean_absolute_error": _reg.MeanAbsoluteError,
    "mean_absolute_percentage_error": _reg.MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": _reg.MeanSquaredLogarithmicError,
    "huber": _reg.Huber,
    "log_cosh": _reg.LogCosh,
    "kl_divergence": _prob.KLDivergence,
    "poisson": _prob.Poisson,
    "cosine_similarity": _reg.CosineSimilarity,
    "hinge": _hinge.Hinge,
    "squared_hinge": _hinge.SquaredHinge,
    "categorical_hinge": _hinge.CategoricalHinge,
}
ALIASES: dict[str, str] = {
    "mse": "mean_squared_error",
    "MSE": "mean_squared_error",
    "mae": "mean_absolute_error",
    "MAE": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "MAPE": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "MSLE": "mean_squared_logarithmic_error",
    "kld": "kl_divergence",
    "KLD": "kl_divergence",
    "bce": "binary_crossentropy",
    "BCE": "binary_crossentropy",
}
LOSS_NAMES: dict[str, type[Loss]] = {
    **_FUNCTION_NAMES,
    **{alias: _FUNCTION_NAMES[target] for alias, target in ALIASES.items()},
    **{cls.__name__: cls for cls in _CLASSES},
}
_SHORT_NAMES = sorted({*_FUNCTION_NAMES, *(a for a in ALIASES if a.islower())})


def get(identifier: Any) -> Loss | None:
    """A `Loss` from a Keras name, a config dict, a `Loss` instance or class, or a callable.

    **Arguments:**

    - `identifier`: one of
        - a Keras name: a function name or alias (`"sparse_categorical_crossentropy"`,
          `"mse"`, `"kld"`, ...) or a class name (`"MeanSquaredError"`), giving the class
          with Keras' default arguments;
        - a `Loss` instance (returned as is) or a `Loss` subclass (instantiated);
        - a config dict `{"class_name": ..., "config": ...}` from `serialize`;
        - a plain callable `fn(y_true, y_pred) -> per-sample losses`, wrapped in
          `LossFunctionWrapper(fn, name=fn.__name__)`;
        - `None`, returned as is (no loss).

    **Returns:** a `Loss`.

    ```python
    loss = fk.losses.get("sparse_categorical_crossentropy")
    loss = fk.losses.get({"class_name": "Huber", "config": {"delta": 2.0}})
    loss = fk.losses.get(lambda y_true, y_pred: jnp.mean(jnp.abs(y_true - y_pred), axis=-1))
    ```
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = LOSS_NAMES.get(identifier)
        if cls is None:
            close = difflib.get_close_matches(identifier, LOSS_NAMES, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ValueError(
                f"Unknown loss '{identifier}'.{hint} Known losses: {', '.join(_SHORT_NAMES)}, "
                "their class names (e.g. 'MeanSquaredError'), a `Loss` instance, or a callable "
                f"`fn(y_true, y_pred)` returning per-sample losses. Received: loss={identifier!r}"
            )
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise TypeError(
        "A loss must be a Keras loss name, a config dict, a `Loss` instance or a callable "
        f"`fn(y_true, y_pred)`. Received: loss={identifier!r}"
    )


# Built-in classes by class name. `serialize`/`deserialize` look here first, so a loss is found
# even where another family registers the same class name (Keras' `MeanSquaredError` is both a
# loss and a metric).
_BUILTIN_CLASSES: dict[str, type[Loss]] = {
    cls.__name__: cls for cls in (*_CLASSES, LossFunctionWrapper)
}


def serialize(loss: Loss) -> dict:
    """The config dict `{"module", "class_name", "config"}` of a registered `Loss`."""
    return _serialize(loss)


def deserialize(config: dict) -> Loss:
    """Rebuild a `Loss` from `serialize`'s output (class names are only looked up)."""
    if isinstance(config, dict) and isinstance(config.get("config"), dict):
        cls = _BUILTIN_CLASSES.get(config.get("class_name"))  # type: ignore[arg-type]
        if cls is not None:
            return cls.from_config(config["config"])
    return _deserialize(config, expected=Loss)


def names() -> list[str]:
    """Every name `get` accepts."""
    return sorted(LOSS_NAMES)


__all__ = ["ALIASES", "LOSS_NAMES", "deserialize", "get", "names", "serialize"]
