"""Plausible mistakes in the parameter-counting notebook.

The three solutions are written out independently (none calls another), so a mistake in
one count fails only that function's tests.
"""
from . import Mistake

A = "03_parameters"
RNN = frozenset({"test-rnn-visible", "test-rnn-hidden"})
GRU = frozenset({"test-gru-visible", "test-gru-hidden"})
LSTM = frozenset({"test-lstm-visible", "test-lstm-hidden"})

MISTAKES = [
    Mistake("parameters-gru-four-sets", A, "gru_param_count",
            (("n_sets = 3 ", "n_sets = 4 "),),
            GRU, "the GRU is counted with four weight sets, like an LSTM",
            diagnosis="counted-as-lstm"),
    Mistake("parameters-gru-gates-only", A, "gru_param_count",
            (("n_sets = 3 ", "n_sets = 2 "),),
            GRU, "only the two gates z and r are counted, not the candidate's weights",
            diagnosis="gates-only"),
    Mistake("parameters-gru-bias-once", A, "gru_param_count",
            (("return n_sets * (W_F + W_R + b)", "return n_sets * (W_F + W_R) + b"),),
            GRU, "one bias vector for the whole layer instead of one per gate",
            diagnosis="bias-once"),
    Mistake("parameters-gru-torch-biases", A, "gru_param_count",
            (("b = hidden_size if bias else 0", "b = 2 * hidden_size if bias else 0"),),
            GRU, "two bias vectors per gate (b_ih and b_hh, torch's count)",
            diagnosis="torch-two-biases"),
    Mistake("parameters-rnn-no-recurrent", A, "rnn_param_count",
            (("return W_F + W_R + b", "return W_F + b"),),
            RNN, "the recurrent weight W_R is forgotten: D*H + H only",
            diagnosis="no-recurrent-weights"),
    Mistake("parameters-rnn-bias-ignored", A, "rnn_param_count",
            (("b = hidden_size if bias else 0", "b = hidden_size"),),
            RNN, "the bias flag is ignored: the bias is always counted",
            diagnosis="bias-flag-ignored"),
    Mistake("parameters-lstm-square-input", A, "lstm_param_count",
            (("W_F = input_size * hidden_size", "W_F = hidden_size * hidden_size"),),
            LSTM, "W_F counted as H x H, ignoring the input size",
            diagnosis="input-weight-square"),
    Mistake("parameters-lstm-no-bias", A, "lstm_param_count",
            (("b = hidden_size if bias else 0", "b = 0"),),
            LSTM, "the biases are forgotten even with bias=True",
            diagnosis="no-bias"),
    Mistake("parameters-lstm-float", A, "lstm_param_count",
            (("return n_sets * (W_F + W_R + b)",
              "return gru_param_count(input_size, hidden_size, bias) * 4 / 3"),),
            LSTM, "the LSTM count is 4/3 of the GRU's, computed with / so it is a float"),
]
