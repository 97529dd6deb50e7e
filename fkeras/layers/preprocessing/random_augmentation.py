"""Random image augmentation layers (Keras' RandomFlip, RandomRotation, RandomZoom,
RandomTranslation, RandomContrast, RandomBrightness).

Each is the identity in inference and draws its randomness only from `key=` in training:
`layer(x, training=True, key=jax.random.key(step))`. One transformation is drawn per image.
`get_random_transformation(x, key=key)` returns the drawn parameters and
`transform_images(x, transformation)` applies them, so the same draw can be inspected or
applied to several inputs (an image and its segmentation mask).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from ._image import (
    AFFINE_INTERPOLATIONS,
    FILL_MODES,
    affine_transform,
    as_factor,
    batch_size,
    batched,
    check_choice,
    check_data_format,
    check_image,
    parse_range,
)

_register = register_serializable(package="fkeras")


class _RandomImageLayer(Layer):
    """Shared call logic: cast and check the images, identity in inference, key required in
    training (folded with `seed` when one is given)."""

    has_weights = False

    def __call__(self, x: Array, *, training: bool = False, key: PRNGKeyArray | None = None):
        x = check_image(self, x, self.compute_dtype)
        if not training:
            return x
        if key is None:
            raise ValueError(
                f"{describe(self)} needs a PRNG key in training mode. Call the model as "
                "`model(x, training=True, key=jax.random.key(step))` (the trainer does this for "
                "you). Received: key=None"
            )
        return self.transform_images(x, self.get_random_transformation(x, key=key))

    def _key(self, key):
        seed = getattr(self, "seed", None)
        return key if seed is None else jax.random.fold_in(key, seed)

    def get_random_transformation(self, x, *, key):  # pragma: no cover - abstract
        raise NotImplementedError

    def transform_images(self, x, transformation):  # pragma: no cover - abstract
        raise NotImplementedError


def _per_image_shape(x) -> tuple[int, ...]:
    """One value per image, broadcast against `x`: `(B, 1, 1, 1)`, or `(1, 1, 1)`."""
    return (x.shape[0], 1, 1, 1) if x.ndim == 4 else (1, 1, 1)


def _check_interp_fill(layer, interpolation, fill_mode):
    check_choice(layer, "fill_mode", fill_mode, FILL_MODES)
    check_choice(layer, "interpolation", interpolation, tuple(AFFINE_INTERPOLATIONS))


class _AffineLayer(_RandomImageLayer):
    """Rotation, zoom and translation: a drawn `(B, 8)` transform through `affine_transform`."""

    def transform_images(self, x, transformation):
        x = check_image(self, x, self.compute_dtype)
        return batched(affine_transform)(
            x,
            transformation["transform"],
            interpolation=self.interpolation,
            fill_mode=self.fill_mode,
            fill_value=self.fill_value,
        )


@_register
class RandomFlip(_RandomImageLayer):
    """Randomly flips images in training (Keras' `RandomFlip`); the identity in inference.

    **Arguments:**

    - `mode`: `"horizontal"` (left-right), `"vertical"` (top-bottom) or
      `"horizontal_and_vertical"` (default). As in Keras 3, one draw per image decides: in
      `"horizontal_and_vertical"` mode an image is flipped both ways or not at all.
    - `seed`: folded into the key (Keras compatibility); randomness comes from `key=`.
    - `data_format`: only `"channels_last"` (or `None`).

    **Input/Output shapes:** `(batch, height, width, channels)` or `(height, width, channels)`.

    ```python
    y = fk.layers.RandomFlip("horizontal")(images, training=True, key=jax.random.key(0))
    ```
    """

    mode: str = static()
    seed: int | None = static()
    data_format: str = static()

    def __init__(
        self,
        mode: str = "horizontal_and_vertical",
        seed: int | None = None,
        data_format: str | None = None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.mode = check_choice(
            self, "mode", mode, ("horizontal", "vertical", "horizontal_and_vertical")
        )
        self.seed = seed
        self.data_format = check_data_format(self, data_format)

    def get_random_transformation(self, x, *, key):
        """`{"flips": bool array}`, one entry per image (`(B, 1, 1, 1)`)."""
        u = jax.random.uniform(self._key(key), _per_image_shape(x))
        return {"flips": u <= 0.5}

    def transform_images(self, x, transformation):
        x = check_image(self, x, self.compute_dtype)
        flips = transformation["flips"]
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            x = jnp.where(flips, jnp.flip(x, axis=-2), x)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            x = jnp.where(flips, jnp.flip(x, axis=-3), x)
        return x


def rotation_matrix(angle_degrees, height: int, width: int):
    """Keras' rotation about the image center as `(B, 8)` transforms (output -> input)."""
    angle = angle_degrees * jnp.asarray(math.pi / 180.0, angle_degrees.dtype)
    cx = 0.5 * (width - 1)
    cy = 0.5 * (height - 1)
    cos, sin = jnp.cos(angle), jnp.sin(angle)
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    a2 = cx - cx * a0 - cy * a1
    b2 = cy - cx * b0 - cy * b1
    zeros = jnp.zeros_like(angle)
    return jnp.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


@_register
class RandomRotation(_AffineLayer):
    """Randomly rotates images about their center in training (Keras' `RandomRotation`).

    **Arguments:**

    - `factor`: a fraction of a full turn: a number `f` draws angles in `[-f, f] * 360`
      degrees, a pair `(lo, hi)` in `[lo, hi] * 360`; positive angles turn counter-clockwise.
      Stored as the pair `(lower, upper)`, as Keras does.
    - `fill_mode`: how points outside the input are filled: `"reflect"`
      (`d c b a | a b c d | d c b a`, default), `"wrap"` (`a b c d | a b c d | a b c d`),
      `"constant"` (`fill_value`) or `"nearest"` (`a a a a | a b c d | d d d d`).
    - `interpolation`: `"bilinear"` (default) or `"nearest"`.
    - `seed`: folded into the key (Keras compatibility); randomness comes from `key=`.
    - `fill_value`: the value for `fill_mode="constant"`.
    - `data_format`: only `"channels_last"` (or `None`).

    **Input/Output shapes:** `(batch, height, width, channels)` or `(height, width, channels)`.

    ```python
    layer = fk.layers.RandomRotation(0.1)
    y = layer(images, training=True, key=jax.random.key(0))
    ```
    """

    factor: tuple = static()
    fill_mode: str = static()
    interpolation: str = static()
    seed: int | None = static()
    fill_value: float = static()
    data_format: str = static()

    def __init__(
        self,
        factor,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        data_format: str | None = None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.factor = parse_range(self, "factor", factor, -1.0, 1.0)
        _check_interp_fill(self, interpolation, fill_mode)
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.seed = seed
        self.fill_value = float(fill_value)
        self.data_format = check_data_format(self, data_format)

    def get_random_transformation(self, x, *, key):
        """`{"angle": degrees (B,), "transform": (B, 8)}`."""
        lower, upper = self.factor
        angle = jax.random.uniform(
            self._key(key), (batch_size(x),), minval=lower * 360.0, maxval=upper * 360.0
        )
        return {"angle": angle, "transform": rotation_matrix(angle, x.shape[-3], x.shape[-2])}


def zoom_matrix(height_zoom, width_zoom, height: int, width: int):
    """Keras' zoom about the image center as `(B, 8)` transforms, from `(B, 1)` zooms."""
    zx, zy = width_zoom[:, 0], height_zoom[:, 0]
    zeros = jnp.zeros_like(zx)
    x_offset = (width - 1.0) / 2.0 * (1.0 - zx)
    y_offset = (height - 1.0) / 2.0 * (1.0 - zy)
    return jnp.stack([zx, zeros, x_offset, zeros, zy, y_offset, zeros, zeros], axis=1)


@_register
class RandomZoom(_AffineLayer):
    """Randomly zooms images about their center in training (Keras' `RandomZoom`).

    **Arguments:**

    - `height_factor`: a number `f` or pair `(lo, hi)` in `(-1, 1]`; the vertical zoom is drawn
      from `1 + [-f, f]` (or `1 + [lo, hi]`). Positive values zoom out, negative zoom in.
    - `width_factor`: the same horizontally; `None` (default) reuses the vertical zoom, which
      keeps the aspect ratio.
    - `fill_mode`, `interpolation`, `seed`, `fill_value`, `data_format`: as in
      `RandomRotation` (default `fill_mode="reflect"`, `interpolation="bilinear"`).

    **Input/Output shapes:** `(batch, height, width, channels)` or `(height, width, channels)`.

    ```python
    layer = fk.layers.RandomZoom(0.2)
    y = layer(images, training=True, key=jax.random.key(0))
    ```
    """

    height_factor: float | tuple = static()
    width_factor: float | tuple | None = static()
    fill_mode: str = static()
    interpolation: str = static()
    seed: int | None = static()
    fill_value: float = static()
    data_format: str = static()

    def __init__(
        self,
        height_factor,
        width_factor=None,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        data_format: str | None = None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        parse_range(self, "height_factor", height_factor, -1.0, 1.0, open_low=True)
        if width_factor is not None:
            parse_range(self, "width_factor", width_factor, -1.0, 1.0, open_low=True)
        self.height_factor = as_factor(height_factor)
        self.width_factor = None if width_factor is None else as_factor(width_factor)
        _check_interp_fill(self, interpolation, fill_mode)
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.seed = seed
        self.fill_value = float(fill_value)
        self.data_format = check_data_format(self, data_format)

    def get_random_transformation(self, x, *, key):
        """`{"height_zoom": (B, 1), "width_zoom": (B, 1), "transform": (B, 8)}`."""
        h_key, w_key = jax.random.split(self._key(key))
        shape = (batch_size(x), 1)
        lo, hi = parse_range(self, "height_factor", self.height_factor, -1.0, 1.0, open_low=True)
        height_zoom = jax.random.uniform(h_key, shape, minval=1.0 + lo, maxval=1.0 + hi)
        if self.width_factor is None:
            width_zoom = height_zoom
        else:
            lo, hi = parse_range(self, "width_factor", self.width_factor, -1.0, 1.0, open_low=True)
            width_zoom = jax.random.uniform(w_key, shape, minval=1.0 + lo, maxval=1.0 + hi)
        transform = zoom_matrix(height_zoom, width_zoom, x.shape[-3], x.shape[-2])
        return {"height_zoom": height_zoom, "width_zoom": width_zoom, "transform": transform}


def translation_matrix(translations):
    """Keras' shift as `(B, 8)` transforms, from `(B, 2)` pixel shifts `[dx, dy]`."""
    dx, dy = translations[:, 0], translations[:, 1]
    ones, zeros = jnp.ones_like(dx), jnp.zeros_like(dx)
    return jnp.stack([ones, zeros, -dx, zeros, ones, -dy, zeros, zeros], axis=1)


@_register
class RandomTranslation(_AffineLayer):
    """Randomly shifts images in training (Keras' `RandomTranslation`).

    **Arguments:**

    - `height_factor`: a fraction of the height, a number `f` (shifts in `[-f, f] * height`)
      or a pair `(lo, hi)` in `[-1, 1]`; positive values shift down.
    - `width_factor`: the same for the width; positive values shift right.
    - `fill_mode`, `interpolation`, `seed`, `fill_value`, `data_format`: as in
      `RandomRotation` (default `fill_mode="reflect"`, `interpolation="bilinear"`).

    **Input/Output shapes:** `(batch, height, width, channels)` or `(height, width, channels)`.

    ```python
    layer = fk.layers.RandomTranslation(0.1, 0.1)
    y = layer(images, training=True, key=jax.random.key(0))
    ```
    """

    height_factor: float | tuple = static()
    width_factor: float | tuple = static()
    fill_mode: str = static()
    interpolation: str = static()
    seed: int | None = static()
    fill_value: float = static()
    data_format: str = static()

    def __init__(
        self,
        height_factor,
        width_factor,
        fill_mode: str = "reflect",
        interpolation: str = "bilinear",
        seed: int | None = None,
        fill_value: float = 0.0,
        data_format: str | None = None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        parse_range(self, "height_factor", height_factor, -1.0, 1.0)
        parse_range(self, "width_factor", width_factor, -1.0, 1.0)
        self.height_factor = as_factor(height_factor)
        self.width_factor = as_factor(width_factor)
        _check_interp_fill(self, interpolation, fill_mode)
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.seed = seed
        self.fill_value = float(fill_value)
        self.data_format = check_data_format(self, data_format)

    def get_random_transformation(self, x, *, key):
        """`{"translations": (B, 2) pixel shifts [dx, dy], "transform": (B, 8)}`."""
        h_key, w_key = jax.random.split(self._key(key))
        shape = (batch_size(x), 1)
        h_lo, h_hi = parse_range(self, "height_factor", self.height_factor, -1.0, 1.0)
        w_lo, w_hi = parse_range(self, "width_factor", self.width_factor, -1.0, 1.0)
        dy = jax.random.uniform(h_key, shape, minval=h_lo, maxval=h_hi) * x.shape[-3]
        dx = jax.random.uniform(w_key, shape, minval=w_lo, maxval=w_hi) * x.shape[-2]
        translations = jnp.concatenate([dx, dy], axis=1)
        return {"translations": translations, "transform": translation_matrix(translations)}


def _value_range(layer, value_range, *, sort: bool):
    if (
        not isinstance(value_range, (tuple, list))
        or len(value_range) != 2
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value_range)
    ):
        raise ValueError(
            f"{describe(layer)} expects `value_range` to be a pair of numbers (low, high). "
            f"Received: value_range={value_range!r}"
        )
    values = tuple(float(v) for v in value_range)
    return tuple(sorted(values)) if sort else values


@_register
class RandomContrast(_RandomImageLayer):
    """Randomly changes the contrast of each image in training (Keras' `RandomContrast`):
    per image and channel, `clip((x - mean) * c + mean, *value_range)` where `mean` is the
    channel's mean over height and width and `c` is drawn once per image.

    **Arguments:**

    - `factor`: a number or pair in `[0, 1]`; `c` is drawn from `[1 - lower, 1 + upper]`.
      As in Keras 3, a single number `f` gives `(lower, upper) = (0, f)`, so `c` is in
      `[1, 1 + f]`; pass `(f, f)` for `[1 - f, 1 + f]`. Stored as the pair.
    - `value_range`: `(low, high)` of the images; outputs are clipped to it in training.
    - `seed`: folded into the key (Keras compatibility); randomness comes from `key=`.

    **Input/Output shapes:** `(batch, height, width, channels)` or `(height, width, channels)`.

    ```python
    layer = fk.layers.RandomContrast((0.2, 0.2), value_range=(0, 1))
    y = layer(images, training=True, key=jax.random.key(0))
    ```
    """

    factor: tuple = static()
    value_range: tuple = static()
    seed: int | None = static()

    def __init__(
        self,
        factor,
        value_range=(0, 255),
        seed: int | None = None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.factor = parse_range(self, "factor", factor, 0.0, 1.0)
        self.value_range = _value_range(self, value_range, sort=False)
        self.seed = seed

    def get_random_transformation(self, x, *, key):
        """`{"contrast_factor": (B, 1, 1, 1)}` (or `(1, 1, 1)` for one image)."""
        lower, upper = self.factor
        factor = jax.random.uniform(
            self._key(key), _per_image_shape(x), minval=1.0 - lower, maxval=1.0 + upper
        )
        return {"contrast_factor": factor}

    def transform_images(self, x, transformation):
        x = check_image(self, x, self.compute_dtype)
        mean = jnp.mean(x, axis=-3, keepdims=True)
        mean = jnp.mean(mean, axis=-2, keepdims=True)
        y = (x - mean) * transformation["contrast_factor"].astype(x.dtype) + mean
        return jnp.clip(y, self.value_range[0], self.value_range[1])


@_register
class RandomBrightness(_RandomImageLayer):
    """Randomly brightens or darkens each image in training (Keras' `RandomBrightness`):
    `clip(x + delta, *value_range)` with `delta = u * (high - low)` and `u` drawn once per
    image from `[lower, upper]`.

    **Arguments:**

    - `factor`: a number `f` in `[-1, 1]` (`u` in `[-f, f]`) or a pair `(lower, upper)`;
      `-1` makes images black, `1` white. Stored as the pair.
    - `value_range`: `(low, high)` of the images (sorted, as Keras does); outputs are clipped
      to it in training.
    - `seed`: folded into the key (Keras compatibility); randomness comes from `key=`.

    **Input/Output shapes:** `(batch, height, width, channels)` or `(height, width, channels)`.

    ```python
    layer = fk.layers.RandomBrightness(0.2, value_range=(0, 1))
    y = layer(images, training=True, key=jax.random.key(0))
    ```
    """

    factor: tuple = static()
    value_range: tuple = static()
    seed: int | None = static()

    def __init__(
        self,
        factor,
        value_range=(0, 255),
        seed: int | None = None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.factor = parse_range(self, "factor", factor, -1.0, 1.0)
        self.value_range = _value_range(self, value_range, sort=True)
        self.seed = seed

    def get_random_transformation(self, x, *, key):
        """`{"rgb_delta": (B, 1, 1, 1)}` (or `(1, 1, 1)`), already scaled to `value_range`."""
        lower, upper = self.factor
        u = jax.random.uniform(self._key(key), _per_image_shape(x), minval=lower, maxval=upper)
        return {"rgb_delta": u * (self.value_range[1] - self.value_range[0])}

    def transform_images(self, x, transformation):
        x = check_image(self, x, self.compute_dtype)
        y = x + transformation["rgb_delta"].astype(x.dtype)
        return jnp.clip(y, self.value_range[0], self.value_range[1])
