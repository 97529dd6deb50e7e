"""`fk.Model(inputs, outputs)`: the functional API. The layer graph is static data inside an
immutable model; the layers are its only pytree children."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import deserialize, register_serializable, serialize
from ..core.rng import resolve_key, split_for
from ..core.shapes import TensorSpec
from ..core.symbolic import SymbolicTensor, is_symbolic
from ..layers.core import Input, InputLayer
from .base import BaseModel, assign_names, check_input, layer_name

_TENSOR_REF = "__tensor__"


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    layer_index: int
    in_treedef: Any
    in_ids: tuple[int, ...]
    out_treedef: Any
    out_ids: tuple[int, ...]
    options: tuple = ()  # static call options, e.g. (("use_causal_mask", True),)


@dataclasses.dataclass(frozen=True)
class Graph:
    """The static wiring of a functional model (hashable, so it can be a static field)."""

    input_treedef: Any
    input_ids: tuple[int, ...]
    input_layers: tuple[int, ...]
    output_treedef: Any
    output_ids: tuple[int, ...]
    nodes: tuple[NodeSpec, ...]
    specs: tuple[TensorSpec, ...]  # by tensor id
    sources: tuple[tuple[int, int, int], ...]  # by tensor id: (layer, call number, output index)


def _flatten(structure) -> tuple[list, Any]:
    return jax.tree_util.tree_flatten(structure, is_leaf=is_symbolic)


def _topological_nodes(outputs: list[SymbolicTensor]) -> tuple[list, dict[int, int]]:
    """Nodes feeding `outputs` in post-order (each after the nodes it depends on), and each
    layer's first-visit index of the depth-first search from the outputs (iterative, so deep
    graphs do not hit Python's recursion limit). The search order is Keras' `_build_map`."""
    order, visited, first_visit = [], set(), {}
    stack = [(t.node, False) for t in reversed(outputs)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        first_visit.setdefault(id(node.layer), len(first_visit))
        stack.append((node, True))
        if node.inputs is not None:
            stack.extend((t.node, False) for t in reversed(node.input_tensors))
    return order, first_visit


def _keras_layer_order(nodes: list, first_visit: dict[int, int], inputs: list) -> list:
    """Layers in Keras' `model.layers` order: by depth from the outputs (deepest first), then
    by first visit. Matching it keeps `get_weights()` interchangeable with Keras'."""
    node_depth: dict[int, int] = {}
    layer_depth: dict[int, int] = {}
    layers: dict[int, Any] = {}
    for node in reversed(nodes):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        node_depth[id(node)] = depth
        layers[id(node.layer)] = node.layer
        if node.inputs is not None:
            for t in node.input_tensors:
                node_depth[id(t.node)] = max(depth + 1, node_depth.get(id(t.node), 0))
    for t in inputs:  # inputs the outputs do not use
        if id(t.node.layer) not in layer_depth:
            layer_depth[id(t.node.layer)] = 0
            first_visit[id(t.node.layer)] = -1
            layers[id(t.node.layer)] = t.node.layer
    ordered = sorted(layers, key=lambda i: (-layer_depth[i], first_visit[i]))
    return [layers[i] for i in ordered]


def _trace(owner: str, inputs: Any, outputs: Any):
    """Layers (deduplicated, in graph order) and the Graph for `inputs -> outputs`."""
    in_leaves, in_treedef = _flatten(inputs)
    out_leaves, out_treedef = _flatten(outputs)
    for what, leaves in (("inputs", in_leaves), ("outputs", out_leaves)):
        if not leaves or not all(is_symbolic(t) for t in leaves):
            raise TypeError(
                f"{owner}: `{what}` must be symbolic tensors (from fk.Input and layer calls). "
                f"Received: {what}={inputs if what == 'inputs' else outputs!r}"
            )
    for t in in_leaves:
        if not isinstance(t.node.layer, InputLayer):
            raise ValueError(f"{owner}: every input must come from fk.Input(...). Received: {t!r}")

    nodes, first_visit = _topological_nodes(out_leaves)
    input_nodes = {id(t.node) for t in in_leaves}
    for node in nodes:
        if node.inputs is None and id(node) not in input_nodes:
            raise ValueError(
                f"{owner}: the outputs depend on an fk.Input that is not among `inputs`: "
                f"{node.outputs!r}. Pass every fk.Input the outputs use."
            )

    layers = _keras_layer_order(nodes, first_visit, in_leaves)
    layer_index = {id(layer): i for i, layer in enumerate(layers)}

    tensor_id: dict[int, int] = {}
    specs: list[TensorSpec] = []
    sources: list[tuple[int, int, int]] = []
    calls: dict[int, int] = {}

    def register(tensor, source):
        if id(tensor) not in tensor_id:
            tensor_id[id(tensor)] = len(specs)
            specs.append(tensor.spec)
            sources.append(source)
        return tensor_id[id(tensor)]

    input_ids = tuple(register(t, (layer_index[id(t.node.layer)], 0, 0)) for t in in_leaves)
    node_specs = []
    for node in nodes:
        if node.inputs is None:
            continue
        li = layer_index[id(node.layer)]
        call = calls.get(li, 0)
        calls[li] = call + 1
        in_t, in_def = _flatten(node.inputs)
        out_t, out_def = _flatten(node.outputs)
        node_specs.append(
            NodeSpec(
                li,
                in_def,
                tuple(tensor_id[id(t)] for t in in_t),
                out_def,
                tuple(register(t, (li, call, j)) for j, t in enumerate(out_t)),
                tuple(sorted(node.options.items())),
            )
        )
    graph = Graph(
        input_treedef=in_treedef,
        input_ids=input_ids,
        input_layers=tuple(layer_index[id(t.node.layer)] for t in in_leaves),
        output_treedef=out_treedef,
        output_ids=tuple(tensor_id[id(t)] for t in out_leaves),
        nodes=tuple(node_specs),
        specs=tuple(specs),
        sources=tuple(sources),
    )
    return layers, graph


@register_serializable(package="fkeras")
class Model(BaseModel):
    """A model from a graph of layers (Keras' functional API), built at construction.

    **Arguments:**

    - `inputs`: an `fk.Input` tensor, or a list or dict of them.
    - `outputs`: the symbolic tensor(s) computed from them: one, a list or a dict.
    - `seed`: the seed for weight initialization (default: `fk.utils.set_random_seed`, else 0).
    - `name`, `trainable`: as for any layer.

    A layer called several times is one shared layer with one set of weights. Calling the
    model takes inputs in the same structure (several inputs: a list in order, or a dict by
    input name).

    ```python
    inputs = fk.Input((784,))
    h = fk.layers.Dense(64, activation="relu")(inputs)
    model = fk.Model(inputs, fk.layers.Dense(10)(h))
    ```
    """

    layers: tuple
    graph: Graph = static()

    def __init__(
        self,
        inputs,
        outputs,
        *,
        seed: int | None = None,
        name: str | None = None,
        trainable: bool = True,
        dtype="float32",
    ):
        super().__init__(name=name or "functional", trainable=trainable, dtype=dtype)
        owner = describe(self)
        layers, graph = _trace(owner, inputs, outputs)
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"{owner}: graph nodes must be fkeras layers. Received: {layer!r}")
        names = assign_names(layers, owner)
        key = resolve_key(None, seed)
        built = list(names)
        first_call = {}
        for node in graph.nodes:
            in_specs = jax.tree_util.tree_unflatten(
                node.in_treedef, [graph.specs[i] for i in node.in_ids]
            )
            li = node.layer_index
            if li not in first_call:
                first_call[li] = node
                built[li] = built[li].build(in_specs, split_for(key, li))
            else:  # a shared layer: its weights must fit this call too
                built[li].compute_output_spec(in_specs, **dict(node.options))
        if not trainable:
            built = [layer.with_trainable(False) for layer in built]
        self.layers = tuple(built)
        self.graph = graph
        self.built = True

    # ------------------------------------------------------------------ calling
    def _flatten_inputs(self, inputs) -> list:
        graph = self.graph
        names = [layer_name(self.layers[i]) for i in graph.input_layers]
        if len(graph.input_ids) == 1 and not isinstance(inputs, (list, tuple, dict)):
            return [inputs]
        if isinstance(inputs, dict) and set(inputs) == set(names):
            return [inputs[n] for n in names]
        try:
            leaves, treedef = jax.tree_util.tree_flatten(inputs)
        except Exception:  # pragma: no cover - tree_flatten accepts any object
            leaves, treedef = [inputs], None
        if treedef == graph.input_treedef:
            return leaves
        if isinstance(inputs, (list, tuple)) and len(inputs) == len(names):
            return list(inputs)
        raise ValueError(
            f"{describe(self)} expects {len(names)} input(s) named {names}, as a list in that "
            f"order or a dict by name. Received: {jax.tree_util.tree_map(_shape_of, inputs)}"
        )

    def apply_masked(self, inputs, *, training: bool = False, key=None, mask=None):
        graph = self.graph
        values: dict[int, Any] = {}
        masks: dict[int, Any] = {}
        flat_inputs = self._flatten_inputs(inputs)
        flat_masks = self._flatten_masks(mask, len(flat_inputs))
        for tid, li, x, m in zip(graph.input_ids, graph.input_layers, flat_inputs, flat_masks):
            what = f"input '{layer_name(self.layers[li])}'"
            values[tid] = check_input(describe(self), graph.specs[tid], x, what)
            masks[tid] = m
        layers = list(self.layers)
        for n, node in enumerate(graph.nodes):
            args = jax.tree_util.tree_unflatten(node.in_treedef, [values[i] for i in node.in_ids])
            arg_masks = [masks[i] for i in node.in_ids]
            arg_mask = (
                None
                if all(m is None for m in arg_masks)
                else jax.tree_util.tree_unflatten(node.in_treedef, arg_masks)
            )
            y, y_mask, layers[node.layer_index] = layers[node.layer_index].apply_masked(
                args, training=training, key=split_for(key, n), mask=arg_mask, **dict(node.options)
            )
            out_masks = _spread_mask(y_mask, len(node.out_ids))
            for tid, value, m in zip(node.out_ids, jax.tree_util.tree_leaves(y), out_masks):
                values[tid], masks[tid] = value, m
        outputs = jax.tree_util.tree_unflatten(
            graph.output_treedef, [values[i] for i in graph.output_ids]
        )
        output_masks = [masks[i] for i in graph.output_ids]
        out_mask = (
            None
            if all(m is None for m in output_masks)
            else jax.tree_util.tree_unflatten(graph.output_treedef, output_masks)
        )
        return outputs, out_mask, self._replace(layers=tuple(layers))

    def _flatten_masks(self, mask, count: int) -> list:
        if mask is None:
            return [None] * count
        if count == 1 and not isinstance(mask, (list, tuple, dict)):
            return [mask]
        leaves = jax.tree_util.tree_leaves(mask, is_leaf=lambda m: m is None)
        return leaves if len(leaves) == count else [None] * count

    # -------------------------------------------------------------- inspection
    def _layer_output_shapes(self) -> list[Any]:
        shapes: list[Any] = [None] * len(self.layers)
        for tid, spec in enumerate(self.graph.specs):
            li, call, _ = self.graph.sources[tid]
            if call == 0:
                shapes[li] = (
                    spec.shape if shapes[li] is None else [*_as_list(shapes[li]), spec.shape]
                )
        return shapes

    def _connections(self) -> list[list[str]]:
        """For each layer, the `name[call][index]` of the tensors its calls consume (Keras)."""
        out: list[list[str]] = [[] for _ in self.layers]
        for node in self.graph.nodes:
            for tid in node.in_ids:
                li, call, idx = self.graph.sources[tid]
                out[node.layer_index].append(f"{layer_name(self.layers[li])}[{call}][{idx}]")
        return out

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        graph = self.graph

        def ref(tid):
            li, call, idx = graph.sources[tid]
            return {_TENSOR_REF: [layer_name(self.layers[li]), call, idx]}

        def encode(treedef, ids):
            return _to_json(jax.tree_util.tree_unflatten(treedef, [ref(i) for i in ids]))

        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
            "layers": [serialize(layer) for layer in self.layers],
            "nodes": [
                [
                    layer_name(self.layers[n.layer_index]),
                    encode(n.in_treedef, n.in_ids),
                    dict(n.options),
                ]
                for n in graph.nodes
            ],
            "inputs": encode(graph.input_treedef, graph.input_ids),
            "outputs": encode(graph.output_treedef, graph.output_ids),
        }

    @classmethod
    def from_config(cls, config: dict):
        layers = {}
        for entry in config["layers"]:
            layer = deserialize(entry, expected=Layer)
            layers[layer_name(layer)] = layer
        produced: dict[tuple[str, int], list] = {}
        for name, layer in layers.items():
            if isinstance(layer, InputLayer):
                tensor = Input(
                    layer.shape[1:], batch_size=layer.shape[0], dtype=layer.dtype, name=name
                )
                produced[(name, 0)] = [tensor]
        calls: dict[str, int] = {}

        def decode(data):
            if isinstance(data, dict) and set(data) == {_TENSOR_REF}:
                name, call, idx = data[_TENSOR_REF]
                try:
                    return produced[(name, call)][idx]
                except (KeyError, IndexError):
                    raise ValueError(
                        f"Model config refers to tensor {data[_TENSOR_REF]} before it is made."
                    ) from None
            if isinstance(data, dict):
                return {k: decode(v) for k, v in data.items()}
            if isinstance(data, list):
                return [decode(v) for v in data]
            raise ValueError(f"Unexpected entry in a model config. Received: {data!r}")

        for name, args, *rest in config["nodes"]:
            options = rest[0] if rest else {}
            if name not in layers:
                raise ValueError(f"Model config calls unknown layer {name!r}.")
            call = calls.get(name, 0)
            calls[name] = call + 1
            outputs = layers[name](decode(args), **options)
            produced[(name, call)] = jax.tree_util.tree_leaves(outputs, is_leaf=is_symbolic)
        options = {k: config[k] for k in ("name", "trainable", "dtype") if k in config}
        return cls(decode(config["inputs"]), decode(config["outputs"]), **options)


def _spread_mask(mask, count: int) -> list:
    """One mask per output tensor from a layer's `compute_mask` result."""
    if mask is None:
        return [None] * count
    if count == 1:
        return [mask]
    leaves = jax.tree_util.tree_leaves(mask, is_leaf=lambda m: m is None)
    return leaves if len(leaves) == count else [None] * count


def _shape_of(x):
    return getattr(x, "shape", x)


def _as_list(x):
    return x if isinstance(x, list) else [x]


def _to_json(tree):
    if isinstance(tree, dict) and set(tree) != {_TENSOR_REF}:
        return {k: _to_json(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_to_json(v) for v in tree]
    return tree
