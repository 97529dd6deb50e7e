"""`ModelCheckpoint`: save the model, its weights, or the whole training state during training."""

from __future__ import annotations

import os
import warnings

from ..saving.checkpoint import save_checkpoint
from ._steps import StepCounter
from .monitor import MonitorCallback, is_scalar

MODEL_SUFFIX = ".fkeras"
WEIGHTS_SUFFIX = ".weights.npz"
CHECKPOINT_SUFFIX = ".ckpt"


class ModelCheckpoint(MonitorCallback):
    """Save the trained model (`trainer.model.save`), its weights (`save_weights`) or the whole
    training state (`fk.saving.save_checkpoint`) during training (Keras' `ModelCheckpoint`).

    With `save_training_state=True` the file is a training checkpoint: the whole `TrainState`
    (weights, layer state, optimizer state, step counter, PRNG key) and the epoch to resume
    from, written atomically. `epoch = fk.saving.restore_checkpoint(trainer, path)` puts it
    back into a trainer compiled like the saving one, and
    `trainer.fit(..., initial_epoch=epoch)` then continues exactly as the saving run did
    (bit-identical weights for a checkpoint saved at an epoch end). A checkpoint saved within
    an epoch (integer `save_freq`) resumes at the beginning of that epoch, with the state of
    the save, as Keras' `BackupAndRestore` does. Unlike `fk.callbacks.BackupAndRestore`, which
    keeps one backup and restores it by itself, this keeps as many checkpoints as `filepath`
    names (e.g. one per epoch), or the best one with `save_best_only=True`.

    **Arguments:**

    - `filepath`: where to save: a path ending in `.fkeras` (the whole model), in
      `.weights.npz` with `save_weights_only=True`, or in `.ckpt` with
      `save_training_state=True`. It may contain format fields filled with
      the 1-based `epoch` and the log values, e.g. `"ckpt/{epoch:02d}-{val_loss:.2f}.fkeras"`
      (with an integer `save_freq`, also the 1-based `batch`). Missing folders are created.
    - `monitor`: the log key compared with `save_best_only`. Default `"val_loss"`.
    - `verbose`: `1` prints a message when the callback acts. Default `0`.
    - `save_best_only`: only save when `monitor` improved on the best value so far (a fixed
      `filepath` then always holds the best model). Default `False`.
    - `save_weights_only`: save only the weights. Default `False`.
    - `save_training_state`: save the whole training state, to resume training from it (an
      fkeras option; Keras' `ModelCheckpoint` has no equivalent). Default `False`; not with
      `save_weights_only`.
    - `mode`: `"auto"`, `"min"` or `"max"`, the direction of improvement of `monitor`.
    - `save_freq`: `"epoch"` (at each epoch end) or an int `N`: every `N` optimizer steps,
      judged on that batch's running logs. The batch hooks run once per dispatch of several
      steps, so the save happens at the first dispatch end at or after each multiple of `N`,
      with the state of that dispatch end.
    - `initial_value_threshold`: the initial best value for `save_best_only`.

    ```python
    checkpoint = fk.callbacks.ModelCheckpoint("best.fkeras", monitor="val_accuracy",
                                              save_best_only=True)
    trainer.fit(x, y, validation_split=0.2, epochs=10, callbacks=[checkpoint])
    best = fk.saving.load_model("best.fkeras")

    every_epoch = fk.callbacks.ModelCheckpoint("ckpt/{epoch:02d}.ckpt", save_training_state=True)
    trainer.fit(x, y, epochs=10, callbacks=[every_epoch])
    epoch = fk.saving.restore_checkpoint(trainer, "ckpt/05.ckpt")  # 5: resume after epoch 5
    trainer.fit(x, y, epochs=10, initial_epoch=epoch)
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
        save_training_state=False,
    ):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_training_state = save_training_state
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
        if self._steps is not None:
            # Only then: a batch hook makes fit sync trainer.state at every dispatch end.
            self.on_train_batch_end = self._save_on_batch_end
        if save_weights_only and save_training_state:
            raise ValueError(
                "ModelCheckpoint: `save_weights_only` and `save_training_state` cannot both be "
                "set (the training state includes the weights). Received: "
                "save_weights_only=True, save_training_state=True"
            )
        if save_training_state:
            suffix, what = CHECKPOINT_SUFFIX, "the training state"
        elif save_weights_only:
            suffix, what = WEIGHTS_SUFFIX, "the weights"
        else:
            suffix, what = MODEL_SUFFIX, "the whole model"
        if not self.filepath.endswith(suffix):
            raise ValueError(
                f"ModelCheckpoint saves {what}, so the filepath must end in `{suffix}`"
                + (
                    " (use `.fkeras` for the whole model, save_weights_only=True for "
                    "`.weights.npz` or save_training_state=True for `.ckpt`)"
                    if suffix == MODEL_SUFFIX
                    else ""
                )
                + f". Received: filepath={self.filepath}"
            )

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        if self._steps is not None:
            self._steps.new_epoch()

    def _save_on_batch_end(self, batch, logs=None):
        if self._steps is not None and self._steps.advance(batch):
            # Within an epoch: a resume restarts this epoch (with the saved state).
            self._save_model(self._current_epoch, batch, logs, resume_epoch=self._current_epoch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs, resume_epoch=epoch + 1)

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

    def _save_model(self, epoch, batch, logs, *, resume_epoch: int) -> None:
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
        if self.save_training_state:
            save_checkpoint(self.trainer, filepath, epoch=resume_epoch)
        elif self.save_weights_only:
            self.trainer.model.save_weights(filepath)
        else:
            self.trainer.model.save(filepath)
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
