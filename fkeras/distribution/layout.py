"""`LayoutMap`: which mesh axes each variable is split over, chosen by a regex on its path."""

from __future__ import annotations

import re
from collections.abc import Iterator, MutableMapping

from jax.sharding import PartitionSpec

from .mesh import DeviceMesh


def as_partition_spec(layout, where: str) -> PartitionSpec:
    """A `PartitionSpec` from a tuple of axis names / `None` (Keras' layout form) or a spec."""
    if isinstance(layout, PartitionSpec):
        return layout
    if isinstance(layout, (tuple, list)) and all(
        a is None
        or isinstance(a, str)
        or (isinstance(a, tuple) and all(isinstance(b, str) for b in a))
        for a in layout
    ):
        return PartitionSpec(*layout)
    raise TypeError(
        f"{where}: a layout is a tuple of mesh axis names or None per dimension, such as "
        f"(None, 'model'), or a jax.sharding.PartitionSpec. Received: {layout!r}"
    )


def spec_axes(spec: PartitionSpec) -> list[str]:
    axes = []
    for entry in spec:
        if entry is None:
            continue
        axes.extend(entry if isinstance(entry, tuple) else (entry,))
    return axes


class LayoutMap(MutableMapping):
    """Layouts of variables by path (Keras' `LayoutMap`).

    Keys are regular expressions searched (`re.search`) in a variable's path, such as
    `"sequential/dense/kernel"`; values give, per dimension of the variable, the mesh axis it
    is split over or `None`. The first key (in insertion order) that matches wins; variables
    no key matches are replicated. Keys and axes are checked against the mesh when set.

    **Arguments:**

    - `device_mesh`: the `DeviceMesh` the axis names refer to.

    ```python
    layout_map = fk.distribution.LayoutMap(mesh)
    layout_map["dense.*kernel"] = (None, "model")   # split the output units
    layout_map["dense.*bias"] = ("model",)
    ```
    """

    def __init__(self, device_mesh: DeviceMesh):
        if not isinstance(device_mesh, DeviceMesh):
            raise TypeError(
                "LayoutMap expects a fk.distribution.DeviceMesh. "
                f"Received: device_mesh={device_mesh!r}"
            )
        self.device_mesh = device_mesh
        self._layouts: dict[str, PartitionSpec] = {}

    def __setitem__(self, key: str, layout) -> None:
        if not isinstance(key, str):
            raise TypeError(f"LayoutMap keys are regex strings. Received: key={key!r}")
        try:
            re.compile(key)
        except re.error as e:
            raise ValueError(f"LayoutMap: {key!r} is not a valid regex ({e}).") from None
        spec = as_partition_spec(layout, f"LayoutMap[{key!r}]")
        missing = [a for a in spec_axes(spec) if a not in self.device_mesh.axis_names]
        if missing:
            raise ValueError(
                f"LayoutMap[{key!r}]: the layout names mesh axes {missing} that the mesh "
                f"lacks (its axes are {self.device_mesh.axis_names}). Received: {layout!r}"
            )
        self._layouts[key] = spec

    def __getitem__(self, key: str) -> PartitionSpec:
        return self._layouts[key]

    def __delitem__(self, key: str) -> None:
        del self._layouts[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._layouts)

    def __len__(self) -> int:
        return len(self._layouts)

    def lookup(self, path: str) -> PartitionSpec | None:
        """The layout of the variable at `path`: the first matching key's, or `None`."""
        for pattern, spec in self._layouts.items():
            if re.search(pattern, path):
                return spec
        return None
