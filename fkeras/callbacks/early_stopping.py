"""`EarlyStopping`: stop training when a monitored quantity has stopped improving."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp

from .monitor import MonitorCallback


def copy_tree(tree):
    """Fresh device buffers: the trainer donates its state to the next step, so weights kept
    for later must be copies."""
    return jax.tree_util.tree_map(lambda a: jnp.array(a, copy=True), tree)


class EarlyStopping(MonitorCallback):
    """Stop training when a monitored quantity has stopped improving (Keras' `EarlyStopping`).

    At the end of every epoch the callback compares `logs[monitor]` with the best value so far;
    after `patience` epochs without improvement it sets `trainer.stop_training = True`.

    **Arguments:**

    - `monitor`: the log key to watch. Default `"val_loss"`.
    - `min_delta`: the smallest absolute change that counts as an improvement. Default `0`.
    - `patience`: epochs without improvement after which training stops. Default `0`.
    - `verbose`: `1` prints a message when the callback acts. Default `0`.
    - `mode`: `"auto"`, `"min"` or `"max"`. `"auto"` maximizes names containing `acc`, `auc`,
      `precision`, `recall` or `f1` (and other higher-is-better metrics) and minimizes the rest.
    - `baseline`: if given, the patience counter only resets on epochs that also beat it, so
      training stops after `patience` epochs if no epoch beats the baseline.
    - `restore_best_weights`: at the end of training, put the parameters and layer state of the
      best epoch back into `trainer.state` (so `trainer.model` is the best model). As in Keras 3
      this happens whenever training ends, stopped early or not; the best epoch is the best
      seen even if it never beat `baseline`. Default `False`.
    - `start_from_epoch`: epochs of warm-up before monitoring starts. Default `0`.

    **Attributes:** `best`, `best_epoch`, `wait`, `stopped_epoch` (0 when not stopped),
    `best_weights` (`(params, layer_state)` copies, with `restore_best_weights`).

    ```python
    early = fk.callbacks.EarlyStopping(monitor="val_loss", patience=3,
                                       restore_best_weights=True)
    history = trainer.fit(x, y, validation_split=0.2, epochs=100, callbacks=[early])
    best_model = trainer.model
    ```
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.best_epoch = 0
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        # Allow an instance to be reused across fit calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _current_weights(self):
        state = self.trainer.state
        return copy_tree((state.params, state.layer_state))

    def on_epoch_end(self, epoch, logs=None):
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Nothing kept yet: the current weights are the best so far.
            self.best_weights = self._current_weights()
            self.best_epoch = epoch

        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self._current_weights()
            # Only restart the wait when both the baseline and the previous best are beaten.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return

        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", flush=True)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}.",
                    flush=True,
                )
            params, layer_state = self.best_weights
            self.trainer.state = self.trainer.state.replace(
                params=copy_tree(params), layer_state=copy_tree(layer_state)
            )

    def get_monitor_value(self, logs):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(list(logs.keys()))}",
                stacklevel=2,
            )
        return value
