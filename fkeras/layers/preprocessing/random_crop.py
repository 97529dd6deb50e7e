"""The `RandomCrop` layer: random `(height, width)` windows of images in training, the
centered window of the target aspect ratio resized in inference (Keras' `RandomCrop`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from ...core.errors import describe
from ...core.layer import Layer, static
from ...core.registry import register_serializable
from ._image import batch_size, check_data_format, check_image, check_positive_int
from .rescaling import crop_box, resize_images


@register_serializable(package="fkeras")
class RandomCrop(Layer):
    """Randomly crops images to `(height, width)` in training (Keras' `RandomCrop`).

    In training, when the images are larger than the target on both sides, each image gets
    its own window, its top-left corner drawn uniformly from `key=` (Keras draws one corner
    for the whole batch; fkeras' random layers draw per image). In training with images not
    larger on both sides, Keras 3's fallback is reproduced exactly: the `(height, width)`
    slice starting at the corner of the largest centered window of the target aspect ratio,
    resized (bilinear) when it is smaller than the target.

    In inference the largest centered window of the target aspect ratio is cropped and
    resized to `(height, width)` (`Resizing(height, width, crop_to_aspect_ratio=True)`),
    Keras' documented rule. **Differs from Keras 3.x:** its implementation returns inference
    inputs unchanged, so a model's output shape would depend on `training`; fkeras keeps it.

    `get_random_transformation(x, key=key)` returns the drawn corners
    (`{"top": (B,), "left": (B,)}`) and `transform_images(x, transformation)` crops with
    them, so one draw can be applied to an image and its mask.

    **Arguments:** `height`, `width`: the output size; `seed`: folded into the key (Keras
    compatibility; randomness comes from `key=`); `data_format`: only `"channels_last"`.

    **Input shape:** `(batch, H, W, channels)` or `(H, W, channels)`.
    **Output shape:** `(batch, height, width, channels)` (or unbatched).

    ```python
    layer = fk.layers.RandomCrop(24, 24)
    y = layer(images, training=True, key=jax.random.key(0))   # (B, 24, 24, C)
    ```
    """

    has_weights = False

    height: int = static()
    width: int = static()
    seed: int | None = static()
    data_format: str = static()

    def __init__(
        self,
        height: int,
        width: int,
        seed: int | None = None,
        data_format: str | None = None,
        *,
        name=None,
        trainable=True,
        dtype=None,
    ):
        super().__init__(name=name, trainable=trainable, dtype=dtype)
        self.height = check_positive_int(self, "height", height)
        self.width = check_positive_int(self, "width", width)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"{describe(self)} expects an integer `seed`. Received: seed={seed!r}")
        self.seed = seed
        self.data_format = check_data_format(self, data_format)

    def _crops_randomly(self, x) -> bool:
        return x.shape[-3] > self.height and x.shape[-2] > self.width

    def __call__(self, x: Array, *, training: bool = False, key: PRNGKeyArray | None = None):
        x = check_image(self, x, self.compute_dtype)
        if not training:
            return resize_images(x, self.height, self.width, crop_to_aspect_ratio=True)
        if not self._crops_randomly(x):
            # Keras 3's training fallback, reproduced exactly: a target-sized slice from the
            # corner of the aspect-ratio window, resized when the image is too small for it.
            top, left, _, _ = crop_box(x.shape[-3], x.shape[-2], self.height, self.width)
            x = x[..., top : top + self.height, left : left + self.width, :]
            if x.shape[-3:-1] == (self.height, self.width):
                return x
            return resize_images(x, self.height, self.width)
        if key is None:
            raise ValueError(
                f"{describe(self)} needs a PRNG key in training mode. Call the model as "
                "`model(x, training=True, key=jax.random.key(step))` (the trainer does this for "
                "you). Received: key=None"
            )
        return self.transform_images(x, self.get_random_transformation(x, key=key))

    def get_random_transformation(self, x, *, key):
        """`{"top": int32 (B,), "left": int32 (B,)}`: each image's window corner."""
        if self.seed is not None:
            key = jax.random.fold_in(key, self.seed)
        top_key, left_key = jax.random.split(key)
        n = batch_size(x)
        top = jax.random.randint(top_key, (n,), 0, x.shape[-3] - self.height + 1)
        left = jax.random.randint(left_key, (n,), 0, x.shape[-2] - self.width + 1)
        return {"top": top.astype(jnp.int32), "left": left.astype(jnp.int32)}

    def transform_images(self, x, transformation):
        """Crop each image's `(height, width)` window at the given corners."""
        x = check_image(self, x, self.compute_dtype)
        top, left = transformation["top"], transformation["left"]
        if x.shape[-3] < self.height or x.shape[-2] < self.width:
            raise ValueError(
                f"{describe(self)}: images smaller than the crop "
                f"({self.height}, {self.width}) cannot be cropped. "
                f"Received: x.shape={tuple(x.shape)}"
            )
        size = (self.height, self.width, x.shape[-1])

        def crop(image, top_i, left_i):
            return jax.lax.dynamic_slice(image, (top_i, left_i, 0), size)

        if x.ndim == 3:
            return crop(x, top.reshape(-1)[0], left.reshape(-1)[0])
        top = jnp.broadcast_to(top, (x.shape[0],))
        left = jnp.broadcast_to(left, (x.shape[0],))
        return jax.vmap(crop)(x, top, left)
