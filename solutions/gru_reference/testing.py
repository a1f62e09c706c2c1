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


def assert_matches(name, got, expected, diagnose=None):
    """Shapes exact, values within the contract's tolerance, or a message saying how far.

    ``diagnose`` (optional): a callable such as ``diagnosis_for(...)``, asked only when the
    values differ; when it names a mistake the error is ``Diagnosed`` ("Probable cause: ...").
    """
    expected = np.asarray(expected)
    assert_array(name, got, expected.shape)
    if not np.allclose(got, expected, rtol=RTOL, atol=ATOL):
        err = np.abs(got - expected)
        where = np.unravel_index(np.argmax(err), err.shape)
        fail(f"{name} differs from the reference: largest difference {err.max():.3g} at "
             f"index {tuple(int(i) for i in where)} (got {got[where]:.6g}, "
             f"expected {expected[where]:.6g})", diagnose)


# ------------------------------------------------------------------ diagnoses

class Diagnosed(AssertionError):
    """A failed comparison whose numbers match a catalogued mistake (``diagnose.py``).

    ``diagnosis`` is the mistake's id (the grader records it in the test's result),
    ``details`` the full ``Diagnosis``; the message ends with "Probable cause: ...".
    """

    def __init__(self, message, diagnosis):
        self.diagnosis = diagnosis.id
        self.details = diagnosis
        self.plain_message = message
        super().__init__(f"{message}\nProbable cause: {diagnosis.message}")

    def __reduce__(self):
        return type(self), (self.plain_message, self.details)


def diagnosis_for(function, got, *inputs, parts=None):
    """A lazy, cached diagnosis of ``got``: call it (only on a failure) to get one or None.

    Pass it as ``diagnose=`` to ``assert_matches`` or ``fail``. ``function``, ``inputs``
    and ``parts`` are those of ``gru_reference.diagnose.diagnose``.
    """
    from .diagnose import diagnose

    memo = []

    def find():
        if not memo:
            memo.append(diagnose(function, got, *inputs, parts=parts))
        return memo[0]

    return find


def fail(message, diagnose=None, undiagnosed=None):
    """Raise ``Diagnosed`` when ``diagnose`` (a Diagnosis, or a callable returning one or
    None) finds a cause; otherwise an AssertionError with ``undiagnosed`` (or ``message``)."""
    found = diagnose() if callable(diagnose) else diagnose
    if found is not None:
        raise Diagnosed(message, found)
    raise AssertionError(undiagnosed if undiagnosed is not None else message)


def check_against_reference(function, got, *inputs, label=None, parts=None):
    """Compare a learner's whole answer with the reference, part by part; on a mismatch,
    name the probable mistake (``Diagnosed``) when its numbers match a catalogued one.

    ``function``/``inputs``/``parts`` as in ``gru_reference.diagnose``; ``label`` names the
    call in messages (default: the function's name). Returns the reference's answer.
    """
    from .diagnose import _parts, _select, reference

    label = label or function
    expected = reference(function, *inputs)
    want = _select(_parts(function, expected), parts)
    if function in ("gru_cell_forward", "gru_forward", "gru_cell_backward", "gru_backward"):
        n = len(expected)
        assert isinstance(got, tuple) and len(got) == n, (
            f"{label} must return a tuple of {n} values, got "
            f"{getattr(got, 'type_name', type(got).__name__)}")
        if function in ("gru_cell_backward", "gru_backward"):
            grads = got[2]
            assert isinstance(grads, dict) and set(grads) == set(expected[2]), (
                f"{label}: grads must be a dict with exactly the keys {sorted(expected[2])}")
    mine = _select(_parts(function, got), parts)
    why = diagnosis_for(function, got, *inputs, parts=parts)
    for name, value in want.items():
        part = label if name == "value" else f"{label} {name}"
        assert_matches(part, mine[name], value, diagnose=why)
    return expected


def call_without_warnings(function, fn, *args):
    """``fn(*args)`` with every warning turned into a failure, diagnosed when it can be
    (the textbook sigmoid's overflow). ``function`` is the contract name of ``fn``."""
    import warnings

    from .diagnose import diagnose_warning

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return fn(*args)
        except Warning as w:
            fail(f"{function} raised a {type(w).__name__}: {w}", diagnose_warning(function, w))
