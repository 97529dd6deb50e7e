"""Devices and device meshes (Keras' `list_devices` and `DeviceMesh`) over `jax.sharding.Mesh`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh


def list_devices(device_type: str | None = None) -> list:
    """All devices of every process (Keras' `list_devices`).

    **Arguments:**

    - `device_type`: `"cpu"`, `"gpu"` or `"tpu"`; `None` for JAX's default backend.

    **Returns:** a list of `jax.Device`, the global devices in JAX's order.
    """
    if device_type is None:
        return list(jax.devices())
    try:
        return list(jax.devices(device_type.lower()))
    except RuntimeError as e:
        raise ValueError(
            f"list_devices: no {device_type!r} devices are available ({e}). "
            f"Received: device_type={device_type!r}"
        ) from None


class DeviceMesh:
    """An n-dimensional grid of devices with named axes (Keras' `DeviceMesh`).

    **Arguments:**

    - `shape`: the mesh shape, for example `(2, 4)`; its product is the number of devices.
    - `axis_names`: one name per mesh axis, for example `("batch", "model")`.
    - `devices`: the devices to arrange (default: all devices, `list_devices()`).

    ```python
    mesh = fk.distribution.DeviceMesh((2, 4), ("batch", "model"))
    mesh.jax_mesh  # the jax.sharding.Mesh
    ```
    """

    def __init__(
        self,
        shape: Sequence[int],
        axis_names: Sequence[str],
        devices: Sequence | None = None,
    ):
        shape, axis_names = tuple(int(s) for s in shape), tuple(axis_names)
        if len(shape) != len(axis_names):
            raise ValueError(
                "DeviceMesh: shape and axis_names must have the same length. "
                f"Received: shape={shape}, axis_names={axis_names}"
            )
        if len(set(axis_names)) != len(axis_names) or not all(
            isinstance(a, str) for a in axis_names
        ):
            raise ValueError(
                "DeviceMesh: axis_names must be distinct strings. "
                f"Received: axis_names={axis_names}"
            )
        devices = list_devices() if devices is None else list(np.ravel(np.asarray(devices)))
        if math.prod(shape) != len(devices):
            raise ValueError(
                f"DeviceMesh: a mesh of shape {shape} needs {math.prod(shape)} devices, but "
                f"{len(devices)} were given. Received: shape={shape}, len(devices)={len(devices)}"
            )
        self.shape, self.axis_names, self.devices = shape, axis_names, devices
        self.jax_mesh = Mesh(np.asarray(devices, dtype=object).reshape(shape), axis_names)

    def axis_size(self, name: str) -> int:
        """The number of devices along the mesh axis `name`."""
        return self.shape[self.axis_names.index(name)]

    def __repr__(self) -> str:
        return f"DeviceMesh(shape={self.shape}, axis_names={self.axis_names})"
