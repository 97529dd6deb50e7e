"""The benchmark cases: data (scikit-learn's digits, tiled) and the two model shapes.

Every framework trains the same architecture on the same rows with the same number of steps
per epoch: an MLP 64-256-256-10 on the flattened 8x8 images, and a small CNN on the 8x8x1
images (Conv2D 3x3 32 relu, MaxPooling 2, Conv2D 3x3 64 relu, Flatten, Dense 10; "valid"
padding, so the second convolution ends at 1x1x64).
"""

from __future__ import annotations

import dataclasses

import numpy as np

MODELS = ("mlp", "cnn")
INPUT_SHAPES = {"mlp": (64,), "cnn": (8, 8, 1)}
HIDDEN = 256  # MLP hidden width
FILTERS = (32, 64)  # CNN filters
CLASSES = 10
LEARNING_RATE = 1e-3
EPSILON = 1e-7  # Keras' Adam epsilon, used by every framework
EVAL_ROWS = 512  # rows on which the learning check computes the loss


@dataclasses.dataclass(frozen=True)
class Case:
    """One benchmark case: a model shape, a batch size and its training arrays.

    **Arguments:**

    - `model`: `"mlp"` or `"cnn"`.
    - `batch_size`: rows per optimizer step.
    - `x`, `y`: float32 inputs in the model's shape and int32 labels, `steps * batch_size`
      rows, so no framework sees a partial batch.

    Example: `Case("mlp", 32, *case_arrays("mlp", *digits(1024), 32))`.
    """

    model: str
    batch_size: int
    x: np.ndarray
    y: np.ndarray

    @property
    def steps(self) -> int:
        """Optimizer steps per epoch."""
        return len(self.x) // self.batch_size

    @property
    def samples(self) -> int:
        """Samples per epoch."""
        return self.steps * self.batch_size

    @property
    def label(self) -> str:
        return f"{self.model} batch {self.batch_size}"


def digits(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits, scaled to [0, 1], tiled (in order) to `rows` rows.

    **Returns:** `x` of shape `(rows, 64)` float32 and `y` of shape `(rows,)` int32.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    y = data.target.astype("int32")
    reps = -(-rows // len(x))
    return np.tile(x, (reps, 1))[:rows], np.tile(y, reps)[:rows]


def case_arrays(model: str, x: np.ndarray, y: np.ndarray, batch_size: int):
    """The rows of `x, y` a case trains on, reshaped for `model`: whole batches only.

    **Returns:** `(x, y)`, `x` of shape `(steps * batch_size, *INPUT_SHAPES[model])`.
    """
    if model not in INPUT_SHAPES:
        raise ValueError(
            f"case_arrays: unknown model. Expected one of {MODELS}. Received: {model=}"
        )
    n = (len(x) // batch_size) * batch_size
    if n == 0:
        raise ValueError(
            f"case_arrays needs at least one whole batch. Received: rows={len(x)}, {batch_size=}"
        )
    return np.ascontiguousarray(x[:n].reshape(n, *INPUT_SHAPES[model])), y[:n]


def cross_entropy(logits, labels) -> float:
    """Mean softmax cross-entropy of integer labels, in float64 NumPy (the learning check)."""
    z = np.asarray(logits, dtype="float64")
    z = z - z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), np.asarray(labels)].mean())
