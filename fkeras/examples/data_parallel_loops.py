"""Hand-written data-parallel loops over fkeras' pure training step, with `jax.shard_map`
and with `jax.pmap`.

`trainer.train_step(state, batch, axis_name="batch")` is the step `fit` uses; with
`axis_name`, each device passes its rows of the global batch, and gradients are averaged
over the axis, so every device applies the same update to its copy of the state.

    python -m fkeras.examples.data_parallel_loops --devices 8   # 8 simulated CPU devices
"""

from __future__ import annotations

import argparse
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

import fkeras as fk


def build_trainer(seed: int = 0):
    L = fk.layers
    model = fk.Sequential([fk.Input((64,)), L.Dense(64, activation="relu"), L.Dense(10)], seed=seed)
    return model.compile(
        optimizer=fk.optimizers.Adam(3e-3),
        loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        seed=seed,
    )


def shard_map_step(trainer, mesh):
    """One jitted step: the state replicated, the batch split over the mesh's "batch" axis."""
    step = functools.partial(trainer.train_step, axis_name="batch")
    # The step keeps the state identical on every device by construction (averaged gradients,
    # summed metric totals); JAX cannot prove that for every leaf, so the check is off.
    return jax.jit(
        jax.shard_map(
            step, mesh=mesh, in_specs=(P(), P("batch")), out_specs=(P(), P()), check_vma=False
        )
    )


def pmap_step(trainer, devices):
    """The same step under `pmap`: the state carries a leading device axis."""
    step = functools.partial(trainer.train_step, axis_name="batch")
    return jax.pmap(step, axis_name="batch", devices=devices)


def batches(x, y, batch_size: int, epoch: int):
    order = np.random.default_rng(epoch).permutation(len(x))
    for i in range(0, len(x) - batch_size + 1, batch_size):  # whole batches only
        idx = order[i : i + batch_size]
        yield x[idx], y[idx]


def train_shard_map(trainer, x, y, *, epochs: int, batch_size: int):
    mesh = jax.make_mesh((len(jax.devices()),), ("batch",))
    rows = jax.sharding.NamedSharding(mesh, P("batch"))
    state = jax.device_put(trainer.state, jax.sharding.NamedSharding(mesh, P()))
    step = shard_map_step(trainer, mesh)
    for epoch in range(epochs):
        for batch in batches(x, y, batch_size, epoch):
            state, logs = step(state, jax.device_put(batch, rows))
    return state, logs


def train_pmap(trainer, x, y, *, epochs: int, batch_size: int, devices=None):
    devices = jax.devices() if devices is None else devices
    n = len(devices)
    step = pmap_step(trainer, devices)
    state = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (n, *a.shape)), trainer.state)
    for epoch in range(epochs):
        for xb, yb in batches(x, y, batch_size, epoch):
            split = (xb.reshape(n, -1, *xb.shape[1:]), yb.reshape(n, -1))
            state, logs = step(state, split)
    first = jax.tree_util.tree_map(lambda a: a[0], (state, logs))  # every copy is the same
    return first


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=None, help="simulated CPU devices")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    # On CPU, pmap runs each device's program on its own thread; with more simulated devices
    # than the runtime has threads, its all-reduce can time out. Use fewer there.
    parser.add_argument("--pmap-devices", type=int, default=None)
    args = parser.parse_args(argv)
    if args.devices:
        jax.config.update("jax_num_cpu_devices", args.devices)
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x, y = (x / 16.0).astype("float32"), y.astype("int32")
    (x_train, y_train), (x_test, y_test) = (x[:1500], y[:1500]), (x[1500:], y[1500:])
    results = {}
    pmap = functools.partial(train_pmap, devices=jax.devices()[: args.pmap_devices])
    for name, train in (("shard_map", train_shard_map), ("pmap", pmap)):
        trainer = build_trainer()
        state, logs = train(
            trainer, x_train, y_train, epochs=args.epochs, batch_size=args.batch_size
        )
        trainer.state = state
        test = trainer.evaluate(x_test, y_test, verbose=0)
        results[name] = test["accuracy"]
        print(
            f"{name}: {len(jax.devices())} devices, train accuracy "
            f"{float(logs['accuracy']):.3f}, test accuracy {test['accuracy']:.3f}"
        )
    return results


if __name__ == "__main__":
    main()
