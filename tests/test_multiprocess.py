"""Two real processes on loopback (jax.distributed + gloo CPU collectives), each with 2 CPU
devices and its own half of the data, train one model: both end with the weights a
single-process run gets on the whole data."""

import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest
from distributed.data import GLOBAL_BATCH, all_data, make_model, process_data

import fkeras as fk

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path):
    port = str(_free_port())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests" / "distributed" / "worker.py"),
                port,
                str(pid),
                str(tmp_path),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for pid in (0, 1)
    ]
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=240)[0])
    finally:
        for p in procs:
            p.kill()
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]

    x, y = all_data()
    reference = make_model().compile(
        optimizer="adam",
        loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        seed=0,
    )
    history = reference.fit(x, y, batch_size=GLOBAL_BATCH, epochs=2, shuffle=False, verbose=0)
    expected = reference.model.get_weights()
    results = [np.load(tmp_path / f"process{pid}.npz") for pid in (0, 1)]
    for r in results:
        for i, w in enumerate(expected):
            np.testing.assert_allclose(r[f"w{i}"], w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(r["loss"], history.history["loss"], rtol=1e-5)
    # Each process predicts its own rows; together they are the reference's predictions.

    for pid, r in enumerate(results):
        xp, _ = process_data(pid, 2)
        np.testing.assert_allclose(
            r["preds"], reference.predict(xp, verbose=0), rtol=1e-4, atol=1e-5
        )
