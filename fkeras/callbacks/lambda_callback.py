"""`LambdaCallback`: a callback made of plain functions."""

from __future__ import annotations

from .base import Callback

_HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)


class LambdaCallback(Callback):
    """A callback built from functions, one per hook (Keras' `LambdaCallback`).

    The functions get the hook's positional arguments: `on_epoch_begin(epoch, logs)`,
    `on_epoch_end(epoch, logs)`, `on_train_begin(logs)`, `on_train_end(logs)`,
    `on_train_batch_begin(batch, logs)`, `on_train_batch_end(batch, logs)` (once per dispatch;
    `batch` is the dispatch's last step).

    **Arguments:**

    - `on_epoch_begin`, `on_epoch_end`, `on_train_begin`, `on_train_end`,
      `on_train_batch_begin`, `on_train_batch_end`: the functions (`None`: do nothing).
    - `**kwargs`: any other hook of `Callback` by name, e.g. `on_test_end=fn`; Keras'
      `on_batch_begin` / `on_batch_end` name the train batch hooks.

    ```python
    losses = []
    record = fk.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
    trainer.fit(x, y, epochs=3, callbacks=[record])
    ```
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        for alias, name in (
            ("on_batch_begin", "on_train_batch_begin"),
            ("on_batch_end", "on_train_batch_end"),
        ):
            fn = kwargs.pop(alias, None)
            if fn is not None:
                if hooks[name] is not None:
                    raise TypeError(f"LambdaCallback: pass either {alias} or {name}, not both.")
                hooks[name] = fn
        unknown = sorted(set(kwargs) - set(_HOOKS))
        if unknown:
            raise TypeError(
                f"LambdaCallback got unknown hook names {unknown}. Known hooks: {list(_HOOKS)}"
            )
        hooks.update(kwargs)
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)
