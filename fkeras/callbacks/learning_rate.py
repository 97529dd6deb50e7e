"""`ReduceLROnPlateau` and `LearningRateScheduler`: change the learning rate held in the
optimizer state (`fk.optimizers.get_learning_rate` / `set_learning_rate`) between epochs."""

from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np

from ..optimizers import get_learning_rate, set_learning_rate
from .base import Callback
from .monitor import MonitorCallback


def current_learning_rate(trainer) -> float:
    """The learning rate in `trainer.state.opt_state`, as a Python float."""
    return float(get_learning_rate(trainer.state.opt_state))


def check_settable(trainer) -> None:
    """Fail at the start of training, not epochs later, when the optimizer state holds no
    float learning rate that can be changed (a schedule, or a raw optax optimizer)."""
    set_learning_rate(trainer.state.opt_state, current_learning_rate(trainer))


def set_trainer_learning_rate(trainer, value) -> None:
    """Replace `trainer.state` by one whose optimizer state holds learning rate `value`."""
    trainer.state = trainer.state.replace(
        opt_state=set_learning_rate(trainer.state.opt_state, value)
    )


class ReduceLROnPlateau(MonitorCallback):
    """Reduce the learning rate when a monitored quantity has stopped improving (Keras'
    `ReduceLROnPlateau`).

    After `patience` epochs without improvement the learning rate in the optimizer state
    becomes `max(lr * factor, min_lr)`; then `cooldown` epochs pass before the counting starts
    again. Each epoch's logs get the `"learning_rate"` used during that epoch (so it appears in
    the `History`). The optimizer needs a float (not schedule) learning rate, as from any
    `fk.optimizers` constructor or a Keras optimizer name.

    **Arguments:**

    - `monitor`: the log key to watch. Default `"val_loss"`.
    - `factor`: the multiplier of the learning rate, `< 1`. Default `0.1`.
    - `patience`: epochs without improvement before a reduction. Default `10`.
    - `verbose`: `1` prints a message at each reduction. Default `0`.
    - `mode`: `"auto"`, `"min"` or `"max"`, the direction of improvement of `monitor`.
    - `min_delta`: the smallest change that counts as an improvement. Default `1e-4`.
    - `cooldown`: epochs to wait after a reduction before counting again. Default `0`.
    - `min_lr`: the lower bound of the learning rate. Default `0.0`.

    ```python
    reduce_lr = fk.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5,
                                               min_lr=1e-4)
    trainer.fit(x, y, validation_split=0.2, epochs=50, callbacks=[reduce_lr])
    fk.optimizers.get_learning_rate(trainer.state.opt_state)
    ```
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()
        check_settable(self.trainer)

    def _reduce_lr(self, epoch, old_lr: float) -> bool:
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            set_trainer_learning_rate(self.trainer, new_lr)
            if self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.",
                    flush=True,
                )
            return True
        return False

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        lr = current_learning_rate(self.trainer)
        logs["learning_rate"] = lr
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is "
                f"not available. Available metrics are: {','.join(list(logs.keys()))}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce_lr(epoch, lr):
                self.cooldown_counter = self.cooldown
                self.wait = 0


def _takes_two_arguments(fn) -> bool:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins
        return True
    try:
        signature.bind(0, 0.0)
        return True
    except TypeError:
        return False


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch from `schedule(epoch, lr)` (Keras'
    `LearningRateScheduler`).

    The new value is written into the optimizer state (which needs a float, not schedule,
    learning rate), and each epoch's logs get its `"learning_rate"`.

    **Arguments:**

    - `schedule`: a function `(epoch, lr) -> new lr` (`epoch` counts from 0, `lr` is the
      current learning rate as a float); a one-argument `schedule(epoch)` also works.
    - `verbose`: `1` prints the learning rate set at each epoch. Default `0`.

    ```python
    def schedule(epoch, lr):
        return lr if epoch < 10 else lr * math.exp(-0.1)

    trainer.fit(x, y, epochs=15, callbacks=[fk.callbacks.LearningRateScheduler(schedule)])
    ```
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_train_begin(self, logs=None):
        check_settable(self.trainer)

    def on_epoch_begin(self, epoch, logs=None):
        lr = current_learning_rate(self.trainer)
        if _takes_two_arguments(self.schedule):
            new_lr = self.schedule(epoch, lr)
        else:
            new_lr = self.schedule(epoch)
        if isinstance(new_lr, (bool, np.bool_)) or not (
            isinstance(new_lr, numbers.Real) or (np.ndim(new_lr) == 0 and _is_float(new_lr))
        ):
            raise ValueError(
                f"The output of the `schedule` function should be a float. Got: {new_lr!r}"
            )
        new_lr = float(new_lr)
        set_trainer_learning_rate(self.trainer, new_lr)
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {new_lr}.",
                flush=True,
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = current_learning_rate(self.trainer)


def _is_float(value) -> bool:
    dtype = getattr(value, "dtype", None)
    return dtype is not None and np.issubdtype(np.dtype(dtype), np.floating)
