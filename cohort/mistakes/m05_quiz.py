"""Plausible wrong answers in the gate quiz."""
from . import Mistake

A = "05_quiz"


def hidden(n):
    return frozenset({f"test-q{n}-hidden"})


def both(n):
    return frozenset({f"test-q{n}-visible", f"test-q{n}-hidden"})


MISTAKES = [
    Mistake("quiz-q1-no-recurrent-weights", A, "q1",
            (('q1_answer = {"B", "E"}', 'q1_answer = {"B", "D", "E"}'),),
            hidden(1), "believes a GRU is lighter because its gates have no recurrent weights"),
    Mistake("quiz-q1-shared-weights", A, "q1",
            (('q1_answer = {"B", "E"}', 'q1_answer = {"E", "F"}'),),
            hidden(1), "thinks z and r share one weight matrix, and misses the cell state"),
    Mistake("quiz-q2-reset-keeps-state", A, "q2",
            (('q2_answer = {"A", "C", "F"}', 'q2_answer = {"C", "D"}'),),
            hidden(2), "confuses the reset gate with the update gate (what the state keeps)"),
    Mistake("quiz-q3-update-from-x-only", A, "q3",
            (('q3_answer = {"B", "D"}', 'q3_answer = {"B", "D", "E"}'),),
            hidden(3), "forgets that the update gate also reads the previous state"),
    Mistake("quiz-q4-z0-replaces", A, "q4",
            (('q4_answer = {"D", "E", "F"}', 'q4_answer = {"A", "B"}'),),
            hidden(4), "uses torch's convention (z keeps the old state) and thinks saturation speeds learning"),
    Mistake("quiz-q5-shortcut-open", A, "q5",
            (('q5_answer = {"B", "C", "D"}', 'q5_answer = {"B", "E"}'),),
            hidden(5), "believes the identity shortcut stays open when z = 1"),
    Mistake("quiz-q6-reset-cuts-h", A, "q6",
            (('q6_answer = {"C", "D", "E"}', 'q6_answer = {"B", "D"}'),),
            hidden(6), "thinks r = 0 makes the new state independent of the old one"),
    Mistake("quiz-q7-two-weight-sets", A, "q7",
            (('q7_answer = {"A", "B", "E"}', 'q7_answer = {"A", "D"}'),),
            hidden(7), "counts two weight sets for two gates, forgetting the candidate's"),
    Mistake("quiz-q8-course-count", A, "q8",
            (('q8_answer = {"C", "E"}', 'q8_answer = {"B"}'),),
            hidden(8), "gives the one-bias-per-gate count for torch's GRU"),
    Mistake("quiz-q9-reset-is-forget", A, "q9",
            (('q9_answer = {"A", "B", "E", "F"}', 'q9_answer = {"A", "D", "E"}'),),
            hidden(9), "maps the reset gate onto the LSTM's forget gate"),
    Mistake("quiz-q3-list", A, "q3",
            (('q3_answer = {"B", "D"}', 'q3_answer = ["B", "D"]'),),
            both(3), "writes the answer as a list instead of a set"),
    Mistake("quiz-q8-lowercase", A, "q8",
            (('q8_answer = {"C", "E"}', 'q8_answer = {"c", "e"}'),),
            both(8), "writes lowercase option letters"),
]
