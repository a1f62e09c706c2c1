"""Norms of dh_T/dh_t through any recurrent cell, by torch autograd."""
import numpy as np


def hidden_jacobian_norms(cell, x, h0):
    """Entry t is the Frobenius norm of dh_T/dh_t, with h_{t+1} = cell(x[t], h_t).

    ``x`` is ``(T, D)``, ``h0`` is ``(H,)``; one unbatched sequence. The Jacobian has H
    rows, so H vector-Jacobian products through the whole graph give every dh_T/dh_t.
    """
    import torch

    T = x.shape[0]
    states = [h0.detach().clone().requires_grad_(True)]
    for t in range(T):
        states.append(cell(x[t], states[-1]))
    h_T = states[-1]
    squares = torch.zeros(T, dtype=torch.float64)
    eye = torch.eye(h_T.shape[0], dtype=h_T.dtype)
    for i in range(h_T.shape[0]):
        rows = torch.autograd.grad(h_T, states[:T], grad_outputs=eye[i],
                                   retain_graph=True, allow_unused=True)
        for t, row in enumerate(rows):
            if row is not None:
                squares[t] += (row.double() ** 2).sum()
    return np.sqrt(squares.numpy())
