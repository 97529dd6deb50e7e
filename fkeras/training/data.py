"""Turning user data into fixed-shape batches: in-memory arrays live on the device and are
shuffled and batched there; iterables of batches are padded and prefetched in the background.

Every batch has the same shape, so the step compiles once: a short last batch is padded with
real rows (repeated from the start of the epoch's order) that carry weight 0. Padding with real
rows rather than zeros keeps batch statistics (BatchNormalization) representative.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import jax
import numpy as np


def num_samples(tree: Any) -> int:
    return int(jax.tree_util.tree_leaves(tree)[0].shape[0])


def _check_lengths(where: str, **trees) -> int:
    counts = {}
    for name, tree in trees.items():
        if tree is None:
            continue
        for leaf in jax.tree_util.tree_leaves(tree):
            if np.ndim(leaf) == 0:
                raise ValueError(
                    f"{where}: `{name}` must be arrays with a leading sample dimension. "
                    f"Received: {name} with shape {np.shape(leaf)}"
                )
            counts.setdefault(name, set()).add(int(np.shape(leaf)[0]))
    flat = {n: sorted(c) for n, c in counts.items()}
    if any(len(c) > 1 for c in flat.values()) or len({c[0] for c in flat.values()}) > 1:
        detail = ", ".join(f"{n} has {c[0] if len(c) == 1 else c} samples" for n, c in flat.items())
        raise ValueError(
            f"{where}: x, y and sample_weight must have the same number of samples. "
            f"Received: {detail}"
        )
    n = next(iter(flat.values()))[0] if flat else 0
    if n == 0:
        raise ValueError(f"{where} received an empty dataset (0 samples).")
    return n


def _as_numpy(tree: Any) -> Any:
    return jax.tree_util.tree_map(lambda a: a if isinstance(a, jax.Array) else np.asarray(a), tree)


def _take(tree: Any, index) -> Any:
    return jax.tree_util.tree_map(lambda a: a[index], tree)


class Plan(NamedTuple):
    """One epoch of batches as indices into on-device arrays, grouped in dispatches.

    `indices` and `weights` are (dispatches, steps_per_dispatch, batch); `active` is
    (dispatches, steps_per_dispatch) and is False for the filler steps that round the number of
    steps up to a whole number of dispatches (they are skipped, not run).
    """

    indices: Any
    weights: Any
    active: Any


class ArrayData:
    """In-memory arrays (NumPy or JAX; tuples and dicts for several inputs), put on the device
    once."""

    def __init__(self, x, y=None, sample_weight=None, *, batch_size: int, where: str):
        self.n = _check_lengths(where, x=x, y=y, sample_weight=sample_weight)
        self.batch_size = _check_batch_size(batch_size, where)
        self.x, self.y = _as_numpy(x), _as_numpy(y)
        weights = (
            np.ones(self.n, np.float32)
            if sample_weight is None
            else np.asarray(sample_weight, np.float32)
        )
        if weights.ndim != 1:
            raise ValueError(
                f"{where}: sample_weight must be 1-D (one weight per sample). "
                f"Received: sample_weight.shape={weights.shape}"
            )
        self.sample_weight = weights
        self._device = None
        # Where the arrays go: the default device, or (under a distribution) replicated on
        # the mesh, so each device gathers its part of every batch locally.
        self.sharding = None

    @property
    def device_arrays(self):
        """`(x, y, sample_weight)` on the device; transferred on first use only."""
        if self._device is None:
            self._device = jax.device_put((self.x, self.y, self.sample_weight), self.sharding)
        return self._device

    def split(self, fraction: float, where: str) -> tuple[ArrayData, ArrayData]:
        """Keras' `validation_split`: the last `fraction` of the samples, before shuffling."""
        if not 0.0 < fraction < 1.0:
            raise ValueError(
                f"{where}: validation_split must be in (0, 1). "
                f"Received: validation_split={fraction}"
            )
        n_val = int(math.floor(self.n * fraction))
        if n_val == 0 or n_val == self.n:
            raise ValueError(
                f"{where}: validation_split={fraction} of {self.n} samples leaves "
                "an empty training or validation set."
            )
        cut = self.n - n_val
        parts = []
        for sl in (slice(0, cut), slice(cut, None)):
            part = ArrayData.__new__(ArrayData)
            part.n, part.batch_size = sl.indices(self.n)[1] - sl.indices(self.n)[0], self.batch_size
            part.x, part.y = _take(self.x, sl), _take(self.y, sl)
            part.sample_weight, part._device = self.sample_weight[sl], None
            part.sharding = self.sharding
            parts.append(part)
        return parts[0], parts[1]

    def steps(self, steps_per_epoch: int | None = None) -> int:
        steps = math.ceil(self.n / self.batch_size)
        return steps if steps_per_epoch is None else min(steps, int(steps_per_epoch))

    def plan(self, order: np.ndarray, steps: int, steps_per_dispatch: int) -> Plan:
        bs, k = self.batch_size, steps_per_dispatch
        rows = steps * bs
        indices = np.resize(order, rows)  # repeats real rows cyclically to fill the last batch
        weights = (np.arange(rows) < self.n).astype(np.float32)
        dispatches = math.ceil(steps / k)
        filler = (dispatches * k - steps) * bs
        indices = np.concatenate([indices, np.zeros(filler, indices.dtype)]).astype(np.int32)
        weights = np.concatenate([weights, np.zeros(filler, np.float32)])
        active = np.arange(dispatches * k) < steps
        return Plan(
            *jax.device_put(
                (
                    indices.reshape(dispatches, k, bs),
                    weights.reshape(dispatches, k, bs),
                    active.reshape(dispatches, k),
                ),
                self.sharding,
            )
        )


def _check_batch_size(batch_size, where: str) -> int:
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size <= 0
    ):
        raise ValueError(
            f"{where}: batch_size must be a positive integer. Received: batch_size={batch_size!r}"
        )
    return int(batch_size)


def unpack_batch(batch: Any) -> tuple[Any, Any, Any]:
    """`(x, y, sample_weight)` from `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
    if isinstance(batch, tuple) and len(batch) in (1, 2, 3):
        return (*batch, *([None] * (3 - len(batch))))
    if isinstance(batch, list) and len(batch) in (2, 3):
        return (*batch, *([None] * (3 - len(batch))))
    return batch, None, None


def _pad_rows(tree: Any, size: int) -> Any:
    return jax.tree_util.tree_map(lambda a: np.resize(a, (size, *a.shape[1:])), tree)


class IteratorData:
    """Batches from any iterable (a generator, a list of batches, a `torch` DataLoader, grain,
    `tf.data`'s `as_numpy_iterator()`), padded to the first batch's size and prefetched to the
    device by a background thread."""

    def __init__(self, source: Iterable, *, where: str, prefetch: int = 2):
        if not isinstance(source, Iterable):
            raise TypeError(
                f"{where}: expected arrays or an iterable of batches. "
                f"Received: {type(source).__name__}"
            )
        self.source = source
        self.where = where
        self.prefetch = prefetch
        self._iterator: Iterator | None = None
        self.batch_size: int | None = None

    def _epoch_iterator(self) -> Iterator:
        if iter(self.source) is not self.source:  # re-iterable (list, DataLoader): fresh pass
            return iter(self.source)
        if self._iterator is None:  # a one-shot generator: continue where the last epoch ended
            self._iterator = self.source
        return self._iterator

    def _prepare(self, batch):
        x, y, sw = unpack_batch(batch)
        x, y = _as_numpy(x), _as_numpy(y)
        n = num_samples(x)
        _check_lengths(self.where, x=x, y=y, sample_weight=sw)
        if self.batch_size is None:
            self.batch_size = n
        if n > self.batch_size:
            raise ValueError(
                f"{self.where}: batches may shrink (the last one) but not grow: the first had "
                f"{self.batch_size} samples. Received: a batch of {n} samples"
            )
        weights = np.ones(n, np.float32) if sw is None else np.asarray(sw, np.float32)
        mask = (np.arange(self.batch_size) < n).astype(np.float32)
        if n < self.batch_size:
            x, y = _pad_rows(x, self.batch_size), _pad_rows(y, self.batch_size)
            weights = np.resize(weights, self.batch_size)
        return jax.device_put((x, y, weights, mask))

    def batches(self, steps: int | None = None) -> Iterator:
        """Device batches `(x, y, sample_weight, mask)` for one epoch, prepared one or two ahead."""
        iterator = self._epoch_iterator()
        out: queue.Queue = queue.Queue(maxsize=self.prefetch)
        done = object()
        stop = threading.Event()

        def produce():
            try:
                count = 0
                while steps is None or count < steps:
                    try:
                        batch = next(iterator)
                    except StopIteration:
                        break
                    item = self._prepare(batch)
                    while not stop.is_set():
                        try:
                            out.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                    count += 1
                out.put(done)
            except BaseException as error:  # forwarded to the consumer, raised there
                out.put(error)

        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        try:
            while True:
                item = out.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()


def _is_array(a) -> bool:
    return isinstance(a, (np.ndarray, jax.Array))


def is_array_data(x) -> bool:
    """An array, or a flat tuple/list/dict of arrays (several inputs). A list of tuples is an
    iterable of batches instead."""
    if _is_array(x):
        return True
    if isinstance(x, dict):
        return bool(x) and all(_is_array(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return bool(x) and all(_is_array(v) for v in x)
    return False


def adapt(x, y=None, sample_weight=None, *, batch_size: int | None, where: str):
    """`ArrayData` for arrays (and tuples/dicts of arrays), else `IteratorData`."""
    if is_array_data(x):
        batch_size = 32 if batch_size is None else batch_size
        return ArrayData(x, y, sample_weight, batch_size=batch_size, where=where)
    if x is None:
        raise ValueError(f"{where} needs data. Received: x=None")
    if y is not None or sample_weight is not None:
        raise ValueError(
            f"{where}: with an iterable of batches, pass targets inside the batches "
            "as (x, y) or (x, y, sample_weight), not as `y=`/`sample_weight=`."
        )
    return IteratorData(x, where=where)


def stack_outputs(chunks: list, total: int) -> Any:
    """Concatenate predicted batches (on the host) and drop the padding rows."""
    return jax.tree_util.tree_map(
        lambda *parts: np.concatenate([np.asarray(p) for p in parts])[:total], *chunks
    )
