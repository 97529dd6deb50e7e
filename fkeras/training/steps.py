"""The pure functions of training: loss, metrics and the optimizer step over a `TrainState`.

`Steps` holds what does not change during a run (the model's static part, the optimizer, the
losses and metrics) and gives the pure `train_step`, `test_step` and `predict_step`, plus the
scanned multi-step programs `fit` compiles. The `Trainer` facade drives them.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..core.collect import collect_losses
from ..core.tree import combine, partition
from .data import num_samples, unpack_batch
from .outputs import OutputSpec, weighted_loss
from .state import TrainState


class Steps:
    """Pure training, test and prediction steps for one compiled model.

    Metrics resolve from the first shapes seen (`"accuracy"` needs the label shape); the
    resolution happens at trace time and is the same for every later call.
    """

    def __init__(self, static: Any, optimizer, outputs: OutputSpec, has_constraints: bool):
        self.static = static
        self.has_constraints = has_constraints
        self.optimizer = optimizer
        self.outputs = outputs
        self.metric_entries: list[tuple[str, int, Any, bool]] | None = None
        self.example_specs: list[tuple[Any, Any]] = []
        # Under a distribution: the sharding of a batch (split on the data axis), applied to
        # each batch gathered inside the compiled dispatch.
        self.batch_sharding = None

    # --------------------------------------------------------- losses, metrics
    def loss_names(self) -> list[str]:
        names = ["loss"]
        if self.outputs.names is not None:
            names += [
                f"{p}loss"
                for p, loss in zip(self.outputs.prefixes, self.outputs.losses)
                if loss is not None
            ]
        return names

    def loss_states(self) -> dict:
        return {name: jnp.zeros(2, jnp.float32) for name in self.loss_names()}

    def fresh_metric_states(self) -> dict:
        states = self.loss_states()
        for name, i, metric, _ in self.metric_entries or []:
            # Sized from the data's shapes: metrics whose state size comes from the labels
            # (F1Score without num_classes) must keep one shape through lax.scan.
            y_true, y_pred = self.example_specs[i]
            states[name] = metric.init_like(y_true, y_pred, sample_weight=_weight_spec(y_true))
        return states

    def targets(self, y) -> list:
        names = self.outputs.names
        if names is not None and isinstance(y, dict) and set(y) == set(names):
            return [y[n] for n in names]
        leaves = jax.tree_util.tree_leaves(y)
        if len(leaves) != len(self.outputs.losses):
            raise ValueError(
                f"The model has {len(self.outputs.losses)} output(s) but the targets y hold "
                f"{len(leaves)} array(s). Received: y with shapes "
                f"{[tuple(np.shape(a)) for a in leaves]}"
            )
        return leaves

    def resolve_metrics(self, y_true: list, y_pred: list) -> None:
        if self.metric_entries is not None:
            return
        entries, seen = [], set(self.loss_names())
        for i, pairs in enumerate(self.outputs.build_metrics(y_true, y_pred)):
            for metric, weighted in pairs:
                name, n = f"{self.outputs.prefixes[i]}{metric.name}", 1
                while name in seen:
                    name, n = f"{self.outputs.prefixes[i]}{metric.name}_{n}", n + 1
                seen.add(name)
                entries.append((name, i, metric, weighted))
        self.example_specs = [(_batch_spec(t), _batch_spec(p)) for t, p in zip(y_true, y_pred)]
        self.metric_entries = entries

    def forward(self, model, x, *, training: bool, key):
        """`(y_pred, output_masks, added_loss, updated_model)` for one batch.

        `output_masks` has one entry per output (None where no mask reached it);
        `added_loss` sums what layers added with `add_loss` (regularizers) during the pass.
        """
        with collect_losses() as added:
            y_pred, out_mask, updated = model.apply_masked(x, training=training, key=key)
        added.append(model.weight_regularization())
        n_outputs = len(jax.tree_util.tree_leaves(y_pred))
        masks = jax.tree_util.tree_leaves(out_mask, is_leaf=lambda m: m is None)
        if len(masks) != n_outputs:
            masks = [None] * n_outputs
        return y_pred, masks, sum(added, jnp.zeros((), jnp.float32)), updated

    def compute_loss(self, y, y_pred, sample_weight, mask, output_masks=None, added_loss=0.0):
        if all(loss is None for loss in self.outputs.losses):
            raise ValueError(
                "This trainer has no loss: pass `loss=` to model.compile(...) to train or evaluate."
            )
        y_true, y_pred = self.targets(y), jax.tree_util.tree_leaves(y_pred)
        output_masks = output_masks or [None] * len(y_pred)
        total, per_output = added_loss, {}
        for i, loss in enumerate(self.outputs.losses):
            if loss is None:
                continue
            value = weighted_loss(
                loss, y_true[i], y_pred[i], sample_weight, mask, output_mask=output_masks[i]
            )
            if self.outputs.names is not None:
                per_output[f"{self.outputs.prefixes[i]}loss"] = value
            total = total + self.outputs.loss_weights[i] * value
        return total, per_output

    def update_metrics(
        self, states, loss, per_output, y, y_pred, sample_weight, mask, output_masks=None
    ):
        from ..core.autocast import upcast_16bit

        y_true, y_pred = self.targets(y), jax.tree_util.tree_leaves(y_pred)
        y_pred = [upcast_16bit(p) for p in y_pred]  # metrics in float32 (mixed precision)
        self.resolve_metrics(y_true, y_pred)
        output_masks = output_masks or [None] * len(y_pred)
        states, count = dict(states), jnp.sum(mask)
        for name, value in {"loss": loss, **per_output}.items():
            states[name] = states[name] + jnp.stack([value * count, count])
        for name, i, metric, weighted in self.metric_entries:
            w = sample_weight * mask if weighted else mask
            if output_masks[i] is not None:  # padded timesteps carry no weight (Keras)
                m = jnp.asarray(output_masks[i], w.dtype)
                w = jnp.reshape(w, w.shape + (1,) * (m.ndim - 1)) * m
            state = states[name] if name in states else metric.init()
            states[name] = metric.update(state, y_true[i], y_pred[i], sample_weight=w)
        return states

    def logs(self, states) -> dict:
        logs = {
            name: states[name][0] / jnp.maximum(states[name][1], 1.0) for name in self.loss_names()
        }
        for name, _, metric, _ in self.metric_entries or []:
            logs[name] = metric.result(states[name])
        return logs

    # ----------------------------------------------------------- pure steps
    def train_update(
        self, state: TrainState, x, y, sample_weight, mask, axis_name=None
    ) -> TrainState:
        from ..optimizers.loss_scale import all_finite, get_loss_scale

        key = jax.random.fold_in(state.key, state.step)
        if axis_name is not None:  # each device's rows get their own dropout masks
            key = jax.random.fold_in(key, jax.lax.axis_index(axis_name))
        # With a LossScaleOptimizer (float16), differentiate the scaled loss; it unscales.
        loss_scale = get_loss_scale(state.opt_state)

        def loss_fn(params):
            model = combine(params, state.layer_state, self.static)
            y_pred, masks, added, updated = self.forward(model, x, training=True, key=key)
            loss, per_output = self.compute_loss(y, y_pred, sample_weight, mask, masks, added)
            scaled = loss if loss_scale is None else loss * loss_scale
            return scaled, (loss, y_pred, masks, per_output, partition(updated).state)

        (_, (loss, y_pred, masks, per_output, layer_state)), grads = jax.value_and_grad(
            loss_fn, has_aux=True
        )(state.params)
        if axis_name is not None:  # shard_map / pmap: one update from every device's rows
            grads = jax.lax.pmean(grads, axis_name)
            layer_state = _pmean_floats(layer_state, axis_name)
        updates, opt_state = self.optimizer.update(grads, state.opt_state, state.params)
        if loss_scale is not None:  # an overflowing step is skipped: keep the layer state too
            layer_state = jax.lax.cond(
                all_finite(grads), lambda: layer_state, lambda: state.layer_state
            )
        params = optax.apply_updates(state.params, updates)
        if self.has_constraints:  # Keras applies constraints after every update
            constrained = combine(params, layer_state, self.static).apply_constraints()
            params = partition(constrained).params
        metric_states = self.update_metrics(
            state.metric_states, loss, per_output, y, y_pred, sample_weight, mask, masks
        )
        if axis_name is not None:
            metric_states = _sum_increments(state.metric_states, metric_states, axis_name)
        return state.replace(
            params=params,
            layer_state=layer_state,
            opt_state=opt_state,
            metric_states=metric_states,
            step=state.step + 1,
        )

    def test_update(
        self, metric_states, params, layer_state, x, y, sample_weight, mask, axis_name=None
    ):
        model = combine(params, layer_state, self.static)
        y_pred, masks, added, _ = self.forward(model, x, training=False, key=None)
        loss, per_output = self.compute_loss(y, y_pred, sample_weight, mask, masks, added)
        updated = self.update_metrics(
            metric_states, loss, per_output, y, y_pred, sample_weight, mask, masks
        )
        if axis_name is not None:
            updated = _sum_increments(metric_states, updated, axis_name)
        return updated

    @staticmethod
    def batch_weights(x, sample_weight):
        n = num_samples(x)
        sw = (
            jnp.ones(n, jnp.float32)
            if sample_weight is None
            else jnp.asarray(sample_weight, jnp.float32)
        )
        return sw, jnp.ones(n, jnp.float32)

    def train_step(self, state: TrainState, batch, *, axis_name=None) -> tuple[TrainState, dict]:
        """One optimizer step on `batch` = `(x, y)` or `(x, y, sample_weight)`: pure, so
        `jax.jit(trainer.train_step)(state, batch)` works in a hand-written loop.

        `axis_name`: inside `shard_map` or `pmap` over that axis, each device passes its rows;
        gradients are averaged over the axis (`pmean`), float layer state (moving statistics)
        too, and metric totals are summed, so every device ends with the same state.

        Returns the new state and the logs (running loss and metrics since the last reset).
        """
        x, y, sample_weight = unpack_batch(batch)
        state = self.train_update(
            state, x, y, *self.batch_weights(x, sample_weight), axis_name=axis_name
        )
        return state, self.logs(state.metric_states)

    def test_step(self, state: TrainState, batch, *, axis_name=None) -> tuple[TrainState, dict]:
        """Update the metric states with `batch` in inference mode (no parameter change);
        `axis_name` as for `train_step`."""
        x, y, sample_weight = unpack_batch(batch)
        metric_states = self.test_update(
            state.metric_states,
            state.params,
            state.layer_state,
            x,
            y,
            *self.batch_weights(x, sample_weight),
            axis_name=axis_name,
        )
        return state.replace(metric_states=metric_states), self.logs(metric_states)

    def predict_step(self, state: TrainState, x):
        """The model's inference outputs for `x`."""
        return combine(state.params, state.layer_state, self.static)(x)

    # ---------------------------------------------------- compiled programs
    @staticmethod
    def gather(tree, idx):
        return jax.tree_util.tree_map(lambda a: _gather(a, idx), tree)

    def constrain(self, batch):
        """Split a batch gathered inside a compiled program over the data axis."""
        if self.batch_sharding is None:
            return batch
        return jax.lax.with_sharding_constraint(batch, self.batch_sharding)

    def train_dispatch(self, state, data, plan, d):
        x_all, y_all, sw_all = data

        def body(state, step_plan):
            idx, mask, active = step_plan

            def run(state):
                x, y, sw, m = self.constrain((*self.gather((x_all, y_all, sw_all), idx), mask))
                return self.train_update(state, x, y, sw, m)

            return jax.lax.cond(active, run, lambda s: s, state), None

        if plan.indices.shape[1] == 1:
            # One step per dispatch has no filler step: run it straight, with no loop or
            # conditional around it (XLA:CPU runs convolutions about 2x slower inside them).
            batch = self.gather((x_all, y_all, sw_all), plan.indices[d, 0])
            x, y, sw, m = self.constrain((*batch, plan.weights[d, 0]))
            state = self.train_update(state, x, y, sw, m)
            return state, self.logs(state.metric_states)
        state, _ = jax.lax.scan(body, state, (plan.indices[d], plan.weights[d], plan.active[d]))
        return state, self.logs(state.metric_states)

    def train_batch(self, state, x, y, sample_weight, mask):
        state = self.train_update(state, x, y, sample_weight, mask)
        return state, self.logs(state.metric_states)

    def test_dispatch(self, metric_states, params, layer_state, data, plan, d):
        x_all, y_all, sw_all = data

        def body(states, step_plan):
            idx, mask, active = step_plan

            def run(states):
                x, y, sw, m = self.constrain((*self.gather((x_all, y_all, sw_all), idx), mask))
                return self.test_update(states, params, layer_state, x, y, sw, m)

            return jax.lax.cond(active, run, lambda s: s, states), None

        if plan.indices.shape[1] == 1:  # straight, as in `train_dispatch`
            batch = self.gather((x_all, y_all, sw_all), plan.indices[d, 0])
            x, y, sw, m = self.constrain((*batch, plan.weights[d, 0]))
            states = self.test_update(metric_states, params, layer_state, x, y, sw, m)
            return states, self.logs(states)
        states, _ = jax.lax.scan(
            body, metric_states, (plan.indices[d], plan.weights[d], plan.active[d])
        )
        return states, self.logs(states)

    def test_batch(self, metric_states, params, layer_state, x, y, sample_weight, mask):
        states = self.test_update(metric_states, params, layer_state, x, y, sample_weight, mask)
        return states, self.logs(states)

    def predict_dispatch(self, params, layer_state, x_all, indices, d):
        model = combine(params, layer_state, self.static)

        def body(carry, idx):
            return carry, model(self.constrain(self.gather(x_all, idx)))

        _, outputs = jax.lax.scan(body, None, indices[d])
        return outputs


def _pmean_floats(tree, axis_name):
    """Average float leaves over the axis (keeps replicated moving statistics in sync)."""
    return jax.tree_util.tree_map(
        lambda a: jax.lax.pmean(a, axis_name) if jnp.issubdtype(a.dtype, jnp.floating) else a,
        tree,
    )


def _sum_increments(old: dict, new: dict, axis_name) -> dict:
    """Metric states are running totals (starting at zero): add every device's increment to
    the old totals. Metrics first resolved in this step start from zero."""
    out = {}
    for name, value in new.items():
        base = old.get(name, jax.tree_util.tree_map(jnp.zeros_like, value))
        out[name] = jax.tree_util.tree_map(
            lambda o, n: o + jax.lax.psum(n - o, axis_name), base, value
        )
    return out


def _batch_spec(a) -> jax.ShapeDtypeStruct:
    """The shape and dtype of a one-row batch like `a` (which may be a whole dataset)."""
    return jax.ShapeDtypeStruct((1, *np.shape(a)[1:]), jnp.result_type(a))


def _weight_spec(y_true) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct((1,), jnp.float32)


def _gather(a, idx):
    # Plan indices are in range by construction, so skip the bounds handling that
    # `jnp.take`'s default "fill" mode adds to every gathered row.
    return a.at[idx].get(mode="promise_in_bounds")
