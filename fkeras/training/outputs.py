"""Matching a model's outputs to losses, loss weights and metrics (Keras' compile arguments)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from .. import losses as losses_module
from .. import metrics as metrics_module
from ..core.autocast import upcast_16bit


def output_names(model) -> list[str] | None:
    """Names of a multi-output model's outputs (dict keys, else producing layers); None for
    a single output."""
    from ..models.base import layer_name
    from ..models.functional import Model

    if not isinstance(model, Model):
        return None
    graph = model.graph
    if len(graph.output_ids) == 1:
        return None
    keys = _dict_keys(graph.output_treedef)
    if keys is not None:
        return keys
    return [layer_name(model.layers[graph.sources[i][0]]) for i in graph.output_ids]


def _dict_keys(treedef) -> list[str] | None:
    probe = jax.tree_util.tree_unflatten(treedef, list(range(treedef.num_leaves)))
    if isinstance(probe, dict):
        return [str(k) for k in sorted(probe)]
    return None


def _per_output(value: Any, names: list[str] | None, what: str, default=None) -> list:
    """Spread a compile argument (one value, a list, or a dict by output name) over outputs."""
    count = 1 if names is None else len(names)
    if isinstance(value, dict):
        if names is None:
            raise ValueError(
                f"compile: `{what}` is a dict but the model has a single output. "
                f"Received: {what}={value!r}"
            )
        unknown = set(value) - set(names)
        if unknown:
            raise ValueError(
                f"compile: `{what}` names unknown outputs {sorted(unknown)}; the "
                f"outputs are {names}. Received: {what}={value!r}"
            )
        return [value.get(n, default) for n in names]
    if isinstance(value, (list, tuple)) and what != "metrics":
        if len(value) != count:
            raise ValueError(
                f"compile: `{what}` has {len(value)} entries for {count} outputs. "
                f"Received: {what}={value!r}"
            )
        return list(value)
    return [value] * count


class OutputSpec:
    """Per output: its loss (or None), loss weight, metric identifiers and log prefix."""

    def __init__(self, model, loss, loss_weights, metrics, weighted_metrics):
        names = output_names(model)
        self.names = names
        self.losses = [
            None if spec is None else losses_module.get(spec)
            for spec in _per_output(loss, names, "loss")
        ]
        weights = _per_output(loss_weights, names, "loss_weights", 1.0)
        self.loss_weights = [1.0 if w is None else float(w) for w in weights]
        if (
            names is not None
            and isinstance(metrics, (list, tuple))
            and metrics
            and all(isinstance(m, (list, tuple)) or m is None for m in metrics)
        ):
            metric_lists = _per_output(list(metrics), names, "metrics_per_output")
        else:
            metric_lists = _per_output(metrics, names, "metrics")
        self.metric_ids = [_as_list(m) for m in metric_lists]
        self.weighted_ids = [_as_list(m) for m in _per_output(weighted_metrics, names, "metrics")]
        self.prefixes = [""] * len(self.losses) if names is None else [f"{n}_" for n in names]
        for identifier in sum(self.metric_ids + self.weighted_ids, []):  # fail at compile time
            if not (isinstance(identifier, str) and identifier in ("accuracy", "acc")):
                metrics_module.get(identifier)

    def build_metrics(self, y_true: list, y_pred: list) -> list[list[tuple]]:
        """Per output, `(metric, weighted)` pairs; "accuracy" resolves against the loss and the
        label shapes. Unweighted metrics still ignore padded rows."""
        built = []
        for i in range(len(self.losses)):
            pairs = [
                (resolve_metric(m, self.losses[i], y_true[i], y_pred[i]), False)
                for m in self.metric_ids[i]
            ]
            pairs += [
                (resolve_metric(m, self.losses[i], y_true[i], y_pred[i]), True)
                for m in self.weighted_ids[i]
            ]
            built.append(pairs)
        return built


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def resolve_metric(identifier, loss, y_true, y_pred):
    """Keras' compile-time resolution of "accuracy"/"acc" to the variant the labels need."""
    if not (isinstance(identifier, str) and identifier in ("accuracy", "acc")):
        return metrics_module.get(identifier)
    L, M = losses_module, metrics_module
    if isinstance(loss, L.SparseCategoricalCrossentropy):
        cls = M.SparseCategoricalAccuracy
    elif isinstance(loss, (L.BinaryCrossentropy, L.BinaryFocalCrossentropy)):
        cls = M.BinaryAccuracy
    elif isinstance(loss, (L.CategoricalCrossentropy, L.CategoricalFocalCrossentropy)):
        cls = M.CategoricalAccuracy
    else:
        true_shape, pred_shape = tuple(jnp.shape(y_true)), tuple(jnp.shape(y_pred))
        if pred_shape[-1:] == (1,):
            cls = M.BinaryAccuracy
        elif len(true_shape) < len(pred_shape) or true_shape[-1:] == (1,):
            cls = M.SparseCategoricalAccuracy
        else:
            cls = M.CategoricalAccuracy
    return cls(name=identifier)


def weighted_loss(loss, y_true, y_pred, sample_weight, mask, output_mask=None):
    """The loss reduced as Keras does, over real rows only.

    `sample_weight` holds sample and class weights; `mask` is 0 on the rows that pad the last
    batch. Entries the loss masks itself (`ignore_class`) and, as in Keras, entries the model's
    output mask marks as padding (timesteps after `Embedding(mask_zero=True)`, say) are left out.
    So a padded batch gives exactly the loss of the unpadded one.
    """
    # Losses run in float32 under mixed precision, as in Keras (16-bit outputs are cast up).
    per_sample = loss.call(y_true, upcast_16bit(y_pred))
    if per_sample.ndim == 0:  # a loss that already reduced over the batch
        return per_sample
    expand = (1,) * (per_sample.ndim - 1)
    valid = jnp.broadcast_to(jnp.reshape(mask, mask.shape + expand), per_sample.shape)
    ignore = loss.compute_mask(y_true, y_pred) if hasattr(loss, "compute_mask") else None
    if ignore is not None:
        valid = valid * jnp.broadcast_to(ignore, per_sample.shape)
    if output_mask is not None and jnp.shape(output_mask) == per_sample.shape:
        valid = valid * jnp.asarray(output_mask, valid.dtype)
    weights = valid * jnp.reshape(sample_weight, sample_weight.shape + expand)
    total = jnp.sum(per_sample * weights)
    reduction = getattr(loss, "reduction", "sum_over_batch_size")
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight":
        return total / jnp.maximum(jnp.sum(weights), 1e-12)
    return total / jnp.maximum(jnp.sum(valid), 1.0)
