"""`fk.Sequential`: a stack of layers, each feeding the next."""

from __future__ import annotations

from typing import Any

from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import deserialize, register_serializable, serialize
from ..core.rng import resolve_key, split_for
from ..core.shapes import TensorSpec, spec_shapes, to_specs
from ..core.symbolic import SymbolicTensor
from ..layers.core import InputLayer
from .base import BaseModel, assign_names, build_child, call_child, check_input, child_output_spec


@register_serializable(package="fkeras")
class Sequential(BaseModel):
    """A linear stack of layers (Keras' `Sequential`), immutable.

    Starting the list with `fk.Input(shape)` builds the model at construction, with `seed=`
    (default: the seed from `fk.utils.set_random_seed`, else 0). Without it, the model is an
    unbuilt spec: `model.build((None, *shape), key)` returns the built model.

    Any pure callable PyTree (an Equinox module, say) may stand in the list beside fkeras
    layers; its float arrays train as parameters.

    **Arguments:**

    - `layers`: the layers, optionally preceded by `fk.Input(shape)`.
    - `seed`: the seed for weight initialization when built at construction.
    - `name`, `trainable`: as for any layer.

    ```python
    model = fk.Sequential([fk.Input((784,)), fk.layers.Dense(64, activation="relu"),
                           fk.layers.Dense(10)], seed=0)
    logits = model(x)
    ```
    """

    layers: tuple
    input_spec: TensorSpec | None = static()

    def __init__(
        self,
        layers=(),
        *,
        seed: int | None = None,
        name: str | None = None,
        trainable: bool = True,
        dtype="float32",
    ):
        super().__init__(name=name or "sequential", trainable=trainable, dtype=dtype)
        layers = list(layers)
        input_spec = None
        if layers and isinstance(layers[0], SymbolicTensor):
            if layers[0].node is None or not isinstance(layers[0].node.layer, InputLayer):
                raise TypeError(
                    f"{describe(self)}: only `fk.Input(shape)` may start the layer list. "
                    f"Received: {layers[0]!r}"
                )
            input_spec = layers.pop(0).spec
        for i, layer in enumerate(layers):
            if isinstance(layer, SymbolicTensor) or not callable(layer):
                raise TypeError(
                    f"{describe(self)}: element {i} of `layers` is not a layer or callable. "
                    f"Received: {layer!r}"
                )
        if not trainable:
            layers = [
                lay.with_trainable(False) if isinstance(lay, Layer) else lay for lay in layers
            ]
        self.layers = tuple(assign_names(layers, describe(self)))
        self.input_spec = None
        self.built = False
        if input_spec is not None:
            built = self.build(input_spec, key=resolve_key(None, seed))
            self.layers, self.input_spec, self.built = built.layers, built.input_spec, True

    def build(self, input_shape: Any, key=None):
        """The model built for `input_shape` (batch dimension included, e.g. `(None, 784)`)."""
        if self.built:
            return self
        spec = to_specs(input_shape)
        key = resolve_key(key)
        layers = []
        current = spec
        for i, layer in enumerate(self.layers):
            layer = build_child(layer, current, split_for(key, i))
            current = child_output_spec(layer, current)
            layers.append(layer)
        return self._replace(layers=tuple(layers), input_spec=spec, built=True)

    def apply_masked(self, inputs, *, training: bool = False, key=None, mask=None):
        x = inputs
        if self.input_spec is not None and isinstance(self.input_spec, TensorSpec):
            x = check_input(describe(self), self.input_spec, x)
        layers = []
        for i, layer in enumerate(self.layers):
            x, mask, layer = call_child(layer, x, training, split_for(key, i), mask)
            layers.append(layer)
        return x, mask, self._replace(layers=tuple(layers))

    def _layer_output_shapes(self) -> list[Any]:
        shapes, current = [], self.input_spec
        for layer in self.layers:
            current = child_output_spec(layer, current)
            shapes.append(spec_shapes(current))
        return shapes

    def get_config(self) -> dict:
        spec = self.input_spec
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
            "layers": [serialize(layer) for layer in self.layers],
            "input_shape": None if spec is None else list(spec.shape),
            "input_dtype": None if spec is None else spec.dtype.name,
        }

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        layers = [deserialize(c, expected=Layer) for c in config.pop("layers")]
        shape, dtype = config.pop("input_shape", None), config.pop("input_dtype", None)
        model = cls(layers, **config)
        if shape is not None:
            model = model.build(TensorSpec(tuple(shape), dtype or "float32"))
        return model
