"""Helpers for the visible tests of the GRU gates notebook.

``small_case`` is a tiny fixed example (N=2 rows, D=3 inputs, H=2 hidden units) whose
expected gate values were computed with the course's reference GRU, so you can compare
your numbers with them by hand too. ``square_case`` is the same example cut down to D=2
inputs, so that D = H: there a few shape mistakes (such as ``r * x``) run instead of
raising an error, and the tests can tell you what went wrong.

When your numbers are off, ``check_close`` compares them with what common mistakes give on
the same example (``gates_hints.py``) and names the likely cause when one matches.
"""
import numpy as np

from gru_example import fixed_params
from gates_hints import LIKELY_MISTAKES, SIGMOID_OVERFLOW


def small_case():
    """Return ``(x, h_prev, params)`` for the fixed example: x is (2, 3), h_prev is (2, 2)."""
    params = fixed_params()
    x = np.array([[-0.15, 0.4, -0.14], [0.55, 0.69, 0.66]])
    h_prev = np.array([[0.47, 0.58], [0.31, 0.24]])
    return x, h_prev, params


def square_case():
    """The fixed example with only its first two input features: x is (2, 2), so D = H = 2.

    The feed-forward weights ``W_F*`` keep their first two rows; everything else is as in
    ``small_case``."""
    x, h_prev, params = small_case()
    params = {k: (v[:2] if k.startswith("W_F") else v) for k, v in params.items()}
    return x[:, :2], h_prev, params


EXPECTED = {
    "z": np.array([[0.344591285, 0.7680263046], [0.5260763197, 0.8739671278]]),
    "r": np.array([[0.3585645168, 0.4452207649], [0.1301990454, 0.4372082599]]),
    "h_tilde": np.array([[-0.0230116648, 0.3107567808], [-0.0436306368, 0.2906035101]]),
    "h_next": np.array([[0.3001124769, 0.3732141253], [0.1239632961, 0.2842258044]]),
}

EXPECTED_SQUARE = {
    "z": np.array([[0.3631542038, 0.791567515], [0.4308460809, 0.7840964067]]),
    "r": np.array([[0.3480095483, 0.4650072994], [0.1569101748, 0.3478053673]]),
    "h_tilde": np.array([[-0.0235698353, 0.2722944313], [-0.0189857062, 0.4502860797]]),
    "h_next": np.array([[0.2907580394, 0.3364302676], [0.1682577978, 0.4048845594]]),
}


def rel_error(a, b):
    """Largest relative difference between two arrays (0 when they are equal)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def check_shape(name, got, shape):
    assert isinstance(got, np.ndarray), f"{name} should return a numpy array, got {type(got).__name__}"
    hint = " Did you multiply in the wrong order (x @ W, not W @ x)?" if got.shape == tuple(reversed(shape)) else ""
    assert got.shape == tuple(shape), f"{name} returned shape {got.shape}, expected {tuple(shape)}.{hint}"


def likely_cause(got, mistakes, tol=1e-6):
    """The message of the first mistake in ``mistakes`` whose values ``got`` matches, or ''."""
    for message, values in mistakes:
        values = np.asarray(values, dtype=float)
        if values.shape == np.shape(got) and rel_error(got, values) < tol:
            return message
    return ""


def check_close(name, got, expected, tol=1e-6, hints=None):
    """``got`` must match ``expected`` to ``tol`` (relative error). ``hints`` names the
    example in ``LIKELY_MISTAKES`` whose mistakes to compare with when it does not."""
    check_shape(name, got, np.shape(expected))
    err = rel_error(got, expected)
    if not np.all(np.isfinite(got)):
        raise AssertionError(f"{name} returned nan or inf values:\n{np.round(got, 6)}")
    if not err < tol:   # a nan error is not below tol either
        cause = likely_cause(got, LIKELY_MISTAKES.get(hints, []), tol) if hints else ""
        raise AssertionError(
            f"{name} is off: relative error {err:.2e} (should be below {tol:g})."
            + (f"\nProbable cause: {cause}" if cause else "")
            + f"\ngot\n{np.round(got, 6)}\nexpected\n{np.round(expected, 6)}")
    print(f"{name}: OK (relative error {err:.1e})")


def warning_message(warning):
    """What a warning raised by ``sigmoid`` means (an overflow: the textbook formula)."""
    text = f"sigmoid raised a {type(warning).__name__}: {warning} (it must not warn at all)."
    if "overflow" in str(warning).lower():
        text += f"\nProbable cause: {SIGMOID_OVERFLOW}"
    return text
