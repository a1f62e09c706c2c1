"""Where the course lives and what its master notebooks say.

The repository root is the nbgrader course root (see ``nbgrader_config.py``): master
notebooks in ``solutions/<assignment>/``, student versions in ``notebooks/<assignment>/``.
"""
import contextlib
import functools
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
RELEASE = ROOT / "notebooks"

# The names learners define (docs/notation.md); only these cross from the
# kernel into the grader, everything else a test uses comes from the grader side.
LEARNER_FUNCTIONS = (
    "sigmoid", "update_gate", "reset_gate", "candidate_state", "gru_cell_forward",
    "gru_cell_backward", "gru_forward", "gru_backward",
    "rnn_param_count", "gru_param_count", "lstm_param_count", "hidden_jacobian_norms",
)
# A quiz question is declared once, in the master notebook: its answer cell's metadata
# ``"quiz": {"name": "q1_answer", "options": "ABCDEF", "key": "BE"}`` (the learner's
# variable, the option letters, the right letters). The release keeps the name and the
# options (``grader check`` reads them) and strips the key (``StripQuizKeys`` in
# ``nbgrader_config.py``).
QUIZ_META = "quiz"
QUIZ_KEY = "key"


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell):
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


@dataclass
class TestCell:
    grade_id: str
    points: float
    source: str          # with hidden tests: runs in the grader only
    anchor: str | None   # grade_id of the nearest graded/solution cell before it
    exercise: str | None = None   # grade_id of the nearest answer cell before it
    quiz: str | None = None       # the quiz answer it checks ("q1_answer"), if any


@dataclass(frozen=True)
class QuizQuestion:
    name: str                 # the learner's variable, e.g. "q1_answer"
    cell: str                 # grade_id of its answer cell, e.g. "q1"
    options: str              # its option letters, e.g. "ABCDEF"
    key: frozenset | None     # the right letters; None in a released notebook
    tests: tuple = ()         # grade_ids of the test cells that check it


@dataclass
class CourseNotebook:
    """One notebook of the course as the grader reads it: a master in solutions/ (tests
    with their hidden parts, quiz keys) or its release in notebooks/ (neither)."""
    assignment: str
    name: str            # file stem, e.g. "gru_gates"
    path: Path
    tests: list[TestCell] = field(default_factory=list)
    solution_ids: set = field(default_factory=set)
    grade_ids: set = field(default_factory=set)   # every nbgrader cell id of the notebook
    quiz: dict = field(default_factory=dict)      # {"q1_answer": QuizQuestion}, in order

    @property
    def max_score(self):
        return sum(t.points for t in self.tests)

    @property
    def filename(self):
        return self.name + ".ipynb"


def assignments(solutions=SOLUTIONS):
    """Assignment ids: folders of ``solutions/`` that hold notebooks, in order."""
    return sorted(p.name for p in Path(solutions).iterdir()
                  if p.is_dir() and not p.name.startswith((".", "_")) and any(p.glob("*.ipynb")))


def read_notebooks(assignment, solutions=SOLUTIONS):
    """[CourseNotebook] of one assignment, read from ``solutions`` (or from a release)."""
    out = []
    for path in sorted((Path(solutions) / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        master = CourseNotebook(assignment, path.stem, path)
        anchor = exercise = None
        declared = {}
        for cell in nb.cells:
            meta = nbgrader_meta(cell)
            if meta.get("solution") and cell.get("metadata", {}).get(QUIZ_META):
                declared[meta["grade_id"]] = _quiz_declaration(cell, path)
            if is_test_cell(cell):
                master.tests.append(TestCell(meta["grade_id"], float(meta.get("points", 0)),
                                             cell.source, anchor, exercise))
            if meta.get("solution"):
                exercise = meta["grade_id"]
            if meta.get("grade_id"):
                anchor = meta["grade_id"]
                master.grade_ids.add(anchor)
                if meta.get("solution"):
                    master.solution_ids.add(anchor)
        for cell_id, (name, options, key) in declared.items():
            tests = tuple(t.grade_id for t in master.tests if t.exercise == cell_id)
            master.quiz[name] = QuizQuestion(name, cell_id, options, key, tests)
            for t in master.tests:
                if t.exercise == cell_id:
                    t.quiz = name
        out.append(master)
    return out


def _quiz_declaration(cell, path):
    """(name, options, key or None) of an answer cell's quiz metadata, checked."""
    quiz = cell["metadata"][QUIZ_META]
    name, options, key = quiz.get("name"), quiz.get("options"), quiz.get(QUIZ_KEY)
    where = f"{path}, cell {nbgrader_meta(cell).get('grade_id')}"
    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"{where}: quiz metadata needs a 'name', the learner's variable")
    if not (isinstance(options, str) and options.isalpha() and options.isupper()
            and len(set(options)) == len(options)):
        raise ValueError(f"{where}: quiz 'options' must be distinct uppercase letters")
    if key is not None:
        if not (isinstance(key, str) and key and set(key) <= set(options)):
            raise ValueError(f"{where}: quiz 'key' must be some of the letters {options}")
        key = frozenset(key)
    return name, options, key


def quiz_questions(master):
    """{"q1_answer": QuizQuestion} of a notebook (master: with keys; release: keys None)."""
    return dict(master.quiz)


@functools.lru_cache(maxsize=None)
def quiz_names(solutions=SOLUTIONS):
    """Every quiz answer variable of the course (frozenset; empty without solutions/)."""
    try:
        masters = course_notebooks(solutions)
    except OSError:
        return frozenset()
    return frozenset(n for ms in masters.values() for m in ms for n in m.quiz)


@functools.lru_cache(maxsize=None)
def course_notebooks(solutions=SOLUTIONS):
    """{assignment: [CourseNotebook]}, parsed once per process (grading reads it per notebook)."""
    return {a: read_notebooks(a, solutions) for a in assignments(solutions)}


def test_label(assignment, notebook, grade_id):
    """What a reader calls a test: 'update_gate · visible tests' for 'test-update-visible';
    two tests of one exercise and kind are told apart by what differs in their ids
    ('gru_cell_backward (params) · visible tests')."""
    masters = {m.name: m for m in course_notebooks().get(assignment, [])}
    tests = getattr(masters.get(notebook), "tests", [])
    test = next((t for t in tests if t.grade_id == grade_id), None)
    name, kind = exercise_name(grade_id)
    if test is not None and test.exercise:
        twins = [exercise_name(t.grade_id)[0] for t in tests
                 if t.exercise == test.exercise and exercise_name(t.grade_id)[1] == kind]
        if len(twins) > 1:
            common = os.path.commonprefix(twins)
            own = name[len(common):].strip("-_") or name
            name = f"{test.exercise} ({own})"
        else:
            name = test.exercise
    return f"{name} · {kind} tests" if kind else name


def exercise_name(grade_id):
    """'test-sigmoid-visible' -> ('sigmoid', 'visible')."""
    m = re.match(r"^(?:test[-_])?(.*?)(?:[-_](visible|hidden))?$", grade_id)
    return m.group(1) or grade_id, m.group(2) or ""


@functools.lru_cache(maxsize=None)
def markdown_sources(solutions=SOLUTIONS, release=RELEASE):
    """Every Markdown cell's text in the masters and the release: the course's own words,
    which a feedback page renders as written (anything else is sanitized)."""
    texts = set()
    for folder in (Path(solutions), Path(release)):
        for path in folder.glob("*/*.ipynb"):
            nb = nbformat.read(path, as_version=4)
            texts.update(c.source for c in nb.cells if c.cell_type == "markdown")
    return frozenset(texts)


@contextlib.contextmanager
def importable(*folders):
    """``folders`` first on ``sys.path`` for the duration (the hidden tests' and the
    report's imports of the reference GRU in solutions/, an assignment's helper modules),
    then as before: the grader's own imports never see them."""
    added = [str(f) for f in folders if str(f) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for path in added:
            sys.path.remove(path)
