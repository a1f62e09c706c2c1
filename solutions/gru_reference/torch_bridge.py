"""Exact conversion between the course's parameters and ``torch.nn.GRU``/``GRUCell``.

torch stacks the gates in the order r, z, n, stores weights as ``(3H, in)`` (column-vector
convention), keeps two biases per gate and writes ``h' = (1 - z_t) * n + z_t * h``: its
z_t keeps the *old* state, the course's z takes the *new* content, so z = 1 - z_t, i.e.
the course's update-gate pre-activation is the negated torch one. torch's candidate is
"reset after", so a torch GRU maps onto the reference's ``reset_after=True`` variant.
"""
import numpy as np


def _torch():
    import torch
    return torch


def params_from_torch(module, layer=0):
    """Course ``reset_after`` parameters (float64 numpy) from a torch GRU or GRUCell."""
    sfx = "" if _is_cell(module) else f"_l{layer}"
    w_ih = getattr(module, "weight_ih" + sfx).detach().double().numpy()
    w_hh = getattr(module, "weight_hh" + sfx).detach().double().numpy()
    H = w_hh.shape[1]
    if getattr(module, "bias", True) is not False and hasattr(module, "bias_ih" + sfx) \
            and getattr(module, "bias_ih" + sfx) is not None:
        b_ih = getattr(module, "bias_ih" + sfx).detach().double().numpy()
        b_hh = getattr(module, "bias_hh" + sfx).detach().double().numpy()
    else:
        b_ih = b_hh = np.zeros(3 * H)
    (wir, wiz, win), (whr, whz, whn) = np.split(w_ih, 3), np.split(w_hh, 3)
    (bir, biz, bin_), (bhr, bhz, bhn) = np.split(b_ih, 3), np.split(b_hh, 3)
    return {
        "W_Fz": -wiz.T.copy(), "W_Rz": -whz.T.copy(), "b_z": -(biz + bhz),
        "W_Fr": wir.T.copy(), "W_Rr": whr.T.copy(), "b_r": bir + bhr,
        "W_Fh": win.T.copy(), "W_Rh": whn.T.copy(), "b_h": bin_.copy(), "b_Rh": bhn.copy(),
    }


def torch_state_from_params(params, layer=0, cell=False):
    """A ``state_dict`` for ``torch.nn.GRU`` (or ``GRUCell``) equal to ``reset_after`` params.

    The course keeps one bias per gate for z and r; it goes to ``bias_ih`` and torch's
    ``bias_hh`` gets zero there, which gives the same sums exactly.
    """
    torch = _torch()
    p = params
    H = p["W_Rz"].shape[0]
    zeros = np.zeros(H)
    w_ih = np.concatenate([p["W_Fr"].T, -p["W_Fz"].T, p["W_Fh"].T])
    w_hh = np.concatenate([p["W_Rr"].T, -p["W_Rz"].T, p["W_Rh"].T])
    b_ih = np.concatenate([p["b_r"], -p["b_z"], p["b_h"]])
    b_hh = np.concatenate([zeros, zeros, p.get("b_Rh", zeros)])
    sfx = "" if cell else f"_l{layer}"
    return {name + sfx: torch.from_numpy(np.ascontiguousarray(v)) for name, v in
            (("weight_ih", w_ih), ("weight_hh", w_hh), ("bias_ih", b_ih), ("bias_hh", b_hh))}


def grads_to_torch(grads):
    """Reference gradients rearranged as torch's (weight_ih, weight_hh, bias_ih, bias_hh).

    Because torch splits each z and r bias in two summed vectors, both receive the
    gradient of the course's single bias.
    """
    g = grads
    return {
        "weight_ih": np.concatenate([g["W_Fr"].T, -g["W_Fz"].T, g["W_Fh"].T]),
        "weight_hh": np.concatenate([g["W_Rr"].T, -g["W_Rz"].T, g["W_Rh"].T]),
        "bias_ih": np.concatenate([g["b_r"], -g["b_z"], g["b_h"]]),
        "bias_hh": np.concatenate([g["b_r"], -g["b_z"], g["b_Rh"]]),
    }


def _is_cell(module):
    return hasattr(module, "weight_ih") and not hasattr(module, "weight_ih_l0")
