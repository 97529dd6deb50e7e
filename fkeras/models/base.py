"""What Sequential and functional models share: child calls, naming, lookup, and the refusal
to mutate."""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

import jax
import jax.numpy as jnp

from ..core.errors import ImmutableModelError, describe
from ..core.layer import Layer, StatefulLayer
from ..core.shapes import TensorSpec, infer_output_spec, shape_matches


def to_snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def layer_name(obj: Any) -> str:
    return getattr(obj, "name", None) or to_snake_case(type(obj).__name__)


def assign_names(layers: list, owner: str) -> list:
    """Give unnamed layers unique Keras-style names (`dense`, `dense_1`, ...) within a model."""
    explicit: dict[str, Any] = {}
    for layer in layers:
        name = getattr(layer, "name", None)
        if name is not None:
            if name in explicit and explicit[name] is not layer:
                raise ValueError(
                    f"{owner}: all layers in a model must have unique names. "
                    f"Received: two layers named {name!r}"
                )
            explicit[name] = layer
    taken = set(explicit)
    out = []
    for layer in layers:
        if not isinstance(layer, Layer) or layer.name is not None:
            out.append(layer)
            continue
        base = to_snake_case(type(layer).__name__)
        name, i = base, 0
        while name in taken:
            i += 1
            name = f"{base}_{i}"
        taken.add(name)
        out.append(layer._replace(name=name))
    return out


@functools.cache
def _accepted_kwargs(cls: type) -> frozenset:
    try:
        params = inspect.signature(cls.__call__).parameters
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(
        n
        for n, p in params.items()
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    )


def call_child(child: Any, x: Any, training: bool, key, mask=None) -> tuple[Any, Any, Any]:
    """`(y, output_mask, updated_child)` for an fkeras layer or any pure callable PyTree
    (an Equinox module, say).

    Foreign callables get `key=` and `training=` (or Equinox's `inference=`) only when their
    `__call__` names them; they drop masks.
    """
    if isinstance(child, Layer):
        return child.apply_masked(x, training=training, key=key, mask=mask)
    accepted = _accepted_kwargs(type(child))
    kwargs: dict[str, Any] = {}
    if "key" in accepted and key is not None:
        kwargs["key"] = key
    if "training" in accepted:
        kwargs["training"] = training
    elif "inference" in accepted:
        kwargs["inference"] = not training
    return child(x, **kwargs), None, child


def child_output_spec(child: Any, specs: Any) -> Any:
    if isinstance(child, Layer):
        return child.compute_output_spec(specs)
    return infer_output_spec(lambda x: call_child(child, x, False, None)[0], specs)


def build_child(child: Any, specs: Any, key) -> Any:
    return child.build(specs, key) if isinstance(child, Layer) else child


def check_input(owner: str, spec: TensorSpec, x: Any, what: str = "inputs") -> jax.Array:
    """Convert `x` to the declared dtype and check its shape against `spec`."""
    shape = getattr(x, "shape", None)
    if shape is None:
        x = jnp.asarray(x)
        shape = x.shape
    if not shape_matches(spec.shape, tuple(shape)):
        raise ValueError(
            f"{owner} expects {what} of shape {spec.shape} (None: any size). "
            f"Received: x.shape={tuple(shape)}"
        )
    return jnp.asarray(x, dtype=spec.dtype)


_FIT_MESSAGE = (
    "fkeras models are immutable, so `model.{method}(...)` cannot change this model in place. "
    "Compile it into a trainer, which holds the training state and gives back the trained model:"
    '\n\n    trainer = model.compile(optimizer="adam", loss=..., metrics=["accuracy"])'
    "\n    history = trainer.{method}(x, y, ...)\n    model = trainer.model\n"
)


class BaseModel(StatefulLayer):
    """Shared behaviour of `Sequential` and `Model`. Subclasses hold a `layers` tuple and
    implement `apply_masked`; `apply` and `compute_mask` derive from it."""

    layers: tuple

    def apply(self, inputs, *, training: bool = False, key=None, mask=None):
        outputs, _, updated = self.apply_masked(inputs, training=training, key=key, mask=mask)
        return outputs, updated

    def compute_mask(self, inputs, mask=None):
        return self.apply_masked(inputs, mask=mask)[1]

    def get_layer(self, name: str | None = None, index: int | None = None):
        """The layer called `name`, or at position `index` of `model.layers`."""
        if (name is None) == (index is None):
            raise ValueError(
                f"{describe(self)}.get_layer expects exactly one of `name` or `index`. "
                f"Received: name={name!r}, index={index!r}"
            )
        if index is not None:
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(
                    f"{describe(self)} has {len(self.layers)} layers. Received: index={index}"
                )
            return self.layers[index]
        for layer in self.layers:
            if layer_name(layer) == name:
                return layer
        raise ValueError(
            f"{describe(self)} has no layer named {name!r}. Its layers: "
            f"{[layer_name(layer) for layer in self.layers]}. Received: name={name!r}"
        )

    def with_trainable(self, trainable: bool):
        return self._replace(
            trainable=trainable,
            layers=tuple(
                layer.with_trainable(trainable) if isinstance(layer, Layer) else layer
                for layer in self.layers
            ),
        )

    def summary(self, print_fn=None, line_length: int | None = None) -> None:
        """Print a table of layers: name and type, output shape, parameter count; then the
        totals, split into trainable and non-trainable."""
        from .summary import render_summary

        text = render_summary(self, line_length=line_length)
        (print_fn or print)(text)

    def _layer_output_shapes(self) -> list[Any]:
        raise NotImplementedError

    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        steps_per_execution="auto",
        seed: int | None = None,
        distribution=None,
    ):
        """A `Trainer` for this model (Keras' `compile`); the model itself never changes.

        ```python
        trainer = model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                                metrics=["accuracy"])
        history = trainer.fit(x, y, epochs=5)
        trained_model = trainer.model
        ```
        """
        from ..training.trainer import Trainer

        return Trainer(
            self,
            optimizer=optimizer,
            loss=loss,
            loss_weights=loss_weights,
            metrics=metrics,
            weighted_metrics=weighted_metrics,
            steps_per_execution=steps_per_execution,
            seed=seed,
            distribution=distribution,
        )

    def save(self, path) -> None:
        """Save config and weights to a `.fkeras` file (atomic; load with
        `fk.saving.load_model`)."""
        from ..saving.files import save_model

        save_model(self, path)

    def save_weights(self, path) -> None:
        """Save the weights to a `.weights.npz` file (atomic)."""
        from ..saving.files import save_weights

        save_weights(self, path)

    def load_weights(self, path):
        """A copy of this model with the weights from a `.weights.npz` file."""
        from ..saving.files import load_weights

        return load_weights(self, path)

    def fit(self, *args, **kwargs):
        raise ImmutableModelError(_FIT_MESSAGE.format(method="fit"))

    def evaluate(self, *args, **kwargs):
        raise ImmutableModelError(_FIT_MESSAGE.format(method="evaluate"))

    def train_on_batch(self, *args, **kwargs):
        raise ImmutableModelError(_FIT_MESSAGE.format(method="train_on_batch"))

    def test_on_batch(self, *args, **kwargs):
        raise ImmutableModelError(_FIT_MESSAGE.format(method="test_on_batch"))
