"""Side-by-side benchmarks: fkeras against a hand-written JAX limit, Keras 3, Equinox, Flax.

Run the suite with `python -m benchmarks.suite` (see `benchmarks/RESULTS.md`).
"""
