"""`ModelCheckpoint`: save the model or its weights during training."""

from __future__ import annotations

import os
import warnings

from ._steps import StepCounter
from .monitor import MonitorCallback, is_scalar

MODEL_SUFFIX = ".fkeras"
WEIGHTS_SUFFIX = ".weights.npz"


class ModelCheckpoint(MonitorCallback):
    """Save the trained model (`trainer.model.save`) or its weights (`save_weights`) during
    training (Keras' `ModelCheckpoint`).

    **Arguments:**

    - `filepath`: where to save: a path ending in `.fkeras` (the whole model), or in
      `.weights.npz` with `save_weights_only=True`. It may contain format fields filled with
      the 1-based `epoch` and the log values, e.g. `"ckpt/{epoch:02d}-{val_loss:.2f}.fkeras"`
      (with an integer `save_freq`, also the 1-based `batch`). Missing folders are created.
    - `monitor`: the log key compared with `save_best_only`. Default `"val_loss"`.
    - `verbose`: `1` prints a message when the callback acts. Default `0`.
    - `save_best_only`: only save when `monitor` improved on the best value so far (a fixed
      `filepath` then always holds the best model). Default `False`.
    - `save_weights_only`: save only the weights. Default `False`.
    - `mode`: `"auto"`, `"min"` or `"max"`, the direction of improvement of `monitor`.
    - `save_freq`: `"epoch"` (at each epoch end) or an int `N`: every `N` optimizer steps,
      judged on that batch's running logs. The batch hooks run once per dispatch of several
      steps, so the save happens at the first dispatch end at or after each multiple of `N`.
      (`fit` reads a dispatch's logs while the next one runs, so the weights saved there can
      be up to one dispatch newer than the logs and the `{batch}` in the name.)
    - `initial_value_threshold`: the initial best value for `save_best_only`.

    ```python
    checkpoint = fk.callbacks.ModelCheckpoint("best.fkeras", monitor="val_accuracy",
                                              save_best_only=True)
    trainer.fit(x, y, validation_split=0.2, epochs=10, callbacks=[checkpoint])
    best = fk.saving.load_model("best.fkeras")
    ```
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._current_epoch = 0
        if save_freq != "epoch" and (
            not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq < 1
        ):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are 'epoch' or "
                "positive integer values"
            )
        self._steps = StepCounter(save_freq) if isinstance(save_freq, int) else None
        suffix = WEIGHTS_SUFFIX if save_weights_only else MODEL_SUFFIX
        if not self.filepath.endswith(suffix):
            what = "the weights" if save_weights_only else "the whole model"
            raise ValueError(
                f"ModelCheckpoint saves {what}, so the filepath must end in `{suffix}`"
                + (
                    " (use `.fkeras` for the whole model, or save_weights_only=True)"
                    if not save_weights_only
                    else ""
                )
                + f". Received: filepath={self.filepath}"
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        if self._steps is not None:
            self._steps.new_epoch()

    def on_train_batch_end(self, batch, logs=None):
        if self._steps is not None and self._steps.advance(batch):
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    def _should_save_model(self, epoch, batch, logs, filepath) -> bool:
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}", flush=True)
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        if not is_scalar(current):
            warnings.warn(
                "Can save best model only when `monitor` is a scalar value. Received: "
                f"{current}. Falling back to `save_best_only=False`.",
                stacklevel=3,
            )
            return True
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to "
                    f"{current:.5f}, saving model to {filepath}",
                    flush=True,
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    def _save_model(self, epoch, batch, logs) -> None:
        logs = logs or {}
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, batch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise OSError(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is "
                f"an existing directory: {filepath}"
            )
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        model = self.trainer.model
        if self.save_weights_only:
            model.save_weights(filepath)
        else:
            model.save(filepath)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}", flush=True)

    def _get_file_path(self, epoch, batch, logs) -> str:
        """`filepath` with `{epoch}` (1-based), `{batch}` (1-based) and the log keys filled."""
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as error:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {error}. '
                f"Available keys: epoch, {', '.join(logs)}"
            ) from None
