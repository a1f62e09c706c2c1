"""Plausible mistakes in the gates notebook."""
from . import Mistake

A = "01_gates"
SIGMOID = {"test-sigmoid-visible", "test-sigmoid-hidden"}
UPDATE = {"test-update-visible", "test-update-hidden"}
RESET = {"test-reset-visible", "test-reset-hidden"}
CANDIDATE = {"test-candidate-visible", "test-candidate-hidden"}
CELL = {"test-cell-visible", "test-cell-hidden"}

MISTAKES = [
    Mistake("gates-naive-sigmoid", A, "sigmoid",
            (("    a = np.asarray(a, dtype=float)\n    e = np.exp(-np.abs(a))\n"
              "    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
              "    return 1.0 / (1.0 + np.exp(-a))"),),
            frozenset(SIGMOID), "the textbook sigmoid overflows (exp of a large -a) and warns",
            diagnosis="sigmoid-overflow"),
    Mistake("gates-update-missing-bias", A, "update_gate",
            ((' + params["b_z"]', ""),),
            frozenset(UPDATE | CELL), "the update gate forgets its bias b_z",
            diagnosis="missing-bias"),
    Mistake("gates-update-wrong-weights", A, "update_gate",
            (('params["W_Fz"]', 'params["W_Fr"]'),),
            frozenset(UPDATE | CELL), "the update gate uses the reset gate's W_Fr (copy-paste)",
            diagnosis="wrong-weights"),
    Mistake("gates-reset-transposed", A, "reset_gate",
            (('h_prev @ params["W_Rr"]', 'h_prev @ params["W_Rr"].T'),),
            frozenset(RESET | CELL), "the recurrent weight W_Rr is transposed",
            diagnosis="transposed-recurrent-weight"),
    Mistake("gates-reset-after-matmul", A, "candidate_state",
            (('(r * h_prev) @ params["W_Rh"]', 'r * (h_prev @ params["W_Rh"])'),),
            frozenset(CANDIDATE | CELL), "the reset gate is applied after the matmul (torch's form)",
            diagnosis="reset-after-matmul"),
    Mistake("gates-reset-on-x", A, "candidate_state",
            (('x @ params["W_Fh"] + (r * h_prev) @ params["W_Rh"]',
              '(r * x) @ params["W_Fh"] + h_prev @ params["W_Rh"]'),),
            frozenset(CANDIDATE | CELL), "the reset gate multiplies the input x instead of h_prev",
            diagnosis="reset-on-input"),
    Mistake("gates-candidate-sigmoid", A, "candidate_state",
            (("return np.tanh(", "return sigmoid("),),
            frozenset(CANDIDATE | CELL), "the candidate uses a sigmoid instead of tanh",
            diagnosis="candidate-sigmoid"),
    Mistake("gates-update-flipped", A, "gru_cell_forward",
            (("h_next = (1 - z) * h_prev + z * h_tilde", "h_next = z * h_prev + (1 - z) * h_tilde"),),
            frozenset(CELL), "z and 1 - z swapped: z keeps the old state (torch's convention)",
            diagnosis="update-flipped"),
]
