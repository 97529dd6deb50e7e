"""Shared pieces of the image preprocessing layers: argument checks, the image rank check and
Keras' affine transform (output pixel -> input coordinates, sampled with `map_coordinates`)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ...core.errors import describe

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
AFFINE_INTERPOLATIONS = {"nearest": 0, "bilinear": 1}


def check_data_format(layer, data_format) -> str:
    """fkeras images are channels_last; `None` means that, as Keras' default config does."""
    if data_format is None or data_format == "channels_last":
        return "channels_last"
    raise ValueError(
        f"{describe(layer)} supports only data_format='channels_last' (images shaped "
        "(batch, height, width, channels)); transpose channels_first images with "
        f"`jnp.moveaxis(x, 1, -1)` first. Received: data_format={data_format!r}"
    )


def check_choice(layer, arg: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(
            f"{describe(layer)} expects `{arg}` to be one of {tuple(choices)}. "
            f"Received: {arg}={value!r}"
        )
    return value


def check_positive_int(layer, arg: str, value) -> int:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or value <= 0
    ):
        raise ValueError(
            f"{describe(layer)} expects `{arg}` to be a positive integer. Received: {arg}={value!r}"
        )
    return int(value)


def check_image(layer, x, dtype):
    """`x` as a `dtype` array of rank 3 `(height, width, channels)` or 4 (batched)."""
    x = jnp.asarray(x)
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{describe(layer)} expects images of rank 3 (height, width, channels) or 4 "
            f"(batch, height, width, channels). Received: x.shape={tuple(x.shape)}"
        )
    return x.astype(dtype)


def parse_range(layer, arg: str, factor, low: float, high: float, *, open_low=False):
    """Keras' factor rule: a number `f` gives `(-|f|, |f|)` (clamped below at `low`), a pair
    gives its sorted values; every value must lie in `[low, high]` (`(low, high]` with
    `open_low`)."""

    def bad():
        interval = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        return ValueError(
            f"{describe(layer)} expects `{arg}` to be a number or a pair of numbers in "
            f"{interval}. Received: {arg}={factor!r}"
        )

    def in_range(v):
        return (low < v if open_low else low <= v) and v <= high

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(_is_number(v) for v in factor):
            raise bad()
        if not all(in_range(v) for v in factor):
            raise bad()
        lower, upper = sorted(float(v) for v in factor)
        return lower, upper
    if not _is_number(factor) or not in_range(factor):
        raise bad()
    f = abs(float(factor))
    return max(-f, low) if not open_low else -f, f


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def as_factor(factor):
    """A factor as stored for the config: a float or a tuple of two floats."""
    if isinstance(factor, (tuple, list)):
        return tuple(float(v) for v in factor)
    return float(factor)


def batched(fn):
    """Run `fn(images_4d, ...)` on a rank-3 image as a batch of one."""

    @functools.wraps(fn)
    def wrapper(images, *args, **kwargs):
        if images.ndim == 3:
            return fn(images[None], *args, **kwargs)[0]
        return fn(images, *args, **kwargs)

    return wrapper


def batch_size(x) -> int:
    """Images per input: the batch size of a rank-4 input, 1 for a single image."""
    return x.shape[0] if x.ndim == 4 else 1


@functools.partial(jax.jit, static_argnames=("interpolation", "fill_mode", "fill_value"))
def affine_transform(images, transform, *, interpolation, fill_mode, fill_value):
    """Keras' `ops.image.affine_transform` for channels_last images `(B, H, W, C)`.

    `transform` `(B, 8)` holds `[a0, a1, a2, b0, b1, b2, c0, c1]`: output pixel `(x, y)` reads
    the input at `x_in = a0 x + a1 y + a2`, `y_in = b0 x + b1 y + b2` (`c0 = c1 = 0` here).
    """
    _, height, width, _ = images.shape
    transform = transform.astype(images.dtype)
    ys, xs = jnp.meshgrid(
        jnp.arange(height, dtype=images.dtype),
        jnp.arange(width, dtype=images.dtype),
        indexing="ij",
    )

    def one_image(image, t):
        a0, a1, a2, b0, b1, b2 = (t[i] for i in range(6))
        y_in = ys * b1 + xs * b0 + b2  # Keras' arrangement of the sums
        x_in = ys * a1 + xs * a0 + a2

        def one_channel(channel):
            return jax.scipy.ndimage.map_coordinates(
                channel,
                [y_in, x_in],
                order=AFFINE_INTERPOLATIONS[interpolation],
                mode=fill_mode,
                cval=fill_value,
            )

        return jax.vmap(one_channel, in_axes=-1, out_axes=-1)(image)

    return jax.vmap(one_image)(images, transform)
