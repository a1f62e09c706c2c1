"""Where the course lives and what its master notebooks say.

The repository root is the nbgrader course root (see ``nbgrader_config.py``): master
notebooks in ``solutions/<assignment>/``, student versions in ``notebooks/<assignment>/``.
"""
import functools
import os
import re
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
QUIZ_NAME = re.compile(r"^q\d+_answer$")


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


@dataclass
class MasterNotebook:
    assignment: str
    name: str            # file stem, e.g. "gru_gates"
    path: Path
    tests: list[TestCell] = field(default_factory=list)
    solution_ids: set = field(default_factory=set)
    grade_ids: set = field(default_factory=set)   # every nbgrader cell id of the notebook

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


def master_notebooks(assignment, solutions=SOLUTIONS):
    out = []
    for path in sorted((Path(solutions) / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        master = MasterNotebook(assignment, path.stem, path)
        anchor = exercise = None
        for cell in nb.cells:
            meta = nbgrader_meta(cell)
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
        out.append(master)
    return out


@functools.lru_cache(maxsize=None)
def course_notebooks(solutions=SOLUTIONS):
    """{assignment: [MasterNotebook]}, parsed once per process (grading reads it per notebook)."""
    return {a: master_notebooks(a, solutions) for a in assignments(solutions)}


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
