"""`TensorBoard`: write losses, metrics and weight histograms for TensorBoard, through the
`tensorboardX` library (an optional extra: `pip install "fkeras[tensorboard]"`)."""

from __future__ import annotations

import itertools
import os
import time
import warnings

import jax
import numpy as np

from ._steps import StepCounter
from .base import Callback
from .learning_rate import current_learning_rate

_WRITER_IDS = itertools.count()


def _summary_writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError as error:
        raise ImportError(
            "The TensorBoard callback writes its event files with the `tensorboardX` package, "
            'which is not installed. Install it with `pip install "fkeras[tensorboard]"` (or '
            "`pip install tensorboardX`)."
        ) from error
    return SummaryWriter


def _parse_profile_batch(profile_batch) -> tuple[int, int]:
    message = (
        "profile_batch must be a non-negative integer or 2-tuple of positive integers "
        "(start, stop) with start <= stop. A pair of positive integers signifies a range of "
        f"batches to profile. Found: {profile_batch!r}"
    )
    if isinstance(profile_batch, str):
        profile_batch = [int(part) for part in profile_batch.split(",") if part.strip()]
    if isinstance(profile_batch, int) and not isinstance(profile_batch, bool):
        start = stop = profile_batch
    elif isinstance(profile_batch, (list, tuple)) and len(profile_batch) == 2:
        start, stop = (int(v) for v in profile_batch)
    else:
        raise ValueError(message)
    if start < 0 or stop < start or (start == 0) != (stop == 0):
        raise ValueError(message)
    return start, stop


def weight_names_and_values(model) -> list[tuple[str, np.ndarray]]:
    """`("dense/kernel", array)` for each array of `model`: the names of the layers along its
    path, then the field name."""
    from ..core.layer import Layer

    out = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(model)[0]:
        dtype = getattr(leaf, "dtype", None)
        if dtype is None or jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
            continue
        parts, obj = [], model
        for key in path:
            if isinstance(key, jax.tree_util.GetAttrKey):
                obj = getattr(obj, key.name)
                last = key.name
            elif isinstance(key, jax.tree_util.SequenceKey):
                obj = obj[key.idx]
                last = str(key.idx)
            elif isinstance(key, jax.tree_util.DictKey):
                obj = obj[key.key]
                last = str(key.key)
            else:
                last = str(key)
                obj = None
            if isinstance(obj, Layer):
                parts.append(obj.name)
        parts.append(last if path else "weight")
        out.append(("/".join(parts), np.asarray(leaf)))
    return out


def _image_of(weight: np.ndarray) -> np.ndarray | None:
    """A weight as a grayscale image scaled to [0, 1] (as Keras: biases as a row, kernels as a
    matrix with the longer side horizontal, conv kernels one tile per output channel), or
    `None` for shapes with no natural picture."""
    w = np.squeeze(np.asarray(weight, np.float32))
    if w.ndim == 1:
        image = w[None, :, None]
    elif w.ndim == 2:
        image = (w.T if w.shape[0] > w.shape[1] else w)[:, :, None]
    elif w.ndim == 3:  # channels last -> one tile per channel, stacked vertically
        image = np.concatenate(list(np.transpose(w, (2, 0, 1))), axis=0)[:, :, None]
    else:
        return None
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


class TensorBoard(Callback):
    """Write training curves (and optionally weight histograms) for TensorBoard (Keras'
    `TensorBoard`), with `tensorboardX`.

    At each epoch end the train logs go to `log_dir/train` and the `val_*` logs (without the
    prefix) to `log_dir/validation`, as scalars named `epoch_<name>` at step `epoch`, the same
    layout Keras writes; the learning rate is logged as `epoch_learning_rate` when the optimizer
    state holds one. `trainer.evaluate(..., callbacks=[tensorboard])` writes
    `evaluation_<name>_vs_iterations` at the current optimizer step.

    **Arguments:**

    - `log_dir`: the folder of the event files. Default `"logs"`.
    - `histogram_freq`: every how many epochs to write a histogram of each weight
      (`0`: never). Default `0`.
    - `write_graph`: accepted for Keras compatibility; graphs are not written (nor does
      Keras 3 write them).
    - `write_images`: with `histogram_freq`, also write each weight as an image (scaled to
      [0, 1]). Default `False`.
    - `write_steps_per_second`: also log the training speed. Default `False`.
    - `update_freq`: `"epoch"`, `"batch"` or an int `N`: also write the running train logs as
      `batch_<name>` scalars every `N` optimizer steps (at step = the global step count; the
      batch hooks run once per dispatch, so at the first dispatch end at or after each
      multiple of `N`). Default `"epoch"`.
    - `profile_batch`: a step, or a `(start, stop)` pair of steps (1-based), to trace with
      `jax.profiler` into `log_dir/train` (`0`: no profiling). The trace spans whole
      dispatches. Default `0`.
    - `embeddings_freq`, `embeddings_metadata`: not supported (must be left at `0`/`None`).

    ```python
    tensorboard = fk.callbacks.TensorBoard(log_dir="logs/run1", histogram_freq=1)
    trainer.fit(x, y, validation_split=0.2, epochs=5, callbacks=[tensorboard])
    # then: tensorboard --logdir logs
    ```
    """

    batch_end_reads_logs_only = True

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
    ):
        super().__init__()
        self._writer_class = _summary_writer_class()
        if embeddings_freq or embeddings_metadata is not None:
            raise ValueError(
                "fkeras' TensorBoard callback does not write embeddings; leave embeddings_freq=0 "
                f"and embeddings_metadata=None. Received: embeddings_freq={embeddings_freq!r}"
            )
        update_freq = 1 if update_freq == "batch" else update_freq
        if update_freq != "epoch" and (
            not isinstance(update_freq, int) or isinstance(update_freq, bool) or update_freq < 1
        ):
            raise ValueError(
                "update_freq must be 'epoch', 'batch' or a positive integer. "
                f"Received: update_freq={update_freq!r}"
            )
        if write_images:
            try:
                import PIL  # noqa: F401 - tensorboardX encodes images with Pillow
            except ImportError as error:
                raise ImportError(
                    "TensorBoard(write_images=True) needs Pillow to encode the images: "
                    "`pip install pillow`."
                ) from error
        if write_images and not histogram_freq:
            warnings.warn(
                "TensorBoard: write_images only writes images together with histograms; set "
                "histogram_freq > 0 to get them.",
                stacklevel=2,
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._start_batch, self._stop_batch = _parse_profile_batch(profile_batch)
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers: dict = {}
        self._training = False
        self._steps = StepCounter(update_freq if isinstance(update_freq, int) else 1)
        self._epoch_start_time = 0.0
        self._epoch_start_step = 0
        self._batch_time = 0.0
        self._batch_step = 0
        self._is_tracing = False
        self._trace_from = 0
        self._epoch_offset = 0
        self._prev_begin = None
        self._dispatch_size = 1

    # ----------------------------------------------------------------- writers
    def _writer(self, which: str):
        if which not in self._writers:
            folder = self._train_dir if which == "train" else self._val_dir
            # Event file names hold the time in seconds; a unique suffix keeps a writer opened
            # within the same second (evaluate right after fit) from overwriting a file.
            suffix = f".{os.getpid()}.{next(_WRITER_IDS)}.v2"
            self._writers[which] = self._writer_class(logdir=folder, filename_suffix=suffix)
        return self._writers[which]

    @property
    def _train_writer(self):
        return self._writer("train")

    @property
    def _val_writer(self):
        return self._writer("val")

    def _close_writers(self) -> None:
        """Close the files (tensorboardX writes from a queue: only closing drains it)."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _flush(self) -> None:
        for writer in self._writers.values():
            writer.flush()

    @staticmethod
    def _scalars(writer, logs: dict, prefix: str, step: int, strip: int = 0) -> None:
        for name, value in logs.items():
            if np.ndim(value) == 0:  # per-class vectors have no scalar curve
                writer.add_scalar(f"{prefix}{name[strip:]}", float(value), global_step=step)

    # ------------------------------------------------------------------- hooks
    def on_train_begin(self, logs=None):
        self._training = True
        self._steps.reset()
        self._batch_time = time.perf_counter()
        self._batch_step = 0

    def on_train_end(self, logs=None):
        self._training = False
        if self._is_tracing:
            self._stop_trace()
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        self._steps.new_epoch()
        self._epoch_offset = self._steps.total
        self._prev_begin = None
        if self.write_steps_per_second:
            self._epoch_start_time = time.perf_counter()
            self._epoch_start_step = int(self.trainer.state.step)

    def on_train_batch_begin(self, batch, logs=None):
        if not self._start_batch or self._is_tracing:
            return
        # `batch` is the dispatch's first step; its size is judged by the previous dispatch.
        first = self._epoch_offset + batch + 1
        if self._prev_begin is not None and batch > self._prev_begin:
            self._dispatch_size = batch - self._prev_begin
        self._prev_begin = batch
        if first + self._dispatch_size - 1 >= self._start_batch:
            self._start_trace(first)

    def on_train_batch_end(self, batch, logs=None):
        crossed = self._steps.advance(batch)
        if self.update_freq != "epoch" and crossed and isinstance(logs, dict):
            step = self._steps.total
            writer = self._train_writer
            if self.write_steps_per_second:
                now = time.perf_counter()
                seconds = now - self._batch_time
                if seconds > 0:
                    writer.add_scalar(
                        "batch_steps_per_second", (step - self._batch_step) / seconds, step
                    )
                self._batch_time, self._batch_step = now, step
            self._scalars(writer, logs, "batch_", step)
        # Batch ends arrive one dispatch late: stop once a dispatch launched after the trace
        # began has finished and `stop` is reached.
        if self._is_tracing and self._steps.total >= max(self._stop_batch, self._trace_from):
            self._stop_trace()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k: v for k, v in logs.items() if k.startswith("val_")}
        if "learning_rate" not in train_logs:
            try:
                train_logs["learning_rate"] = current_learning_rate(self.trainer)
            except ValueError:  # a raw optax optimizer without an injected learning rate
                pass
        if self.write_steps_per_second:
            seconds = time.perf_counter() - self._epoch_start_time
            steps = int(self.trainer.state.step) - self._epoch_start_step
            if seconds > 0:
                train_logs["steps_per_second"] = steps / seconds
        if train_logs:
            self._scalars(self._train_writer, train_logs, "epoch_", epoch)
        if val_logs:
            self._scalars(self._val_writer, val_logs, "epoch_", epoch, strip=len("val_"))
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        self._flush()

    def on_test_end(self, logs=None):
        if not logs or self.trainer is None:
            return
        step = int(self.trainer.state.step)
        writer = self._val_writer
        for name, value in logs.items():
            if np.ndim(value) == 0:
                writer.add_scalar(f"evaluation_{name}_vs_iterations", float(value), step)
        if not self._training:  # a standalone evaluate: nothing else will close the files
            self._close_writers()

    # ---------------------------------------------------------------- helpers
    def _log_weights(self, epoch) -> None:
        writer = self._train_writer
        for name, value in weight_names_and_values(self.trainer.model):
            if not np.issubdtype(value.dtype, np.number) or value.size == 0:
                continue
            tag = name.replace(":", "_")
            writer.add_histogram(f"{tag}/histogram", value.astype(np.float64), global_step=epoch)
            if self.write_images:
                image = _image_of(value)
                if image is not None:
                    writer.add_image(f"{tag}/image", image, global_step=epoch, dataformats="HWC")

    def _start_trace(self, first_step: int) -> None:
        os.makedirs(self._train_dir, exist_ok=True)
        try:
            jax.profiler.start_trace(self._train_dir)
        except Exception as error:  # profiler errors should not stop training
            warnings.warn(f"TensorBoard: failed to start the profiler: {error}", stacklevel=2)
            self._start_batch = self._stop_batch = 0
            return
        self._is_tracing = True
        self._trace_from = first_step

    def _stop_trace(self) -> None:
        try:
            jax.profiler.stop_trace()
        finally:
            self._is_tracing = False
            self._start_batch = self._stop_batch = 0  # trace once per callback
