"""The library-wide default seed: explicit keys win, then `set_random_seed`, then 0."""

from __future__ import annotations

import jax

_global_seed: int | None = None


def set_random_seed(seed: int) -> None:
    """Set the seed that models built without `seed=`/`key=` use (as `keras.utils.set_random_seed`).

    Unlike Keras this touches no hidden global generator: it only chooses the key that
    construction derives when none is given. Python's and NumPy's generators are seeded too, so
    data shuffling written with them is reproducible as well.
    """
    import random

    import numpy as np

    global _global_seed
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"set_random_seed expects an int. Received: seed={seed!r}")
    _global_seed = seed
    random.seed(seed)
    np.random.seed(seed % 2**32)


def default_seed() -> int:
    return 0 if _global_seed is None else _global_seed


def resolve_key(key=None, seed: int | None = None) -> jax.Array:
    """A PRNG key from `key=`, else `seed=`, else the global seed, else 0."""
    if key is not None:
        if isinstance(key, int):
            return jax.random.key(key)
        return key
    return jax.random.key(default_seed() if seed is None else seed)


def split_for(key, index: int):
    """The key for child `index` of a container, or None when no key was given."""
    return None if key is None else jax.random.fold_in(key, index)
