"""Deterministic image preprocessing layers: Rescaling, Resizing, CenterCrop (Keras formulas)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from ._image import check_choice, check_data_format, check_image, check_positive_int

_register = register_serializable(package="fkeras")

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5")


def _as_static_number(layer, arg: str, value):
    """A float, or nested tuples of floats for per-channel values (hashable, JSON-friendly)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{describe(layer)} expects `{arg}` to be a number or an array of numbers. "
            f"Received: {arg}={value!r}"
        ) from None

    def to_tuple(v):
        return tuple(to_tuple(e) for e in v) if isinstance(v, list) else float(v)

    return to_tuple(array.tolist())


@_register
class Rescaling(Layer):
    """Multiplies inputs by `scale` and adds `offset`, in training and inference (Keras'
    `Rescaling`); integer inputs are cast to the layer's dtype first.

    **Arguments:**

    - `scale`: a number, or per-channel values broadcast against the last axis
      (`1 / 255` maps `[0, 255]` to `[0, 1]`).
    - `offset`: a number or per-channel values (`scale=1 / 127.5, offset=-1` maps to `[-1, 1]`).

    **Input/Output shapes:** any shape; the output has the input's shape.

    ```python
    layer = fk.layers.Rescaling(1.0 / 255)
    y = layer(jnp.full((2, 4, 4, 3), 255.0))  # all ones
    ```
    """

    supports_masking = True
    has_weights = False

    scale: float | tuple = static()
    offset: float | tuple = static()

    def __init__(self, scale, offset=0.0, *, name=None, trainable=True, dtype=None):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.scale = _as_static_number(self, "scale", scale)
        self.offset = _as_static_number(self, "offset", offset)

    def __call__(self, x: Array) -> Array:
        x = jnp.asarray(x).astype(self.compute_dtype)
        scale = jnp.asarray(self.scale, self.compute_dtype)
        offset = jnp.asarray(self.offset, self.compute_dtype)
        return x * scale + offset


def crop_box(height: int, width: int, target_height: int, target_width: int):
    """Keras' largest centered window of the target aspect ratio: `(top, left, h, w)`."""
    crop_height = int(float(width * target_height) / target_width)
    crop_height = max(min(height, crop_height), 1)
    crop_width = int(float(height * target_width) / target_height)
    crop_width = max(min(width, crop_width), 1)
    top = int(float(height - crop_height) / 2)
    left = int(float(width - crop_width) / 2)
    return top, left, crop_height, crop_width


def resize_images(
    images,
    height: int,
    width: int,
    *,
    interpolation: str = "bilinear",
    antialias: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    fill_value: float = 0.0,
):
    """Keras' JAX `ops.image.resize` for channels_last images of rank 3 or 4."""
    in_height, in_width = images.shape[-3], images.shape[-2]
    if crop_to_aspect_ratio:
        top, left, h, w = crop_box(in_height, in_width, height, width)
        images = images[..., top : top + h, left : left + w, :]
    elif pad_to_aspect_ratio:
        pad_height = max(in_height, int(float(in_width * height) / width))
        pad_width = max(in_width, int(float(in_height * width) / height))
        top = int(float(pad_height - in_height) / 2)
        left = int(float(pad_width - in_width) / 2)
        pads = [(0, 0)] * images.ndim
        if top > 0:  # as Keras: pad one axis only, by the same amount on both sides
            pads[-3] = (top, top)
        elif left > 0:
            pads[-2] = (left, left)
        images = jnp.pad(images, pads, constant_values=jnp.asarray(fill_value, images.dtype))
    shape = (*images.shape[:-3], height, width, images.shape[-1])
    return jax.image.resize(images, shape, method=interpolation, antialias=antialias)


@_register
class Resizing(Layer):
    """Resizes images to `(height, width)` with `jax.image.resize`, as Keras' JAX backend does.

    **Arguments:**

    - `height`, `width`: the output size.
    - `interpolation`: `"bilinear"` (default), `"nearest"`, `"bicubic"`, `"lanczos3"` or
      `"lanczos5"`.
    - `crop_to_aspect_ratio`: first crop the largest centered window of the target aspect
      ratio, so the image is not distorted.
    - `pad_to_aspect_ratio`: first pad the short side evenly with `fill_value` instead.
    - `fill_mode`: padding mode; only `"constant"` (as in Keras).
    - `fill_value`: the padding value.
    - `antialias`: low-pass filter when downsampling.
    - `data_format`: only `"channels_last"` (or `None`).

    **Input shape:** `(batch, height, width, channels)` or `(height, width, channels)`.
    **Output shape:** `(batch, height, width, channels)` with the target height and width.

    ```python
    layer = fk.layers.Resizing(32, 32)
    y = layer(jnp.ones((8, 64, 48, 3)))  # (8, 32, 32, 3)
    ```
    """

    has_weights = False

    height: int = static()
    width: int = static()
    interpolation: str = static()
    crop_to_aspect_ratio: bool = static()
    pad_to_aspect_ratio: bool = static()
    fill_mode: str = static()
    fill_value: float = static()
    antialias: bool = static()
    data_format: str = static()

    def __init__(
        self,
        height: int,
        width: int,
        interpolation: str = "bilinear",
        crop_to_aspect_ratio: bool = False,
        pad_to_aspect_ratio: bool = False,
        fill_mode: str = "constant",
        fill_value: float = 0.0,
        antialias: bool = False,
        data_format: str | None = None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.height = check_positive_int(self, "height", height)
        self.width = check_positive_int(self, "width", width)
        self.interpolation = check_choice(
            self, "interpolation", interpolation, RESIZE_INTERPOLATIONS
        )
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError(
                f"{describe(self)} accepts only one of `crop_to_aspect_ratio` and "
                "`pad_to_aspect_ratio`. Received: crop_to_aspect_ratio=True, "
                "pad_to_aspect_ratio=True"
            )
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = check_choice(self, "fill_mode", fill_mode, ("constant",))
        self.fill_value = float(fill_value)
        self.antialias = bool(antialias)
        self.data_format = check_data_format(self, data_format)

    def __call__(self, x: Array) -> Array:
        x = check_image(self, x, self.compute_dtype)
        return resize_images(
            x,
            self.height,
            self.width,
            interpolation=self.interpolation,
            antialias=self.antialias,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            fill_value=self.fill_value,
        )


@_register
class CenterCrop(Layer):
    """Crops the central `(height, width)` window of images (Keras' `CenterCrop`).

    The window starts at `((in_height - height) // 2, (in_width - width) // 2)`. When an
    image is smaller than the target on either side, Keras' rule applies instead: the
    largest centered window of the target aspect ratio is cropped and resized (bilinear) to
    `(height, width)`.

    **Arguments:** `height`, `width`: the output size; `data_format`: only
    `"channels_last"` (or `None`).

    **Input shape:** `(batch, height, width, channels)` or `(height, width, channels)`.
    **Output shape:** `(batch, height, width, channels)` with the target height and width.

    ```python
    layer = fk.layers.CenterCrop(24, 24)
    y = layer(jnp.ones((8, 32, 32, 3)))  # (8, 24, 24, 3)
    ```
    """

    has_weights = False

    height: int = static()
    width: int = static()
    data_format: str = static()

    def __init__(
        self,
        height: int,
        width: int,
        data_format: str | None = None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.height = check_positive_int(self, "height", height)
        self.width = check_positive_int(self, "width", width)
        self.data_format = check_data_format(self, data_format)

    def __call__(self, x: Array) -> Array:
        x = check_image(self, x, self.compute_dtype)
        in_height, in_width = x.shape[-3], x.shape[-2]
        if in_height >= self.height and in_width >= self.width:
            top = (in_height - self.height) // 2
            left = (in_width - self.width) // 2
            return x[..., top : top + self.height, left : left + self.width, :]
        return resize_images(x, self.height, self.width, crop_to_aspect_ratio=True)
