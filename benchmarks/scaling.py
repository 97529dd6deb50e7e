"""Data-parallel scaling: fit samples/s on 1, 2, 4 and 8 simulated CPU devices.

Each device count runs in its own subprocess (the device count is fixed when JAX starts), the
same MLP and global batch everywhere; the table gives samples/s and the speed-up over one
device. Simulated CPU devices share the machine's cores, so on a 2-core machine the figure
shows the overhead of sharding (partitioning, collectives) rather than a speed-up; on a
machine with real devices the same script measures real scaling.

    python benchmarks/scaling.py [--devices 1 2 4 8] [--epochs 5] [--out benchmarks/SCALING.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

WORKER = r"""
import json, sys, time
import jax
n = int(sys.argv[1]); epochs = int(sys.argv[2]); batch = int(sys.argv[3])
jax.config.update("jax_num_cpu_devices", n)
import numpy as np
import fkeras as fk
L = fk.layers
rng = np.random.default_rng(0)
x = jax.device_put(rng.normal(size=(8192, 64)).astype("float32"))
y = jax.device_put(rng.integers(0, 10, 8192))
model = fk.Sequential([fk.Input((64,)), L.Dense(512, activation="relu"),
                       L.Dense(512, activation="relu"), L.Dense(10)], seed=0)
dist = fk.distribution.DataParallel() if n > 1 else None
trainer = model.compile(optimizer="adam", distribution=dist,
                        loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True))
trainer.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # compile and warm up
times = []
for _ in range(epochs):
    start = time.perf_counter()
    trainer.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    jax.block_until_ready(trainer.state.params)
    times.append(time.perf_counter() - start)
print(json.dumps({"devices": n, "samples_per_s": 8192 / sorted(times)[len(times) // 2]}))
"""


def run(devices: int, epochs: int, batch: int) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(devices), str(epochs), str(batch)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    rows = [run(n, args.epochs, args.batch) for n in args.devices]
    base = rows[0]["samples_per_s"]
    lines = [
        f"Data-parallel fit, MLP 64-512-512-10, global batch {args.batch}, "
        f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores (simulated CPU devices share them).",
        "",
        "| devices | samples/s | vs 1 device |",
        "|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['devices']} | {r['samples_per_s']:,.0f} | {r['samples_per_s'] / base:.2f}x |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write("# Data-parallel scaling\n\n" + text)


if __name__ == "__main__":
    main()
