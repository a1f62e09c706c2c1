"""Plausible mistakes in the vanishing-gradients notebook."""
from . import Mistake

A = "04_vanishing"
JACOBIAN = frozenset({"test-jacobian-visible", "test-jacobian-hidden"})
CELL = "hidden_jacobian_norms"
RETURN = '    return np.linalg.norm(J, ord="fro", axis=(1, 2))'

MISTAKES = [
    Mistake("vanishing-reversed", A, CELL,
            ((RETURN, RETURN + "[::-1]"),),
            JACOBIAN, "the norms are indexed by the distance T - t instead of by t",
            diagnosis="norms-reversed"),
    Mistake("vanishing-wrt-inputs", A, CELL,
            (("    states = [h]", "    states = [h]\n    inputs = []"),
             ("        h = cell(x[t], h)",
              "        x_t = x[t].detach().clone().requires_grad_(True)\n"
              "        inputs.append(x_t)\n"
              "        h = cell(x_t, h)"),
             ("J = np.zeros((T, H, H))", "J = np.zeros((T, H, x.shape[1]))"),
             ("torch.autograd.grad(h_T, states[:T],", "torch.autograd.grad(h_T, inputs,")),
            JACOBIAN, "the Jacobian with respect to the inputs x_t instead of the states h_t",
            diagnosis="jacobian-wrt-inputs"),
    Mistake("vanishing-vjp-of-sum", A, CELL,
            (("""    J = np.zeros((T, H, H))                         # J[t] will be dh_T/dh_t
    for i in range(H):
        e_i = torch.zeros_like(h_T)
        e_i[i] = 1.0
        # one backward pass from e_i gives row i of every dh_T/dh_t at once
        rows = torch.autograd.grad(h_T, states[:T], grad_outputs=e_i,
                                   retain_graph=True, allow_unused=True)
        for t, row in enumerate(rows):
            if row is not None:                     # None: h_T does not depend on h_t
                J[t, i] = row.detach().numpy()
""" + RETURN,
              """    grads = torch.autograd.grad(h_T.sum(), states[:T], allow_unused=True)
    return np.array([0.0 if g is None else torch.norm(g).item() for g in grads])"""),),
            JACOBIAN, "the norm of the gradient of h_T.sum() (one vector-Jacobian product), "
                      "not of the whole Jacobian",
            diagnosis="vjp-of-sum"),
    Mistake("vanishing-off-by-one", A, CELL,
            (("torch.autograd.grad(h_T, states[:T],", "torch.autograd.grad(h_T, states[1:],"),),
            JACOBIAN, "entry t is dh_T/dh_{t+1}: the states are shifted by one step",
            diagnosis="norms-off-by-one"),
    Mistake("vanishing-torch-tensor", A, CELL,
            ((RETURN, "    return torch.linalg.matrix_norm(torch.from_numpy(J))"),),
            JACOBIAN, "returns a torch tensor instead of a numpy array"),
    Mistake("vanishing-detached", A, CELL,
            (("        h = cell(x[t], h)", "        h = cell(x[t], h.detach())"),),
            JACOBIAN, "the state is detached before each step, so no gradient flows back",
            diagnosis="state-detached"),
    Mistake("vanishing-spectral", A, CELL,
            (('ord="fro"', "ord=2"),),
            JACOBIAN, "the spectral norm (largest singular value) instead of the Frobenius norm",
            diagnosis="spectral-norm"),
]
