"""One process of the two-process loopback run (started by test_multiprocess.py).

Usage: python tests/distributed/worker.py PORT PROCESS_ID OUT_DIR
"""

import sys

import jax

jax.config.update("jax_num_cpu_devices", 2)
jax.config.update("jax_cpu_collectives_implementation", "gloo")

import numpy as np  # noqa: E402
from data import GLOBAL_BATCH, make_model, process_data  # noqa: E402

import fkeras as fk  # noqa: E402


def main(port: str, process_id: int, out_dir: str) -> None:
    fk.distribution.initialize(f"localhost:{port}", num_processes=2, process_id=process_id)
    assert jax.process_count() == 2 and len(jax.devices()) == 4
    x, y = process_data(process_id, 2)
    trainer = make_model().compile(
        optimizer="adam",
        loss=fk.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        distribution=fk.distribution.DataParallel(),
        seed=0,
    )
    history = trainer.fit(x, y, batch_size=GLOBAL_BATCH, epochs=2, shuffle=False, verbose=0)
    logs = trainer.evaluate(x, y, batch_size=GLOBAL_BATCH, verbose=0)
    preds = trainer.predict(x, batch_size=GLOBAL_BATCH, verbose=0)
    weights = {f"w{i}": np.asarray(w) for i, w in enumerate(trainer.model.get_weights())}
    np.savez(
        f"{out_dir}/process{process_id}.npz",
        loss=np.asarray(history.history["loss"]),
        eval_loss=np.asarray(logs["loss"]),
        preds=preds,
        **weights,
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
