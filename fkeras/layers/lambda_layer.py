"""Lambda: a function as a layer (Keras 3's `Lambda`), saved by registered name only."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import get_registered_object, register_serializable
from ..core.shapes import normalize_shape

_register = register_serializable(package="fkeras")


def _function_config(fn: Callable, arg: str, owner: str) -> dict:
    """`{"class_name": "function", ...}` naming a registered function (Keras' form for
    registered functions). Code is never put in a config."""
    key = getattr(fn, "_registered_name", None)
    if key is None or get_registered_object(key) is not fn:
        raise TypeError(
            f"{owner}: cannot save `{arg}`: a config can only name a function registered with "
            "`@fk.saving.register_serializable(package=...)`; Python lambdas and unregistered "
            "functions cannot be saved (their code would have to be executed on loading). "
            f"Received: {arg}={fn!r}"
        )
    return {"module": "builtins", "class_name": "function", "config": key, "registered_name": key}


def _function_from_config(value: Any, arg: str) -> Callable:
    """The registered function a config names; nothing is imported or executed."""
    if isinstance(value, dict):
        if value.get("class_name") == "__lambda__":
            raise ValueError(
                f"Lambda: the config holds Python code for `{arg}` (a Keras-saved lambda); "
                "fkeras never executes code from a config. Register the function with "
                "`@fk.saving.register_serializable(package=...)` and rebuild the layer with it. "
                f"Received: {arg}={{'class_name': '__lambda__', ...}}"
            )
        value = value.get("registered_name") or value.get("config")
    fn = get_registered_object(value) if isinstance(value, str) else None
    if fn is None or isinstance(fn, type) or not callable(fn):
        raise ValueError(
            f"Lambda: `{arg}` names no registered function; register it with "
            "`@fk.saving.register_serializable(package=...)` before loading. "
            f"Received: {arg}={value!r}"
        )
    return fn


def _hashable_arguments(arguments, owner: str) -> tuple:
    if arguments is None:
        return ()
    if not isinstance(arguments, dict):
        raise TypeError(
            f"{owner} expects `arguments` as a dict of keyword arguments. "
            f"Received: arguments={arguments!r}"
        )
    items = tuple(sorted(arguments.items()))
    try:
        hash(items)
    except TypeError:
        # The arguments are static (part of the layer's structure, as jit needs hashable
        # hyperparameters); arrays belong in a layer with weights or in a closure.
        raise TypeError(
            f"{owner}: `arguments` values must be hashable constants (numbers, strings, "
            f"tuples). Received: arguments={arguments!r}"
        ) from None
    return items


@_register
class Lambda(Layer):
    """Wraps a function `function(inputs, **arguments)` as a layer (Keras 3's `Lambda`).

    It works everywhere in memory (`jax.jit`, `jax.grad`, `jax.vmap`, `Sequential`,
    functional models). Saving puts only a *registered* function's name in the config:
    register the function with `@fk.saving.register_serializable(package=...)`. Saving a layer
    with a Python lambda or an unregistered function raises `TypeError`, and loading never
    executes code (Keras' `__lambda__` configs are refused).

    **Arguments:**

    - `function`: takes the inputs as first argument; receives `mask=` and `training=` when
      its signature names them.
    - `output_shape`: the output shape without the batch dimension, or a (registered)
      function of the full input shape; `None` infers it by tracing.
    - `mask`: `None` (no output mask) or a (registered) function `(inputs, mask) -> mask`.
    - `arguments`: a dict of extra keyword arguments (hashable constants).

    ```python
    @fk.saving.register_serializable(package="my_project")
    def double(x):
        return 2.0 * x

    model = fk.Sequential([fk.Input((4,)), fk.layers.Lambda(double)])
    ```
    """

    has_weights = False

    function: Callable = static()
    output_shape: Any = static()
    mask: Any = static()
    arguments_items: tuple = static()

    def __init__(
        self,
        function: Callable,
        output_shape=None,
        mask=None,
        arguments: dict | None = None,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        if not callable(function):
            raise TypeError(
                f"{owner} expects a callable `function`. Received: function={function!r}"
            )
        if output_shape is not None and not callable(output_shape):
            try:
                output_shape = normalize_shape(output_shape)
            except TypeError:
                raise TypeError(
                    f"{owner} expects `output_shape` as a tuple (without the batch dimension) "
                    f"or a function. Received: output_shape={output_shape!r}"
                ) from None
        if mask is not None and not callable(mask):
            raise TypeError(
                f"{owner}: `mask` must be None or a function `(inputs, mask) -> mask`. "
                f"Received: mask={mask!r}"
            )
        self.function = function
        self.output_shape = output_shape
        self.mask = mask
        self.arguments_items = _hashable_arguments(arguments, owner)

    @property
    def arguments(self) -> dict:
        return dict(self.arguments_items)

    @property
    def supports_masking(self) -> bool:  # Keras: only when a mask function is given
        return self.mask is not None

    def __call__(self, x, *, training: bool = False, key=None, mask=None):
        kwargs = dict(self.arguments_items)
        params = _parameters(self.function)
        if "mask" in params:
            kwargs["mask"] = mask
        if "training" in params:
            kwargs["training"] = training
        return self.function(x, **kwargs)

    def compute_mask(self, inputs, mask=None):
        return None if self.mask is None else self.mask(inputs, mask)

    def compute_output_shape(self, input_shape):
        if self.output_shape is None:
            return super().compute_output_shape(input_shape)
        if callable(self.output_shape):
            return self.output_shape(input_shape)
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch, *self.output_shape)

    def get_config(self) -> dict:
        owner = describe(self)
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
            "function": _function_config(self.function, "function", owner),
            "arguments": dict(self.arguments_items),
        }
        if callable(self.output_shape):
            config["output_shape"] = _function_config(self.output_shape, "output_shape", owner)
        elif self.output_shape is not None:
            config["output_shape"] = list(self.output_shape)
        if self.mask is not None:
            config["mask"] = _function_config(self.mask, "mask", owner)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config["function"] = _function_from_config(config.get("function"), "function")
        output_shape = config.get("output_shape")
        if isinstance(output_shape, (dict, str)):
            config["output_shape"] = _function_from_config(output_shape, "output_shape")
        elif isinstance(output_shape, list):
            config["output_shape"] = tuple(output_shape)
        if config.get("mask") is not None:
            config["mask"] = _function_from_config(config["mask"], "mask")
        return cls(**config)


def _parameters(fn: Callable) -> frozenset:
    try:
        return frozenset(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # builtins without a signature
        return frozenset()
