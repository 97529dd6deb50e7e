"""`DataParallel` and `ModelParallel`: where variables and batches live on a `DeviceMesh`.

A distribution answers two questions for the trainer: the `PartitionSpec` of each variable
(from its path and shape) and the sharding of a batch (split on the data axis). The trainer
places the `TrainState` and compiles its steps with those shardings; JAX's partitioner (GSPMD)
inserts the collectives. Nothing here communicates by itself.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

from jax.sharding import NamedSharding, PartitionSpec

from .layout import LayoutMap, spec_axes
from .mesh import DeviceMesh, list_devices

_current: Distribution | None = None


class Distribution:
    """The base of `DataParallel` and `ModelParallel`: a mesh and its data (batch) axis."""

    def __init__(self, device_mesh: DeviceMesh, batch_dim_name: str):
        if batch_dim_name not in device_mesh.axis_names:
            raise ValueError(
                f"{type(self).__name__}: batch_dim_name must be one of the mesh axes "
                f"{device_mesh.axis_names}. Received: batch_dim_name={batch_dim_name!r}"
            )
        self.device_mesh, self.batch_dim_name = device_mesh, batch_dim_name

    @property
    def mesh(self):
        """The `jax.sharding.Mesh`."""
        return self.device_mesh.jax_mesh

    @property
    def data_axis_size(self) -> int:
        """How many ways each global batch is split."""
        return self.device_mesh.axis_size(self.batch_dim_name)

    def sharding(self, spec: PartitionSpec) -> NamedSharding:
        return NamedSharding(self.mesh, spec)

    def data_sharding(self) -> NamedSharding:
        """Batches: the leading (sample) dimension split over the data axis."""
        return self.sharding(PartitionSpec(self.batch_dim_name))

    def replicated(self) -> NamedSharding:
        return self.sharding(PartitionSpec())

    def variable_spec(self, path: str, shape: tuple[int, ...]) -> PartitionSpec:
        """The layout of the variable at `path` (replicated unless a subclass says otherwise)."""
        return PartitionSpec()

    def check_variable_spec(self, path: str, shape: tuple[int, ...], spec: PartitionSpec) -> None:
        """A spec must fit the variable's rank and divide each dimension it splits."""
        where = f"{type(self).__name__}: the layout of variable {path!r}"
        if len(spec) > len(shape):
            raise ValueError(
                f"{where} has {len(spec)} entries, but the variable has rank {len(shape)} "
                f"(shape {shape}). Received: {tuple(spec)}"
            )
        for dim, entry in zip(shape, spec):
            if entry is None:
                continue
            size = math.prod(self.device_mesh.axis_size(a) for a in spec_axes(PartitionSpec(entry)))
            if dim % size:
                raise ValueError(
                    f"{where} splits a dimension of size {dim} over {size} devices, which does "
                    f"not divide it (shape {shape}). Received: {tuple(spec)}"
                )

    def check_batch_size(self, batch_size: int, where: str) -> None:
        if batch_size % self.data_axis_size:
            raise ValueError(
                f"{where}: with {type(self).__name__}, the global batch is split over "
                f"{self.data_axis_size} devices on the {self.batch_dim_name!r} axis, so "
                f"batch_size must be a multiple of {self.data_axis_size}. "
                f"Received: batch_size={batch_size}"
            )

    @contextlib.contextmanager
    def scope(self) -> Iterator[Distribution]:
        """Make this the distribution `compile` uses within a `with` block."""
        global _current
        previous, _current = _current, self
        try:
            yield self
        finally:
            _current = previous

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mesh={self.device_mesh}, batch_dim={self.batch_dim_name!r})"


class DataParallel(Distribution):
    """Data parallelism: variables replicated on every device, each batch split over them.

    **Arguments:**

    - `device_mesh`: a 1-D (or n-D, then its first axis is the data axis) `DeviceMesh`.
    - `devices`: the devices to use when no mesh is given (default: all).
    - `fsdp`: also split each variable (and its optimizer state) over the data axis along its
      largest dimension that the axis size divides (fully sharded data parallelism, ZeRO-3
      style): less memory per device, the same result; JAX gathers weights where needed.

    ```python
    trainer = model.compile(optimizer="adam", loss="mse",
                            distribution=fk.distribution.DataParallel())
    ```
    """

    def __init__(
        self,
        device_mesh: DeviceMesh | None = None,
        devices=None,
        *,
        fsdp: bool = False,
    ):
        if device_mesh is None:
            devices = list_devices() if devices is None else list(devices)
            device_mesh = DeviceMesh((len(devices),), ("batch",), devices)
        super().__init__(device_mesh, device_mesh.axis_names[0])
        self.fsdp = bool(fsdp)

    def variable_spec(self, path: str, shape: tuple[int, ...]) -> PartitionSpec:
        if not self.fsdp:
            return PartitionSpec()
        return fsdp_spec(shape, self.batch_dim_name, self.data_axis_size)


class ModelParallel(Distribution):
    """Model parallelism: variables split by a `LayoutMap`, batches split on `batch_dim_name`.

    **Arguments:**

    - `layout_map`: a `LayoutMap` whose mesh is used; unmatched variables are replicated.
    - `batch_dim_name`: the mesh axis that batches are split over (default: the mesh's first).
    - `device_mesh`: optional; must be the layout map's mesh if given.

    ```python
    mesh = fk.distribution.DeviceMesh((2, 4), ("batch", "model"))
    layout_map = fk.distribution.LayoutMap(mesh)
    layout_map["dense.*kernel"] = (None, "model")
    dist = fk.distribution.ModelParallel(layout_map=layout_map, batch_dim_name="batch")
    ```
    """

    def __init__(
        self,
        *,
        layout_map: LayoutMap,
        batch_dim_name: str | None = None,
        device_mesh: DeviceMesh | None = None,
    ):
        if not isinstance(layout_map, LayoutMap):
            raise TypeError(
                f"ModelParallel expects a fk.distribution.LayoutMap. Received: {layout_map!r}"
            )
        if device_mesh is not None and device_mesh is not layout_map.device_mesh:
            raise ValueError(
                "ModelParallel: device_mesh must be the layout map's mesh. "
                f"Received: device_mesh={device_mesh}, layout_map mesh={layout_map.device_mesh}"
            )
        mesh = layout_map.device_mesh
        super().__init__(mesh, batch_dim_name or mesh.axis_names[0])
        self.layout_map = layout_map

    def variable_spec(self, path: str, shape: tuple[int, ...]) -> PartitionSpec:
        spec = self.layout_map.lookup(path)
        return PartitionSpec() if spec is None else spec


def fsdp_spec(shape: tuple[int, ...], axis: str, size: int) -> PartitionSpec:
    """Split the largest dimension `size` divides over `axis`; replicate if none does."""
    candidates = [i for i, d in enumerate(shape) if d % size == 0 and d >= size]
    if not candidates or size == 1:
        return PartitionSpec()
    dim = max(candidates, key=lambda i: shape[i])
    return PartitionSpec(*([None] * dim), axis)


def set_distribution(value: Distribution | None) -> None:
    """Set the distribution `compile` uses when none is passed (Keras' `set_distribution`)."""
    global _current
    if value is not None and not isinstance(value, Distribution):
        raise TypeError(f"set_distribution expects a Distribution or None. Received: {value!r}")
    _current = value


def distribution() -> Distribution | None:
    """The distribution set by `set_distribution` or an enclosing `scope()`, or `None`."""
    return _current
