"""The trainer: pure steps over a `TrainState`, and Keras' `fit`/`evaluate`/`predict` around
them.

`train_step`, `test_step` and `predict_step` are public and pure. `fit` runs the same update
inside `lax.scan` over several steps per dispatch, with the data on the device, the state
donated, and logs read from the device at most once per dispatch (and one dispatch late, so
the device always has work queued).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import optimizers as optimizers_module
from ..callbacks.base import Callback, CallbackList
from ..callbacks.history import History
from ..callbacks.progbar import ProgbarLogger
from ..core.rng import default_seed
from ..core.tree import combine, partition
from ..optimizers.loss_scale import for_model
from .data import ArrayData, IteratorData, adapt, stack_outputs, unpack_batch
from .outputs import OutputSpec
from .placement import Placement
from .state import TrainState
from .steps import Steps


def _copy(tree):
    """Fresh buffers, so donating the trainer's state never deletes arrays a user holds."""
    return jax.tree_util.tree_map(lambda a: jnp.array(a, copy=True), tree)


def _to_host(logs: dict, order: list[str] | None = None) -> dict:
    """Logs as Python floats, in Keras' order (`order`: losses, then metrics as compiled);
    compiled programs return dicts with sorted keys."""
    host = jax.device_get(logs)
    keys = [k for k in order or [] if k in host] + [k for k in host if k not in (order or [])]
    return {k: (float(host[k]) if np.ndim(host[k]) == 0 else np.asarray(host[k])) for k in keys}


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
      epoch; one step per dispatch for convolutional models on the CPU, where XLA runs
      convolutions about 2x slower inside a loop).
    - `seed`: the seed of the run's randomness (dropout masks, shuffling).
    - `distribution`: an `fk.distribution` `DataParallel` or `ModelParallel` (default: the one
      set with `fk.distribution.set_distribution` or `dist.scope()`, else one device). The
      state is placed with its shardings, batches are split on its data axis, and
      `batch_size` is the global batch.

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
        distribution=None,
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
        # A model computing in float16 gets dynamic loss scaling, as Keras' compile does.
        self.optimizer = for_model(optimizers_module.get(optimizer), model)
        self.outputs = OutputSpec(model, loss, loss_weights, metrics, weighted_metrics)
        self.steps_per_execution = steps_per_execution
        self.seed = default_seed() if seed is None else int(seed)
        params, layer_state, static = partition(model)
        params, layer_state = _copy(params), _copy(layer_state)
        self.steps = Steps(static, self.optimizer, self.outputs, model.has_constraints())
        self.state = TrainState(
            params=params,
            layer_state=layer_state,
            opt_state=self.optimizer.init(params),
            metric_states=self.steps.loss_states(),
            step=jnp.zeros((), jnp.int32),
            key=jax.random.key(self.seed),
        )
        self.stop_training = False
        self.history: History | None = None
        # XLA:CPU runs convolutions about 2x slower inside a loop (lax.scan) than in a
        # straight program, so there "auto" gives convolutional models one step per dispatch.
        self._straight_steps = jax.default_backend() == "cpu" and _has_convolutions(model)
        self._placement = place = Placement(distribution, model, self.state)
        self.distribution = place.distribution
        self.state = place.place_state(self.state)
        self.steps.batch_sharding = place.batch_sharding
        # Compiled once per trainer and reused by every fit/evaluate/predict call.
        self._train_dispatch = place.jit(self.steps.train_dispatch, "train_dispatch")
        self._train_batch = place.jit(self.steps.train_batch, "train_batch")
        self._test_dispatch = place.jit(self.steps.test_dispatch, "test_dispatch")
        self._test_batch = place.jit(self.steps.test_batch, "test_batch")
        self._predict_dispatch = place.jit(self.steps.predict_dispatch, "predict_dispatch")
        self._predict_batch = place.jit(self.steps.predict_step, "predict_step")

    # ------------------------------------------------------------------ model
    @property
    def model(self):
        """The trained model: the compiled model's structure with the current weights."""
        return combine(self.state.params, self.state.layer_state, self.steps.static)

    def _output_spec(self, x):
        """The model's output shapes for inputs like `x`, traced once per input signature
        (tracing the model on every `fit` call would cost more than a short epoch)."""
        signature = jax.tree_util.tree_map(lambda a: (np.shape(a)[1:], jnp.result_type(a)), x)
        key = str(jax.tree_util.tree_structure(x)), str(signature)
        cache = self.__dict__.setdefault("_output_specs", {})
        if key not in cache:
            model = self.model
            cache[key] = jax.eval_shape(lambda m, x: m(x), model, _take_first(x))
        out = cache[key]
        batch = jax.tree_util.tree_leaves(x)[0].shape[0]
        return jax.tree_util.tree_map(
            lambda s: s if s.ndim == 0 else jax.ShapeDtypeStruct((batch, *s.shape[1:]), s.dtype),
            out,
        )

    def _log_order(self) -> list[str]:
        return self.steps.loss_names() + [e[0] for e in self.steps.metric_entries or []]

    def _ensure_metrics(self, x, y) -> None:
        """Resolve metrics from shapes (once) and give the state their initial values."""
        steps = self.steps
        if steps.metric_entries is None:
            y_pred = self._output_spec(x)
            steps.resolve_metrics(steps.targets(y), jax.tree_util.tree_leaves(y_pred))
        expected = {e[0] for e in steps.metric_entries} | set(steps.loss_names())
        if set(self.state.metric_states) != expected:
            self.state = self.state.replace(metric_states=steps.fresh_metric_states())

    # ----------------------------------------------------------- pure steps
    def train_step(self, state: TrainState, batch, *, axis_name=None) -> tuple[TrainState, dict]:
        """One optimizer step on `batch` = `(x, y)` or `(x, y, sample_weight)`: pure, so
        `jax.jit(trainer.train_step)(state, batch)` works in a hand-written loop.

        `axis_name`: for a hand-written data-parallel loop under `jax.shard_map` or `jax.pmap`
        over that mesh axis (each device passes its rows of the batch): gradients and float
        layer state are averaged over the axis and metric totals summed, so the replicated
        state stays identical on every device (see `fkeras/examples/data_parallel_loops.py`).

        Returns the new state and the logs (running loss and metrics since the last reset).
        """
        return self.steps.train_step(state, batch, axis_name=axis_name)

    def test_step(self, state: TrainState, batch, *, axis_name=None) -> tuple[TrainState, dict]:
        """Update the metric states with `batch` in inference mode (no parameter change);
        `axis_name` as for `train_step`."""
        return self.steps.test_step(state, batch, axis_name=axis_name)

    def predict_step(self, state: TrainState, x):
        """The model's inference outputs for `x`."""
        return self.steps.predict_step(state, x)

    # ------------------------------------------------------------- helpers
    def _steps_per_dispatch(self, steps: int) -> int:
        if self.steps_per_execution == "auto":
            if self._straight_steps:
                return 1
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
            self._placement.check_batch_size(data.batch_size, where)
            if self._placement.multiprocess:
                # `batch_size` is the global batch; each process feeds its share of it.
                data.batch_size //= jax.process_count()
            else:
                data.sharding = self._placement.replicated
        return data

    def _check_sparse_labels(self, data: ArrayData, where: str) -> None:
        """Out-of-range sparse labels would give NaN inside jit; catch them for arrays."""
        from ..losses import SparseCategoricalCrossentropy

        if data.y is None:
            return
        targets = self.steps.targets(data.y)
        y_pred = jax.tree_util.tree_leaves(self._output_spec(_take_first(data.x)))
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

        Arrays go to the device once per `fit` call (NumPy arrays are copied then); pass arrays
        already on the device (`jax.device_put(x)`) to skip that copy across repeated calls.
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
        self.state = self._placement.place_state(_copy(self.state))
        if isinstance(train, ArrayData):
            self._ensure_metrics(train.x, train.y)
        logs: dict = {}
        self._initial_epoch = None
        cbs.on_train_begin()
        if self._initial_epoch is not None:  # set by BackupAndRestore after a restore
            initial_epoch, self._initial_epoch = self._initial_epoch, None
        for epoch in range(initial_epoch, epochs):
            self.state = self.state.replace(
                metric_states=self.steps.fresh_metric_states()
                if self.steps.metric_entries is not None
                else self.steps.loss_states()
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
        if epochs > initial_epoch:  # Keras' finalize_variable_values: keep the EMA weights
            params = optimizers_module.finalize_params(self.state.opt_state, self.state.params)
            if params is not self.state.params:
                self.state = self._placement.place_state(self.state.replace(params=params))
        cbs.on_train_end(logs)
        return self.history

    def _train_epoch_arrays(self, data: ArrayData, epoch, steps, shuffle, cbs) -> dict:
        order = (
            np.random.default_rng([self.seed, epoch, jax.process_index()]).permutation(data.n)
            if shuffle
            else np.arange(data.n)
        )
        if self._placement.multiprocess:
            return self._train_epoch_host_fed(data, order, steps, cbs)
        k = self._steps_per_dispatch(steps)
        plan = data.plan(order, steps, k)
        arrays = data.device_arrays
        batch_ends = _BatchEnds(cbs, self._log_order)
        for d in range(plan.indices.shape[0]):
            cbs.on_train_batch_begin(d * k)
            self.state, logs = self._train_dispatch(self.state, arrays, plan, d)
            batch_ends.add(min((d + 1) * k, steps) - 1, logs)
            if self.stop_training:
                break
        return batch_ends.finish()

    def _train_epoch_host_fed(self, data: ArrayData, order, steps, cbs) -> dict:
        """Several processes: each step, every process gives its rows of the global batch."""
        _check_same_steps(steps, "fit")
        batch_ends = _BatchEnds(cbs, self._log_order)
        for step, batch in enumerate(_host_batches(data, order, steps)):
            cbs.on_train_batch_begin(step)
            self.state, logs = self._train_batch(self.state, *self._placement.batch(batch))
            batch_ends.add(step, logs)
            if self.stop_training:
                break
        return batch_ends.finish()

    def _train_epoch_iterator(self, data: IteratorData, steps, cbs) -> dict:
        batch_ends, count = _BatchEnds(cbs, self._log_order), 0
        for x, y, sw, mask in data.batches(steps):
            self._ensure_metrics(x, y)
            self._placement.check_batch_size(data.batch_size, "fit")
            cbs.on_train_batch_begin(count)
            self.state, logs = self._train_batch(
                self.state, *self._placement.batch((x, y, sw, mask))
            )
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
        if isinstance(data, ArrayData) and self._placement.multiprocess:
            self._ensure_metrics(data.x, data.y)
            states, logs = self.steps.fresh_metric_states(), None
            for batch in _host_batches(data, np.arange(data.n), data.steps(steps)):
                states, logs = self._test_batch(
                    states, params, layer_state, *self._placement.batch(batch)
                )
        elif isinstance(data, ArrayData):
            self._ensure_metrics(data.x, data.y)
            states = self.steps.fresh_metric_states()
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
                    states = self.steps.fresh_metric_states()
                self._placement.check_batch_size(data.batch_size, "evaluate")
                states, logs = self._test_batch(
                    states, params, layer_state, *self._placement.batch((x, y, sw, mask))
                )
            if logs is None:
                raise ValueError("evaluate received an empty dataset: no batches.")
        logs = _to_host(logs, self._log_order())
        if cbs is not None:
            cbs.on_test_end(logs)
        return logs

    # -------------------------------------------------------------- predict
    def predict(self, x, batch_size=None, verbose="auto", steps: int | None = None, callbacks=None):
        """Inference outputs for `x` (arrays, or an iterable of batches), as NumPy arrays."""
        data = self._adapt(x, None, None, None, batch_size, "predict")
        params, layer_state = self.state.params, self.state.layer_state
        chunks = []
        if isinstance(data, ArrayData) and self._placement.multiprocess:
            n_steps = data.steps(steps)
            for x_b, *_ in _host_batches(data, np.arange(data.n), n_steps):
                out = self._predict_batch(self.state, self._placement.batch(x_b))
                chunks.append(self._placement.local_rows(out))
            total = min(data.n, n_steps * data.batch_size)
        elif isinstance(data, ArrayData):
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
                self._placement.check_batch_size(data.batch_size, "predict")
                out = self._predict_batch(state, self._placement.batch(x_b))
                chunks.append(self._placement.local_rows(out))
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
        sw, mask = self.steps.batch_weights(x, sample_weight)
        self.state = self._placement.place_state(_copy(self.state))
        self.state, logs = self._train_batch(self.state, *self._placement.batch((x, y, sw, mask)))
        logs = _to_host(logs, self._log_order())
        return logs if return_dict else list(logs.values())

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict: bool = True):
        self._ensure_metrics(x, y)
        sw, mask = self.steps.batch_weights(x, sample_weight)
        _, logs = self._test_batch(
            self.steps.fresh_metric_states(),
            self.state.params,
            self.state.layer_state,
            *self._placement.batch((x, y, sw, mask)),
        )
        logs = _to_host(logs, self._log_order())
        return logs if return_dict else list(logs.values())

    def predict_on_batch(self, x):
        out = self._predict_batch(self.state, self._placement.batch(x))
        return jax.device_get(self._placement.local_rows(out))


class _BatchEnds:
    """Calls `on_train_batch_end` with host logs, at most once per dispatch.

    When every callback only reads logs, each call waits until the next dispatch is queued
    (one dispatch late), so reading logs never idles the device. When some callback may look
    at `trainer.state`, each call happens at once, while the state matches its logs. When no
    callback has `on_train_batch_end`, logs are read once, at the end of the epoch.
    """

    def __init__(self, cbs: CallbackList, order):
        self.cbs, self.lag, self.order = cbs, not cbs.batch_end_needs_state, order
        self.pending: tuple[int, dict] | None = None
        self.last: dict = {}

    def add(self, step: int, logs: dict) -> None:
        if not self.cbs.has_batch_end:  # nobody reads batch logs: keep the device's last ones
            self.pending = (step, logs)
            return
        if self.lag:
            self._flush()
            self.pending = (step, logs)
        else:
            self.pending = (step, logs)
            self._flush()

    def _flush(self) -> None:
        if self.pending is not None:
            step, logs = self.pending
            self.pending, self.last = None, _to_host(logs, self.order())
            if self.cbs.has_batch_end:
                self.cbs.on_train_batch_end(step, self.last)

    def finish(self) -> dict:
        self._flush()
        return self.last


def _host_batches(data: ArrayData, order: np.ndarray, steps: int):
    """`(x, y, sample_weight, mask)` NumPy batches in `order`; the last padded with weight 0."""
    bs = data.batch_size
    rows = np.resize(order, steps * bs)
    valid = (np.arange(steps * bs) < data.n).astype(np.float32)
    for s in range(steps):
        idx = rows[s * bs : (s + 1) * bs]
        x, y = jax.tree_util.tree_map(lambda a, i=idx: np.asarray(a)[i], (data.x, data.y))
        yield x, y, data.sample_weight[idx], valid[s * bs : (s + 1) * bs]


def _check_same_steps(steps: int, where: str) -> None:
    """Processes that disagree on the number of steps would wait for each other forever."""
    from jax.experimental import multihost_utils

    counts = np.asarray(multihost_utils.process_allgather(np.int32(steps))).ravel()
    if len(set(counts.tolist())) > 1:
        raise ValueError(
            f"{where}: every process must run the same number of steps, so each needs the "
            f"same number of samples. Received: steps per process {counts.tolist()}"
        )


def _has_convolutions(model) -> bool:
    from ..layers.convolutional.base_conv import BaseConvLayer

    def is_conv(x):
        return isinstance(x, BaseConvLayer)

    return any(is_conv(x) for x in jax.tree_util.tree_leaves(model, is_leaf=is_conv))


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
