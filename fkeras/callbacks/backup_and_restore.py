"""`BackupAndRestore`: back the whole training state up, and resume after an interruption."""

from __future__ import annotations

import glob
import os

from ..saving.checkpoint import read_checkpoint_epoch, restore_checkpoint, save_checkpoint
from ._steps import StepCounter
from .base import Callback

CHECKPOINT_NAME = "training_state.ckpt"


class BackupAndRestore(Callback):
    """Back the training state up in `backup_dir` and resume from it after an interruption
    (Keras' `BackupAndRestore`).

    The backup is the whole `TrainState` (weights, layer state, optimizer state, step counter
    and PRNG key) plus the epoch to resume from, written atomically (a crash in the middle of a
    save leaves the previous backup intact). At train begin, if `backup_dir` holds a backup,
    the trainer's state is restored from it and fit resumes at the saved epoch, so the resumed
    run gives the same weights as an uninterrupted one. At a successful train end the backup is
    deleted (with `delete_checkpoint=True`); an interrupted fit never reaches that point.

    **Arguments:**

    - `backup_dir`: the folder of the backup (created when needed). Use one folder per run.
    - `save_freq`: `"epoch"` (back up at each epoch end), an int `N` (also every `N`
      optimizer steps, at the first dispatch end at or after each multiple; a run resumed from
      such a backup restarts the interrupted epoch from its beginning, with the saved state, as
      in Keras), or `False` (never back up; only restore).
    - `delete_checkpoint`: delete the backup when fit ends normally. Default `True`.

    ```python
    backup = fk.callbacks.BackupAndRestore("/tmp/backup")
    trainer.fit(x, y, epochs=10, callbacks=[backup])  # run again after a crash: it resumes
    ```

    Fit starts at the restored epoch when the trainer honours `trainer._initial_epoch` (set
    in `on_train_begin`); otherwise pass `initial_epoch=backup.resume_epoch()` to fit.
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if (
            save_freq is not False
            and save_freq != "epoch"
            and (not isinstance(save_freq, int) or isinstance(save_freq, bool) or save_freq < 1)
        ):
            raise ValueError(
                f"Invalid value for argument `save_freq`. Received: save_freq={save_freq!r}. "
                "Expected either 'epoch', False, or a positive integer."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self._steps = StepCounter(save_freq) if isinstance(save_freq, int) and save_freq else None
        self._current_epoch = 0
        self._restored_epoch: int | None = None
        self._first_epoch_seen = False
        if self._steps is not None:
            # Only then: a batch hook makes fit sync trainer.state at every dispatch end.
            self.on_train_batch_end = self._backup_on_batch_end

    @property
    def checkpoint_path(self) -> str:
        return os.path.join(self.backup_dir, CHECKPOINT_NAME)

    def resume_epoch(self) -> int:
        """The epoch a fit with this callback resumes from: the backup's, or 0 without one."""
        if not os.path.isfile(self.checkpoint_path):
            return 0
        return read_checkpoint_epoch(self.checkpoint_path)

    def _remove_stale_temporaries(self) -> None:
        """Temporary files a hard kill left in the middle of a save (never read)."""
        pattern = os.path.join(glob.escape(self.backup_dir), ".tmp-*" + CHECKPOINT_NAME)
        for stale in glob.glob(pattern):
            try:
                os.remove(stale)
            except OSError:
                pass

    def on_train_begin(self, logs=None):
        self._restored_epoch = None
        self._first_epoch_seen = False
        self._current_epoch = 0
        if self._steps is not None:
            self._steps.reset()
        if os.path.isdir(self.backup_dir):
            self._remove_stale_temporaries()
        if os.path.isfile(self.checkpoint_path):
            epoch = restore_checkpoint(self.trainer, self.checkpoint_path)
            self._restored_epoch = epoch
            self._current_epoch = epoch
            self.trainer._initial_epoch = epoch  # read by fit right after on_train_begin

    def on_epoch_begin(self, epoch, logs=None):
        if not self._first_epoch_seen:
            self._first_epoch_seen = True
            if self._restored_epoch is not None and epoch != self._restored_epoch:
                raise RuntimeError(
                    f"BackupAndRestore restored the training state saved for epoch "
                    f"{self._restored_epoch} from {self.checkpoint_path}, but fit started at "
                    f"epoch {epoch}. Pass initial_epoch=backup.resume_epoch() to fit (read "
                    "before the fit call), or delete the backup to start over."
                )
        self._current_epoch = epoch
        if self._steps is not None:
            self._steps.new_epoch()

    def _backup_on_batch_end(self, batch, logs=None):
        if self._steps is not None and self._steps.advance(batch):
            save_checkpoint(self.trainer, self.checkpoint_path, epoch=self._current_epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if self.save_freq == "epoch":
            save_checkpoint(self.trainer, self.checkpoint_path, epoch=epoch + 1)

    def on_train_end(self, logs=None):
        if not self.delete_checkpoint:
            return
        if os.path.isfile(self.checkpoint_path):
            os.remove(self.checkpoint_path)
        if os.path.isdir(self.backup_dir):
            self._remove_stale_temporaries()
            try:
                os.rmdir(self.backup_dir)  # only when empty: never delete other files
            except OSError:
                pass
