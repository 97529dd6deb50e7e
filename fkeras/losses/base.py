"""The `Loss` base class, `LossFunctionWrapper`, and Keras 3's weighting and reduction rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from ..core.registry import register_serializable

EPSILON = 1e-7  # Keras' `backend.epsilon()`: the clip bound for probabilities and denominators.

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)

# Built-in per-sample loss functions by Keras name, so a `LossFunctionWrapper` around one of them
# can be serialized by name (a config never holds code).
LOSS_FUNCTIONS: dict[str, Callable[..., Array]] = {}


def loss_function(fn: Callable[..., Array]) -> Callable[..., Array]:
    """Record a built-in per-sample loss function under its `__name__`."""
    LOSS_FUNCTIONS[fn.__name__] = fn
    return fn


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def standardize_reduction(reduction: str | None) -> str | None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            "Invalid value for argument `reduction`. Expected one of "
            f"{', '.join(repr(r) for r in REDUCTIONS)}. Received: reduction={reduction!r}"
        )
    return reduction


def squeeze_or_expand_to_same_rank(
    x1: Array, x2: Array, expand_rank_1: bool = True
) -> tuple[Array, Array]:
    """Keras' rank fix-up: when ranks differ by one and the longer has a trailing 1, drop it
    (or, when the shorter is rank 1, add a trailing 1 to the shorter)."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = jnp.squeeze(x1, -1)
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = jnp.squeeze(x2, -1)
    return x1, x2


def _divide_no_nan(num: Array, den: Array) -> Array:
    safe = jnp.where(den == 0, jnp.ones_like(den), den)
    return jnp.where(den == 0, jnp.zeros_like(num), num / safe)


def _align_weight(weight: Array, shape: tuple[int, ...], what: str, owner: str) -> Array:
    """Give a weight the rank of the per-sample losses: drop trailing 1s it has too many, add
    trailing 1s it lacks (so `(batch,)` weights broadcast over the time axis of `(batch, time)`
    losses), then check it broadcasts."""
    ndim = len(shape)
    aligned = weight
    while aligned.ndim > ndim and aligned.shape[-1] == 1:
        aligned = jnp.squeeze(aligned, -1)
    if 0 < aligned.ndim < ndim:
        aligned = aligned.reshape(aligned.shape + (1,) * (ndim - aligned.ndim))
    try:
        jnp.broadcast_shapes(aligned.shape, shape)
    except ValueError:
        raise ValueError(
            f"{owner}: `{what}` must broadcast to the per-sample loss shape {shape} (leading "
            f"dimensions aligned). Received: {what}.shape={tuple(weight.shape)}"
        ) from None
    return aligned


def reduce_weighted_values(
    values: ArrayLike,
    sample_weight: ArrayLike | None = None,
    mask: ArrayLike | None = None,
    reduction: str | None = "sum_over_batch_size",
    dtype: Any = None,
    owner: str = "loss",
) -> Array:
    """Weight per-sample losses and reduce them as Keras 3's `Loss.__call__` does.

    - `"sum"`: `sum(values * w)`.
    - `"sum_over_batch_size"` / `"mean"`: `sum(values * w) / n`, `n` the number of elements (with
      a `mask`, the number of unmasked elements).
    - `"mean_with_sample_weight"`: `sum(values * w) / sum(w)` (w including the mask).
    - `"none"` / `None`: `values * w`, unreduced.

    A division by zero gives 0 (Keras' `divide_no_nan`).
    """
    reduction = standardize_reduction(reduction)
    values = jnp.asarray(values, dtype)
    weight = None
    if sample_weight is not None:
        weight = _align_weight(
            jnp.asarray(sample_weight, values.dtype), values.shape, "sample_weight", owner
        )
    if mask is not None:
        mask = _align_weight(jnp.asarray(mask, bool), values.shape, "mask", owner)
        if reduction in ("sum_over_batch_size", "mean"):
            # Valid entries weigh total/valid, so dividing by the total divides by `valid`.
            total = jnp.asarray(mask.size, values.dtype)
            valid = jnp.sum(mask.astype(values.dtype))
            float_mask = jnp.where(mask, _divide_no_nan(total, valid), 0.0).astype(values.dtype)
        else:
            float_mask = mask.astype(values.dtype)
        weight = float_mask if weight is None else weight * float_mask
    if weight is not None:
        values = values * weight
    if reduction is None or reduction == "none" or values.ndim == 0:
        return values
    loss = jnp.sum(values)
    if reduction == "sum":
        return loss
    if reduction == "mean_with_sample_weight" and weight is not None:
        divisor = jnp.sum(jnp.broadcast_to(weight, values.shape))
    else:
        divisor = jnp.asarray(values.size, loss.dtype)
    return _divide_no_nan(loss, divisor)


class Loss:
    """Base class of losses: per-sample `call`, then Keras' weighting and reduction.

    Subclass it and implement `call(y_true, y_pred)`, which returns per-sample losses (the
    batch shape: a loss reduces the last axis only, so sequence outputs keep their time axis).
    `__call__` then applies `sample_weight` and the reduction. Everything is `jax.numpy`, so a
    loss can be used under `jax.jit`, `jax.grad` and `jax.vmap`. A loss that leaves some
    entries out of the reduction (`ignore_class`) says which in `compute_mask`.

    **Arguments:**

    - `name`: the loss name; defaults to the snake-case class name.
    - `reduction`: `"sum_over_batch_size"` (default: the weighted sum divided by the number of
      per-sample losses), `"sum"`, `"mean_with_sample_weight"` (divided by the sum of the
      weights), `"mean"` (same as `"sum_over_batch_size"`), or `"none"`/`None`.
    - `dtype`: the dtype the loss is computed in; `None` means `"float32"` (Keras' `floatx`).
      Predictions (and float labels) are cast to it, so bfloat16 outputs give a float32 loss.

    **Calling:** `loss(y_true, y_pred, sample_weight=None)`; `sample_weight` must broadcast to
    the per-sample shape, leading dimensions aligned (a `(batch,)` weight works for
    `(batch, time)` losses). Rows padded with zero weight add nothing to a `"sum"` reduction.

    ```python
    class ScaledMSE(fk.losses.Loss):
        def __init__(self, scale=1.0, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def call(self, y_true, y_pred):
            return self.scale * jnp.mean((y_true - y_pred) ** 2, axis=-1)

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}
    ```
    """

    def __init__(
        self,
        name: str | None = None,
        reduction: str | None = "sum_over_batch_size",
        dtype: Any = None,
    ):
        self.name = name or _snake(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self._dtype_arg = None if dtype is None else jnp.dtype(dtype).name

    @property
    def dtype(self) -> str:
        """The dtype the loss is computed in."""
        return self._dtype_arg or "float32"

    def call(self, y_true: Array, y_pred: Array) -> Array:
        """Per-sample losses, of the batch shape. Subclasses implement this."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `call(y_true, y_pred)` returning per-sample "
            "losses."
        )

    def compute_mask(self, y_true: Array, y_pred: Array) -> Array | None:
        """A boolean mask over the per-sample losses, or `None`; masked-out entries are left
        out of the reduction (as Keras does for `ignore_class`)."""
        return None

    def convert_inputs(self, y_true: ArrayLike, y_pred: ArrayLike) -> tuple[Array, Array]:
        """`y_pred` (and float `y_true`) cast to the loss dtype; integer labels kept."""
        y_pred = jnp.asarray(y_pred, self.dtype)
        y_true = jnp.asarray(y_true)
        if jnp.issubdtype(y_true.dtype, jnp.floating):
            y_true = y_true.astype(self.dtype)
        return y_true, y_pred

    def __call__(
        self, y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> Array:
        y_true, y_pred = self.convert_inputs(y_true, y_pred)
        losses = self.call(y_true, y_pred)
        mask = self.compute_mask(y_true, y_pred)
        return reduce_weighted_values(
            losses,
            sample_weight=sample_weight,
            mask=mask,
            reduction=self.reduction,
            dtype=self.dtype,
            owner=f"{type(self).__name__} '{self.name}'",
        )

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction, "dtype": self._dtype_arg}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except TypeError:
            args = f"name={self.name!r}, reduction={self.reduction!r}"
        return f"{type(self).__name__}({args})"


@register_serializable(package="fkeras")
class LossFunctionWrapper(Loss):
    """A `Loss` around a plain per-sample function `fn(y_true, y_pred, **kwargs)`.

    Before calling `fn`, labels and predictions whose ranks differ by one with a trailing 1 are
    brought to the same rank, as in Keras.

    **Arguments:**

    - `fn`: the per-sample loss function.
    - `reduction`, `name`, `dtype`: as for `Loss`; `name` defaults to `fn.__name__`.
    - `**kwargs`: passed on to `fn`.

    Only a wrapper around a built-in fkeras loss function can be serialized; for a custom
    function, subclass `Loss` and register it with `fk.saving.register_serializable()`.

    ```python
    def l4(y_true, y_pred):
        return jnp.mean((y_true - y_pred) ** 4, axis=-1)

    loss = fk.losses.LossFunctionWrapper(l4)  # name "l4"
    value = loss(y_true, y_pred)
    ```
    """

    def __init__(
        self,
        fn: Callable[..., Array],
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype: Any = None,
        **kwargs: Any,
    ):
        if not callable(fn):
            raise TypeError(f"LossFunctionWrapper expects a callable `fn`. Received: fn={fn!r}")
        name = name or getattr(fn, "__name__", None)
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: Array, y_pred: Array) -> Array:
        y_true, y_pred = squeeze_or_expand_to_same_rank(*self.convert_inputs(y_true, y_pred))
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        fn_name = getattr(self.fn, "__name__", None)
        if LOSS_FUNCTIONS.get(fn_name) is not self.fn:
            raise TypeError(
                f"Cannot serialize LossFunctionWrapper '{self.name}': its function is not a "
                "built-in fkeras loss, and configs never hold code. Subclass `fk.losses.Loss` "
                "and register it with `@fk.saving.register_serializable()` instead. "
                f"Received: fn={self.fn!r}"
            )
        return {**super().get_config(), "fn": fn_name, **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if "fn" in config:
            name = config.pop("fn")
            fn = LOSS_FUNCTIONS.get(name) if isinstance(name, str) else None
            if fn is None:
                raise ValueError(
                    f"Unknown loss function '{name}' in a LossFunctionWrapper config. Known: "
                    f"{', '.join(sorted(LOSS_FUNCTIONS))}. Received: fn={name!r}"
                )
            return cls(fn, **config)
        return cls(**config)


def prepare(
    y_true: ArrayLike, y_pred: ArrayLike, fn_name: str, hint: str = ""
) -> tuple[Array, Array]:
    """`y_pred` as a float array, `y_true` cast to its dtype, ranks fixed up as in Keras, and a
    teaching error when the two shapes cannot broadcast."""
    y_pred = jnp.asarray(y_pred)
    if not jnp.issubdtype(y_pred.dtype, jnp.floating):
        y_pred = y_pred.astype(jnp.float32)
    y_true = jnp.asarray(y_true).astype(y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    try:
        jnp.broadcast_shapes(y_true.shape, y_pred.shape)
    except ValueError:
        raise ValueError(
            f"{fn_name}: `y_true` and `y_pred` must have broadcastable shapes{hint}. Received: "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
        ) from None
    return y_true, y_pred


def check_same_shape(y_true: Array, y_pred: Array, fn_name: str, hint: str = "") -> None:
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{fn_name} expects `y_true` and `y_pred` of the same shape{hint}. Received: "
            f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}"
        )


class BuiltinLoss(LossFunctionWrapper):
    """A built-in loss class: its hyperparameters are the keyword arguments of its function,
    kept as attributes and in the config (Keras' config keys, plus `dtype`)."""

    def __init__(self, fn, reduction, name, dtype, **kwargs):
        super().__init__(fn, reduction=reduction, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def call(self, y_true: Array, y_pred: Array) -> Array:
        y_true, y_pred = squeeze_or_expand_to_same_rank(*self.convert_inputs(y_true, y_pred))
        return self.fn(y_true, y_pred, **{key: getattr(self, key) for key in self._fn_kwargs})

    def get_config(self) -> dict:
        hyper = {key: getattr(self, key) for key in self._fn_kwargs}
        return {**Loss.get_config(self), **hyper}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def check_label_smoothing(label_smoothing: float, owner: str) -> float:
    label_smoothing = float(label_smoothing)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"{owner} expects `label_smoothing` in [0, 1]. "
            f"Received: label_smoothing={label_smoothing}"
        )
    return label_smoothing
