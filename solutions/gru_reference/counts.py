"""Parameter counts, with one bias vector per gate (the course's and Keras' default).

``torch.nn.RNN/GRU/LSTM`` keep two bias vectors per gate (``b_ih`` and ``b_hh``), so
their ``sum(p.numel())`` is larger by ``gates * hidden_size`` when ``bias=True``.
"""


def _count(gates, input_size, hidden_size, bias):
    per_gate = input_size * hidden_size + hidden_size * hidden_size
    if bias:
        per_gate += hidden_size
    return int(gates * per_gate)


def rnn_param_count(input_size, hidden_size, bias=True):
    return _count(1, input_size, hidden_size, bias)


def gru_param_count(input_size, hidden_size, bias=True):
    return _count(3, input_size, hidden_size, bias)


def lstm_param_count(input_size, hidden_size, bias=True):
    return _count(4, input_size, hidden_size, bias)
