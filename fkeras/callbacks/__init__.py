"""Keras callbacks: hooks into `fit`, `evaluate` and `predict`."""

from .base import Callback, CallbackList
from .history import History
from .progbar import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]
