"""Helpers for the visible tests of the GRU gates notebook.

``small_case`` is a tiny fixed example (N=2 rows, D=3 inputs, H=2 hidden units) whose
expected gate values were computed with the course's reference GRU, so you can compare
your numbers with them by hand too.
"""
import numpy as np


def small_case():
    """Return ``(x, h_prev, params)`` for the fixed example: x is (2, 3), h_prev is (2, 2)."""
    params = {
        "W_Fz": np.array([[0.84, 0.43], [-0.47, 0.05], [0.58, 0.98]]),
        "W_Rz": np.array([[0.33, 0.53], [0.34, 0.81]]),
        "b_z": np.array([-0.6, 0.66]),
        "W_Fr": np.array([[-0.79, -0.76], [-0.9, 0.21], [-0.33, 0.57]]),
        "W_Rr": np.array([[-0.33, -0.04], [0.86, 0.07]]),
        "b_r": np.array([-0.73, -0.36]),
        "W_Fh": np.array([[0.33, 0.3], [-0.16, -0.05], [-0.06, -0.27]]),
        "W_Rh": np.array([[0.27, 0.3], [0.8, -0.24]]),
        "b_h": np.array([-0.17, 0.36]),
    }
    x = np.array([[-0.15, 0.4, -0.14], [0.55, 0.69, 0.66]])
    h_prev = np.array([[0.47, 0.58], [0.31, 0.24]])
    return x, h_prev, params


EXPECTED = {
    "z": np.array([[0.344591285, 0.7680263046], [0.5260763197, 0.8739671278]]),
    "r": np.array([[0.3585645168, 0.4452207649], [0.1301990454, 0.4372082599]]),
    "h_tilde": np.array([[-0.0230116648, 0.3107567808], [-0.0436306368, 0.2906035101]]),
    "h_next": np.array([[0.3001124769, 0.3732141253], [0.1239632961, 0.2842258044]]),
}


def rel_error(a, b):
    """Largest relative difference between two arrays (0 when they are equal)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def check_shape(name, got, shape):
    assert isinstance(got, np.ndarray), f"{name} should return a numpy array, got {type(got).__name__}"
    hint = " Did you multiply in the wrong order (x @ W, not W @ x)?" if got.shape == tuple(reversed(shape)) else ""
    assert got.shape == tuple(shape), f"{name} returned shape {got.shape}, expected {tuple(shape)}.{hint}"


def check_close(name, got, expected, tol=1e-6):
    check_shape(name, got, np.shape(expected))
    err = rel_error(got, expected)
    assert err < tol, (f"{name} is off: relative error {err:.2e} (should be below {tol:g}).\n"
                       f"got\n{np.round(got, 6)}\nexpected\n{np.round(expected, 6)}")
    print(f"{name}: OK (relative error {err:.1e})")
