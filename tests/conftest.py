import os

# Keras (a test-only reference) must use the JAX backend; set before anything imports it.
os.environ.setdefault("KERAS_BACKEND", "jax")

import itertools  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

# Eight simulated CPU devices in every test process (as Equinox's tests do), so sharding is
# tested on every run; computations without a sharding still run on the first device.
jax.config.update("jax_num_cpu_devices", 8)


@pytest.fixture
def getkey():
    """A fresh, deterministic PRNG key per call (as in Equinox's tests)."""
    counter = itertools.count()
    return lambda: jax.random.key(next(counter))
