"""Recurrent layers (SimpleRNN, LSTM, GRU, ConvLSTM1D/2D/3D), their cells (SimpleRNNCell,
LSTMCell, GRUCell, StackedRNNCells) run by the generic RNN, and the wrappers Bidirectional and
TimeDistributed, with Keras 3's semantics, weight layouts and masking."""

from .bidirectional import Bidirectional
from .cells import GRUCell, LSTMCell, SimpleRNNCell
from .conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from .gru import GRU
from .lstm import LSTM
from .rnn import RNN
from .simple_rnn import SimpleRNN
from .stacked_cells import StackedRNNCells
from .time_distributed import TimeDistributed

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
    "GRUCell",
    "LSTMCell",
    "SimpleRNN",
    "SimpleRNNCell",
    "StackedRNNCells",
    "TimeDistributed",
]
