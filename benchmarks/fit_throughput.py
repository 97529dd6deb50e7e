"""fit() throughput side by side: the hand-written limit, fkeras, Keras 3 (JAX backend).

    python benchmarks/fit_throughput.py [--rows 60000] [--epochs 2] [--batch-sizes 128 32]

Model: MLP 784-256-256-10 (ReLU), Adam, sparse categorical crossentropy from logits, on
random data of MNIST's shape. For each batch size, one process measures, one after the other:

- limit: a hand-written `jax.jit` + optax step, scanned over a whole epoch with the data on
  the device and shuffled there (the reference DESIGN.md sets);
- fkeras: `trainer.fit(...)` with default settings on the NumPy arrays (each `fit` call copies
  them to the device once, as any framework must), and on arrays already on the device;
- keras: Keras 3 `model.fit(...)` on the JAX backend with default settings.

All are warmed up for one epoch (compilation), then timed in turns over `--epochs` epochs (one
`fit` call), round after round, keeping each one's best; the table gives samples/s and ratios.
"first step" is the wall time of a fresh `fit` for one step,
including tracing and compilation.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import fkeras as fk  # noqa: E402


def data(rows: int):
    rng = np.random.default_rng(0)
    return rng.normal(size=(rows, 784)).astype("float32"), rng.integers(0, 10, rows)


def fkeras_model():
    L = fk.layers
    return fk.Sequential(
        [
            fk.Input((784,)),
            L.Dense(256, activation="relu"),
            L.Dense(256, activation="relu"),
            L.Dense(10),
        ],
        seed=0,
    )


def keras_model():
    import keras

    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def limit_runner(x, y, batch_size):
    """A hand-written epoch: jit + optax, scanned, data on device, shuffled on device."""
    params, _, static = fk.partition(fkeras_model())
    optimizer = optax.adam(1e-3, eps=1e-7)
    opt_state = optimizer.init(params)
    xd, yd = jax.device_put(x), jax.device_put(y)
    steps = len(x) // batch_size

    def loss_fn(params, xb, yb):
        logits = fk.combine(params, static)(xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()

    @jax.jit
    def epoch(params, opt_state, key):
        order = jax.random.permutation(key, len(x))[: steps * batch_size].reshape(steps, -1)

        def step(carry, idx):
            params, opt_state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, xd[idx], yd[idx])
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), order)
        return params, opt_state, losses.mean()

    state = {"params": params, "opt": opt_state, "epoch": 0}

    def run(epochs):
        for _ in range(epochs):
            key = jax.random.key(state["epoch"])
            state["params"], state["opt"], loss = epoch(state["params"], state["opt"], key)
            state["epoch"] += 1
        jax.block_until_ready(loss)

    return run, steps * batch_size


def fkeras_device_runner(x, y, batch_size):
    return fkeras_runner(jax.device_put(x), jax.device_put(y), batch_size)


def fkeras_runner(x, y, batch_size):
    trainer = fkeras_model().compile(
        optimizer="adam", loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True)
    )

    def run(epochs):
        trainer.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
        jax.block_until_ready(trainer.state.params)

    return run, len(x)


def keras_runner(x, y, batch_size):
    model = keras_model()

    def run(epochs):
        model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)

    return run, len(x)


def first_step_seconds(name, x, y, batch_size) -> float:
    start = time.perf_counter()
    if name == "fkeras":
        trainer = fkeras_model().compile(
            optimizer="adam", loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
        trainer.fit(x, y, batch_size=batch_size, epochs=1, steps_per_epoch=1, verbose=0)
        jax.block_until_ready(trainer.state.params)
    elif name == "keras":
        keras_model().fit(x, y, batch_size=batch_size, epochs=1, steps_per_epoch=1, verbose=0)
    return time.perf_counter() - start


def measure_interleaved(runners, x, y, batch_size, epochs, repeats) -> dict:
    """Samples/s per runner: all are warmed up (compiled) first, then timed in turns, round
    after round, keeping each one's best time, so drift in the machine's speed hits all alike."""
    prepared = {name: make(x, y, batch_size) for name, make in runners.items()}
    for run, _ in prepared.values():
        run(1)
    best = dict.fromkeys(prepared, float("inf"))
    for _ in range(repeats):
        for name, (run, _) in prepared.items():
            start = time.perf_counter()
            run(epochs)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: prepared[name][1] * epochs / best[name] for name in prepared}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 32])
    parser.add_argument("--skip-keras", action="store_true")
    args = parser.parse_args()
    x, y = data(args.rows)
    runners = {"limit": limit_runner, "fkeras": fkeras_runner, "fkeras_dev": fkeras_device_runner}
    if not args.skip_keras:
        runners["keras"] = keras_runner
    device = jax.devices()[0]
    print(
        f"# fit throughput: MLP 784-256-256-10, Adam, {args.rows} rows, "
        f"{args.epochs} timed epochs, best of {args.repeats} interleaved rounds"
    )
    print(
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"device {device.platform}:{device.device_kind}, jax {jax.__version__}\n"
    )
    print(
        "| batch | limit | fkeras (numpy) | fkeras (device) | keras | fkeras/limit | "
        "fkeras (device)/limit | fkeras/keras | first step fkeras | first step keras |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for batch_size in args.batch_sizes:
        rates = measure_interleaved(runners, x, y, batch_size, args.epochs, args.repeats)
        first = {
            n: first_step_seconds(n, x, y, batch_size) for n in ("fkeras", "keras") if n in runners
        }
        keras_rate = rates.get("keras", float("nan"))
        limit = rates["limit"]
        print(
            f"| {batch_size} | {limit:,.0f} | {rates['fkeras']:,.0f} | "
            f"{rates['fkeras_dev']:,.0f} | {keras_rate:,.0f} | {rates['fkeras'] / limit:.3f} | "
            f"{rates['fkeras_dev'] / limit:.3f} | {rates['fkeras'] / keras_rate:.2f} | "
            f"{first.get('fkeras', float('nan')):.2f}s | {first.get('keras', float('nan')):.2f}s |",
            flush=True,
        )


if __name__ == "__main__":
    jnp.zeros(())  # initialize the backend before timing
    main()
