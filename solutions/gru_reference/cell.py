"""One GRU step, forward and backward, in the course's row-vector notation.

Two variants share the code:

* ``reset_after=False`` (the course, Cho et al. 2014 "reset before")::

      h~ = tanh(x @ W_Fh + (r * h) @ W_Rh + b_h)

* ``reset_after=True`` (``torch.nn.GRU``, Keras ``reset_after=True``), with an extra
  recurrent bias ``b_Rh``::

      h~ = tanh(x @ W_Fh + b_h + r * (h @ W_Rh + b_Rh))

In both, ``h' = (1 - z) * h + z * h~``: the update gate weights the *new* content.
"""
import numpy as np

PARAM_KEYS = ("W_Fz", "W_Rz", "b_z", "W_Fr", "W_Rr", "b_r", "W_Fh", "W_Rh", "b_h")


def sigmoid(a):
    """Logistic function that never overflows: exp is only taken of -|a| <= 0."""
    a = np.asarray(a, dtype=float)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def update_gate(x, h_prev, params):
    return sigmoid(x @ params["W_Fz"] + h_prev @ params["W_Rz"] + params["b_z"])


def reset_gate(x, h_prev, params):
    return sigmoid(x @ params["W_Fr"] + h_prev @ params["W_Rr"] + params["b_r"])


def candidate_state(x, h_prev, r, params, reset_after=False):
    if reset_after:
        recurrent = r * (h_prev @ params["W_Rh"] + params["b_Rh"])
    else:
        recurrent = (r * h_prev) @ params["W_Rh"]
    return np.tanh(x @ params["W_Fh"] + recurrent + params["b_h"])


def gru_cell_forward(x, h_prev, params, reset_after=False):
    """Return ``(h_next, cache)``; the cache holds what the backward pass needs."""
    z = update_gate(x, h_prev, params)
    r = reset_gate(x, h_prev, params)
    h_tilde = candidate_state(x, h_prev, r, params, reset_after)
    h_next = (1.0 - z) * h_prev + z * h_tilde
    cache = {"x": x, "h_prev": h_prev, "z": z, "r": r, "h_tilde": h_tilde,
             "params": params, "reset_after": reset_after}
    return h_next, cache


def gru_cell_backward(dh_next, cache):
    """Return ``(dx, dh_prev, grads)`` for one step; ``grads`` has one entry per parameter."""
    x, h, z, r, ht = (cache[k] for k in ("x", "h_prev", "z", "r", "h_tilde"))
    p = cache["params"]
    grads = {}

    # h' = (1 - z) * h + z * h~
    dz = dh_next * (ht - h)
    dht = dh_next * z
    dh = dh_next * (1.0 - z)

    # h~ = tanh(a_h); tanh' = 1 - h~^2 (of the output, not of the input)
    da_h = dht * (1.0 - ht ** 2)
    grads["W_Fh"] = x.T @ da_h
    grads["b_h"] = da_h.sum(axis=0)
    dx = da_h @ p["W_Fh"].T
    if cache["reset_after"]:
        rec = h @ p["W_Rh"] + p["b_Rh"]
        drec = da_h * r
        dr = da_h * rec
        grads["W_Rh"] = h.T @ drec
        grads["b_Rh"] = drec.sum(axis=0)
        dh += drec @ p["W_Rh"].T
    else:
        drh = da_h @ p["W_Rh"].T
        grads["W_Rh"] = (r * h).T @ da_h
        dr = drh * h
        dh += drh * r

    # r = sigmoid(a_r), z = sigmoid(a_z); sigmoid' = s * (1 - s)
    for gate, s, ds in (("r", r, dr), ("z", z, dz)):
        da = ds * s * (1.0 - s)
        grads["W_F" + gate] = x.T @ da
        grads["W_R" + gate] = h.T @ da
        grads["b_" + gate] = da.sum(axis=0)
        dx += da @ p["W_F" + gate].T
        dh += da @ p["W_R" + gate].T
    return dx, dh, grads


def init_params(input_size, hidden_size, rng=None, scale=None, reset_after=False):
    """Random parameters in the contract's layout (uniform, like torch's default init)."""
    rng = np.random.default_rng(rng)
    k = scale if scale is not None else 1.0 / np.sqrt(hidden_size)
    shapes = {"W_F": (input_size, hidden_size), "W_R": (hidden_size, hidden_size),
              "b_": (hidden_size,)}
    params = {key: rng.uniform(-k, k, shapes[key[:3] if key.startswith("W") else "b_"])
              for key in PARAM_KEYS}
    if reset_after:
        params["b_Rh"] = rng.uniform(-k, k, (hidden_size,))
    return params
