"""notebooks/ is exactly what nbgrader makes of solutions/, and both are clean."""
import re
import shutil

import nbformat
import pytest

from grader import course
from grader.release import release

ASSIGNMENTS = course.assignments()


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(course.SOLUTIONS, root / "solutions",
                    ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy(course.ROOT / "nbgrader_config.py", root)
    release(root)
    return root / "notebooks"


def _files(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts)


def test_release_matches_its_source(fresh_release):
    assert _files(fresh_release) == _files(course.RELEASE), \
        "notebooks/ differs from a fresh release: run `python -m grader release`"
    for rel in _files(fresh_release):
        assert (fresh_release / rel).read_bytes() == (course.RELEASE / rel).read_bytes(), \
            f"notebooks/{rel} is out of step with solutions/: run `python -m grader release`"


def test_reference_package_is_not_released():
    assert not (course.RELEASE / "gru_reference").exists()
    for path in course.RELEASE.rglob("*"):
        if path.is_file():
            assert "gru_reference" not in path.read_text(errors="ignore"), path


@pytest.mark.parametrize("folder", [course.SOLUTIONS, course.RELEASE])
def test_notebooks_are_committed_without_outputs(folder):
    for path in folder.rglob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path}: outputs"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_notebooks_hide_solutions_and_hidden_tests(assignment):
    for path in (course.RELEASE / assignment).glob("*.ipynb"):
        text = path.read_text()
        for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"{path} leaks {marker}"
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if course.nbgrader_meta(cell).get("solution") and cell.cell_type == "code":
                assert "raise NotImplementedError" in cell.source, cell.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_master_notebooks_are_well_formed(assignment):
    for master in course.read_notebooks(assignment):
        nb = nbformat.read(master.path, as_version=4)
        nbformat.validate(nb)
        ids = [course.nbgrader_meta(c)["grade_id"] for c in nb.cells if course.nbgrader_meta(c)]
        assert len(ids) == len(set(ids)), f"duplicate grade ids in {master.path}"
        assert master.tests and all(t.points > 0 for t in master.tests)
        for test in master.tests:
            compile(test.source, test.grade_id, "exec")  # a syntax error would cost everyone


QUIZZES = [(m, q) for ms in course.course_notebooks().values() for m in ms for q in m.quiz.values()]


def test_quiz_keys_never_reach_the_release(fresh_release):
    """Quiz questions are declared in the masters' answer cells (name, options, key); the
    release keeps the name and the options (``grader check`` reads them), never the key."""
    assert QUIZZES, "the course's quizzes declare their questions"
    for folder in (course.RELEASE, fresh_release):
        for aid in ASSIGNMENTS:
            released = {m.name: m for m in course.read_notebooks(aid, folder)}
            for master in course.read_notebooks(aid):
                declared = {n: (q.cell, q.options, q.tests) for n, q in master.quiz.items()}
                assert declared == {n: (q.cell, q.options, q.tests)
                                    for n, q in released[master.name].quiz.items()}
                assert all(q.key is None for q in released[master.name].quiz.values())
        for path in folder.rglob("*.ipynb"):
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                assert course.QUIZ_KEY not in cell.metadata.get(course.QUIZ_META, {}), path
            assert f'"{course.QUIZ_KEY}"' not in path.read_text(), f"{path} leaks a quiz key"


def test_nbgraders_own_generate_assignment_strips_the_keys_too(tmp_path):
    """An instructor who releases with nbgrader itself (``nbgrader generate_assignment`` or
    formgrader's Generate) gets the same release: nbgrader_config.py adds the preprocessor
    that removes the keys to nbgrader's own list."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = tmp_path / "course"
    shutil.copytree(course.SOLUTIONS / "05_quiz", root / "solutions" / "05_quiz")
    shutil.copy(course.ROOT / "nbgrader_config.py", root)
    nbgrader = Path(sys.executable).parent / "nbgrader"
    proc = subprocess.run([str(nbgrader), "generate_assignment", "05_quiz", "--force",
                           "--CourseDirectory.db_url=sqlite:///" + str(tmp_path / "gb.db")],
                          cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": f"{nbgrader.parent}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    (released,) = (root / "notebooks" / "05_quiz").glob("*.ipynb")
    nb = nbformat.read(released, as_version=4)
    quizzes = [c.metadata["quiz"] for c in nb.cells if "quiz" in c.metadata]
    assert len(quizzes) == 9 and all(set(q) == {"name", "options"} for q in quizzes)
    assert '"key"' not in released.read_text()


def _passes(master, question, answer):
    """Whether every hidden test of the question accepts ``answer``."""
    from gru_reference.quiz import QuizNotRight

    for test in master.tests:
        if test.grade_id in question.tests and "BEGIN HIDDEN TESTS" in test.source:
            try:
                exec(test.source, {question.name: answer})  # noqa: S102 (the course's own tests)
            except QuizNotRight:
                return False
    return True


@pytest.mark.parametrize("master, question", QUIZZES,
                         ids=[f"{m.assignment}-{q.name}" for m, q in QUIZZES])
def test_declared_quiz_key_is_what_the_hidden_test_accepts(master, question, monkeypatch):
    """The declared key (the report's, ``course.quiz_questions``) and the hidden test's own
    literal key cannot drift apart: the hidden test accepts the declared key, and the
    master's own answer, and nothing one option away."""
    monkeypatch.syspath_prepend(str(course.SOLUTIONS))
    assert question.key and question.key <= set(question.options)
    assert any("BEGIN HIDDEN TESTS" in t.source for t in master.tests if t.grade_id in question.tests)
    nb = nbformat.read(master.path, as_version=4)
    answer_cell = next(c for c in nb.cells if course.nbgrader_meta(c).get("grade_id") == question.cell)
    own = {}
    exec(answer_cell.source, own)  # noqa: S102 (the master's solution)
    assert own[question.name] == set(question.key)
    # the options are the lesson's (the bullets before the answer cell) and the visible test's
    text = nb.cells[nb.cells.index(answer_cell) - 1].source
    assert "".join(re.findall(r"^\* \*\*([A-Z])\.\*\*", text, re.M)) == question.options
    for test in master.tests:
        if test.grade_id in question.tests and "BEGIN HIDDEN TESTS" not in test.source:
            assert f'check_format("{question.name}", {question.name}, "{question.options}")' in test.source
    assert _passes(master, question, set(question.key))
    for letter in question.options:
        near = set(question.key) ^ {letter}
        if near:
            assert not _passes(master, question, near), f"{question.name} also accepts {near}"
