"""Recurrent layers (SimpleRNN, LSTM, GRU) and their wrappers (Bidirectional,
TimeDistributed), with Keras 3's semantics, weight layouts and masking."""

from .bidirectional import Bidirectional
from .gru import GRU
from .lstm import LSTM
from .simple_rnn import SimpleRNN
from .time_distributed import TimeDistributed

__all__ = ["GRU", "LSTM", "Bidirectional", "SimpleRNN", "TimeDistributed"]
