"""The corpus of hostile, broken and odd submissions (all of ``01_gates``, max 15 points).

Each case builds one student's submission folder and says what the grader must give it:
the statuses allowed, the exact score, and text that must (not) appear in its feedback.
The correct scores: sigmoid 3, update_gate 3, reset_gate 3, candidate_state 3,
gru_cell_forward 3 (which calls the three gates).
"""
import copy
import json
from dataclasses import dataclass, field

import nbformat

from cohort.mistakes import catalogue
from cohort.submissions import answers_for, fill
from grader import course

A, NB = "01_gates", "gru_gates"
ROOT = str(course.ROOT)


@dataclass
class Case:
    id: str
    what: str
    build: object                       # build(folder) writes STUDENT/01_gates/...
    statuses: set
    score: float
    absent: tuple = ()                  # text that must not appear in the graded notebook
    present: tuple = ()                 # text that must appear in the row's detail
    student: str = ""
    extra: dict = field(default_factory=dict)


def master():
    return course.course_notebooks()[A][0]


def notebook(mistakes=(), edit=None):
    answers = answers_for(master(), [catalogue()[m] for m in mistakes])
    if edit:
        edit(answers)
    return fill(A, NB, answers)


def insert_after(nb, grade_id, code):
    """A new learner cell after the cell with ``grade_id`` (None: at the very end)."""
    cell = nbformat.v4.new_code_cell(code)
    idx = len(nb.cells)
    if grade_id is not None:
        idx = 1 + next(i for i, c in enumerate(nb.cells)
                       if course.nbgrader_meta(c).get("grade_id") == grade_id)
    nb.cells.insert(idx, cell)
    return nb


def prefix_body(gid, code):
    """Put ``code`` at the top of the body of the function defined in cell ``gid``
    (right after its docstring)."""
    def edit(answers):
        lines = answers[gid].splitlines(keepends=True)
        doc_end = next(i for i, line in enumerate(lines) if line.rstrip().endswith('"""'))
        extra = ["    " + line + "\n" for line in code.splitlines()]
        answers[gid] = "".join(lines[:doc_end + 1] + extra + lines[doc_end + 1:])
        compile(answers[gid], gid, "exec")
    return edit


def save(folder, student, nb, name=NB + ".ipynb", assignment=A):
    path = folder / student / assignment / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, (bytes, str)):
        path.write_bytes(nb if isinstance(nb, bytes) else nb.encode())
    else:
        nbformat.write(nb, path)
    return path


def simple(nb_factory, name=NB + ".ipynb"):
    return lambda folder, student: save(folder, student, nb_factory(), name)


PROBE = """
import glob, os
targets = {
    "reference": "%(root)s/solutions/gru_reference/cell.py",
    "hidden tests": "%(root)s/solutions/01_gates/gru_gates.ipynb",
    "grader": "%(root)s/grader/verdict.py",
    "git history": "%(root)s/.git/HEAD",
}
targets.update({"gradebook " + p: p for p in glob.glob("/tmp/**/gradebook.db", recursive=True)})
targets.update({"results " + p: p for p in glob.glob("/tmp/**/results/**/*.json", recursive=True)})
targets.update({"other submission " + p: p for p in glob.glob("/tmp/**/submissions/**/*.ipynb", recursive=True)})
targets.update({"kernel keys " + p: p for p in glob.glob("/root/.local/share/jupyter/runtime/*.json")})
for what, path in targets.items():
    try:
        with open(path, "rb") as f:
            f.read(10)
        print("LEAK read", what)
    except OSError as exc:
        print("no access:", what, type(exc).__name__)
    try:
        with open(path, "ab") as f:
            f.write(b"")
        print("LEAK write", what)
    except OSError:
        pass
try:
    import sys
    sys.path.insert(0, "%(root)s/solutions")
    import gru_reference
    print("LEAK import gru_reference")
except ImportError:
    print("no access: import gru_reference")
""" % {"root": ROOT}

ALWAYS_EQUAL = '''
class AlwaysEqual:
    shape = (4, 3)
    def __eq__(self, other): return True
    def __array__(self, *a, **k):
        import numpy
        return numpy.zeros(self.shape)
    def __getattr__(self, name): return self
    def __call__(self, *a, **k): return self
    __rsub__ = __sub__ = __mul__ = __rmul__ = __add__ = __radd__ = lambda self, o: self
    __lt__ = __le__ = __gt__ = __ge__ = __eq__
'''


def _other_assignment(folder, student):
    others = [a for a in course.assignments() if a != A]
    if not others:  # only the gates notebook exists: fake one from a future assignment
        nb = notebook()
        for cell in nb.cells:
            meta = course.nbgrader_meta(cell)
            if meta:
                meta["grade_id"] = "other-" + meta["grade_id"]
        return save(folder, student, nb)
    release = course.RELEASE / others[0]
    nb_path = sorted(release.glob("*.ipynb"))[0]
    return save(folder, student, nb_path.read_bytes())


def _non_utf8(folder, student):
    name = b"caf\xe9-" + student.encode()
    import os
    path = os.path.join(os.fsencode(folder), name, A.encode(), (NB + ".ipynb").encode())
    os.makedirs(os.path.dirname(path))
    nbformat.write(notebook(), path.decode("utf-8", "surrogateescape"))


def _extra_files(folder, student):
    save(folder, student, notebook())
    base = folder / student / A
    (base / "notes.txt").write_text("my notes")
    (base / "scratch.ipynb").write_text("{}")
    (base / "data").mkdir()
    (base / "data" / "x.npy").write_bytes(b"\x93NUMPY junk")
    (folder / student / "random-folder").mkdir()


def _renamed(folder, student):
    save(folder, student, notebook(), name="gru_gates (1).ipynb")


def _nbformat3(folder, student):
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""}, "worksheets": [
        {"cells": [{"cell_type": "code", "input": "x = 1", "language": "python",
                    "outputs": [], "metadata": {}}], "metadata": {}}]}
    save(folder, student, json.dumps(v3))


def _duplicated(nb_factory):
    def factory():
        nb = nb_factory()
        out = []
        for cell in nb.cells:
            out.append(cell)
            if course.is_test_cell(cell):
                out.append(copy.deepcopy(cell))
        for i, c in enumerate(out):
            c["id"] = f"dup-{i}"
        nb.cells = out
        return nb
    return factory


def _strip_metadata():
    nb = notebook()
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def _delete_tests():
    nb = notebook()
    nb.cells = [c for c in nb.cells if not course.is_test_cell(c)]
    return nb


def _edit_tests(mistakes):
    nb = notebook(mistakes)
    for cell in nb.cells:
        if course.is_test_cell(cell):
            cell.source = "pass"
    return nb


def _points_100():
    nb = fill(A, NB, {})
    for cell in nb.cells:
        if course.is_test_cell(cell):
            cell.metadata["nbgrader"]["points"] = 100
    return nb


def _relabel():
    nb = notebook()
    for cell in nb.cells:
        if course.is_test_cell(cell):
            cell.metadata["nbgrader"]["grade_id"] += "-mine"
    return nb


CLOSE_PIPES = """
import os
for fd in range(3, 1024):
    try:
        if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
            os.close(fd)
    except OSError:
        pass
"""

NAN_ANSWERS = {
    "sigmoid": "def sigmoid(a):\n    return np.full(np.shape(a), np.nan)\n",
    "update_gate": "def update_gate(x, h_prev, params):\n"
                   "    return np.full((x.shape[0], params['b_z'].shape[0]), np.nan)\n",
    "reset_gate": "def reset_gate(x, h_prev, params):\n"
                  "    return np.full((x.shape[0], params['b_r'].shape[0]), np.nan)\n",
    "candidate_state": "def candidate_state(x, h_prev, r, params):\n"
                       "    return np.full((x.shape[0], params['b_h'].shape[0]), np.nan)\n",
    "gru_cell_forward": "def gru_cell_forward(x, h_prev, params):\n"
                        "    return np.full(h_prev.shape, np.nan), {}\n",
}

FAKE_NUMPY_TYPE = """
class uint8(np.int64):      # a type that claims to be numpy's uint8, holding -1
    pass
uint8.__module__, uint8.__qualname__ = "numpy", "uint8"
q_value = uint8(-1)
sigmoid = uint8(-1)
"""

DEEP_REPLY = """
import json
_dumps = json.dumps
def dumps(obj, *a, **k):   # every reply the grader reads becomes JSON nested 100,000 deep
    if isinstance(obj, dict) and "seq" in obj:
        return "[" * 100000 + "]" * 100000
    return _dumps(obj, *a, **k)
json.dumps = dumps
"""

DISPLAY_UPDATES = """
from IPython.display import display, update_display
for i in range(20):
    display({"text/plain": "small"}, raw=True, display_id=f"d{i}")
for i in range(20):
    update_display({"text/plain": "A" * 2_000_000}, raw=True, display_id=f"d{i}")
"""

TERMINAL_ESCAPES = ("import warnings\nwarnings.warn('\\x1b[2J\\x1b[H\\x1b]0;OWNED-TITLE\\x07"
                    "FAKE SUMMARY', RuntimeWarning)")

LATE = "test-candidate-hidden"   # the last cell before the last exercise and its tests

CASES = [
    # runaway code
    # (cells after a notebook's last test do not run while grading: these go before it)
    Case("loop-in-cell", "an infinite loop in a cell before the last exercise", simple(
        lambda: insert_after(notebook(), LATE, "while True:\n    pass")), {"timeout"}, 12),
    Case("loop-in-function", "an infinite loop only inside gru_cell_forward",
         simple(lambda: notebook(edit=prefix_body("gru_cell_forward", "while True:\n    pass"))),
         {"timeout"}, 12),
    Case("loop-ignoring-interrupts", "update_gate loops and swallows KeyboardInterrupt",
         simple(lambda: notebook(edit=prefix_body(
             "update_gate", "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n"
             "    except BaseException:\n        pass"))), {"timeout"}, 3),
    Case("memory-bomb-cell", "a cell allocates 16 GiB", simple(
        lambda: insert_after(notebook(), LATE, "hog = bytearray(16 * 2**30)")),
         {"memory_limit"}, 15),
    Case("memory-bomb-function", "update_gate allocates 20 GB on every call",
         simple(lambda: notebook(edit=prefix_body("update_gate", "junk = np.ones((50000, 50000))"))),
         {"memory_limit"}, 9),
    Case("output-flood", "a cell prints 50 MB", simple(
        lambda: insert_after(notebook(), LATE, "for _ in range(50):\n    print('x' * 10**6)")),
         {"graded"}, 15),
    Case("background-process", "starts a process and a double-forked daemon, then returns",
         simple(lambda: insert_after(notebook(), LATE,
                                     "import os, subprocess, time\n"
                                     "subprocess.Popen(['sleep', '987654'])\n"
                                     "if os.fork() == 0:\n    os.setsid()\n"
                                     "    if os.fork() == 0:\n        os.execvp('sleep', ['sleep', '987653'])\n"
                                     "    os._exit(0)\n")), {"graded"}, 15),
    Case("fork-loop", "a fork loop in a cell before the last exercise", simple(lambda: insert_after(
        notebook(), LATE,
        "import os, time\nfor _ in range(100000):\n    try:\n        os.fork()\n"
        "    except OSError:\n        time.sleep(0.01)")), {"timeout", "kernel_died"}, 12),
    # dying kernels
    Case("sys-exit-cell", "sys.exit() in an early cell (IPython catches it)", simple(
        lambda: insert_after(notebook(), "imports", "import sys\nsys.exit(3)")), {"graded"}, 15),
    Case("systemexit-in-function", "update_gate raises SystemExit",
         simple(lambda: notebook(edit=prefix_body("update_gate", "raise SystemExit('bye')"))),
         {"graded"}, 9),
    Case("os-exit", "os._exit(0) after the update-gate tests", simple(lambda: insert_after(
        notebook(), "test-update-hidden", "import os\nos._exit(0)")), {"kernel_died"}, 6),
    Case("segfault", "reset_gate reads address 0 with ctypes",
         simple(lambda: notebook(edit=prefix_body("reset_gate", "import ctypes\nctypes.string_at(0)"))),
         {"kernel_died"}, 6),
    Case("closes-channel", "closes every pipe the kernel holds (the grader's channel too)",
         simple(lambda: insert_after(notebook(), "imports", CLOSE_PIPES)), {"graded"}, 0),
    Case("nan-answers", "every function returns nan of the right shape", simple(
        lambda: fill(A, NB, {**answers_for(master()), **NAN_ANSWERS})), {"graded"}, 0),
    Case("fake-numpy-type", "after the sigmoid tests, sigmoid becomes a 'numpy.uint8' of -1",
         simple(lambda: insert_after(notebook(), "test-sigmoid-hidden", FAKE_NUMPY_TYPE)),
         {"graded"}, 6),   # sigmoid's tests ran before; candidate_state needs no sigmoid
    Case("deep-json-replies", "the kernel answers the grader with JSON nested 100,000 deep",
         simple(lambda: insert_after(notebook(), "imports", DEEP_REPLY)), {"graded"}, 0),
    Case("display-update-flood", "20 displays, each updated to 2 MB", simple(
        lambda: insert_after(notebook(), "imports", DISPLAY_UPDATES)), {"graded"}, 15),
    Case("terminal-escapes", "update_gate warns with escape sequences for the terminal",
         simple(lambda: notebook(edit=prefix_body("update_gate", TERMINAL_ESCAPES))),
         {"graded"}, 15),
    # cheating
    Case("patched-comparisons", "patches np.allclose, assert_allclose and builtins, "
         "with z and 1 - z swapped", simple(lambda: insert_after(
             notebook(["gates-update-flipped"]), "imports",
             "import math\nnp.allclose = lambda *a, **k: True\n"
             "np.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)\n"
             "np.testing.assert_allclose = lambda *a, **k: None\n"
             "np.array_equal = lambda *a, **k: True\nmath.isclose = lambda *a, **k: True")),
         {"graded"}, 12),
    Case("always-equal", "update_gate returns an object equal to everything",
         simple(lambda: insert_after(notebook(edit=prefix_body(
             "update_gate", "return AlwaysEqual()")), "imports", ALWAYS_EQUAL)), {"graded"}, 9),
    Case("ndarray-subclass", "update_gate returns an ndarray subclass whose == is always True",
         simple(lambda: insert_after(notebook(edit=prefix_body(
             "update_gate", "return np.zeros((x.shape[0], params['b_z'].shape[0])).view(Sneaky)")),
             "imports", "class Sneaky(np.ndarray):\n    def __eq__(self, o):\n"
                        "        return np.ones(self.shape, bool)\n"
                        "    def __sub__(self, o):\n        return np.zeros(self.shape)\n")),
         {"graded"}, 9),
    Case("probe-secrets", "tries to read and write the reference, hidden tests, gradebook, "
         "results, other submissions and kernel keys", simple(lambda: insert_after(
             notebook(), "imports", PROBE)), {"graded"}, 15, absent=("LEAK",)),
    Case("reference-import", "defines every function from gru_reference",
         simple(lambda: fill(A, NB, {gid: "import sys\nsys.path.insert(0, %r)\n"
                                          "from gru_reference import %s" % (ROOT + "/solutions", gid)
                                     for gid in master().solution_ids})), {"graded"}, 0),
    Case("mutates-params", "update_gate zeroes params['W_Fz'] after computing z",
         simple(lambda: notebook(edit=lambda a: a.__setitem__("update_gate", a["update_gate"].replace(
             "    return sigmoid(", "    z = sigmoid(").rstrip() + "\n    params['W_Fz'][:] = 0\n    return z\n"))),
         {"graded"}, 9),
    Case("seterr-ignore", "silences numpy warnings with np.seterr, textbook sigmoid",
         simple(lambda: insert_after(notebook(["gates-naive-sigmoid"]), "imports",
                                     "np.seterr(all='ignore')")), {"graded"}, 12),
    Case("delete-test-cells", "deletes every test cell (correct code)", simple(_delete_tests),
         {"graded"}, 15,
         present=("deleted",)),
    Case("edit-test-cells", "replaces every test cell by `pass` (z and 1 - z swapped)",
         simple(lambda: _edit_tests(["gates-update-flipped"])), {"graded"}, 12,
         present=("edited",)),
    Case("inflate-points", "sets every test cell's points to 100 (blank notebook)",
         simple(lambda: _points_100()), {"not_attempted"}, 0, present=("metadata",)),
    Case("relabel-grade-ids", "renames every test cell's grade id (correct code)",
         simple(lambda: _relabel()), {"graded"}, 15),
    Case("duplicated-test-cells", "every test cell twice (correct code)",
         simple(_duplicated(notebook)), {"graded"}, 15, present=("duplicated",)),
    Case("stripped-metadata", "all nbgrader metadata removed (correct code)",
         simple(_strip_metadata), {"graded"}, 15),
    # broken files
    Case("invalid-json", "truncated JSON", simple(lambda: '{"cells": [{"cell_type": "co'),
         {"invalid_notebook"}, 0),
    Case("empty-file", "a zero-byte file", simple(lambda: b""), {"invalid_notebook"}, 0),
    Case("binary-junk", "random bytes named .ipynb", simple(lambda: bytes(range(256)) * 4),
         {"invalid_notebook"}, 0),
    Case("nbformat-3", "an nbformat 3 notebook (converted, nothing answered)", _nbformat3,
         {"graded"}, 0),
    Case("renamed-notebook", "the notebook saved as 'gru_gates (1).ipynb'", _renamed,
         {"graded"}, 15, present=("expected gru_gates.ipynb",)),
    Case("missing-notebook", "an assignment folder with no notebook", lambda f, s: (
        (f / s / A).mkdir(parents=True), (f / s / A / "readme.txt").write_text("oops")),
         {"missing"}, 0),
    Case("other-assignment", "another assignment's notebook under this name",
         _other_assignment, {"wrong_assignment"}, 0),
    Case("extra-files", "extra files and folders beside a correct notebook", _extra_files,
         {"graded"}, 15),
    Case("non-utf8-name", "a student folder whose name is not UTF-8", _non_utf8, {"graded"}, 15,
         student="caf\\xe9-non-utf8-name"),
    # honest code that stock nbgrader mis-scores
    Case("honest-stderr", "correct code that prints to stderr and warns", simple(
        lambda: notebook(edit=prefix_body(
            "update_gate", "import sys, warnings\nprint('debug', file=sys.stderr)\n"
                           "warnings.warn('just saying')"))), {"graded"}, 15),
]
