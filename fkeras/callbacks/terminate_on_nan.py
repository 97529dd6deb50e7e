"""`TerminateOnNaN`: stop training when the loss becomes NaN or infinite."""

from __future__ import annotations

import math

from .base import Callback


class TerminateOnNaN(Callback):
    """Stop training when a batch's loss is NaN or infinite (Keras' `TerminateOnNaN`).

    The batch hooks run once per dispatch (several steps), so the check sees the running loss
    at each dispatch's end; a NaN or infinite value stays in the running mean, so it is never
    missed. Training stops gracefully (`trainer.stop_training = True`): the current epoch ends,
    its logs reach `History`, and `on_train_end` runs.

    **Arguments:**

    - `raise_error`: raise a `RuntimeError` at once instead, skipping the other callbacks'
      `on_epoch_end` and `on_train_end`. Default `False`.

    ```python
    history = trainer.fit(x, y, epochs=10, callbacks=[fk.callbacks.TerminateOnNaN()])
    ```
    """

    batch_end_reads_logs_only = True

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                    "Terminating training immediately."
                )
            print(f"Batch {batch}: Invalid loss, terminating training", flush=True)
            self.trainer.stop_training = True
