"""The side-by-side benchmark suite: fkeras against the JAX limit, Keras 3, Equinox, Flax NNX.

    python -m benchmarks.suite            # the full suite, about 10 minutes on 2 CPU cores
    python -m benchmarks.suite --quick    # tiny sizes, a smoke test

For each model (an MLP and a small CNN on scikit-learn's digits) and batch size: steady-state
samples/s of every framework, interleaved round-robin; the ratio to the hand-written scanned
limit; time to first step and peak memory, each from a fresh subprocess; and a check that every
framework learns. Writes the tables into `--out` (`benchmarks/RESULTS.md`) between marker
comments, and optionally the raw figures as JSON (`--json`).
"""

from __future__ import annotations

import os

# Keras reads its backend once, at import: set it before anything can import Keras.
os.environ.setdefault("KERAS_BACKEND", "jax")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from . import report  # noqa: E402
from .cases import MODELS, Case, case_arrays, digits  # noqa: E402
from .measure import probe, throughput  # noqa: E402
from .runners import FRAMEWORKS  # noqa: E402

FULL = {"rows": 8192, "rounds": 5, "warmup": 1, "probe_epochs": 2}
QUICK = {"rows": 256, "rounds": 2, "warmup": 1, "probe_epochs": 1}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.suite", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[32, 128])
    parser.add_argument(
        "--frameworks", nargs="+", choices=list(FRAMEWORKS), default=list(FRAMEWORKS)
    )
    parser.add_argument("--rows", type=int, help=f"rows of data (default {FULL['rows']})")
    parser.add_argument("--rounds", type=int, help="timed epochs per framework")
    parser.add_argument("--warmup", type=int, help="untimed epochs first (compilation)")
    parser.add_argument("--probe-epochs", type=int, help="epochs in the memory probe")
    parser.add_argument(
        "--probe-jobs",
        type=int,
        default=1,
        help="probe subprocesses at once (default 1: more overlap them, and their timings)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--note", default="", help="a line printed under the machine")
    parser.add_argument(
        "--from-json", type=Path, help="measure nothing: rewrite --out from a saved --json file"
    )
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if "limit" in args.frameworks:  # the limit first: the ratios need it
        args.frameworks = ["limit"] + [f for f in args.frameworks if f != "limit"]
    return args


def run(args: argparse.Namespace) -> list[dict]:
    """Measure every case; returns one row per framework and case."""
    x_all, y_all = digits(args.rows)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        data_path = str(Path(tmp) / "digits.npz")
        np.savez(data_path, x=x_all, y=y_all)
        for model in args.models:
            for batch_size in args.batch_sizes:
                case = Case(model, batch_size, *case_arrays(model, x_all, y_all, batch_size))
                print(f"# {case.label}: {case.steps} steps per epoch", flush=True)
                rows = throughput(case, args.frameworks, args.rounds, args.warmup)
                ok = [name for name, row in rows.items() if row["status"] == "ok"]
                with ThreadPoolExecutor(max_workers=args.probe_jobs) as pool:
                    probes = pool.map(
                        lambda name, c=case: probe(c, name, data_path, args.probe_epochs), ok
                    )
                    for name, figures in zip(ok, probes):
                        rows[name].update(figures)
                for row in rows.values():
                    results.append(row)
                    print("  " + json.dumps(_brief(row)), flush=True)
    return results


def _brief(row: dict) -> dict:
    keys = ("framework", "status", "samples_per_s", "ratio_to_limit", "first_step_s")
    keys += ("peak_rss_mb", "loss_start", "loss_end")
    return {
        k: (round(row[k], 3) if isinstance(row[k], float) else row[k]) for k in keys if k in row
    }


def _command(argv: list[str]) -> str:
    """The command line, without the options that do not change the measurements."""
    shown, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--note", "--json", "--out", "--from-json"):
            skip = True
        elif not arg.startswith(("--note=", "--json=", "--out=", "--from-json=")):
            shown.append(arg)
    return " ".join(["python -m benchmarks.suite", *shown])


def main(argv: list[str] | None = None) -> list[dict]:
    """Run the suite from command-line arguments; returns the result rows."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        info, settings, results = saved["machine"], saved["settings"], saved["results"]
        settings["note"] = args.note or settings.get("note", "")
    else:
        info = report.machine()
        start = time.perf_counter()
        results = run(args)
        info["load_average_end"] = report.machine()["load_average"]
        settings = {
            "command": _command(argv),
            "rows": args.rows,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "probe_epochs": args.probe_epochs,
            "seconds": time.perf_counter() - start,
            "note": args.note,
        }
    block = report.render(results, settings, info, settings["note"])
    report.write(args.out, block)
    if args.json:
        saved = {"machine": info, "settings": settings, "results": results}
        args.json.write_text(json.dumps(saved, indent=1))
    print(f"\n{block}\n\nwrote {args.out} ({settings['seconds']:.0f} s)", flush=True)
    return results


if __name__ == "__main__":
    main()
