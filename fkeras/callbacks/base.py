"""`Callback` (Keras' hooks) and `CallbackList`, which fans each hook out."""

from __future__ import annotations

from typing import Any


class Callback:
    """Base class for callbacks: override any of the `on_*` hooks.

    A callback sees the trainer as `self.trainer` (Keras' `self.model` is the trained,
    immutable model: `self.trainer.model`). Set `self.trainer.stop_training = True` to stop
    after the current epoch. Batch hooks run once per dispatch (several steps with
    `steps_per_execution`); `batch` is the index of the dispatch's last step.
    """

    #: Set True on a callback whose `on_train_batch_end` only reads `logs`: fit may then call
    #: it one dispatch late, after queueing the next one, so the device never waits. Otherwise
    #: (the default for any callback that overrides the hook) fit calls it before the next
    #: dispatch, when `trainer.state` matches the logs.
    batch_end_reads_logs_only: bool = False

    def __init__(self):
        self.trainer = None
        self.params: dict[str, Any] = {}

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    def set_params(self, params: dict) -> None:
        self.params = params

    @property
    def model(self):
        return None if self.trainer is None else self.trainer.model

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


class CallbackList(Callback):
    """Calls each hook on every callback, in order."""

    def __init__(self, callbacks, trainer, params: dict):
        super().__init__()
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callbacks must be fk.callbacks.Callback instances. Received: {callback!r}"
                )
            callback.set_trainer(trainer)
            callback.set_params(params)

    @property
    def batch_end_needs_state(self) -> bool:
        """Whether some callback's `on_train_batch_end` may look at `trainer.state`."""
        return any(
            _overrides_batch_end(c) and not c.batch_end_reads_logs_only for c in self.callbacks
        )

    @property
    def has_batch_end(self) -> bool:
        """Whether some callback has an `on_train_batch_end` (else logs are read per epoch)."""
        return any(_overrides_batch_end(c) for c in self.callbacks)

    def _call(self, hook: str, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs)


def _overrides_batch_end(callback) -> bool:  # a subclass method or an instance attribute
    hook = callback.on_train_batch_end
    return getattr(hook, "__func__", hook) is not Callback.on_train_batch_end
