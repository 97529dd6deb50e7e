"""The trainer: pure steps over a `TrainState`, and Keras' `fit`/`evaluate`/`predict` around
them.

`train_step`, `test_step` and `predict_step` are public and pure. `fit` runs the same update
inside `lax.scan` over several steps per dispatch, with the data on the device, the state
donated, and logs read from the device at most once per dispatch (and one dispatch late, so
the device always has work queued).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import optimizers as optimizers_module
from ..callbacks.base import Callback, CallbackList
from ..callbacks.history import History
from ..callbacks.progbar import ProgbarLogger
from ..core.rng import default_seed
from ..core.tree import combine, partition
from .data import ArrayData, IteratorData, adapt, num_samples, stack_outputs, unpack_batch
from .outputs import OutputSpec, weighted_loss
from .state import TrainState


def _copy(tree):
    """Fresh buffers, so donating the trainer's state never deletes arrays a user holds."""
    return jax.tree_util.tree_map(lambda a: jnp.array(a, copy=True), tree)


def _to_host(logs: dict) -> dict:
    host = jax.device_get(logs)  # (sorts dict keys; keep the logs' own order)
    return {k: (float(host[k]) if np.ndim(host[k]) == 0 else np.asarray(host[k])) for k in logs}


class Trainer:
    """Holds the latest `TrainState` and drives the pure steps (what `model.compile` returns).

    **Arguments** (Keras' `compile`):

    - `model`: a built fkeras model (it is never modified).
    - `optimizer`: a Keras name (`"adam"`), an `fk.optimizers` constructor's result, or any
      optax `GradientTransformation`. Keras' default is `"rmsprop"`.
    - `loss`: a Keras loss name, an `fk.losses` object or a `(y_true, y_pred)` callable; a list
      or a dict by output name for several outputs.
    - `loss_weights`: weights of each output's loss in the total.
    - `metrics`, `weighted_metrics`: metric names or objects (`"accuracy"` picks the variant the
      loss and labels need); `weighted_metrics` also apply sample and class weights.
    - `steps_per_execution`: optimizer steps per dispatch (`"auto"`: about 16 dispatches an
      epoch).
    - `seed`: the seed of the run's randomness (dropout masks, shuffling).

    **Attributes:** `state` (the `TrainState`), `model` (the current trained model),
    `stop_training`, `history`.
    """

    def __init__(
        self,
        model,
        optimizer="rmsprop",
        loss=None,
        loss_weights=None,
        metrics=None,
        weighted_metrics=None,
        steps_per_execution="auto",
        seed: int | None = None,
    ):
        if not getattr(model, "built", False):
            raise ValueError(
                f"compile expects a built model. Build it first (start it with fk.Input(shape), "
                f"or call model.build(input_shape, key)). Received: {type(model).__name__} "
                "that is not built"
            )
        if steps_per_execution != "auto" and (
            not isinstance(steps_per_execution, int) or steps_per_execution < 1
        ):
            raise ValueError(
                "compile: steps_per_execution must be 'auto' or a positive int. "
                f"Received: steps_per_execution={steps_per_execution!r}"
            )
        self.optimizer = optimizers_module.get(optimizer)
        self.outputs = OutputSpec(model, loss, loss_weights, metrics, weighted_metrics)
        self.steps_per_execution = steps_per_execution
        self.seed = default_seed() if seed is None else int(seed)
        params, layer_state, self._static = partition(model)
        params, layer_state = _copy(params), _copy(layer_state)
        self._metric_entries: list[tuple[str, int, Any, bool]] | None = None
        self.state = TrainState(
            params=params,
            layer_state=layer_state,
            opt_state=self.optimizer.init(params),
            metric_states=self._loss_states(),
            step=jnp.zeros((), jnp.int32),
            key=jax.random.key(self.seed),
        )
        self.stop_training = False
        self.history: History | None = None
        self._train_dispatch = jax.jit(self._train_dispatch_impl, donate_argnums=0)
        self._train_batch = jax.jit(self._train_batch_impl, donate_argnums=0)
        self._test_dispatch = jax.jit(self._test_dispatch_impl, donate_argnums=0)
        self._test_batch = jax.jit(self._test_batch_impl, donate_argnums=0)
        self._predict_dispatch = jax.jit(self._predict_dispatch_impl)
        self._predict_batch = jax.jit(self.predict_step)

    # ------------------------------------------------------------------ model
    @property
    def model(self):
        """The trained model: the compiled model's structure with the current weights."""
        return combine(self.state.params, self.state.layer_state, self._static)

    # --------------------------------------------------------- losses, metrics
    def _loss_names(self) -> list[str]:
        names = ["loss"]
        if self.outputs.names is not None:
            names += [
                f"{p}loss"
                for p, loss in zip(self.outputs.prefixes, self.outputs.losses)
                if loss is not None
            ]
        return names

    def _loss_states(self) -> dict:
        return {name: jnp.zeros(2, jnp.float32) for name in self._loss_names()}

    def _fresh_metric_states(self) -> dict:
        states = self._loss_states()
        for name, _, metric, _ in self._metric_entries or []:
            states[name] = metric.init()
        return states

    def _targets(self, y) -> list:
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

    def _resolve_metrics(self, y_true: list, y_pred: list) -> None:
        if self._metric_entries is not None:
            return
        entries, seen = [], set(self._loss_names())
        for i, pairs in enumerate(self.outputs.build_metrics(y_true, y_pred)):
            for metric, weighted in pairs:
                name, n = f"{self.outputs.prefixes[i]}{metric.name}", 1
                while name in seen:
                    name, n = f"{self.outputs.prefixes[i]}{metric.name}_{n}", n + 1
                seen.add(name)
                entries.append((name, i, metric, weighted))
        self._metric_entries = entries

    def _ensure_metrics(self, x, y) -> None:
        """Resolve metrics from shapes (once) and give the state their initial values."""
        if self._metric_entries is None:
            y_pred = jax.eval_shape(lambda m, x: m(x), self.model, x)
            self._resolve_metrics(self._targets(y), jax.tree_util.tree_leaves(y_pred))
        if set(self.state.metric_states) != {e[0] for e in self._metric_entries} | set(
            self._loss_names()
        ):
            self.state = self.state.replace(metric_states=self._fresh_metric_states())

    def _compute_loss(self, y, y_pred, sample_weight, mask):
        if all(loss is None for loss in self.outputs.losses):
            raise ValueError(
                "This trainer has no loss: pass `loss=` to model.compile(...) to train or evaluate."
            )
        y_true, y_pred = self._targets(y), jax.tree_util.tree_leaves(y_pred)
        total, per_output = 0.0, {}
        for i, loss in enumerate(self.outputs.losses):
            if loss is None:
                continue
            value = weighted_loss(loss, y_true[i], y_pred[i], sample_weight, mask)
            if self.outputs.names is not None:
                per_output[f"{self.outputs.prefixes[i]}loss"] = value
            total = total + self.outputs.loss_weights[i] * value
        return total, per_output

    def _update_metrics(self, states, loss, per_output, y, y_pred, sample_weight, mask):
        y_true, y_pred = self._targets(y), jax.tree_util.tree_leaves(y_pred)
        self._resolve_metrics(y_true, y_pred)
        states, count = dict(states), jnp.sum(mask)
        for name, value in {"loss": loss, **per_output}.items():
            states[name] = states[name] + jnp.stack([value * count, count])
        for name, i, metric, weighted in self._metric_entries:
            w = sample_weight * mask if weighted else mask
            state = states[name] if name in states else metric.init()
            states[name] = metric.update(state, y_true[i], y_pred[i], sample_weight=w)
        return states

    def _logs(self, states) -> dict:
        logs = {
            name: states[name][0] / jnp.maximum(states[name][1], 1.0) for name in self._loss_names()
        }
        for name, _, metric, _ in self._metric_entries or []:
            logs[name] = metric.result(states[name])
        return logs

    # ----------------------------------------------------------- pure steps
    def _train_update(self, state: TrainState, x, y, sample_weight, mask) -> TrainState:
        key = jax.random.fold_in(state.key, state.step)

        def loss_fn(params):
            model = combine(params, state.layer_state, self._static)
            y_pred, updated = model.apply(x, training=True, key=key)
            loss, per_output = self._compute_loss(y, y_pred, sample_weight, mask)
            return loss, (y_pred, per_output, partition(updated).state)

        (loss, (y_pred, per_output, layer_state)), grads = jax.value_and_grad(
            loss_fn, has_aux=True
        )(state.params)
        updates, opt_state = self.optimizer.update(grads, state.opt_state, state.params)
        metric_states = self._update_metrics(
            state.metric_states, loss, per_output, y, y_pred, sample_weight, mask
        )
        return state.replace(
            params=optax.apply_updates(state.params, updates),
            layer_state=layer_state,
            opt_state=opt_state,
            metric_states=metric_states,
            step=state.step + 1,
        )

    def _test_update(self, metric_states, params, layer_state, x, y, sample_weight, mask):
        y_pred = combine(params, layer_state, self._static)(x)
        loss, per_output = self._compute_loss(y, y_pred, sample_weight, mask)
        return self._update_metrics(metric_states, loss, per_output, y, y_pred, sample_weight, mask)

    @staticmethod
    def _batch_weights(x, sample_weight):
        n = num_samples(x)
        sw = (
            jnp.ones(n, jnp.float32)
            if sample_weight is None
            else jnp.asarray(sample_weight, jnp.float32)
        )
        return sw, jnp.ones(n, jnp.float32)

    def train_step(self, state: TrainState, batch) -> tuple[TrainState, dict]:
        """One optimizer step on `batch` = `(x, y)` or `(x, y, sample_weight)`: pure, so
        `jax.jit(trainer.train_step)(state, batch)` works in a hand-written loop.

        Returns the new state and the logs (running loss and metrics since the last reset).
        """
        x, y, sample_weight = unpack_batch(batch)
        state = self._train_update(state, x, y, *self._batch_weights(x, sample_weight))
        return state, self._logs(state.metric_states)

    def test_step(self, state: TrainState, batch) -> tuple[TrainState, dict]:
        """Update the metric states with `batch` in inference mode (no parameter change)."""
        x, y, sample_weight = unpack_batch(batch)
        metric_states = self._test_update(
            state.metric_states,
            state.params,
            state.layer_state,
            x,
            y,
            *self._batch_weights(x, sample_weight),
        )
        return state.replace(metric_states=metric_states), self._logs(metric_states)

    def predict_step(self, state: TrainState, x):
        """The model's inference outputs for `x`."""
        return combine(state.params, state.layer_state, self._static)(x)

    # ---------------------------------------------------- compiled programs
    def _train_dispatch_impl(self, state, data, plan, d):
        x_all, y_all, sw_all = data

        def body(state, step_plan):
            idx, mask, active = step_plan

            def run(state):
                x, y, sw = jax.tree_util.tree_map(
                    lambda a: jnp.take(a, idx, axis=0), (x_all, y_all, sw_all)
                )
                return self._train_update(state, x, y, sw, mask)

            return jax.lax.cond(active, run, lambda s: s, state), None

        state, _ = jax.lax.scan(body, state, (plan.indices[d], plan.weights[d], plan.active[d]))
        return state, self._logs(state.metric_states)

    def _train_batch_impl(self, state, x, y, sample_weight, mask):
        state = self._train_update(state, x, y, sample_weight, mask)
        return state, self._logs(state.metric_states)

    def _test_dispatch_impl(self, metric_states, params, layer_state, data, plan, d):
        x_all, y_all, sw_all = data

        def body(states, step_plan):
            idx, mask, active = step_plan

            def run(states):
                x, y, sw = jax.tree_util.tree_map(
                    lambda a: jnp.take(a, idx, axis=0), (x_all, y_all, sw_all)
                )
                return self._test_update(states, params, layer_state, x, y, sw, mask)

            return jax.lax.cond(active, run, lambda s: s, states), None

        states, _ = jax.lax.scan(
            body, metric_states, (plan.indices[d], plan.weights[d], plan.active[d])
        )
        return states, self._logs(states)

    def _test_batch_impl(self, metric_states, params, layer_state, x, y, sample_weight, mask):
        states = self._test_update(metric_states, params, layer_state, x, y, sample_weight, mask)
        return states, self._logs(states)

    def _predict_dispatch_impl(self, params, layer_state, x_all, indices, d):
        model = combine(params, layer_state, self._static)

        def body(carry, idx):
            return carry, model(jax.tree_util.tree_map(lambda a: jnp.take(a, idx, axis=0), x_all))

        _, outputs = jax.lax.scan(body, None, indices[d])
        return outputs

    # ------------------------------------------------------------- helpers
    def _steps_per_dispatch(self, steps: int) -> int:
        if self.steps_per_execution == "auto":
            return max(1, math.ceil(steps / 16))
        return min(self.steps_per_execution, steps)

    def _adapt(self, x, y, sample_weight, class_weight, batch_size, where):
        data = adapt(x, y, sample_weight, batch_size=batch_size, where=where)
        if class_weight is not None:
            if not isinstance(data, ArrayData):
                raise ValueError(
                    f"{where}: class_weight needs array data (x, y). For an "
                    "iterable, yield (x, y, sample_weight) batches instead."
                )
            data.sample_weight = data.sample_weight * _class_weights(data.y, class_weight, where)
        if isinstance(data, ArrayData):
            self._check_sparse_labels(data, where)
        return data

    def _check_sparse_labels(self, data: ArrayData, where: str) -> None:
        """Out-of-range sparse labels would give NaN inside jit; catch them for arrays."""
        from ..losses import SparseCategoricalCrossentropy

        if data.y is None:
            return
        targets = self._targets(data.y)
        y_pred = jax.tree_util.tree_leaves(
            jax.eval_shape(lambda m, x: m(x), self.model, _take_first(data.x))
        )
        for i, loss in enumerate(self.outputs.losses):
            if not isinstance(loss, SparseCategoricalCrossentropy):
                continue
            labels = np.asarray(targets[i])
            classes = y_pred[i].shape[-1]
            ignore = getattr(loss, "ignore_class", None)
            valid = labels if ignore is None else labels[labels != ignore]
            if valid.size and (valid.min() < 0 or valid.max() >= classes):
                raise ValueError(
                    f"{where}: sparse labels must be integers in [0, {classes}) for a model "
                    f"with {classes} output classes. Received: labels from {valid.min()} to "
                    f"{valid.max()}"
                )

    def _callbacks(self, callbacks, verbose, params) -> CallbackList:
        callbacks = list(callbacks or [])
        if verbose == "auto":
            import sys

            verbose = 1 if sys.stdout.isatty() else 2
        if verbose and not any(isinstance(c, ProgbarLogger) for c in callbacks):
            callbacks.append(ProgbarLogger(verbose))
        return CallbackList(callbacks, self, params)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs: int = 1,
        verbose="auto",
        callbacks: list[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data=None,
        shuffle: bool = True,
        class_weight=None,
        sample_weight=None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int = 1,
    ) -> History:
        """Train for `epochs` epochs (Keras' `fit`); returns a `History`.

        `x`/`y`: arrays (tuples and dicts for several inputs and outputs), or an iterable of
        `(x, y)` / `(x, y, sample_weight)` batches (then `y` is not given). The trained model
        is `trainer.model`; the model passed to `compile` never changes.
        """
        where = "fit"
        train = self._adapt(x, y, sample_weight, class_weight, batch_size, where)
        val = None
        if validation_split:
            if not isinstance(train, ArrayData):
                raise ValueError(
                    "fit: validation_split needs array data; pass validation_data for iterables."
                )
            train, val = train.split(validation_split, where)
        if validation_data is not None:
            if isinstance(validation_data, tuple):
                vx, vy, vsw = unpack_batch(validation_data)
                val = self._adapt(
                    vx,
                    vy,
                    vsw,
                    None,
                    validation_batch_size or train.batch_size,
                    "fit(validation_data)",
                )
            else:
                val = self._adapt(validation_data, None, None, None, None, "fit(validation_data)")
        steps = train.steps(steps_per_epoch) if isinstance(train, ArrayData) else steps_per_epoch
        self.history = History()
        cbs = self._callbacks(
            [*(callbacks or []), self.history],
            verbose,
            {"epochs": epochs, "steps": steps, "verbose": verbose},
        )
        self.stop_training = False
        self.state = _copy(self.state)
        if isinstance(train, ArrayData):
            self._ensure_metrics(train.x, train.y)
        logs: dict = {}
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            self.state = self.state.replace(
                metric_states=self._fresh_metric_states()
                if self._metric_entries is not None
                else self._loss_states()
            )
            cbs.on_epoch_begin(epoch)
            if isinstance(train, ArrayData):
                logs = self._train_epoch_arrays(train, epoch, steps, shuffle, cbs)
            else:
                logs = self._train_epoch_iterator(train, steps_per_epoch, cbs)
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._evaluate_data(val, validation_steps, None)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history

    def _train_epoch_arrays(self, data: ArrayData, epoch, steps, shuffle, cbs) -> dict:
        order = (
            np.random.default_rng([self.seed, epoch]).permutation(data.n)
            if shuffle
            else np.arange(data.n)
        )
        k = self._steps_per_dispatch(steps)
        plan = data.plan(order, steps, k)
        arrays = data.device_arrays
        batch_ends = _BatchEnds(cbs)
        for d in range(plan.indices.shape[0]):
            cbs.on_train_batch_begin(d * k)
            self.state, logs = self._train_dispatch(self.state, arrays, plan, d)
            batch_ends.add(min((d + 1) * k, steps) - 1, logs)
            if self.stop_training:
                break
        return batch_ends.finish()

    def _train_epoch_iterator(self, data: IteratorData, steps, cbs) -> dict:
        batch_ends, count = _BatchEnds(cbs), 0
        for x, y, sw, mask in data.batches(steps):
            self._ensure_metrics(x, y)
            cbs.on_train_batch_begin(count)
            self.state, logs = self._train_batch(self.state, x, y, sw, mask)
            batch_ends.add(count, logs)
            count += 1
            if self.stop_training:
                break
        if count == 0:
            raise ValueError("fit received an empty dataset: the iterable yielded no batches.")
        return batch_ends.finish()

    # ------------------------------------------------------------- evaluate
    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps: int | None = None,
        callbacks=None,
        return_dict: bool = True,
    ):
        """Loss and metrics on `x, y` in inference mode: `{"loss": ..., "accuracy": ...}`.

        Unlike Keras (whose default is a list), the result is a dict unless
        `return_dict=False`.
        """
        data = self._adapt(x, y, sample_weight, None, batch_size, "evaluate")
        cbs = self._callbacks(callbacks, 0 if verbose == "auto" else verbose, {"steps": steps})
        logs = self._evaluate_data(data, steps, cbs)
        return logs if return_dict else list(logs.values())

    def _evaluate_data(self, data, steps, cbs) -> dict:
        if cbs is not None:
            cbs.on_test_begin()
        params, layer_state = self.state.params, self.state.layer_state
        if isinstance(data, ArrayData):
            self._ensure_metrics(data.x, data.y)
            states = self._fresh_metric_states()
            n_steps = data.steps(steps)
            k = self._steps_per_dispatch(n_steps)
            plan = data.plan(np.arange(data.n), n_steps, k)
            for d in range(plan.indices.shape[0]):
                states, logs = self._test_dispatch(
                    states, params, layer_state, data.device_arrays, plan, d
                )
        else:
            states, logs = None, None
            for x, y, sw, mask in data.batches(steps):
                self._ensure_metrics(x, y)
                if states is None:
                    states = self._fresh_metric_states()
                states, logs = self._test_batch(states, params, layer_state, x, y, sw, mask)
            if logs is None:
                raise ValueError("evaluate received an empty dataset: no batches.")
        logs = _to_host(logs)
        if cbs is not None:
            cbs.on_test_end(logs)
        return logs

    # -------------------------------------------------------------- predict
    def predict(self, x, batch_size=None, verbose="auto", steps: int | None = None, callbacks=None):
        """Inference outputs for `x` (arrays, or an iterable of batches), as NumPy arrays."""
        data = adapt(x, None, None, batch_size=batch_size, where="predict")
        params, layer_state = self.state.params, self.state.layer_state
        chunks = []
        if isinstance(data, ArrayData):
            n_steps = data.steps(steps)
            k = self._steps_per_dispatch(n_steps)
            plan = data.plan(np.arange(data.n), n_steps, k)
            x_all = data.device_arrays[0]
            for d in range(plan.indices.shape[0]):
                out = self._predict_dispatch(params, layer_state, x_all, plan.indices, d)
                chunks.append(jax.tree_util.tree_map(lambda a: a.reshape(-1, *a.shape[2:]), out))
            total = min(data.n, n_steps * data.batch_size)
        else:
            total = 0
            state = self.state
            for x_b, _, _, mask in data.batches(steps):
                chunks.append(self._predict_batch(state, x_b))
                total_batch = int(np.sum(jax.device_get(mask)))
                chunks[-1] = jax.tree_util.tree_map(lambda a, t=total_batch: a[:t], chunks[-1])
                total += total_batch
            if not chunks:
                raise ValueError("predict received an empty dataset: no batches.")
        return stack_outputs(chunks, total)

    # ------------------------------------------------------------ on batch
    def train_on_batch(
        self, x, y=None, sample_weight=None, class_weight=None, return_dict: bool = True
    ):
        """One optimizer step on one batch; returns the logs."""
        if class_weight is not None:
            extra = _class_weights(y, class_weight, "train_on_batch")
            sample_weight = extra if sample_weight is None else np.asarray(sample_weight) * extra
        self._ensure_metrics(x, y)
        sw, mask = self._batch_weights(x, sample_weight)
        self.state = _copy(self.state)
        self.state, logs = self._train_batch(self.state, x, y, sw, mask)
        logs = _to_host(logs)
        return logs if return_dict else list(logs.values())

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict: bool = True):
        self._ensure_metrics(x, y)
        sw, mask = self._batch_weights(x, sample_weight)
        _, logs = self._test_batch(
            self._fresh_metric_states(), self.state.params, self.state.layer_state, x, y, sw, mask
        )
        logs = _to_host(logs)
        return logs if return_dict else list(logs.values())

    def predict_on_batch(self, x):
        return jax.device_get(self._predict_batch(self.state, x))


class _BatchEnds:
    """Calls `on_train_batch_end` with host logs, at most once per dispatch.

    When every callback only reads logs, each call waits until the next dispatch is queued
    (one dispatch late), so reading logs never idles the device. When some callback may look
    at `trainer.state`, each call happens at once, while the state matches its logs.
    """

    def __init__(self, cbs: CallbackList):
        self.cbs, self.lag = cbs, not cbs.batch_end_needs_state
        self.pending: tuple[int, dict] | None = None
        self.last: dict = {}

    def add(self, step: int, logs: dict) -> None:
        if self.lag:
            self._flush()
            self.pending = (step, logs)
        else:
            self.pending = (step, logs)
            self._flush()

    def _flush(self) -> None:
        if self.pending is not None:
            step, logs = self.pending
            self.pending, self.last = None, _to_host(logs)
            self.cbs.on_train_batch_end(step, self.last)

    def finish(self) -> dict:
        self._flush()
        return self.last


def _take_first(tree):
    return jax.tree_util.tree_map(lambda a: a[:1], tree)


def _class_weights(y, class_weight: dict, where: str) -> np.ndarray:
    """Per-sample weights from Keras' `class_weight` ({class index: weight})."""
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"{where}: class_weight must be a dict {{class: weight}}. "
            f"Received: class_weight={class_weight!r}"
        )
    if y is None or len(jax.tree_util.tree_leaves(y)) != 1:
        raise ValueError(f"{where}: class_weight needs a single array of targets.")
    labels = np.asarray(jax.tree_util.tree_leaves(y)[0])
    if labels.ndim >= 2 and labels.shape[-1] > 1:
        labels = labels.argmax(-1)
    labels = labels.reshape(labels.shape[0], -1)[:, 0].astype(np.int64)
    table = np.ones(max(int(labels.max()) + 1, max(class_weight) + 1), np.float32)
    for cls, weight in class_weight.items():
        table[int(cls)] = float(weight)
    return table[labels]
