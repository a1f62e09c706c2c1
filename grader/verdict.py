"""Run the instructor's test cells in the grader process.

A test cell's code (visible part and hidden tests, always taken from the master notebook,
never from the submission) is executed here with the learner's functions bound to
``LearnerFunction`` proxies: numpy, the reference GRU and every assertion are the
grader's own, out of the learner's reach.
"""
import builtins
import contextlib
import io
import re
import traceback

from . import course
from .protocol import GradingStopped, LearnerError
from .result import TestResult

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)


def hidden_lines(source):
    """Line numbers (1-based) that belong to hidden tests."""
    lines = set()
    for m in HIDDEN.finditer(source):
        first = source.count("\n", 0, m.start()) + 1
        last = source.count("\n", 0, m.end()) + 1
        lines.update(range(first, last + 1))
    return lines


def _describe_failure(exc, test, filename):
    """A message about the failure that shows visible test code only."""
    hidden = hidden_lines(test.source)
    line_no = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == filename:
            line_no = frame.lineno
    where = ""
    if line_no is not None:
        if line_no in hidden:
            where = "in a hidden test"
        else:
            code = test.source.splitlines()[line_no - 1].strip()
            where = f"at line {line_no} of the test: {code}"
    if isinstance(exc, LearnerError) and exc.ename == "NotImplementedError":
        return f"{exc.name} is not written yet (it still raises NotImplementedError)", where
    if isinstance(exc, LearnerError):
        return f"{exc.name} raised {exc.ename}: {exc.evalue}", where
    if isinstance(exc, AssertionError):
        return (str(exc) or "an assertion failed"), where
    if isinstance(exc, NameError):
        return (f"{exc}. Define it (and run its cell) before the test runs."), where
    return f"{type(exc).__name__}: {exc}", where


def importable(test, support_dir):
    """What a test cell imports: the assignment's helper modules (``support_dir``, the
    release's copy) and, for hidden tests, the reference GRU in solutions/ (only the
    grader's process sees it; a learner's ``check`` runs visible tests only)."""
    return course.importable(support_dir, *([course.SOLUTIONS] if HIDDEN.search(test.source) else []))


def run_test(test, learner_ns, support_dir):
    """Run one test cell. A limit hit while it runs (``GradingStopped``: a timeout, the
    kernel's death) propagates, since no test runs after it; ``stopped`` is its verdict."""
    result = TestResult(test.grade_id, test.points)
    filename = f"<test {test.grade_id}>"
    ns = {"__name__": "__grader_test__", "__builtins__": builtins}
    ns.update(learner_ns)
    out = io.StringIO()
    try:
        code = compile(test.source, filename, "exec")
        with importable(test, support_dir), contextlib.redirect_stdout(out):
            exec(code, ns)  # noqa: S102 (instructor's own test code, from solutions/)
    except GradingStopped:
        raise
    except Exception as exc:  # noqa: BLE001 (any failure of a test costs its points)
        message, where = _describe_failure(exc, test, filename)
        result.message = message + (f"\n({where})" if where else "")
        if isinstance(exc, LearnerError):
            result.learner_traceback = exc.learner_traceback
        else:   # a hidden test named the probable mistake (gru_reference.testing.Diagnosed)
            diagnosis = getattr(exc, "diagnosis", None)
            if isinstance(diagnosis, str) and diagnosis:
                result.diagnosis = diagnosis
            # a quiz question's explanation of each wrong choice: shown to the learner only
            # once the instructor releases it (autograde --reveal-quiz)
            explanation = getattr(exc, "explanation", None)
            if isinstance(explanation, str) and explanation:
                result.explanation = explanation[:6000]
    else:
        result.passed, result.points = True, test.points
    finally:
        result.output = out.getvalue()[-20000:]
    return result


def stopped(test, stop):
    """The verdict of the test during which grading stopped."""
    return TestResult(test.grade_id, test.points, message=str(stop))


def unanswered(test, exc):
    """The test's result when the kernel could not even say which names it defines (its
    own code broke the channel to the grader): the test fails, as learner code caused it."""
    return TestResult(test.grade_id, test.points, message=f"{exc.name}: {exc.evalue}")


def learner_names(source_tests):
    """The learner names these tests may need: the contract's functions and quiz answers."""
    names = set(course.LEARNER_FUNCTIONS)
    names.update(test.quiz for test in source_tests if test.quiz)
    return sorted(names)
