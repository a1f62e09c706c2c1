"""A GRU unrolled over a sequence, batch first: ``x`` is ``(N, T, D)``."""
import numpy as np

from .cell import gru_cell_forward, gru_cell_backward


def gru_forward(x, h0, params, reset_after=False):
    """Return ``(h_all, cache)`` with ``h_all[:, t]`` the hidden state after step t."""
    N, T, _ = x.shape
    h = h0
    h_all = np.empty((N, T, h0.shape[1]))
    caches = []
    for t in range(T):
        h, c = gru_cell_forward(x[:, t], h, params, reset_after)
        h_all[:, t] = h
        caches.append(c)
    return h_all, caches


def gru_backward(dh_all, cache):
    """Backpropagation through time; ``dh_all`` is the upstream gradient at every step."""
    N, T, H = dh_all.shape
    D = cache[0]["x"].shape[1]
    dx = np.empty((N, T, D))
    dh = np.zeros((N, H))
    grads = None
    for t in reversed(range(T)):
        # The state h_t feeds both the loss at t and the step t + 1: gradients add.
        dx[:, t], dh, step = gru_cell_backward(dh_all[:, t] + dh, cache[t])
        grads = step if grads is None else {k: grads[k] + step[k] for k in grads}
    return dx, dh, grads
