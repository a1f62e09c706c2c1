"""Helpers for the hidden tests: fresh random cases and comparisons with clear messages.

Hidden tests run in the grader process (see grader/check.py), so these helpers and numpy
here are the grader's own. Tolerances are the contract's: rtol=1e-6, atol=1e-8.
"""
import numpy as np

from .cell import init_params

RTOL, ATOL = 1e-6, 1e-8


def random_case(N=4, D=5, H=3, seed=None, scale=1.0, T=None):
    """Fresh inputs with D != H and N > 1 (and a sequence of length T if asked)."""
    rng = np.random.default_rng(seed)
    params = init_params(D, H, rng, scale=scale)
    x = rng.standard_normal((N, T, D) if T else (N, D))
    h = rng.uniform(-1, 1, (N, H))
    return x, h, params


def assert_array(name, got, shape=None):
    kind = getattr(got, "type_name", type(got).__name__)   # the grader's stand-in says what it was
    assert isinstance(got, np.ndarray), f"{name} returned {kind}, not a numpy array"
    assert np.issubdtype(got.dtype, np.floating), (
        f"{name} returned an array of dtype {got.dtype}; expected floats")
    if shape is not None:
        hint = " (transposed?)" if got.shape == tuple(reversed(shape)) else ""
        assert got.shape == tuple(shape), (
            f"{name} returned shape {got.shape}, expected {tuple(shape)}{hint}")
    assert np.all(np.isfinite(got)), f"{name} returned NaN or infinite values"


def assert_matches(name, got, expected):
    """Shapes exact, values within the contract's tolerance, or a message saying how far."""
    expected = np.asarray(expected)
    assert_array(name, got, expected.shape)
    if not np.allclose(got, expected, rtol=RTOL, atol=ATOL):
        err = np.abs(got - expected)
        where = np.unravel_index(np.argmax(err), err.shape)
        raise AssertionError(
            f"{name} differs from the reference: largest difference {err.max():.3g} at "
            f"index {tuple(int(i) for i in where)} (got {got[where]:.6g}, "
            f"expected {expected[where]:.6g})")
