"""Diagnoses: recognise common GRU mistakes by their numerical signature.

When a hidden test finds that a learner's answer differs from the reference, this module
recomputes, with the reference's own building blocks and on the very inputs the learner's
function got, what each catalogued *mistaken* version of that function would have returned.
If the learner's answer matches one of them (within the contract's tolerance,
``rtol=1e-6, atol=1e-8``) and does **not** match the reference, the mistake is named in the
learner's terms: what they probably wrote and how to fix it.

Grader side only (hidden tests run in the grader process); deterministic, no randomness, and
cheap: the inputs of hidden tests are tiny.

Entry points:

* ``diagnose(function, got, *inputs, parts=None)``: a ``Diagnosis`` or ``None``;
* ``reference(function, *inputs)``: the right answer, in the shape the learner returns;
* ``variants(function, *inputs)``: every ``(Diagnosis, mistaken answer)`` considered;
* ``diagnose_warning(function, warning)``: for a warning instead of a wrong value;
* ``CATALOGUE``: ``{diagnosis id: what it means}``.

What ``got`` and ``inputs`` are, per function (``got`` is always the learner's whole return
value; ``inputs`` are what determines the right answer):

==========================  ===============================  ==============================
function                    inputs                           parts compared
==========================  ===============================  ==============================
sigmoid                     a                                value
update_gate, reset_gate     x, h_prev, params                value
candidate_state             x, h_prev, r, params             value
gru_cell_forward            x, h_prev, params                h_next
gru_cell_backward           dh_next, x, h_prev, params       dx, dh_prev, grads[...]
gru_forward                 x, h0, params                    h_all
gru_backward                dh_all, x, h0, params            dx, dh0, grads[...]
rnn/gru/lstm_param_count    cases: [(D, H, bias), ...]       one count per case (got: list)
hidden_jacobian_norms       cell, x, h0 (torch)              value
==========================  ===============================  ==============================

``parts`` restricts the comparison to the parts whose names start with one of the given
prefixes (e.g. ``parts=("grads",)`` when a test grades the parameter gradients only).
"""
from dataclasses import dataclass

import numpy as np

from .cell import PARAM_KEYS, sigmoid
from .counts import _count   # the reference's own count, with a mistaken number of gates

RTOL, ATOL = 1e-6, 1e-8


@dataclass(frozen=True)
class Diagnosis:
    id: str          # stable, e.g. "update-flipped"; recorded by the grader
    message: str     # for the learner: what they probably wrote, and the fix


# Every diagnosis this module can give, with what it means (for instructors and tests).
CATALOGUE = {
    # forward pass (01_gates)
    "sigmoid-overflow": "the textbook sigmoid 1 / (1 + exp(-a)) overflows for large |a|",
    "sigmoid-branches-swapped": "the two branches of the stable sigmoid are swapped: sigmoid(-a)",
    "missing-bias": "a gate or the candidate leaves out its bias",
    "transposed-recurrent-weight": "h_prev @ W_R.T instead of h_prev @ W_R",
    "wrong-weights": "another gate's weight or bias (copy-paste)",
    "gate-tanh": "a gate squashed with tanh instead of sigmoid",
    "gate-complement": "a gate returns 1 - sigmoid(...)",
    "missing-activation": "the sigmoid or tanh is left out",
    "reset-after-matmul": "r * (h_prev @ W_Rh): the reset applied after the matmul (torch's form)",
    "reset-on-input": "the reset gate multiplies the input x instead of h_prev",
    "reset-ignored": "the candidate uses h_prev @ W_Rh: the reset gate is never applied",
    "candidate-sigmoid": "the candidate uses sigmoid instead of tanh",
    "update-flipped": "h' = z * h + (1 - z) * h~: z and 1 - z swapped",
    "no-interpolation": "h' = h~: the mix with the old state is left out",
    "mix-uses-reset": "the mix uses the reset gate r instead of the update gate z",
    # backward pass of one step (02_backprop)
    "tanh-derivative-one-minus-h": "tanh' written as 1 - h~",
    "tanh-derivative-of-preactivation": "tanh' written as 1 - a^2 of the pre-activation",
    "tanh-derivative-missing": "the tanh' factor is left out",
    "sigmoid-derivative-of-output": "sigmoid' evaluated at the gate's output: sigmoid(z)(1 - sigmoid(z))",
    "sigmoid-derivative-as-tanh": "a gate's derivative written as 1 - s^2 (tanh's) instead of s (1 - s)",
    "sigmoid-derivative-missing": "the sigmoid' factor of a gate is left out",
    "dz-sign-flipped": "dz = dh' * (h - h~) instead of dh' * (h~ - h)",
    "missing-direct-path": "dh_prev misses the direct route dh' * (1 - z)",
    "missing-reset-path": "dh_prev misses the route through r * h_prev",
    "missing-gate-paths": "dh_prev misses the routes through the gates' W_Rz and W_Rr",
    "dx-candidate-only": "dx only through the candidate, not through the gates",
    "wrh-grad-uses-h": "dW_Rh = h_prev.T @ da_h instead of (r * h_prev).T @ da_h",
    "recurrent-not-transposed": "dh_prev uses da @ W_R instead of da @ W_R.T",
    "bias-grad-mean": "bias gradients averaged over the batch instead of summed",
    # sequences (02_backprop)
    "forward-h0-every-step": "every step of gru_forward starts from h0",
    "forward-states-shifted": "h_all[:, t] holds the state before step t",
    "grads-not-accumulated": "parameter gradients overwritten at each step, not summed over time",
    "upstream-not-added": "dh_all[:, t] never added: only the last step's upstream gradient used",
    "carry-not-added": "the dh_prev of step t + 1 is not added to step t's upstream gradient",
    "backward-forward-in-time": "the backward loop walks forward in time",
    # parameter counts (03_parameters)
    "counted-as-lstm": "four weight sets, like an LSTM",
    "counted-as-gru": "three weight sets, like a GRU",
    "counted-as-rnn": "one weight set, like a vanilla RNN",
    "gates-only": "only the two gates of a GRU counted, not the candidate",
    "torch-two-biases": "two bias vectors per gate (torch's b_ih and b_hh)",
    "bias-once": "one bias vector for the whole layer, not one per gate",
    "no-recurrent-weights": "the recurrent weights W_R left out",
    "input-weight-square": "W_F counted as H x H instead of D x H",
    "recurrent-weight-shape": "W_R counted as D x H instead of H x H",
    "bias-flag-ignored": "the bias counted even with bias=False",
    "no-bias": "the biases left out even with bias=True",
    # Jacobian norms (04_vanishing)
    "norms-reversed": "entry t holds the norm at distance t + 1 instead of at state t",
    "norms-off-by-one": "entry t is dh_T/dh_{t+1}: states[1:] instead of states[:T]",
    "spectral-norm": "the spectral norm (ord=2) instead of the Frobenius norm",
    "vjp-of-sum": "the norm of the gradient of h_T.sum(), one vector-Jacobian product",
    "jacobian-wrt-inputs": "the Jacobian with respect to the inputs x_t, not the states h_t",
    "state-detached": "the state detached at each step, so every norm is 0",
    "squared-norm": "the squared Frobenius norm (no square root)",
    "norm-divided-by-sqrt-n": "the norm divided by sqrt(H), as in the notebook's plot",
}

GATE = {"z": "update gate", "r": "reset gate", "h": "candidate"}
FUNC = {"z": "update_gate", "r": "reset_gate", "h": "candidate_state"}


def _d(id_, message):
    assert id_ in CATALOGUE, id_
    return Diagnosis(id_, message)


# ------------------------------------------------------------------ comparing answers

def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or not np.issubdtype(a.dtype, np.number):
        return False
    return bool(np.all(np.isfinite(a)) and np.allclose(a, b, rtol=RTOL, atol=ATOL))


def _grads_parts(prefix, grads, out):
    if not isinstance(grads, dict) or set(grads) != set(PARAM_KEYS):
        raise TypeError("not a gradient dict")
    for k in PARAM_KEYS:
        out[f"{prefix}[{k!r}]"] = grads[k]


def _parts(function, value):
    """The graded parts of an answer, as {name: array}; TypeError if it has the wrong form."""
    if function in ("gru_cell_forward", "gru_forward"):
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise TypeError("not a pair")
        return {"h_next" if function == "gru_cell_forward" else "h_all": value[0]}
    if function in ("gru_cell_backward", "gru_backward"):
        if not isinstance(value, (tuple, list)) or len(value) != 3:
            raise TypeError("not a triple")
        out = {"dx": value[0], ("dh_prev" if function == "gru_cell_backward" else "dh0"): value[1]}
        _grads_parts("grads", value[2], out)
        return out
    if function.endswith("_param_count"):
        return {f"case {i}": v for i, v in enumerate(value)}
    return {"value": value}


def _select(parts, prefixes):
    if not prefixes:
        return parts
    return {k: v for k, v in parts.items() if any(k.startswith(p) for p in prefixes)}


def _matches(got, want):
    if set(got) != set(want) or not got:
        return False
    return all(_close(got[k], want[k]) for k in want)


# ------------------------------------------------------------------ forward building blocks

def _affine(x, h, p, g, *, bias=True, transpose=False, sub=None):
    """x @ W_Fg + h @ W_Rg + b_g, optionally mistaken: no bias, W_R transposed, a key swapped."""
    key = {"F": "W_F" + g, "R": "W_R" + g, "b": "b_" + g}
    if sub:
        key.update(sub)
    W_R = p[key["R"]].T if transpose else p[key["R"]]
    a = x @ p[key["F"]] + h @ W_R
    return a + p[key["b"]] if bias else a


def _gate_variants(g, in_cell=False):
    """(Diagnosis, f(x, h, p) -> gate) for the mistaken update (g="z") or reset (g="r") gate.

    ``in_cell``: leave out the two update-gate mistakes a whole step cannot tell from a
    mistaken mix (1 - z is the flipped mix; z computed as r is the mix with r).
    """
    name, gate = FUNC[g], GATE[g]
    yield (_d("missing-bias", f"the {gate} ({name}) leaves out its bias: your values are "
              f"sigmoid(x @ W_F{g} + h_prev @ W_R{g}) with no b_{g}. Add params['b_{g}'] "
              "inside the sigmoid."),
           lambda x, h, p: sigmoid(_affine(x, h, p, g, bias=False)))
    yield (_d("transposed-recurrent-weight", f"the {gate} ({name}) multiplies h_prev by the "
              f"transpose of W_R{g}. In the course's row-vector notation it is "
              f"h_prev @ params['W_R{g}'], without .T."),
           lambda x, h, p: sigmoid(_affine(x, h, p, g, transpose=True)))
    yield from _copy_paste_variants(g, lambda a: sigmoid(a), whole=not (in_cell and g == "z"))
    yield (_d("gate-tanh", f"the {gate} ({name}) uses np.tanh; a gate is squashed into (0, 1) "
              "with sigmoid."),
           lambda x, h, p: np.tanh(_affine(x, h, p, g)))
    if not (in_cell and g == "z"):
        yield (_d("gate-complement", f"the {gate} ({name}) returns 1 - sigmoid(...) (or "
                  f"sigmoid(-a), e.g. when the two branches of your sigmoid are swapped); return "
                  f"sigmoid(x @ W_F{g} + h_prev @ W_R{g} + b_{g}) itself."),
               lambda x, h, p: sigmoid(-_affine(x, h, p, g)))
    yield (_d("missing-activation", f"the {gate} ({name}) returns the pre-activation "
              f"x @ W_F{g} + h_prev @ W_R{g} + b_{g}: apply sigmoid to it."),
           lambda x, h, p: _affine(x, h, p, g))


def _copy_paste_variants(g, act, candidate=False, whole=True):
    """One key (or all three) of another gate in place of this gate's own."""
    name, gate = FUNC[g], GATE[g]
    for other in "zrh":
        if other == g:
            continue
        for slot, own, theirs in (("F", "W_F" + g, "W_F" + other),
                                  ("R", "W_R" + g, "W_R" + other),
                                  ("b", "b_" + g, "b_" + other)):
            msg = (f"the {gate} ({name}) uses params['{theirs}'] where it needs "
                   f"params['{own}'] (copied from the {GATE[other]}'s line?).")
            if candidate:
                yield _d("wrong-weights", msg), (
                    lambda x, h, r, p, s={slot: theirs}: act(_cand_affine(x, h, r, p, sub=s)))
            else:
                yield _d("wrong-weights", msg), (
                    lambda x, h, p, s={slot: theirs}: act(_affine(x, h, p, g, sub=s)))
        if whole and not candidate and other != "h":
            yield (_d("wrong-weights", f"the {gate} ({name}) computes the {GATE[other]}: it uses "
                      f"W_F{other}, W_R{other} and b_{other} instead of W_F{g}, W_R{g} and b_{g}."),
                   lambda x, h, p, o=other: act(_affine(x, h, p, o)))


def _cand_affine(x, h, r, p, *, bias=True, transpose=False, sub=None, reset="before"):
    key = {"F": "W_Fh", "R": "W_Rh", "b": "b_h"}
    if sub:
        key.update(sub)
    W_F, W_R = p[key["F"]], p[key["R"]]
    if transpose:
        W_R = W_R.T
    if reset == "before":
        a = x @ W_F + (r * h) @ W_R
    elif reset == "after":
        a = x @ W_F + r * (h @ W_R)
    elif reset == "input":
        a = (r * x) @ W_F + h @ W_R
    else:   # "none"
        a = x @ W_F + h @ W_R
    return a + p[key["b"]] if bias else a


def _candidate_variants(x_shape=None, h_shape=None):
    yield (_d("missing-bias", "candidate_state leaves out its bias: add params['b_h'] inside "
              "the tanh."),
           lambda x, h, r, p: np.tanh(_cand_affine(x, h, r, p, bias=False)))
    yield (_d("transposed-recurrent-weight", "candidate_state multiplies (r * h_prev) by the "
              "transpose of W_Rh. In the course's row-vector notation it is "
              "(r * h_prev) @ params['W_Rh'], without .T."),
           lambda x, h, r, p: np.tanh(_cand_affine(x, h, r, p, transpose=True)))
    yield from _copy_paste_variants("h", np.tanh, candidate=True)
    yield (_d("reset-after-matmul", "the reset gate is applied after the matmul: "
              "r * (h_prev @ W_Rh) is torch's \"reset after\" form. The course resets first: "
              "(r * h_prev) @ W_Rh."),
           lambda x, h, r, p: np.tanh(_cand_affine(x, h, r, p, reset="after")))
    if x_shape is None or x_shape == h_shape:   # (r * x) only broadcasts when D == H
        yield (_d("reset-on-input", "the reset gate multiplies the input: (r * x) @ W_Fh + "
                  "h_prev @ W_Rh. It must scale the previous state: x @ W_Fh + "
                  "(r * h_prev) @ W_Rh."),
               lambda x, h, r, p: np.tanh(_cand_affine(x, h, r, p, reset="input")))
    yield (_d("reset-ignored", "the candidate uses h_prev @ W_Rh: the reset gate r is never "
              "applied. Use (r * h_prev) @ W_Rh."),
           lambda x, h, r, p: np.tanh(_cand_affine(x, h, r, p, reset="none")))
    yield (_d("candidate-sigmoid", "the candidate uses sigmoid where it needs np.tanh: the "
              "candidate state lies in (-1, 1), not (0, 1)."),
           lambda x, h, r, p: sigmoid(_cand_affine(x, h, r, p)))
    yield (_d("missing-activation", "candidate_state returns the pre-activation: apply np.tanh "
              "to x @ W_Fh + (r * h_prev) @ W_Rh + b_h."),
           lambda x, h, r, p: _cand_affine(x, h, r, p))


def _gates(x, h, p):
    return sigmoid(_affine(x, h, p, "z")), sigmoid(_affine(x, h, p, "r"))


def _cell(x, h, p, z_fn=None, r_fn=None, cand_fn=None, mix="ok"):
    z = z_fn(x, h, p) if z_fn else sigmoid(_affine(x, h, p, "z"))
    r = r_fn(x, h, p) if r_fn else sigmoid(_affine(x, h, p, "r"))
    ht = cand_fn(x, h, r, p) if cand_fn else np.tanh(_cand_affine(x, h, r, p))
    if mix == "flipped":
        return z * h + (1 - z) * ht
    if mix == "candidate":
        return ht
    if mix == "reset":
        return (1 - r) * h + r * ht
    return (1 - z) * h + z * ht


def _cell_variants(x, h):
    yield (_d("update-flipped", "z and 1 - z are swapped: you wrote h_next = z * h_prev + "
              "(1 - z) * h_tilde (torch's convention). In this course the update gate weights "
              "the new content: h_next = (1 - z) * h_prev + z * h_tilde. (Or update_gate "
              "returns 1 - z: same numbers.)"),
           lambda x, h, p: _cell(x, h, p, mix="flipped"))
    yield (_d("no-interpolation", "h_next is the candidate itself: the mix "
              "(1 - z) * h_prev + z * h_tilde is missing."),
           lambda x, h, p: _cell(x, h, p, mix="candidate"))
    yield (_d("mix-uses-reset", "the mix uses the reset gate: h_next = (1 - r) * h_prev + "
              "r * h_tilde. It is the update gate z that mixes. (Or update_gate computes r, "
              "with W_Fr, W_Rr and b_r: same numbers.)"),
           lambda x, h, p: _cell(x, h, p, mix="reset"))
    for g in "zr":
        for d, fn in _gate_variants(g, in_cell=True):
            kw = {"z_fn" if g == "z" else "r_fn": fn}
            yield d, (lambda x, h, p, kw=kw: _cell(x, h, p, **kw))
    for d, fn in _candidate_variants(np.shape(x), np.shape(h)):
        yield d, (lambda x, h, p, fn=fn: _cell(x, h, p, cand_fn=fn))


# ------------------------------------------------------------------ backward building blocks

def _cell_backward(dh_next, x, h, p, tanh="ok", sig_z="ok", sig_r="ok", dz_sign=1.0,
                   direct=True, reset_path=True, gate_paths=True, dx_gates=True,
                   wrh="rh", rec_T=True, bias="sum"):
    """The reference backward step with switches for the catalogued mistakes."""
    z, r = _gates(x, h, p)
    a_h = _cand_affine(x, h, r, p)
    ht = np.tanh(a_h)
    T = (lambda W: W.T) if rec_T else (lambda W: W)
    db = (lambda d: d.sum(axis=0)) if bias == "sum" else (lambda d: d.mean(axis=0))

    dz = dz_sign * dh_next * (ht - h)
    dh = dh_next * (1 - z) if direct else np.zeros_like(h)
    dtanh = {"ok": 1 - ht ** 2, "one_minus_h": 1 - ht, "preact": 1 - a_h ** 2,
             "missing": 1.0}[tanh]
    da_h = dh_next * z * dtanh
    ds = da_h @ T(p["W_Rh"])
    dr = ds * h
    if reset_path:
        dh = dh + ds * r

    def dsig(s, form):
        return {"ok": s * (1 - s), "of_output": sigmoid(s) * (1 - sigmoid(s)),
                "as_tanh": 1 - s ** 2, "missing": 1.0}[form]

    da_z, da_r = dz * dsig(z, sig_z), dr * dsig(r, sig_r)
    if gate_paths:
        dh = dh + da_z @ T(p["W_Rz"]) + da_r @ T(p["W_Rr"])
    dx = da_h @ p["W_Fh"].T
    if dx_gates:
        dx = dx + da_z @ p["W_Fz"].T + da_r @ p["W_Fr"].T
    grads = {"W_Fz": x.T @ da_z, "W_Rz": h.T @ da_z, "b_z": db(da_z),
             "W_Fr": x.T @ da_r, "W_Rr": h.T @ da_r, "b_r": db(da_r),
             "W_Fh": x.T @ da_h, "W_Rh": ((r * h) if wrh == "rh" else h).T @ da_h,
             "b_h": db(da_h)}
    return dx, dh, grads


def _cell_backward_variants():
    """(Diagnosis, keyword switches of _cell_backward)."""
    yield (_d("tanh-derivative-one-minus-h", "tanh' is written as 1 - h_tilde; it is "
              "1 - h_tilde ** 2 (the square of tanh's output)."), {"tanh": "one_minus_h"})
    yield (_d("tanh-derivative-of-preactivation", "tanh' is computed from the pre-activation "
              "a_h as 1 - a_h ** 2; it is 1 - tanh(a_h) ** 2 = 1 - h_tilde ** 2, with the "
              "output from the cache."), {"tanh": "preact"})
    yield (_d("tanh-derivative-missing", "the tanh' factor is missing: da_h = dh_tilde * "
              "(1 - h_tilde ** 2)."), {"tanh": "missing"})
    for gates, kw, which in ((("z",), {"sig_z": None}, "update gate z"),
                             (("r",), {"sig_r": None}, "reset gate r"),
                             (("z", "r"), {"sig_z": None, "sig_r": None}, "gates z and r")):
        g0 = gates[0] if len(gates) == 1 else "s"
        for form, id_, msg in (
                ("of_output", "sigmoid-derivative-of-output",
                 f"sigmoid' of the {which} is evaluated at the gate's output, as "
                 f"sigmoid({g0}) * (1 - sigmoid({g0})): the cache holds the gate itself, so "
                 f"the derivative is {g0} * (1 - {g0})."),
                ("as_tanh", "sigmoid-derivative-as-tanh",
                 f"the derivative of the {which} is written as 1 - {g0} ** 2 (that is tanh's); "
                 f"sigmoid' is {g0} * (1 - {g0})."),
                ("missing", "sigmoid-derivative-missing",
                 f"the sigmoid' factor of the {which} is missing: multiply by {g0} * (1 - {g0}).")):
            yield _d(id_, msg), {k: form for k in kw}
    yield (_d("dz-sign-flipped", "dz has the wrong sign: you wrote dh_next * (h_prev - h_tilde). "
              "h_next = (1 - z) * h_prev + z * h_tilde, so dz = dh_next * (h_tilde - h_prev)."),
           {"dz_sign": -1.0})
    yield (_d("missing-direct-path", "dh_prev misses the direct route through the mix: "
              "start from dh_prev = dh_next * (1 - z), then add the other routes."),
           {"direct": False})
    yield (_d("missing-reset-path", "dh_prev misses the route through the reset product "
              "s = r * h_prev: add ds * r, where ds = da_h @ W_Rh.T."), {"reset_path": False})
    yield (_d("missing-gate-paths", "dh_prev misses the routes through the two gates: add "
              "da_z @ W_Rz.T + da_r @ W_Rr.T."), {"gate_paths": False})
    yield (_d("dx-candidate-only", "dx only goes through the candidate (da_h @ W_Fh.T); x also "
              "feeds both gates: add da_z @ W_Fz.T + da_r @ W_Fr.T."), {"dx_gates": False})
    yield (_d("wrh-grad-uses-h", "dW_Rh is computed with h_prev; the candidate's recurrent "
              "input is the reset product, so dW_Rh = (r * h_prev).T @ da_h."), {"wrh": "h"})
    yield (_d("recurrent-not-transposed", "the recurrent weights are not transposed on the way "
              "back: a = h @ W_R gives dh = da @ W_R.T (also for ds = da_h @ W_Rh.T)."),
           {"rec_T": False})
    yield (_d("bias-grad-mean", "the bias gradients are averaged over the batch; every row used "
              "the same bias, so its gradient is the sum: da.sum(axis=0)."), {"bias": "mean"})


def _seq_forward(x, h0, p, mode="ok"):
    """h_all and the per-step (x_t, h_prev) the backward pass sees."""
    N, T, _ = x.shape
    h, h_all, steps = h0, np.empty((N, T, h0.shape[1])), []
    for t in range(T):
        h_in = h0 if mode == "h0" else h
        steps.append((x[:, t], h_in))
        h = _cell(x[:, t], h_in, p)
        h_all[:, t] = h_in if mode == "shifted" else h
    return h_all, steps


def _seq_backward(dh_all, x, h0, p, mode="ok", forward="ok", cell=None):
    _, steps = _seq_forward(x, h0, p, forward)
    N, T, H = dh_all.shape
    dx, carry, grads = np.empty(x.shape), np.zeros((N, H)), None
    order = range(T) if mode == "forward-in-time" else reversed(range(T))
    for t in order:
        up = dh_all[:, t]
        if mode == "no-upstream" and t != T - 1:
            up = np.zeros((N, H))
        dh_in = up if mode == "no-carry" else up + carry
        dx[:, t], carry, g = _cell_backward(dh_in, *steps[t], p, **(cell or {}))
        grads = g if grads is None or mode == "overwrite" else {k: grads[k] + g[k] for k in g}
    return dx, carry, grads


# ------------------------------------------------------------------ torch (04_vanishing)

def _jacobians(cell, x, h0):
    """J_h[t] = dh_T/dh_t (T, n, n) and J_x[t] = dh_T/dx_t (T, n, D), as float64 numpy."""
    import torch

    T = x.shape[0]
    h = h0.detach().clone().requires_grad_(True)
    states, inputs = [h], []
    for t in range(T):
        x_t = x[t].detach().clone().requires_grad_(True)
        inputs.append(x_t)
        h = cell(x_t, h)
        states.append(h)
    h_T = states[T]
    n = h_T.shape[0]
    J_h, J_x = np.zeros((T, n, n)), np.zeros((T, n, x.shape[1]))
    for i in range(n):
        e_i = torch.zeros_like(h_T)
        e_i[i] = 1.0
        rows = torch.autograd.grad(h_T, states[:T] + inputs, grad_outputs=e_i,
                                   retain_graph=True, allow_unused=True)
        for t in range(T):
            if rows[t] is not None:
                J_h[t, i] = rows[t].detach().double().numpy()
            if rows[T + t] is not None:
                J_x[t, i] = rows[T + t].detach().double().numpy()
    return J_h, J_x


# ------------------------------------------------------------------ the catalogue, per function

def _model(function):
    return function[: -len("_param_count")]


GATES_OF = {"rnn": 1, "gru": 3, "lstm": 4}


def _count_variants(function):
    """(Diagnosis, f(D, H, bias) -> count) for a parameter-count function."""
    model = _model(function)
    n, call = GATES_OF[model], f"{function}"
    per = "W_F (D x H), W_R (H x H) and b (H)"
    for sets, id_, what in ((4, "counted-as-lstm", "four weight sets, like an LSTM"),
                            (3, "counted-as-gru", "three weight sets, like a GRU"),
                            (1, "counted-as-rnn", "one weight set, like a vanilla RNN")):
        if sets != n:
            yield (_d(id_, f"{call} counts {what}; a {model.upper()} has {n} (one per gate, "
                      f"each with {per})."),
                   lambda D, H, b, s=sets: _count(s, D, H, b))
    if model == "gru":
        yield (_d("gates-only", f"{call} counts only the two gates z and r; the candidate "
                  "h~ has its own W_Fh, W_Rh and b_h: three weight sets."),
               lambda D, H, b: _count(2, D, H, b))
    yield (_d("torch-two-biases", f"{call} counts two bias vectors per gate, which is torch's "
              "count (b_ih and b_hh); the course counts one bias vector per gate."),
           lambda D, H, b: n * (D * H + H * H + (2 * H if b else 0)))
    if n > 1:
        yield (_d("bias-once", f"{call} counts one bias vector for the whole layer; each of "
                  f"the {n} gates has its own bias of size H."),
               lambda D, H, b: n * (D * H + H * H) + (H if b else 0))
    yield (_d("no-recurrent-weights", f"{call} leaves out the recurrent weights W_R "
              "(H x H per gate)."),
           lambda D, H, b: n * (D * H + (H if b else 0)))
    yield (_d("input-weight-square", f"{call} counts W_F as H x H; it maps the input to the "
              "hidden state, so it is input_size x hidden_size."),
           lambda D, H, b: _count(n, H, H, b))
    yield (_d("recurrent-weight-shape", f"{call} counts W_R as D x H; it maps the hidden state "
              "to itself, so it is hidden_size x hidden_size."),
           lambda D, H, b: n * (2 * D * H + (H if b else 0)))
    yield (_d("bias-flag-ignored", f"{call} counts the biases even when bias=False: "
              "b = hidden_size if bias else 0."),
           lambda D, H, b: _count(n, D, H, True))
    yield (_d("no-bias", f"{call} leaves out the biases even with bias=True: one vector of "
              "size H per gate."),
           lambda D, H, b: _count(n, D, H, False))


def _jacobian_variants(J_h, J_x):
    fro = np.linalg.norm(J_h, ord="fro", axis=(1, 2))
    n = J_h.shape[1]
    yield (_d("norms-reversed", "your norms come in reverse order: entry t must be "
              "||dh_T/dh_t||, so the first entry is T steps back and the last one step back."),
           fro[::-1])
    yield (_d("norms-off-by-one", "entry t is dh_T/dh_{t+1} (your last entry is the norm of "
              "the identity, sqrt(H)): take the gradients with respect to states[:T], i.e. "
              "h_0 ... h_{T-1}, not states[1:]."),
           np.append(fro[1:], np.sqrt(n)))
    yield (_d("spectral-norm", "you took the spectral norm (largest singular value, ord=2); "
              "the exercise asks for the Frobenius norm, ord=\"fro\"."),
           np.linalg.norm(J_h, ord=2, axis=(1, 2)))
    yield (_d("vjp-of-sum", "you took the norm of the gradient of h_T.sum(): that is one "
              "vector-Jacobian product (v = all ones), not the Jacobian. Backpropagate each "
              "unit vector e_i to get row i of every dh_T/dh_t."),
           np.linalg.norm(J_h.sum(axis=1), axis=1))
    yield (_d("jacobian-wrt-inputs", "your Jacobians are taken with respect to the inputs x_t; "
              "the exercise asks for dh_T/dh_t, the gradient with respect to the states."),
           np.linalg.norm(J_x, ord="fro", axis=(1, 2)))
    yield (_d("state-detached", "every norm is 0: the state is detached (or rebuilt as a new "
              "leaf) at each step, so no gradient flows back. Only detach h0, once."),
           np.zeros_like(fro))
    yield (_d("squared-norm", "you returned the squared Frobenius norms (the sum of squares): "
              "take the square root."),
           fro ** 2)
    yield (_d("norm-divided-by-sqrt-n", "your norms are divided by sqrt(H), like the curves of "
              "the plot; return the plain Frobenius norm."),
           fro / np.sqrt(n))


def reference(function, *inputs):
    """The right answer, from the reference package itself, in the form the learner returns
    (caches as None). The variants above are checked against it (tests/test_diagnoses.py)."""
    from . import cell, counts, sequence

    if function in ("sigmoid", "update_gate", "reset_gate", "candidate_state"):
        return getattr(cell, function)(*inputs)
    if function == "gru_cell_forward":
        return cell.gru_cell_forward(*inputs)[0], None
    if function == "gru_forward":
        return sequence.gru_forward(*inputs)[0], None
    if function == "gru_cell_backward":
        dh_next, x, h, p = inputs
        return cell.gru_cell_backward(dh_next, cell.gru_cell_forward(x, h, p)[1])
    if function == "gru_backward":
        dh_all, x, h0, p = inputs
        return sequence.gru_backward(dh_all, sequence.gru_forward(x, h0, p)[1])
    if function.endswith("_param_count"):
        count = getattr(counts, function)
        return [count(*case) for case in inputs[0]]
    if function == "hidden_jacobian_norms":
        from .jacobians import hidden_jacobian_norms

        return hidden_jacobian_norms(*inputs)
    raise KeyError(f"no diagnoses for {function}")


def variants(function, *inputs):
    """Every mistaken answer considered for ``function`` on ``inputs``: (Diagnosis, answer)."""
    if function == "sigmoid":
        yield (_d("sigmoid-branches-swapped", "your values are sigmoid(-a): the two branches "
                  "are swapped. For a >= 0 use 1 / (1 + e), for a < 0 use e / (1 + e), with "
                  "e = np.exp(-np.abs(a))."), sigmoid(-np.asarray(inputs[0], dtype=float)))
    elif function in ("update_gate", "reset_gate"):
        for d, fn in _gate_variants("z" if function == "update_gate" else "r"):
            yield d, fn(*inputs)
    elif function == "candidate_state":
        x, h = inputs[0], inputs[1]
        for d, fn in _candidate_variants(np.shape(x), np.shape(h)):
            yield d, fn(*inputs)
    elif function == "gru_cell_forward":
        for d, fn in _cell_variants(inputs[0], inputs[1]):
            yield d, (fn(*inputs), None)
    elif function == "gru_forward":
        x, h0, p = inputs
        yield (_d("forward-h0-every-step", "gru_forward starts every step from h0: feed "
                  "each step the state returned by the previous one (h = gru_cell_forward(x[:, t], h, "
                  "params)[0])."), (_seq_forward(x, h0, p, "h0")[0], None))
        yield (_d("forward-states-shifted", "in gru_forward, h_all[:, t] holds the state "
                  "*before* step t (h_all[:, 0] is h0); store the state that step t returns."),
               (_seq_forward(x, h0, p, "shifted")[0], None))
    elif function == "gru_cell_backward":
        for d, kw in _cell_backward_variants():
            yield d, _cell_backward(*inputs, **kw)
    elif function == "gru_backward":
        dh_all, x, h0, p = inputs
        for mode, id_, msg in (
                ("overwrite", "grads-not-accumulated", "your parameter gradients are those of "
                 "one step only: they are overwritten at each step. Every parameter is used at "
                 "all T steps, so sum: grads[k] += step_grads[k]."),
                ("no-upstream", "upstream-not-added", "only the last step's upstream gradient "
                 "is used: at every step t add dh_all[:, t] to the gradient carried back from "
                 "step t + 1."),
                ("no-carry", "carry-not-added", "the gradient carried back from step t + 1 is "
                 "dropped: step t must get dh_all[:, t] + the dh_prev returned by step t + 1."),
                ("forward-in-time", "backward-forward-in-time", "your backward loop walks "
                 "forward in time; go from the last step to the first: "
                 "for t in reversed(range(T)).")):
            yield _d(id_, msg), _seq_backward(dh_all, x, h0, p, mode=mode)
        for d, _ in variants("gru_forward", x, h0, p):
            if d.id == "forward-h0-every-step":
                yield d, _seq_backward(dh_all, x, h0, p, forward="h0")
        for d, kw in _cell_backward_variants():
            yield d, _seq_backward(dh_all, x, h0, p, cell=kw)
    elif function.endswith("_param_count"):
        cases = inputs[0]
        for d, fn in _count_variants(function):
            yield d, [fn(*case) for case in cases]
    elif function == "hidden_jacobian_norms":
        J_h, J_x = _jacobians(*inputs)
        yield from _jacobian_variants(J_h, J_x)


def diagnose(function, got, *inputs, parts=None):
    """The catalogued mistake that ``got`` matches (and the reference does not), or ``None``.

    Never raises: an answer of the wrong form, or any trouble computing the variants, is
    simply not diagnosed.
    """
    try:
        mine = _select(_parts(function, got), parts)
        if _matches(mine, _select(_parts(function, reference(function, *inputs)), parts)):
            return None
        for d, answer in variants(function, *inputs):
            if _matches(mine, _select(_parts(function, answer), parts)):
                return d
    except Exception:   # noqa: BLE001 (a diagnosis is a bonus; it must never break a test)
        return None
    return None


def diagnose_warning(function, warning):
    """A diagnosis for a warning a learner function raised (the naive sigmoid's overflow)."""
    text = str(warning).lower()
    if function == "sigmoid" and "overflow" in text:
        return _d("sigmoid-overflow", "sigmoid takes np.exp of a large positive number (the "
                  "textbook 1 / (1 + np.exp(-a)) does for a very negative a), which overflows. "
                  "Only ever exponentiate -|a|: e = np.exp(-np.abs(a)), then "
                  "np.where(a >= 0, 1 / (1 + e), e / (1 + e)).")
    return None
