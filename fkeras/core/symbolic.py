"""Symbolic tensors for the functional API: `fk.Input(shape)` and layers called on it.

Calling a layer on a `SymbolicTensor` records a `Node` (layer, inputs, outputs) and infers the
output shape with `jax.eval_shape`; nothing is built or computed until `fk.Model(inputs,
outputs)` turns the recorded graph into static data inside an immutable model.
"""

from __future__ import annotations

from typing import Any

import jax

from .shapes import TensorSpec


class SymbolicTensor:
    """A placeholder for a batch of arrays in the functional API (Keras' `KerasTensor`).

    `shape` has `None` for the batch dimension (and any other unknown size).
    """

    __slots__ = ("spec", "node", "index")

    def __init__(self, spec: TensorSpec, node: Node | None = None, index: int = 0):
        self.spec = spec
        self.node = node
        self.index = index

    @property
    def shape(self) -> tuple:
        return self.spec.shape

    @property
    def dtype(self):
        return self.spec.dtype

    @property
    def name(self) -> str | None:
        layer = self.node.layer if self.node is not None else None
        return getattr(layer, "name", None)

    def __repr__(self) -> str:
        source = f", from={self.name!r}" if self.name else ""
        return f"<SymbolicTensor shape={self.shape}, dtype={self.dtype.name}{source}>"

    def _refuse(self, *args, **kwargs):
        raise TypeError(
            f"{self!r} is a placeholder in a functional model, not an array: it has no values. "
            "Do array computations inside a layer (a custom `fk.layers.Layer`), and call "
            "layers on it to build the graph, e.g. `y = fk.layers.Dense(10)(x)`."
        )

    __array__ = __bool__ = __float__ = __int__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __matmul__ = _refuse
    __truediv__ = __neg__ = __getitem__ = _refuse


class Node:
    """One call of a layer in a functional graph."""

    __slots__ = ("layer", "inputs", "outputs", "options")

    def __init__(self, layer: Any, inputs: Any, outputs: Any, options: dict | None = None):
        self.layer = layer
        self.inputs = inputs
        self.outputs = outputs
        self.options = dict(options or {})

    @property
    def input_tensors(self) -> list[SymbolicTensor]:
        return jax.tree_util.tree_leaves(self.inputs, is_leaf=is_symbolic)

    @property
    def output_tensors(self) -> list[SymbolicTensor]:
        return jax.tree_util.tree_leaves(self.outputs, is_leaf=is_symbolic)


def is_symbolic(x: Any) -> bool:
    return isinstance(x, SymbolicTensor)


def contains_symbolic(x: Any) -> bool:
    if is_symbolic(x):
        return True
    if isinstance(x, (list, tuple)):
        return any(contains_symbolic(v) for v in x)
    if isinstance(x, dict):
        return any(contains_symbolic(v) for v in x.values())
    return False


_STATIC = (bool, int, float, str, type(None))


def symbolic_call(layer: Any, inputs: Any, kwargs: dict) -> Any:
    """Record `layer(inputs, **options)` on symbolic tensors and return symbolic outputs.

    `options` are keyword arguments with plain Python values that the layer's `__call__`
    names (`use_causal_mask=True`, `return_attention_scores=True`): they become static data of
    the node and are passed on every call of the finished model. `training` and `key` are not
    options: they are given when calling the model.
    """
    from .errors import describe

    accepted = set(getattr(layer, "_graph_options", ()))
    refused = sorted(
        k
        for k, v in kwargs.items()
        if k in ("training", "key", "mask") or k not in accepted or not isinstance(v, _STATIC)
    )
    if refused:
        raise TypeError(
            f"{describe(layer)}: in a functional graph, call layers on tensors (plus static "
            "options the layer's `__call__` names, such as `use_causal_mask=True`); pass "
            "`training=` and `key=` when calling the finished model. "
            f"Received: {refused}"
        )
    leaves, treedef = jax.tree_util.tree_flatten(inputs, is_leaf=is_symbolic)
    if not all(is_symbolic(t) for t in leaves):
        raise TypeError(
            f"{describe(layer)}: in a functional graph every input must be a symbolic tensor "
            f"from fk.Input or another layer. Received: {inputs!r}"
        )
    specs = jax.tree_util.tree_unflatten(treedef, [t.spec for t in leaves])
    out_specs = layer.compute_output_spec(specs, **kwargs)
    node = Node(layer, inputs, None, kwargs)
    out_leaves, out_treedef = jax.tree_util.tree_flatten(
        out_specs, is_leaf=lambda x: isinstance(x, TensorSpec)
    )
    outputs = jax.tree_util.tree_unflatten(
        out_treedef, [SymbolicTensor(s, node, i) for i, s in enumerate(out_leaves)]
    )
    node.outputs = outputs
    return outputs
