"""notebooks/ is exactly what nbgrader makes of solutions/, and both are clean."""
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
    for master in course.master_notebooks(assignment):
        nb = nbformat.read(master.path, as_version=4)
        nbformat.validate(nb)
        ids = [course.nbgrader_meta(c)["grade_id"] for c in nb.cells if course.nbgrader_meta(c)]
        assert len(ids) == len(set(ids)), f"duplicate grade ids in {master.path}"
        assert master.tests and all(t.points > 0 for t in master.tests)
        for test in master.tests:
            compile(test.source, test.grade_id, "exec")  # a syntax error would cost everyone
