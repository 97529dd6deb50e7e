"""The layer base class: an immutable Equinox module, built in two phases.

`fk.layers.Dense(64)` is an unbuilt spec whose weight fields are `None`.
`layer.build(input_shape, key)` returns a new, built layer. Hyperparameters are static fields;
arrays are the only leaves, so a layer is a plain argument to `jax.jit`, `jax.grad` and
`jax.vmap`.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from .. import activations as _activations
from .. import initializers as _initializers
from . import tree as _tree
from .autocast import cast_floats, cast_own_weights, restore_own_weights
from .dtype_policy import DTypePolicy
from .dtype_policy import get as _get_policy
from .errors import NotBuiltError, describe
from .rng import resolve_key
from .shapes import infer_output_spec, spec_shapes, to_specs
from .symbolic import contains_symbolic, symbolic_call


def static(**kwargs):
    """A hyperparameter: part of the tree's structure, never a leaf."""
    return eqx.field(static=True, **kwargs)


def state_field(**kwargs):
    """A non-trainable array (moving statistics, counters): `fk.partition` puts it in `state`."""
    metadata = dict(kwargs.pop("metadata", {}), fk_state=True)
    return eqx.field(metadata=metadata, **kwargs)


def _wrap(method, method_name: str):
    @functools.wraps(method)
    def wrapper(self, inputs, *args, **kwargs):
        if method_name == "__call__" and contains_symbolic(inputs):
            if args:
                raise TypeError(
                    f"{describe(self)}: in a functional graph, pass several input tensors as one "
                    f"list, e.g. `layer([a, b])`. Received: {1 + len(args)} positional arguments"
                )
            return symbolic_call(self, inputs, kwargs)
        if not self.built:
            raise NotBuiltError(_not_built_message(self, inputs))
        policy = self.dtype_policy
        compute = policy.compute_dtype
        if not (type(self)._autocast_inputs and _is_float_name(compute)):
            return method(self, inputs, *args, **kwargs)
        # Keras' call boundary: floating inputs in the compute dtype, and under a mixed policy
        # the layer's own weights too (their float32 copies get the gradients).
        inputs, args = cast_floats(inputs, compute), cast_floats(args, compute)
        kwargs = {k: v if k == "key" else cast_floats(v, compute) for k, v in kwargs.items()}
        if not (policy.is_mixed and type(self)._autocast_weights):
            return method(self, inputs, *args, **kwargs)
        cast = cast_own_weights(self, compute)
        if method_name != "apply":
            return method(cast, inputs, *args, **kwargs)
        outputs, updated = method(cast, inputs, *args, **kwargs)
        return outputs, self if updated is cast else restore_own_weights(updated, self)

    wrapper.__fk_wrapped__ = True
    return wrapper


@functools.cache
def _is_float_name(dtype: str) -> bool:
    return bool(jnp.issubdtype(jnp.dtype(dtype), jnp.floating))


def _not_built_message(layer, inputs) -> str:
    received = jax.tree_util.tree_map(lambda a: getattr(a, "shape", a), inputs)
    return (
        f"{describe(layer)} is not built: its weights do not exist yet. Build it first with "
        "`layer = layer.build(input_shape, key=jax.random.key(0))` (input_shape includes the "
        "batch dimension, e.g. (None, 784)), or use it inside a model that starts from an "
        "input, e.g. `fk.Sequential([fk.Input((784,)), layer])`. "
        f"Received: inputs with shape {received}"
    )


class Layer(eqx.Module):
    """Base class of all fkeras layers and models.

    Subclasses declare hyperparameters with `static()`, weights as plain array fields (or
    `state_field()` for non-trainable state), implement `create_weights(input_shape, key)`
    returning `{field_name: array}`, and `__call__(self, x, *, training=False, key=None)`.
    Layers that update state in training mode implement `apply` instead (see
    `StatefulLayer`).

    **Arguments** (common to every layer):

    - `name`: a name; models give unnamed layers unique Keras-style names (`dense`,
      `dense_1`, ...).
    - `trainable`: `False` freezes the layer: `fk.partition` puts its weights in `state`.
    - `dtype`: the dtype policy (Keras 3's): a dtype name (`"float32"`, `"bfloat16"`, ...),
      `"mixed_float16"` / `"mixed_bfloat16"` (float32 weights, 16-bit computation) or an
      `fk.mixed_precision.DTypePolicy`. Default: the global policy when the layer is constructed
      (`fk.mixed_precision.set_global_policy`, `"float32"` unless set). `layer.dtype` is then
      the weights' dtype, `layer.compute_dtype` the computation's, as in Keras.
    """

    name: str | None = static()
    trainable: bool = static()
    dtype_policy: DTypePolicy = static()
    built: bool = static()

    #: Layers without weights are usable without `build`.
    has_weights: ClassVar[bool] = True
    #: Whether the layer passes an incoming mask on unchanged (see `compute_mask`).
    supports_masking: ClassVar[bool] = False
    _call_kwargs: ClassVar[frozenset] = frozenset({"training", "key"})
    _apply_accepts_mask: ClassVar[bool] = True
    #: Keyword-only `__call__` arguments a functional graph may record as static options.
    _graph_options: ClassVar[frozenset] = frozenset()
    #: Whether calls cast floating inputs to the compute dtype (Keras' `autocast`).
    _autocast_inputs: ClassVar[bool] = True
    #: Whether, under a mixed policy, calls cast the layer's own floating weights to the compute
    #: dtype. Layers that compute in float32 for stability (normalization) turn it off.
    _autocast_weights: ClassVar[bool] = True

    def __init__(self, *, name: str | None = None, trainable: bool = True, dtype=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(
                f"{type(self).__name__}: name must be a string. Received: name={name!r}"
            )
        if not isinstance(trainable, bool):
            raise TypeError(
                f"{type(self).__name__}: trainable must be a bool. "
                f"Received: trainable={trainable!r}"
            )
        policy = _get_policy(dtype, owner=type(self).__name__)
        self.name = name
        self.trainable = trainable
        self.dtype_policy = policy
        self.built = not type(self).has_weights

    @property
    def dtype(self) -> str:
        """The dtype of the layer's weights (Keras 3: the policy's variable dtype)."""
        return self.dtype_policy.variable_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype the layer's weights are created and kept in."""
        return self.dtype_policy.variable_dtype

    @property
    def compute_dtype(self) -> str:
        """The dtype of the layer's computation and of its floating outputs."""
        return self.dtype_policy.compute_dtype

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for method_name in ("__call__", "apply"):
            method = cls.__dict__.get(method_name)
            if method is not None and not getattr(method, "__fk_wrapped__", False):
                setattr(cls, method_name, _wrap(method, method_name))
        call = cls.__dict__.get("__call__")
        if call is not None:
            params = inspect.signature(call).parameters
            cls._graph_options = frozenset(
                n
                for n, p in params.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and n not in ("training", "key", "mask")
            )
            if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
                cls._call_kwargs = frozenset({"training", "key"})
            else:
                cls._call_kwargs = frozenset({"training", "key", "mask"} & set(params))
        apply = cls.__dict__.get("apply")
        if apply is not None:  # a stateful layer's own apply: does it take a mask?
            cls._apply_accepts_mask = "mask" in inspect.signature(apply).parameters

    # ----------------------------------------------------------------- building
    def create_weights(self, input_shape: Any, key: jax.Array) -> dict[str, jax.Array]:
        """Return the initial weights `{field_name: array}` for `input_shape` (batch first)."""
        return {}

    def build(self, input_shape: Any, key: jax.Array | int | None = None):
        """Return a built copy of this layer for inputs of `input_shape` (batch dimension
        included, `None` where unknown). A built layer is returned unchanged.

        `key` is a `jax.random.key` (or an int seed); by default the seed set with
        `fk.utils.set_random_seed`, else 0.
        """
        if self.built:
            return self
        specs = to_specs(input_shape)
        weights = self.create_weights(spec_shapes(specs), resolve_key(key))
        return self._replace(**weights, built=True)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape(s) for `input_shape`, found with `jax.eval_shape` (nothing is computed)."""
        return spec_shapes(self.compute_output_spec(to_specs(input_shape)))

    def compute_output_spec(self, input_specs: Any, **options) -> Any:
        layer = self

        def run(x):
            built = layer.build(input_specs, jax.random.key(0))
            return built(x, **options)

        return infer_output_spec(run, input_specs)

    # ------------------------------------------------------------------ calling
    def apply(
        self, inputs, *, training: bool = False, key: jax.Array | None = None, mask=None, **options
    ):
        """`(outputs, updated_layer)`. Stateless layers return themselves unchanged; stateful
        ones (BatchNormalization in training mode) return a copy holding the new state.
        `options` are static call options recorded by a functional graph."""
        kwargs = dict(options)
        if "training" in self._call_kwargs:
            kwargs["training"] = training
        if "key" in self._call_kwargs:
            kwargs["key"] = key
        if mask is not None and "mask" in self._call_kwargs:
            kwargs["mask"] = mask
        return self(inputs, **kwargs), self

    def apply_masked(self, inputs, *, training: bool = False, key=None, mask=None, **options):
        """`(outputs, output_mask, updated_layer)`: `apply` plus Keras' mask propagation.

        Models call their layers through this: a layer whose `__call__` names `mask` receives
        the incoming mask (padded timesteps from `Embedding(mask_zero=True)`, say), and
        `compute_mask` gives the mask its outputs carry on.
        """
        kwargs = {"training": training, "key": key, **options}
        if mask is not None and self._apply_accepts_mask:
            kwargs["mask"] = mask
        outputs, updated = self.apply(inputs, **kwargs)
        activity = getattr(self, "activity_regularizer", None)
        if activity is not None:  # Keras 3: per output, divided by the batch size
            for out in jax.tree_util.tree_leaves(outputs):
                penalty = activity(out)
                self.add_loss(penalty / out.shape[0] if out.ndim else penalty)
        return outputs, updated.compute_mask(inputs, mask), updated

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's outputs: the incoming one when `supports_masking`, else
        None. Layers that make or change masks (Embedding, recurrent layers) override it."""
        return mask if self.supports_masking else None

    def add_loss(self, value) -> None:
        """Add `value` to the training loss (Keras' `add_loss`); call it inside `__call__`.

        The trainer collects these while tracing a step; in plain inference they are ignored.
        """
        from .collect import add_loss

        add_loss(value)

    def apply_constraints(self):
        """A copy with each weight `w` passed through `self.w_constraint` when that is set
        (Keras applies constraints after every optimizer update); sub-layers recursively."""
        changes = {}
        for name in _tree.field_names(type(self)):
            value = getattr(self, name)
            constraint = getattr(self, f"{name}_constraint", None)
            if constraint is not None and value is not None and hasattr(value, "shape"):
                changes[name] = constraint(value)
            elif isinstance(value, Layer):
                changes[name] = value.apply_constraints()
            elif isinstance(value, (tuple, list)) and any(isinstance(v, Layer) for v in value):
                changes[name] = type(value)(
                    v.apply_constraints() if isinstance(v, Layer) else v for v in value
                )
        return self._replace(**changes) if changes else self

    def weight_regularization(self):
        """The summed penalties of `self.w_regularizer` over this layer's trainable weights and
        its sub-layers' (each weight once, however often the layer is called; as Keras)."""
        total = jnp.zeros((), jnp.float32)
        if not self.trainable:
            return total
        for name in _tree.field_names(type(self)):
            value = getattr(self, name)
            regularizer = getattr(self, f"{name}_regularizer", None)
            if regularizer is not None and value is not None and hasattr(value, "shape"):
                total = total + regularizer(value)
            children = value if isinstance(value, (tuple, list)) else (value,)
            for child in children:
                if isinstance(child, Layer):
                    total = total + child.weight_regularization()
        return total

    def has_constraints(self) -> bool:
        for name in _tree.field_names(type(self)):
            value = getattr(self, name)
            if getattr(self, f"{name}_constraint", None) is not None and value is not None:
                return True
            children = value if isinstance(value, (tuple, list)) else (value,)
            if any(isinstance(v, Layer) and v.has_constraints() for v in children):
                return True
        return False

    # ------------------------------------------------------------------ weights
    @property
    def weights(self) -> list[jax.Array]:
        """All weights, in Keras' order (per layer: trainable, then non-trainable)."""
        return _tree.keras_ordered_weights(self)

    @property
    def trainable_weights(self) -> list[jax.Array]:
        return _tree.keras_ordered_weights(self, kind="param")

    @property
    def non_trainable_weights(self) -> list[jax.Array]:
        return _tree.keras_ordered_weights(self, kind="state")

    def get_weights(self) -> list:
        """The weights as NumPy arrays, in Keras' `get_weights()` order."""
        import numpy as np

        return [np.asarray(w) for w in self.weights]

    def set_weights(self, weights):
        """A copy with `weights` (Keras' `get_weights()` order) in place of this layer's."""
        return _tree.set_keras_ordered_weights(self, weights, owner=describe(self))

    def count_params(self) -> int:
        return sum(int(w.size) for w in self.weights)

    # ------------------------------------------------------------------- config
    def get_config(self) -> dict:
        """The constructor arguments as JSON-compatible data (Keras' `get_config`)."""
        config: dict[str, Any] = {
            "name": self.name,
            "trainable": self.trainable,
            # The policy's name: a plain dtype name for one-dtype policies, so configs from
            # before policies existed (and Keras 3.0-3.3 configs) read the same way.
            "dtype": self.dtype_policy.name,
        }
        for p in inspect.signature(type(self).__init__).parameters.values():
            if p.name in config or p.name == "self":
                continue
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                continue
            if not hasattr(self, p.name):
                raise NotImplementedError(
                    f"{type(self).__name__} must implement get_config(): its __init__ argument "
                    f"'{p.name}' is not stored under the same attribute name."
                )
            config[p.name] = _to_config(getattr(self, p.name), p.name, self)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def with_trainable(self, trainable: bool):
        """A copy with `trainable` set (recursively for models): Keras' `layer.trainable = x`."""
        return self._replace(trainable=trainable)

    # ---------------------------------------------------------------- internals
    def _replace(self, **changes):
        """A copy with some fields changed (works for unbuilt layers whose weights are None)."""
        new = object.__new__(type(self))
        for name in _tree.field_names(type(self)):
            object.__setattr__(
                new, name, changes.pop(name) if name in changes else getattr(self, name)
            )
        if changes:
            raise TypeError(f"{type(self).__name__} has no fields {sorted(changes)}.")
        return new

    def _check_last_dim(self, x, expected: int, *, axis: int = -1) -> None:
        shape = getattr(x, "shape", None)
        if shape is None or len(shape) == 0 or shape[axis] != expected:
            raise ValueError(
                f"{describe(self)} expects inputs with dimension {expected} on axis {axis}. "
                f"Received: x.shape={tuple(shape) if shape is not None else shape}"
            )


class StatefulLayer(Layer):
    """A layer whose training-mode call updates state: implement `apply`, get `__call__`.

    `layer(x, training=True)` returns only the outputs (the new state is dropped, as the
    layer is immutable); `layer.apply(x, training=True)` returns `(outputs, new_layer)`.
    """

    def __call__(self, inputs, *, training: bool = False, key=None, mask=None):
        if mask is not None and self._apply_accepts_mask:
            return self.apply(inputs, training=training, key=key, mask=mask)[0]
        return self.apply(inputs, training=training, key=key)[0]

    def apply(self, inputs, *, training: bool = False, key=None):
        raise NotImplementedError


def _to_config(value: Any, arg: str, layer) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_to_config(v, arg, layer) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_config(v, arg, layer) for k, v in value.items()}
    if arg.endswith("initializer"):
        return _initializers.serialize(value)
    if arg.endswith("regularizer"):
        from .. import regularizers

        return regularizers.serialize(value)
    if arg.endswith("constraint"):
        from .. import constraints

        return constraints.serialize(value)
    if arg == "activation":
        return _activations.serialize(value)
    if hasattr(value, "get_config"):
        from .registry import serialize

        return serialize(value)
    raise TypeError(
        f"{describe(layer)}: cannot put argument '{arg}' in a config. Received: {arg}={value!r}"
    )
