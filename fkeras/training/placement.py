"""Where the trainer's state and batches live: the default device, or a distribution's mesh.

Without a distribution, the steps compile as plain `jax.jit` programs with the state donated.
With one, the state is placed with the shardings of `fk.distribution.state_shardings`, batches
are split on the data axis, and every step compiles with explicit in and out shardings, so the
state keeps its layout from step to step and JAX's partitioner inserts the collectives.
"""

from __future__ import annotations

import jax

from ..distribution.distributions import Distribution
from ..distribution.distributions import distribution as current_distribution
from ..distribution.multihost import global_batch, place
from ..distribution.placement import state_shardings

# The argument roles of each compiled program: "state" (the TrainState), "params",
# "layer_state", "metrics" (metric states), "batch" (split on the data axis), "replicated";
# the outputs: the new state and the logs (replicated).
_ROLES = {
    "train_dispatch": (
        ("state", "replicated", "replicated", "replicated"),
        ("state", "replicated"),
    ),
    "train_batch": (("state", "batch", "batch", "batch", "batch"), ("state", "replicated")),
    "test_dispatch": (
        ("metrics", "params", "layer_state", "replicated", "replicated", "replicated"),
        ("replicated", "replicated"),
    ),
    "test_batch": (
        ("metrics", "params", "layer_state", "batch", "batch", "batch", "batch"),
        ("replicated", "replicated"),
    ),
    "predict_dispatch": (("params", "layer_state", "replicated", "replicated", "replicated"), None),
    "predict_step": (("state", "batch"), None),
}
_DONATED = {"train_dispatch", "train_batch", "test_dispatch", "test_batch"}


class Placement:
    """The trainer's placement policy: `None` distribution means one device."""

    def __init__(self, distribution: Distribution | None, model, state):
        if distribution is None:
            distribution = current_distribution()
        if distribution is not None and not isinstance(distribution, Distribution):
            raise TypeError(
                "compile: distribution must be an fk.distribution.DataParallel or "
                f"ModelParallel. Received: distribution={distribution!r}"
            )
        self.distribution = distribution
        self.state_shardings = None
        if distribution is not None:
            replicated = distribution.replicated()
            # Metric states change structure when metrics resolve; one sharding covers them.
            self.state_shardings = state_shardings(distribution, model, state).replace(
                metric_states=replicated
            )

    @property
    def multiprocess(self) -> bool:
        return self.distribution is not None and jax.process_count() > 1

    @property
    def batch_sharding(self):
        return None if self.distribution is None else self.distribution.data_sharding()

    @property
    def replicated(self):
        return None if self.distribution is None else self.distribution.replicated()

    def place_state(self, state):
        """`state` laid out on the mesh (a no-op for arrays already in place)."""
        if self.distribution is None:
            return state
        shardings = self.state_shardings.replace(
            metric_states=jax.tree_util.tree_map(lambda _: self.replicated, state.metric_states)
        )
        return place(state, shardings)

    def batch(self, tree):
        """A host or device batch split on the data axis (per-process rows with several)."""
        if self.distribution is None:
            return tree
        return global_batch(tree, self.distribution.data_sharding())

    def local_rows(self, tree):
        """This process's rows of a global batch-split output (all rows with one process)."""
        if not self.multiprocess:
            return tree
        from jax.experimental import multihost_utils

        spec = self.distribution.data_sharding().spec
        return multihost_utils.global_array_to_host_local_array(tree, self.distribution.mesh, spec)

    def check_batch_size(self, batch_size: int | None, where: str) -> None:
        if self.distribution is not None and batch_size is not None:
            self.distribution.check_batch_size(batch_size, where)

    def jit(self, fn, name: str):
        donate = (0,) if name in _DONATED else ()
        if self.distribution is None:
            return jax.jit(fn, donate_argnums=donate)
        in_roles, out_roles = _ROLES[name]
        shard = {
            "state": self.state_shardings,
            "params": self.state_shardings.params,
            "layer_state": self.state_shardings.layer_state,
            "metrics": self.replicated,
            "batch": self.distribution.data_sharding(),
            "replicated": self.replicated,
        }
        return jax.jit(
            fn,
            donate_argnums=donate,
            in_shardings=tuple(shard[r] for r in in_roles),
            out_shardings=None if out_roles is None else tuple(shard[r] for r in out_roles),
        )
