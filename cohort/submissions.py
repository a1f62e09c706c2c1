"""Build submission notebooks from the release, as a learner would fill them in."""
import copy
import re

import nbformat

from grader import course

SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*\n?", re.S | re.M)


def solution_code(master_path):
    """{grade_id: source} of each solution cell with its solution written in (no markers)."""
    nb = nbformat.read(master_path, as_version=4)
    out = {}
    for cell in nb.cells:
        meta = course.nbgrader_meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            out[meta["grade_id"]] = SOLUTION.sub(lambda m: m.group(1), cell.source)
    return out


def apply_edits(source, edits, label):
    for old, new in edits:
        if old not in source:
            raise ValueError(f"{label}: the text to replace is not in the solution: {old!r}")
        source = source.replace(old, new)
    return source


def fill(assignment, notebook, answers):
    """The released notebook with ``answers`` ({grade_id: code}) in its solution cells."""
    nb = nbformat.read(course.RELEASE / assignment / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        gid = course.nbgrader_meta(cell).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def answers_for(master, mistakes=(), blank=()):
    """Correct answers, with each mistake applied and the ``blank`` cells left as released."""
    answers = solution_code(master.path)
    for m in mistakes:
        answers[m.cell] = apply_edits(answers[m.cell], m.edits, m.id)
        for gid, edits in m.extra_cells.items():
            answers[gid] = apply_edits(answers[gid], edits, m.id)
    for gid in blank:
        answers.pop(gid, None)
    return answers


def write(nb, root, student, assignment, notebook):
    path = root / student / assignment / f"{notebook}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(copy.deepcopy(nb), path)
    return path
