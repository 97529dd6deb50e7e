"""Measurements: interleaved steady-state throughput, the learning check, and the probes.

Throughput: every framework's runner is created and warmed up (compiled) first; then the
runners train one epoch each in turn, round after round (the starting runner rotates), so a
change in the machine's speed hits all of them alike. A runner's figure is its samples per
epoch over the median of its epoch times; each epoch ends with the device idle
(`block_until_ready`).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .cases import EVAL_ROWS, Case, cross_entropy
from .runners import FRAMEWORKS, load, missing

ROOT = Path(__file__).resolve().parent.parent


def _row(case: Case, name: str) -> dict:
    return {
        "model": case.model,
        "batch_size": case.batch_size,
        "framework": name,
        "label": FRAMEWORKS[name][1],
        "steps_per_epoch": case.steps,
        "samples_per_epoch": case.samples,
        "status": "ok",
    }


def throughput(case: Case, names: list[str], rounds: int, warmup: int) -> dict[str, dict]:
    """Samples/s (median of `rounds` interleaved epochs) and the loss before and after.

    **Returns:** one row per framework name; a framework that is not installed, or whose
    runner fails, gets its reason in `status` and no figures.
    """
    rows = {name: _row(case, name) for name in names}
    runners = {}
    for name in names:
        reason = missing(name)
        if reason is None:
            try:
                module = load(name)
                runners[name] = module.make(case)
                rows[name]["dispatch"] = module.DISPATCH
            except Exception as error:  # recorded in the table, and the other frameworks go on
                reason = f"error: {type(error).__name__}: {error}"
        if reason is not None:
            rows[name]["status"] = reason
            print(f"  {name}: {reason}", file=sys.stderr, flush=True)
    x_eval, y_eval = case.x[:EVAL_ROWS], case.y[:EVAL_ROWS]
    for name, runner in runners.items():
        rows[name]["loss_start"] = cross_entropy(runner.logits(x_eval), y_eval)
        for _ in range(warmup):
            runner.epoch()
    times: dict[str, list[float]] = {name: [] for name in runners}
    order = list(runners)
    for r in range(rounds):
        for name in order[r % len(order) :] + order[: r % len(order)]:
            start = time.perf_counter()
            runners[name].epoch()
            times[name].append(time.perf_counter() - start)
    for name, runner in runners.items():
        loss_end = cross_entropy(runner.logits(x_eval), y_eval)
        median = statistics.median(times[name])
        rows[name].update(
            epoch_seconds=times[name],
            samples_per_s=case.samples / median,
            samples_per_s_min=case.samples / max(times[name]),
            samples_per_s_max=case.samples / min(times[name]),
            loss_end=loss_end,
            learns=loss_end < rows[name]["loss_start"],
        )
    limit = rows.get("limit", {}).get("samples_per_s")
    for row in rows.values():
        if limit and "samples_per_s" in row:
            row["ratio_to_limit"] = row["samples_per_s"] / limit
    return rows


def probe(case: Case, name: str, data_path: str, epochs: int, timeout: float = 900) -> dict:
    """First-step time and peak memory of `name` on `case`, from a fresh subprocess.

    **Returns:** `{"first_step_s", "peak_rss_mb", "baseline_rss_mb"}`, or `{"probe_error"}`.
    """
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["KERAS_BACKEND"] = "jax"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        "-m",
        "benchmarks.probe",
        f"--framework={name}",
        f"--model={case.model}",
        f"--batch-size={case.batch_size}",
        f"--data={data_path}",
        f"--epochs={epochs}",
    ]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        print(f"  probe {name} failed: {done.stderr[-2000:]}", file=sys.stderr, flush=True)
        return {"probe_error": f"exit {done.returncode}: {tail[0]}"}
    return json.loads(lines[-1])
