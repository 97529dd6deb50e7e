"""Shardings for a whole `TrainState`, from a distribution and the model's variable paths.

Variable paths follow Keras' `Variable.path`: the names of the layers from the root model down,
then the weight's attribute name, joined by "/" (`"sequential/dense/kernel"`). Optimizer
state that mirrors the parameters (Adam's moments, accumulated gradients, an EMA) takes the
parameters' shardings, found by matching tree structure and shapes; everything else in the
state (step, RNG key, metric states, scalar hyperparameters) is replicated.
"""

from __future__ import annotations

from typing import Any

import jax
from jax.tree_util import DictKey, GetAttrKey, SequenceKey

from .distributions import Distribution


def variable_paths(model: Any) -> dict[tuple, str]:
    """`{key path: "layer/.../weight"}` for every array leaf of `model`."""
    from ..core.layer import Layer

    paths = {}
    root_name = getattr(model, "name", None) if isinstance(model, Layer) else None
    for keys, _ in jax.tree_util.tree_flatten_with_path(model)[0]:
        parts = [root_name] if root_name else []
        obj = model
        for i, k in enumerate(keys):
            last = i == len(keys) - 1
            if isinstance(k, GetAttrKey):
                obj, label = getattr(obj, k.name), k.name
            elif isinstance(k, SequenceKey):
                obj, label = obj[k.idx], str(k.idx)
            elif isinstance(k, DictKey):
                obj, label = obj[k.key], str(k.key)
            else:
                parts.append(str(k))
                break
            if isinstance(obj, Layer):
                parts.append(obj.name)
            elif last:
                parts.append(label)
        paths[keys] = "/".join(parts)
    return paths


def variable_shardings(distribution: Distribution, model: Any, tree: Any) -> Any:
    """Shardings for `tree` (the model's params or layer state, as from `fk.partition`)."""
    paths = variable_paths(model)

    def one(keys, leaf):
        path, shape = paths[keys], tuple(leaf.shape)
        spec = distribution.variable_spec(path, shape)
        distribution.check_variable_spec(path, shape, spec)
        return distribution.sharding(spec)

    return jax.tree_util.tree_map_with_path(one, tree)


def mirrored_shardings(tree: Any, params: Any, param_shardings: Any, replicated) -> Any:
    """Shardings for optimizer state: subtrees shaped like `params` take their shardings."""
    params_def = jax.tree_util.tree_structure(params)
    params_shapes = [tuple(p.shape) for p in jax.tree_util.tree_leaves(params)]

    def mirrors(x) -> bool:
        if jax.tree_util.tree_structure(x) != params_def or params_def.num_leaves == 0:
            return False
        return [tuple(getattr(a, "shape", ())) for a in jax.tree_util.tree_leaves(x)] == (
            params_shapes
        )

    return jax.tree_util.tree_map(
        lambda x: param_shardings if mirrors(x) else replicated, tree, is_leaf=mirrors
    )


def state_shardings(distribution: Distribution, model: Any, state: Any) -> Any:
    """Shardings for a whole `TrainState` of `model`."""
    replicated = distribution.replicated()
    params_sh = variable_shardings(distribution, model, state.params)
    return state.replace(
        params=params_sh,
        layer_state=variable_shardings(distribution, model, state.layer_state),
        opt_state=mirrored_shardings(state.opt_state, state.params, params_sh, replicated),
        metric_states=jax.tree_util.tree_map(lambda _: replicated, state.metric_states),
        step=replicated,
        key=replicated,
    )
