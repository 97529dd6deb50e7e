"""Keras 3 dtype policies: which dtype a layer keeps its weights in and which it computes in.

A policy is named by a dtype (`"float32"`, `"bfloat16"`, ...) for layers that store and compute
in one dtype, or `"mixed_float16"` / `"mixed_bfloat16"` for layers that keep float32 weights but
compute in 16 bits. The global policy (`set_global_policy`) is read when a layer is constructed,
as in Keras; a layer's own `dtype=` overrides it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Iterator
from typing import Any

import jax.numpy as jnp

from .registry import register_serializable

_MIXED = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


@functools.cache  # read on every layer call: parse each name once
def _parse(name: str, owner: str) -> tuple[str, str]:
    """`(compute_dtype, variable_dtype)` for a policy name."""
    if name in _MIXED:
        return _MIXED[name], "float32"
    try:
        dtype = jnp.dtype(name).name
    except TypeError:
        dtype = None
    if dtype is None or name != dtype:
        raise ValueError(
            f"{owner}: unknown dtype policy. A policy is a dtype name such as 'float32', "
            "'float16' or 'bfloat16', or 'mixed_float16' / 'mixed_bfloat16' (float32 weights, "
            f"16-bit computation). Received: dtype={name!r}"
        )
    return dtype, dtype


@register_serializable(package="fkeras")
@dataclasses.dataclass(frozen=True)
class DTypePolicy:
    """A dtype policy (Keras 3's `keras.DTypePolicy`): the dtypes of a layer's weights and of its
    computation.

    **Arguments:**

    - `name`: `"float32"`, `"float16"`, `"bfloat16"` (or any other dtype name) for one dtype,
        or `"mixed_float16"` / `"mixed_bfloat16"` for float32 weights with 16-bit computation.
        Default: the current global policy's name.

    **Returns:** a hashable, immutable policy with `.name`, `.compute_dtype` and
    `.variable_dtype` (dtype names, as in Keras).

    ```python
    policy = fk.mixed_precision.DTypePolicy("mixed_bfloat16")
    policy.compute_dtype, policy.variable_dtype  # ('bfloat16', 'float32')
    layer = fk.layers.Dense(10, dtype=policy)  # or dtype="mixed_bfloat16"
    ```
    """

    name: str = dataclasses.field(default=None)  # type: ignore[assignment]

    def __post_init__(self):
        name = self.name
        if name is None:
            name = global_policy().name
        elif not isinstance(name, str):
            raise TypeError(
                f"DTypePolicy: `name` must be a string such as 'mixed_bfloat16'. "
                f"Received: dtype={name!r}"
            )
        _parse(name, "DTypePolicy")
        object.__setattr__(self, "name", name)

    @property
    def compute_dtype(self) -> str:
        """The dtype of the layer's computation: inputs and weights are cast to it."""
        return _parse(self.name, "DTypePolicy")[0]

    @property
    def variable_dtype(self) -> str:
        """The dtype the layer's weights are created and kept in."""
        return _parse(self.name, "DTypePolicy")[1]

    @property
    def is_mixed(self) -> bool:
        """Whether weights and computation use different dtypes."""
        return self.compute_dtype != self.variable_dtype

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> DTypePolicy:
        return cls(**config)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self.name}">'


_global: list[DTypePolicy] = []


def global_policy() -> DTypePolicy:
    """The policy that layers constructed without `dtype=` get (`"float32"` unless set).

    **Returns:** a `DTypePolicy`.

    ```python
    fk.mixed_precision.global_policy().name  # 'float32'
    ```
    """
    return _global[-1] if _global else DTypePolicy("float32")


def set_global_policy(policy: str | DTypePolicy | None) -> None:
    """Set the policy of layers constructed from now on without their own `dtype=`.

    **Arguments:**

    - `policy`: a policy name (`"mixed_bfloat16"`, ...), a `DTypePolicy`, or `None` to go back
        to `"float32"`.

    **Returns:** None. Layers built before the call keep their policy.

    ```python
    fk.mixed_precision.set_global_policy("mixed_bfloat16")
    fk.layers.Dense(4).compute_dtype  # 'bfloat16'
    fk.mixed_precision.set_global_policy("float32")
    ```
    """
    new = DTypePolicy("float32") if policy is None else get(policy, owner="set_global_policy")
    if not jnp.issubdtype(jnp.dtype(new.compute_dtype), jnp.floating):
        raise ValueError(
            "set_global_policy: the global policy must be a floating policy (Keras' rule), "
            f"since every layer would use it. Received: policy={new.name!r}"
        )
    _global[:] = [new]


@contextlib.contextmanager
def policy_scope(policy: str | DTypePolicy) -> Iterator[DTypePolicy]:
    """A context in which `policy` is the global policy; the previous one returns after it.

    **Arguments:**

    - `policy`: a policy name or a `DTypePolicy`.

    **Returns:** a context manager that yields the policy.

    ```python
    with fk.mixed_precision.policy_scope("mixed_bfloat16"):
        model = fk.Sequential([fk.Input((8,)), fk.layers.Dense(4)])
    ```
    """
    previous = list(_global)
    set_global_policy(policy)
    try:
        yield global_policy()
    finally:
        _global[:] = previous


def get(dtype: Any, owner: str = "DTypePolicy") -> DTypePolicy:
    """The policy for a `dtype=` argument: a policy, a name or dtype, `None` (the global
    policy), or a serialized policy (`{"class_name": "DTypePolicy", "config": {"name": ...}}`,
    as Keras 3 files hold it)."""
    if dtype is None:
        return global_policy()
    if isinstance(dtype, DTypePolicy):
        return dtype
    if isinstance(dtype, dict):
        name = (
            dtype.get("config", {}).get("name") if isinstance(dtype.get("config"), dict) else None
        )
        if dtype.get("class_name") not in ("DTypePolicy", "FloatDTypePolicy") or name is None:
            raise ValueError(
                f"{owner}: a serialized dtype policy must be "
                "{'class_name': 'DTypePolicy', 'config': {'name': ...}}. "
                f"Received: dtype={dtype!r}"
            )
        dtype = name
    if not isinstance(dtype, str):
        try:
            dtype = jnp.dtype(dtype).name
        except TypeError:
            raise TypeError(
                f"{owner}: `dtype` must be a policy name such as 'mixed_bfloat16', a dtype, or a "
                f"fk.mixed_precision.DTypePolicy. Received: dtype={dtype!r}"
            ) from None
    else:
        try:  # "float" or "f4" name float32, as jnp.dtype reads them
            if dtype not in _MIXED:
                dtype = jnp.dtype(dtype).name
        except TypeError:
            pass
    try:
        _parse(dtype, owner)
    except ValueError as e:
        raise ValueError(str(e)) from None
    return DTypePolicy(dtype)
