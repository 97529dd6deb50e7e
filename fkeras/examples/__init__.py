"""Runnable examples: `python -m fkeras.examples.digits`."""
