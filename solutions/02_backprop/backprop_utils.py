"""Helpers for the visible tests of the GRU backpropagation notebook.

* ``rel_error`` and ``eval_numerical_gradient_array`` are the gradient-checking tools of
  Stanford's CS231n: a centred finite difference, and the largest relative difference
  between two arrays.
* ``cell_forward`` / ``sequence_forward`` are plain numpy copies of the course's forward
  pass (the same equations as the ``gru_cell_forward`` the notebook gives you); the
  finite differences are taken through them.
* ``torch_cell_grads`` / ``torch_sequence_grads`` write the same equations in torch ops
  and let autograd compute every gradient, as a second, independent opinion;
  ``torch_backward_norms`` gives the norms of the gradient reaching each earlier state (the
  circles of the notebook's last plot).
* ``fixed_sequence_case`` is a tiny example whose expected hidden states were computed
  with the course's reference GRU.
"""
import numpy as np

from gru_example import fixed_params

PARAM_KEYS = ("W_Fz", "W_Rz", "b_z", "W_Fr", "W_Rr", "b_r", "W_Fh", "W_Rh", "b_h")

# The order in which the backward pass computes the parameter gradients: when several are
# wrong, the first one in this order is usually where the mistake is.
BACKWARD_ORDER = ("W_Fh", "W_Rh", "b_h", "W_Fr", "W_Rr", "b_r", "W_Fz", "W_Rz", "b_z")

_CELL_FIRST = " (If part 1a fails too, fix that first: the same local gradients feed dx and dh_prev.)"
# What usually goes wrong when one gradient of gru_cell_backward disagrees.
HINTS = {
    "dx": "x enters all three pre-activations: add da_z W_Fz^T, da_r W_Fr^T and da_h W_Fh^T." + _CELL_FIRST,
    "dh_prev": ("h_prev reaches h_next by three routes: directly through (1 - z), through the "
                "reset product (r * h_prev) W_Rh, and through the gates' h_prev W_Rz and "
                "h_prev W_Rr. Add them all." + _CELL_FIRST),
    "W_Fh": "check tanh' = 1 - h_tilde**2 (the OUTPUT of tanh, which the cache holds).",
    "W_Rh": "the candidate's recurrent input is r * h_prev, so dW_Rh = (r * h_prev)^T da_h.",
    "b_h": "check tanh' = 1 - h_tilde**2 and sum over the batch axis (axis=0).",
    "W_Fr": "check dr = (da_h W_Rh^T) * h_prev and sigmoid' = r * (1 - r).",
    "W_Rr": "check dr = (da_h W_Rh^T) * h_prev and sigmoid' = r * (1 - r).",
    "b_r": "check dr = (da_h W_Rh^T) * h_prev and sigmoid' = r * (1 - r).",
    "W_Fz": "check dz = dh_next * (h_tilde - h_prev) (mind the sign) and sigmoid' = z * (1 - z).",
    "W_Rz": "check dz = dh_next * (h_tilde - h_prev) (mind the sign) and sigmoid' = z * (1 - z).",
    "b_z": "check dz = dh_next * (h_tilde - h_prev) (mind the sign) and sigmoid' = z * (1 - z).",
}

_SEQ = "If parts 1a or 1b fail, fix gru_cell_backward first. Otherwise look at gru_backward: "
# ... and when a gradient of gru_backward disagrees.
SEQUENCE_HINTS = {
    "dx": _SEQ + ("walk backwards from t = T - 1; step t must get dh_all[:, t] plus the dh_prev "
                  "returned by step t + 1 (zero at the last step), and its dx goes to dx[:, t]."),
    "dh0": _SEQ + "dh0 is the dh_prev returned by step 0, at the end of the backward loop.",
    **{k: _SEQ + ("every parameter is used at all T steps, so its gradient is the sum (+=) of "
                  "the per-step gradients, not the last one.") for k in PARAM_KEYS},
}


# --------------------------------------------------------------------------- CS231n tools
def rel_error(x, y):
    """Largest relative error between two arrays (CS231n): 0 when they are equal."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numeric gradient of ``sum(f(x) * df)`` with respect to the array ``x`` (CS231n).

    Each entry of ``x`` is nudged by +h and -h in place (and put back); the centred
    difference of the outputs, weighted by the upstream gradient ``df``, is that entry's
    gradient.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = f(x).copy()
        x[ix] = old - h
        neg = f(x).copy()
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


# --------------------------------------------------------------------- the course forward
def _sigmoid(a):
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def cell_forward(x, h_prev, params):
    """One GRU step, course equations ("reset before"); returns ``h_next`` only."""
    p = params
    z = _sigmoid(x @ p["W_Fz"] + h_prev @ p["W_Rz"] + p["b_z"])
    r = _sigmoid(x @ p["W_Fr"] + h_prev @ p["W_Rr"] + p["b_r"])
    h_tilde = np.tanh(x @ p["W_Fh"] + (r * h_prev) @ p["W_Rh"] + p["b_h"])
    return (1 - z) * h_prev + z * h_tilde


def sequence_forward(x, h0, params):
    """The cell over a sequence ``x`` of shape (N, T, D); returns ``h_all`` (N, T, H)."""
    h, states = h0, []
    for t in range(x.shape[1]):
        h = cell_forward(x[:, t], h, params)
        states.append(h)
    return np.stack(states, axis=1)


def random_params(D, H, rng, scale=0.6):
    shapes = {"W_F": (D, H), "W_R": (H, H), "b_": (H,)}
    return {k: rng.uniform(-scale, scale, shapes[k[:3] if k.startswith("W") else "b_"])
            for k in PARAM_KEYS}


def grad_case(N=3, D=4, H=5, T=None, seed=0):
    """A fixed random case: ``(x, h0, params, dh)``; ``dh`` is the upstream gradient."""
    rng = np.random.default_rng(seed)
    params = random_params(D, H, rng)
    x = rng.standard_normal((N, T, D) if T else (N, D))
    h0 = rng.uniform(-1, 1, (N, H))
    dh = rng.standard_normal((N, T, H) if T else (N, H))
    return x, h0, params, dh


# ------------------------------------------------------------------ numeric gradients
def numeric_cell_grads(x, h_prev, params, dh_next):
    """Finite-difference gradients of ``sum(h_next * dh_next)``: dx, dh_prev and the 9 keys."""
    x, h_prev = np.array(x, dtype=float), np.array(h_prev, dtype=float)
    params = {k: np.array(v, dtype=float) for k, v in params.items()}
    out = {"dx": eval_numerical_gradient_array(lambda v: cell_forward(v, h_prev, params), x, dh_next),
           "dh_prev": eval_numerical_gradient_array(lambda v: cell_forward(x, v, params), h_prev, dh_next)}
    for k in PARAM_KEYS:
        out[k] = eval_numerical_gradient_array(lambda v: cell_forward(x, h_prev, params), params[k], dh_next)
    return out


def numeric_sequence_grads(x, h0, params, dh_all):
    """Finite-difference gradients of ``sum(h_all * dh_all)``: dx, dh0 and the 9 keys."""
    x, h0 = np.array(x, dtype=float), np.array(h0, dtype=float)
    params = {k: np.array(v, dtype=float) for k, v in params.items()}
    out = {"dx": eval_numerical_gradient_array(lambda v: sequence_forward(v, h0, params), x, dh_all),
           "dh0": eval_numerical_gradient_array(lambda v: sequence_forward(x, v, params), h0, dh_all)}
    for k in PARAM_KEYS:
        out[k] = eval_numerical_gradient_array(lambda v: sequence_forward(x, h0, params), params[k], dh_all)
    return out


# ---------------------------------------------------------------------- torch autograd
def _torch_cell(torch, x, h, P):
    z = torch.sigmoid(x @ P["W_Fz"] + h @ P["W_Rz"] + P["b_z"])
    r = torch.sigmoid(x @ P["W_Fr"] + h @ P["W_Rr"] + P["b_r"])
    h_tilde = torch.tanh(x @ P["W_Fh"] + (r * h) @ P["W_Rh"] + P["b_h"])
    return (1 - z) * h + z * h_tilde


def _leaves(torch, arrays):
    return {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True)
            for k, v in arrays.items()}


def torch_cell_grads(x, h_prev, params, dh_next):
    """Gradients of one step by torch autograd (float64): dx, dh_prev and the 9 keys."""
    import torch

    L = _leaves(torch, {"x": x, "h": h_prev, **params})
    h_next = _torch_cell(torch, L["x"], L["h"], L)
    h_next.backward(torch.tensor(np.asarray(dh_next, dtype=np.float64)))
    out = {"dx": L["x"].grad.numpy(), "dh_prev": L["h"].grad.numpy()}
    out.update({k: L[k].grad.numpy() for k in PARAM_KEYS})
    return out


def torch_sequence_grads(x, h0, params, dh_all):
    """Backpropagation through time by torch autograd: dx, dh0 and the 9 keys."""
    import torch

    L = _leaves(torch, {"x": x, "h": h0, **params})
    h, states = L["h"], []
    for t in range(L["x"].shape[1]):
        h = _torch_cell(torch, L["x"][:, t], h, L)
        states.append(h)
    h_all = torch.stack(states, dim=1)
    h_all.backward(torch.tensor(np.asarray(dh_all, dtype=np.float64)))
    out = {"dx": L["x"].grad.numpy(), "dh0": L["h"].grad.numpy()}
    out.update({k: L[k].grad.numpy() for k in PARAM_KEYS})
    return out


# ------------------------------------------------------------------------------ checks
def check_shape(name, got, shape):
    assert isinstance(got, np.ndarray), f"{name} should be a numpy array, got {type(got).__name__}"
    shape = tuple(shape)
    hint = ""
    if got.shape == shape[::-1]:
        hint = " It looks transposed."
    elif len(got.shape) == len(shape) + 1 and got.shape[1:] == shape:
        hint = " Did you forget to sum over the batch axis (axis=0)?"
    assert got.shape == shape, f"{name} has shape {got.shape}, expected {shape}.{hint}"


def _label(key):
    return key if key.startswith("d") else f"grads[{key!r}]"


def check_all(got, expected, keys, against="finite differences", tol=1e-6, hints=HINTS):
    """Compare the gradients ``got[key]`` with ``expected[key]`` for each key (in order).

    Prints one line per gradient; if any is off, the error names all of them and gives a
    hint for the first one (``keys`` lists them in the order the backward pass computes
    them, so the first wrong one is usually where the mistake is).
    """
    bad = []
    for key in keys:
        check_shape(_label(key), got[key], np.shape(expected[key]))
        err = rel_error(got[key], expected[key])
        ok = err < tol
        print(f"{_label(key):<15} vs {against:<18}  relative error {err:.1e}  {'OK' if ok else 'WRONG'}")
        if not ok:
            bad.append((key, err))
    if bad:
        names = ", ".join(f"{_label(k)} ({e:.1e})" for k, e in bad[:4])
        if len(bad) > 4:
            names += f" and {len(bad) - 4} more"
        first = bad[0][0]
        raise AssertionError(f"these gradients disagree with {against} (relative error above "
                             f"{tol:g}): {names}. Start with {_label(first)}: {hints.get(first, '')}")


def check_param_grads(grads, params):
    """``grads`` must be a dict with exactly the 9 parameter keys, each shaped like its parameter."""
    assert isinstance(grads, dict), f"grads should be a dict, got {type(grads).__name__}"
    missing = sorted(set(PARAM_KEYS) - set(grads))
    extra = sorted(set(grads) - set(PARAM_KEYS))
    assert not missing and not extra, (f"grads must have exactly the 9 parameter keys; "
                                       f"missing {missing}, unexpected {extra}")
    for k in PARAM_KEYS:
        check_shape(f"grads[{k!r}]", grads[k], np.shape(params[k]))


# ------------------------------------------------------------ fixed example (reference)
def fixed_sequence_case():
    """``(x, h0, params)``: N=2 sequences, T=3 steps, D=3 inputs, H=2 hidden units."""
    params = fixed_params()
    x = np.array([[[-0.15, 0.4, -0.14], [0.55, 0.69, 0.66], [0.1, -0.3, 0.25]],
                  [[0.9, -0.2, 0.05], [-0.45, 0.35, -0.8], [0.6, 0.15, -0.35]]])
    h0 = np.array([[0.47, 0.58], [0.31, -0.24]])
    return x, h0, params


# h_all for fixed_sequence_case(), computed with the course's reference GRU.
EXPECTED_H_ALL = np.array([
    [[0.3001124769, 0.3732141253], [0.1414671885, 0.2892807915], [0.0772181971, 0.3088264418]],
    [[0.2015553526, 0.3655816743], [0.1268058610, 0.3800588856], [0.1228869119, 0.4998833743]],
])


def torch_backward_norms(x, h0, params):
    """For L = sum(h_T) after the sequence ``x`` (N, T, D), the norms ||dL/dh_{T-k}|| for
    k = 0, 1, ..., T steps back, by torch autograd through the course's equations."""
    import torch

    L = _leaves(torch, {"x": x, "h": h0, **params})
    h, states = L["h"], [L["h"]]
    for t in range(L["x"].shape[1]):
        h = _torch_cell(torch, L["x"][:, t], h, L)
        h.retain_grad()
        states.append(h)
    h.sum().backward()
    return np.array([float(np.linalg.norm(s.grad.numpy())) for s in reversed(states)])
