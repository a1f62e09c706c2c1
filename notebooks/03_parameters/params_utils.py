"""Helpers for the visible tests of the parameter-counting notebook.

``EXPECTED`` holds the counts of two tiny layers (D=3 inputs and H=2 hidden units, and the
other way round), computed with the course's reference implementation. You can check them
by hand: one gate has a feed-forward weight (D, H), a recurrent weight (H, H) and a bias (H,).
"""
import numpy as np

GATES = {"rnn": 1, "gru": 3, "lstm": 4}

# (model, input_size, hidden_size, bias): parameter count, one bias vector per gate
EXPECTED = {
    ("rnn", 3, 2, True): 12,     # 3*2 + 2*2 + 2
    ("rnn", 3, 2, False): 10,
    ("rnn", 2, 3, True): 18,     # 2*3 + 3*3 + 3
    ("rnn", 2, 3, False): 15,
    ("gru", 3, 2, True): 36,
    ("gru", 3, 2, False): 30,
    ("gru", 2, 3, True): 54,
    ("gru", 2, 3, False): 45,
    ("lstm", 3, 2, True): 48,
    ("lstm", 3, 2, False): 40,
    ("lstm", 2, 3, True): 72,
    ("lstm", 2, 3, False): 60,
}


def torch_count(module):
    """Number of parameters of a torch module, as a Python int."""
    return int(sum(p.numel() for p in module.parameters()))


def _type_name(value):
    if type(value).__name__ == "Opaque" and hasattr(value, "type_name"):
        return value.type_name          # a value the grader could not bring back as data
    t = type(value)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def check_int(call, got):
    """A parameter count must be an integer: a Python int or a numpy integer (not a bool)."""
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer)):
        name = _type_name(got)
        if isinstance(got, (float, np.floating)):
            fix = ("Counts are whole numbers: build them with + and * only (or // if you "
                   "divide), not / or float arithmetic.")
        elif "torch" in name.lower():
            fix = "Return a plain number: int(...) turns a one-element tensor into a Python int."
        elif isinstance(got, np.ndarray):
            fix = "Return a single number, not an array: int(...) converts a one-element array."
        else:
            fix = "Return a Python int (or a numpy integer)."
        if isinstance(got, (bool, int, float, np.generic, np.ndarray)):
            what = f"{got!r} (of type {name})"
        else:
            what = f"a {name}"
        raise AssertionError(f"{call} returned {what}; a parameter count must be an integer. "
                             f"{fix}")


def _hint(model, D, H, bias, got, expected):
    """Likely causes of a wrong count (several when the sizes make them look alike)."""
    gates = GATES[model]
    diff = got - expected
    per_gate = expected // gates
    causes = []
    if bias and diff == gates * H:
        causes.append("that is torch's count: torch keeps two bias vectors per gate, "
                      "the course counts one per gate")
    if bias and diff == -gates * H:
        causes.append(f"the biases are missing (one vector of size {H} per gate)")
    if not bias and diff == gates * H:
        causes.append("with bias=False there are no bias vectors at all")
    if bias and diff % H == 0 and 0 < abs(diff) < gates * H:
        causes.append(f"you are off by {diff // H} x hidden_size: count one bias vector per gate")
    if diff != 0 and diff == gates * H * (H - D):
        causes.append("W_F has shape (input_size, hidden_size), not (hidden_size, hidden_size)")
    if diff == -gates * H * H:
        causes.append("the recurrent weights W_R (hidden_size x hidden_size per gate) are missing")
    if per_gate and diff % per_gate == 0 and got > 0:
        causes.append(f"that is {got // per_gate} weight sets; a {model.upper()} has {gates} "
                      "(W_F, W_R and b for each gate)")
    if not causes:
        return ""
    return "Possible cause: " + "; or ".join(causes) + "."


def check_model_count(model, D, H, bias, got, expected=None, verbose=True):
    """Integer type, then the value (from EXPECTED unless given), with a hint when off."""
    call = f"{model}_param_count({D}, {H}, bias={bias})"
    check_int(call, got)
    if expected is None:
        expected = EXPECTED[(model, D, H, bias)]
    if got != expected:
        hint = _hint(model, D, H, bias, int(got), int(expected))
        raise AssertionError(f"{call} returned {got}, expected {expected}. {hint}".rstrip())
    if verbose:
        print(f"{call} = {got}: OK")


def check_against_torch(model, D, H, bias, got, module):
    """Your count against torch's: equal without bias, smaller by gates * H with bias."""
    call = f"{model}_param_count({D}, {H}, bias={bias})"
    check_int(call, got)
    gates = GATES[model]
    n_torch = torch_count(module)
    extra = gates * H if bias else 0
    if got + extra != n_torch:
        why = (f"torch keeps two bias vectors per gate, so it should have exactly "
               f"{gates} x {H} = {extra} more than your count" if bias else
               "without biases the two counts should be equal")
        raise AssertionError(f"{call} returned {got}, but {type(module).__name__}({D}, {H}, "
                             f"bias={bias}) has {n_torch} parameters: {why}.")
    print(f"{call} = {got}: OK (torch: {n_torch})")
