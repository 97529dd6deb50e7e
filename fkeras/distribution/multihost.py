"""Several processes (hosts): `initialize` and global batches from per-process data."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np


def initialize(
    job_addresses: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    **kwargs,
) -> None:
    """Join a multi-process run (Keras' `initialize`), wrapping `jax.distributed.initialize`.

    **Arguments:**

    - `job_addresses`: the coordinator's `"host:port"` (the first address if several are
      given, comma-separated, as in Keras). `None` lets JAX detect it (TPU pods, SLURM, ...).
    - `num_processes`, `process_id`: this run's size and this process's rank.
    - `**kwargs`: passed on to `jax.distributed.initialize` (`local_device_ids`, ...).

    Call it once per process, before any JAX computation. On CPU, set
    `jax.config.update("jax_cpu_collectives_implementation", "gloo")` first so processes can
    communicate.
    """
    coordinator = job_addresses.split(",")[0].strip() if job_addresses else None
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        **kwargs,
    )


def place(tree: Any, shardings: Any) -> Any:
    """Put `tree` (the same values on every process) on the mesh with `shardings`.

    With one process this is `jax.device_put`; with several, each process builds the parts of
    each global array its own devices hold (arrays already laid out are kept).
    """
    if jax.process_count() == 1:
        return jax.device_put(tree, shardings)

    def one(leaf, sharding):
        if isinstance(leaf, jax.Array) and leaf.sharding == sharding:
            return leaf
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            data = one(jax.random.key_data(leaf), sharding)
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf))
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree_util.tree_map(one, tree, shardings)


def global_batch(local: Any, sharding) -> Any:
    """Each process's rows of a batch -> one global `jax.Array` split by `sharding`.

    With one process this is a `device_put`; with several, the global batch is the processes'
    local batches concatenated in process order.
    """
    if jax.process_count() == 1:
        return jax.device_put(local, sharding)
    return jax.tree_util.tree_map(
        lambda a: jax.make_array_from_process_local_data(sharding, np.asarray(a)), local
    )
