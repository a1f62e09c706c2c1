"""Plausible mistakes in the gates notebook.

Each names the cause its failing visible tests give (``visible``, from ``gates_hints.py``)
and the diagnosis its hidden tests give (``diagnosis``).
"""
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
            diagnosis="sigmoid-overflow", visible="sigmoid takes np.exp of a large positive number"),
    Mistake("gates-update-missing-bias", A, "update_gate",
            ((' + params["b_z"]', ""),),
            frozenset(UPDATE | CELL), "the update gate forgets its bias b_z",
            diagnosis="missing-bias", visible="the update gate (update_gate) leaves out its bias"),
    Mistake("gates-candidate-missing-bias", A, "candidate_state",
            ((' + params["b_h"]', ""),),
            frozenset(CANDIDATE | CELL), "the candidate forgets its bias b_h",
            diagnosis="missing-bias", visible="candidate_state leaves out its bias"),
    Mistake("gates-update-wrong-weights", A, "update_gate",
            (('params["W_Fz"]', 'params["W_Fr"]'),),
            frozenset(UPDATE | CELL), "the update gate uses the reset gate's W_Fr (copy-paste)",
            diagnosis="wrong-weights",
            visible="the update gate (update_gate) uses params['W_Fr'] where it needs params['W_Fz']"),
    Mistake("gates-reset-update-weights", A, "reset_gate",
            (('params["W_Fr"]', 'params["W_Fz"]'), ('params["W_Rr"]', 'params["W_Rz"]'),
             ('params["b_r"]', 'params["b_z"]')),
            frozenset(RESET | CELL),
            "reset_gate is update_gate's line copied without renaming the weights: r equals z",
            diagnosis="wrong-weights", visible="the reset gate (reset_gate) computes the update gate"),
    Mistake("gates-reset-transposed", A, "reset_gate",
            (('h_prev @ params["W_Rr"]', 'h_prev @ params["W_Rr"].T'),),
            frozenset(RESET | CELL), "the recurrent weight W_Rr is transposed",
            diagnosis="transposed-recurrent-weight",
            visible="the reset gate (reset_gate) multiplies h_prev by the transpose of W_Rr"),
    Mistake("gates-reset-after-matmul", A, "candidate_state",
            (('(r * h_prev) @ params["W_Rh"]', 'r * (h_prev @ params["W_Rh"])'),),
            frozenset(CANDIDATE | CELL), "the reset gate is applied after the matmul (torch's form)",
            diagnosis="reset-after-matmul", visible="the reset gate is applied after the matmul"),
    Mistake("gates-reset-on-x", A, "candidate_state",
            (('x @ params["W_Fh"] + (r * h_prev) @ params["W_Rh"]',
              '(r * x) @ params["W_Fh"] + h_prev @ params["W_Rh"]'),),
            frozenset(CANDIDATE | CELL), "the reset gate multiplies the input x instead of h_prev",
            diagnosis="reset-on-input", visible="the reset gate multiplies the input"),
    Mistake("gates-candidate-sigmoid", A, "candidate_state",
            (("return np.tanh(", "return sigmoid("),),
            frozenset(CANDIDATE | CELL), "the candidate uses a sigmoid instead of tanh",
            diagnosis="candidate-sigmoid", visible="the candidate uses sigmoid where it needs np.tanh"),
    Mistake("gates-update-flipped", A, "gru_cell_forward",
            (("h_next = (1 - z) * h_prev + z * h_tilde", "h_next = z * h_prev + (1 - z) * h_tilde"),),
            frozenset(CELL), "z and 1 - z swapped: z keeps the old state (torch's convention)",
            diagnosis="update-flipped", visible="z and 1 - z are swapped"),
]
