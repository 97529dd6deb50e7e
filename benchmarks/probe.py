"""Time to first step and peak memory of one framework on one case, in a fresh process.

    python -m benchmarks.probe --framework fkeras --model mlp --batch-size 32 --data d.npz

Run by the suite in a new subprocess per framework and case, so no compilation cache or
earlier allocation helps (JAX's persistent compilation cache is off by default and the suite
clears its environment variable). Prints one JSON line:

- `first_step_s`: wall time of creating a fresh model (trainer) and running its first optimizer
  step to completion: tracing, compilation and the step (see each runner's `first_step`).
- `peak_rss_mb`: peak resident memory (see `peak_rss_mb`) after that and `--epochs` full training
  epochs of a second fresh model, minus the peak after the imports, the backend start and the
  data load (`baseline_rss_mb`). On CPU, device buffers live in this memory too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    `ru_maxrss` on Linux is the larger of this process' own peak and the peak of the process
    that forked it (the kernel carries it across `exec`), so a probe started by a large suite
    process would read the suite's peak. `VmHWM` in `/proc/self/status` is the same high-water
    mark for this process' own memory only; `ru_maxrss` is the fallback where there is no /proc.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--data", required=True, help=".npz with x (rows, 64) and y")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args(argv)

    import jax
    import numpy as np

    from .cases import Case, case_arrays
    from .runners import load

    module = load(args.framework)
    with np.load(args.data) as data:
        x, y = case_arrays(args.model, data["x"], data["y"], args.batch_size)
    case = Case(args.model, args.batch_size, x, y)
    jax.block_until_ready(jax.numpy.zeros(()) + 1)  # start the backend before the baseline
    baseline = peak_rss_mb()

    start = time.perf_counter()
    module.first_step(case)
    first_step_s = time.perf_counter() - start

    runner = module.make(case)
    for _ in range(args.epochs):
        runner.epoch()
    result = {
        "first_step_s": first_step_s,
        "peak_rss_mb": peak_rss_mb() - baseline,
        "baseline_rss_mb": baseline,
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
