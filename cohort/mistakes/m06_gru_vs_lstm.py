"""Plausible wrong answers in the GRU vs LSTM notebook (its graded parts are quiz questions)."""
from . import Mistake

A = "06_gru_vs_lstm"


def hidden(n):
    return frozenset({f"test-q{n}-hidden"})


def both(n):
    return frozenset({f"test-q{n}-visible", f"test-q{n}-hidden"})


MISTAKES = [
    Mistake("gru-vs-lstm-q1-gru-cell-state", A, "q1",
            (('q1_answer = {"A", "C", "E"}', 'q1_answer = {"A", "B", "C"}'),),
            hidden(1), "believes torch's GRU hides a cell state"),
    Mistake("gru-vs-lstm-q2-reset-is-forget", A, "q2",
            (('q2_answer = {"B", "C", "D", "F"}', 'q2_answer = {"A", "B", "D"}'),),
            hidden(2), "takes the reset gate for the GRU's forget gate"),
    Mistake("gru-vs-lstm-q3-two-thirds", A, "q3",
            (('q3_answer = {"B", "D", "E"}', 'q3_answer = {"B", "C"}'),),
            hidden(3), "counts gates instead of weight sets: ratio 2/3"),
    Mistake("gru-vs-lstm-q4-four-thirds-units", A, "q4",
            (('q4_answer = {"A", "E"}', 'q4_answer = {"A", "D"}'),),
            hidden(4), "scales the hidden size by 4/3 instead of sqrt(4/3)"),
    Mistake("gru-vs-lstm-q5-fewer-params-faster", A, "q5",
            (('q5_answer = {"A", "D", "F"}', 'q5_answer = {"A", "B", "F"}'),),
            hidden(5), "assumes fewer parameters always means faster, so skips measuring"),
    Mistake("gru-vs-lstm-q6-lstm-always", A, "q6",
            (('q6_answer = {"A", "B", "C"}', 'q6_answer = {"A", "D"}'),),
            hidden(6), "believes the LSTM is always more accurate"),
    Mistake("gru-vs-lstm-q3-string", A, "q3",
            (('q3_answer = {"B", "D", "E"}', 'q3_answer = "BDE"'),),
            both(3), "writes the answer as one string instead of a set of letters"),
]
