"""EinsumDense: a dense layer whose contraction is an einsum equation (Keras 3's)."""

from __future__ import annotations

import math
import re
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .. import activations, constraints, initializers, regularizers
from ..core.errors import describe
from ..core.layer import Layer, static
from ..core.registry import register_serializable

_register = register_serializable(package="fkeras")


def analyze_einsum_string(equation: str, bias_axes, input_shape, output_shape, *, owner: str):
    """Keras' weight-shape derivation for `EinsumDense`.

    **Returns:** `(kernel_shape, bias_shape, full_output_shape, input_axes, output_axes)`;
    `input_axes`/`output_axes` are the kernel axes that count as fan-in and fan-out.
    """
    dot_replaced = re.sub(r"\.\.\.", "0", equation)
    patterns = (
        ("([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)", False),
        ("0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)", True),
        ("([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0", False),
    )
    for pattern, left_elided in patterns:
        # fullmatch: Keras uses re.match, which also accepts trailing junk that einsum rejects.
        split = re.fullmatch(pattern, dot_replaced)
        if split:
            return _analyze_split(split, bias_axes, input_shape, output_shape, left_elided, owner)
    raise ValueError(
        f"{owner}: invalid einsum equation. Equations must be in the form [X],[Y]->[Z], "
        f"...[X],[Y]->...[Z], or [X]...,[Y]->[Z].... Received: equation={equation!r}"
    )


def _analyze_split(split, bias_axes, input_shape, output_shape, left_elided, owner):
    input_spec, weight_spec, output_spec = split.group(1), split.group(2), split.group(3)
    elided = len(input_shape) - len(input_spec)
    output_shape = [output_shape] if isinstance(output_shape, int) else list(output_shape)
    output_shape.insert(0, input_shape[0])
    if elided > 0 and left_elided:
        for i in range(1, elided):
            output_shape.insert(1, input_shape[i])
    elif elided > 0:
        output_shape.extend(input_shape[len(input_shape) - elided :])

    if left_elided:
        input_dim_map = {d: (i + elided) - len(input_shape) for i, d in enumerate(input_spec)}
        output_dim_map = {d: i + elided for i, d in enumerate(output_spec)}
    else:
        input_dim_map = {d: i for i, d in enumerate(input_spec)}
        output_dim_map = {d: i for i, d in enumerate(output_spec)}

    if len(output_shape) != len(output_spec) + max(elided, 0) or elided < 0:
        raise ValueError(
            f"{owner}: the equation's input spec '{input_spec}' and output spec "
            f"'{output_spec}' do not fit the input shape and `output_shape`. "
            f"Received: input_shape={tuple(input_shape)}"
        )
    for dim in input_spec:
        if dim in output_dim_map:
            out = output_shape[output_dim_map[dim]]
            inp = input_shape[input_dim_map[dim]]
            if out is not None and out != inp:
                raise ValueError(
                    f"{owner}: input shape and output shape do not match at shared dimension "
                    f"'{dim}' (input {inp}, output {out}). Received: input_shape="
                    f"{tuple(input_shape)}"
                )
    for dim in output_spec:
        if dim not in input_spec and dim not in weight_spec:
            raise ValueError(
                f"{owner}: output dimension '{dim}' is in neither the input spec "
                f"'{input_spec}' nor the weight spec '{weight_spec}'. "
                f"Received: output spec={output_spec!r}"
            )

    kernel_shape, input_axes, output_axes = [], [], []
    for i, dim in enumerate(weight_spec):
        if dim in output_dim_map:
            kernel_shape.append(output_shape[output_dim_map[dim]])
            output_axes.append(i)
        elif dim in input_dim_map:
            kernel_shape.append(input_shape[input_dim_map[dim]])
            input_axes.append(i)
        else:
            raise ValueError(
                f"{owner}: weight dimension '{dim}' matches neither the input spec "
                f"'{input_spec}' nor the output spec '{output_spec}'; the kernel must be fully "
                f"specified. Received: weight spec={weight_spec!r}"
            )
    if any(d is None for d in kernel_shape):
        raise ValueError(
            f"{owner}: the kernel shape {tuple(kernel_shape)} has unknown dimensions; give "
            "them in `output_shape` or the input shape. "
            f"Received: input_shape={tuple(input_shape)}"
        )

    bias_shape = None
    if bias_axes is not None:
        offset = elided if left_elided else 0
        idx_map = {c: output_shape[i + offset] for i, c in enumerate(output_spec)}
        for char in bias_axes:
            if char not in output_spec:
                raise ValueError(
                    f"{owner}: bias dimension '{char}' is not part of the output spec "
                    f"'{output_spec}'. Received: bias_axes={bias_axes!r}"
                )
        first = min(output_spec.find(c) for c in bias_axes)
        bias_shape = [idx_map[c] if c in bias_axes else 1 for c in output_spec[first:]]
        if not left_elided:
            bias_shape.extend([1] * elided)
    return kernel_shape, bias_shape, output_shape, input_axes, output_axes


@_register
class EinsumDense(Layer):
    """A dense layer computing `activation(einsum(equation, x, kernel) + bias)` (Keras 3's
    `EinsumDense`).

    **Arguments:**

    - `equation`: `"ab,bc->ac"`-style: input spec, kernel spec, output spec; `...` may stand
      for leading (`"...b,bc->...c"`) or trailing axes.
    - `output_shape`: the output shape without the batch dimension (an int for rank 1);
      `None` entries are taken from the input.
    - `activation`: an activation name or callable; `None` is linear.
    - `bias_axes`: output-spec letters that get a bias (e.g. `"d"`); `None`: no bias.
    - `kernel_initializer`, `bias_initializer`, `kernel_regularizer`, `bias_regularizer`,
      `activity_regularizer`, `kernel_constraint`, `bias_constraint`: as in `Dense`. A
      variance-scaling kernel initializer counts fans over the kernel's input and output
      axes, as Keras does.
    - `lora_rank`, `lora_alpha`: LoRA is not implemented; only `None` is accepted.

    **Weights:** `kernel` (shape from the equation), `bias` (when `bias_axes` is set).

    ```python
    layer = fk.layers.EinsumDense("abc,cd->abd", output_shape=(None, 64), bias_axes="d")
    layer = layer.build((None, 10, 32), key=jax.random.key(0))
    y = layer(jnp.ones((2, 10, 32)))  # (2, 10, 64)
    ```
    """

    equation: str = static()
    output_shape: tuple = static()
    activation: Any = static()
    bias_axes: str | None = static()
    kernel_initializer: Any = static()
    bias_initializer: Any = static()
    kernel_regularizer: Any = static()
    bias_regularizer: Any = static()
    activity_regularizer: Any = static()
    kernel_constraint: Any = static()
    bias_constraint: Any = static()
    lora_rank: int | None = static()
    lora_alpha: float | None = static()
    kernel: Array | None
    bias: Array | None

    def __init__(
        self,
        equation: str,
        output_shape,
        activation=None,
        bias_axes: str | None = None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank: int | None = None,
        lora_alpha: float | None = None,
        *,
        activity_regularizer=None,
        name: str | None = None,
        trainable: bool = True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        owner = describe(self)
        if not isinstance(equation, str):
            raise TypeError(f"{owner} expects a string `equation`. Received: equation={equation!r}")
        if lora_rank is not None:
            raise NotImplementedError(
                f"{owner}: LoRA is not implemented in fkeras; pass lora_rank=None. "
                f"Received: lora_rank={lora_rank!r}"
            )
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        try:
            output_shape = tuple(None if d is None else int(d) for d in output_shape)
        except (TypeError, ValueError):
            raise TypeError(
                f"{owner} expects `output_shape` as an int or a tuple of ints/None. "
                f"Received: output_shape={output_shape!r}"
            ) from None
        if bias_axes is not None and not isinstance(bias_axes, str):
            raise TypeError(
                f"{owner} expects `bias_axes` as a string of output-spec letters. "
                f"Received: bias_axes={bias_axes!r}"
            )
        activations.get(activation, owner=owner)
        self.equation = equation
        self.output_shape = output_shape
        self.activation = "linear" if activation is None else activation
        self.bias_axes = bias_axes
        self.kernel_initializer = initializers.get(kernel_initializer, owner=owner)
        self.bias_initializer = initializers.get(bias_initializer, owner=owner)
        self.kernel_regularizer = regularizers.get(kernel_regularizer, owner=owner)
        self.bias_regularizer = regularizers.get(bias_regularizer, owner=owner)
        self.activity_regularizer = regularizers.get(activity_regularizer, owner=owner)
        self.kernel_constraint = constraints.get(kernel_constraint, owner=owner)
        self.bias_constraint = constraints.get(bias_constraint, owner=owner)
        self.lora_rank = None
        self.lora_alpha = None
        self.kernel = None
        self.bias = None

    def create_weights(self, input_shape, key: PRNGKeyArray) -> dict[str, Array | None]:
        kernel_shape, bias_shape, _, in_axes, out_axes = analyze_einsum_string(
            self.equation, self.bias_axes, input_shape, self.output_shape, owner=describe(self)
        )
        kernel_key, bias_key = jax.random.split(key)
        kernel = self._init_kernel(kernel_key, kernel_shape, in_axes, out_axes)
        bias = None
        if bias_shape is not None:
            bias = self.bias_initializer(bias_key, tuple(bias_shape), self.dtype)
        return {"kernel": kernel, "bias": bias}

    def _init_kernel(self, key, shape, in_axes, out_axes) -> Array:
        init = self.kernel_initializer
        if not isinstance(init, initializers.VarianceScaling):
            return init(key, tuple(shape), self.dtype)
        # Keras gives variance scaling the einsum's input/output axes for its fans: draw the
        # kernel as a 2-D (fan_in, fan_out) matrix (same i.i.d. values, those fans), then lay
        # its axes out in the kernel's order.
        in_dims = [shape[a] for a in in_axes]
        out_dims = [shape[a] for a in out_axes]
        flat = init(key, (math.prod(in_dims), math.prod(out_dims)), self.dtype)
        grouped = flat.reshape(*in_dims, *out_dims)
        order = list(in_axes) + list(out_axes)
        return jnp.transpose(grouped, [order.index(a) for a in range(len(shape))])

    def __call__(self, x: Array, *, training: bool = False, key=None) -> Array:
        y = jnp.einsum(self.equation, x, self.kernel)
        if self.bias is not None:
            y = y + self.bias
        return activations.get(self.activation)(y)

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        for unsupported in ("quantization_config", "gptq_unpacked_column_size"):
            value = config.pop(unsupported, None)
            if value is not None:
                raise NotImplementedError(
                    f"EinsumDense: quantization is not implemented in fkeras. "
                    f"Received: {unsupported}={value!r}"
                )
        init = config.get("kernel_initializer")
        if isinstance(init, dict) and isinstance(init.get("config"), dict):
            # Keras >= 3.12 writes its variance-scaling `input_axes`/`output_axes` (None unless
            # set by hand); this layer derives them from the equation, as Keras does for None.
            inner = dict(init["config"])
            for axes in ("input_axes", "output_axes"):
                if inner.get(axes, None) is not None:
                    raise NotImplementedError(
                        f"EinsumDense: explicit initializer {axes} are not supported; they "
                        f"follow the equation. Received: {axes}={inner[axes]!r}"
                    )
                inner.pop(axes, None)
            config["kernel_initializer"] = {**init, "config": inner}
        return cls(**config)
