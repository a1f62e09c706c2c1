"""Reference GRU for the course: the single source of truth every check compares against.

Numpy only at its core (``cell``, ``sequence``, ``counts``); ``torch_bridge`` and
``jacobians`` import torch lazily because they exist to talk to PyTorch.
Notation and shapes follow ``docs/notation.md``.
"""
from .cell import (
    PARAM_KEYS,
    sigmoid,
    update_gate,
    reset_gate,
    candidate_state,
    gru_cell_forward,
    gru_cell_backward,
    init_params,
)
from .sequence import gru_forward, gru_backward
from .counts import rnn_param_count, gru_param_count, lstm_param_count

__all__ = [
    "PARAM_KEYS", "sigmoid", "update_gate", "reset_gate", "candidate_state",
    "gru_cell_forward", "gru_cell_backward", "init_params", "gru_forward", "gru_backward",
    "rnn_param_count", "gru_param_count", "lstm_param_count",
]
