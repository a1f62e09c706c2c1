"""``python -m grader check NOTEBOOK.ipynb``: a learner checks a notebook before submitting.

It runs the notebook the way the grader does (a fresh kernel, the learner's cells in order,
each test cell right after the cell it follows, the learner's functions called from the
test through the grading protocol), but with the test cells *as released*: the visible
tests the learner already has. It never reads ``solutions/`` (the hidden tests and the
reference GRU live there), so it cannot reveal them; it says only how many points the
hidden tests are worth.

For each exercise it prints whether its visible tests pass, and the test's message when one
fails; then what is still missing: answer cells that still ``raise NotImplementedError``,
deleted answer cells, and test cells that were deleted or edited (the grader ignores such
edits and runs its own copy). Exit status: 0 when every visible test passes and nothing is
missing, 1 otherwise, 2 when the notebook cannot be checked at all.
"""
import ast
import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import collect, course

NOT_WRITTEN_MARK = "raise NotImplementedError"


@dataclass
class Exercise:
    name: str                        # the answer cell's grade_id, e.g. "sigmoid" or "q1"
    tests: list = field(default_factory=list)     # visible TestCell of the release
    hidden_points: float = 0.0


def release_masters(release=None):
    """{assignment: [MasterNotebook]} read from the released notebooks (no hidden tests)."""
    release = Path(release or course.RELEASE)
    return {aid: course.master_notebooks(aid, release) for aid in course.assignments(release)}


def identify(nb, path, masters, assignment=None):
    """The released notebook a learner's notebook is a copy of: by its cell ids, else by name."""
    ids = {course.nbgrader_meta(c).get("grade_id") for c in nb.cells} - {None}
    best, best_score = None, 0.0
    for aid, ms in masters.items():
        if assignment and aid != assignment:
            continue
        for m in ms:
            score = len(ids & m.grade_ids) / len(ids | m.grade_ids) if ids else 0.0
            if Path(path).stem == m.name:
                score += 0.01
            if score > best_score:
                best, best_score = m, score
    return best


def is_code(source):
    """Whether a released test cell has code (a hidden-only cell is comments in the release)."""
    try:
        return bool(ast.parse(source).body)
    except SyntaxError:
        return True


def exercises(release_nb, master):
    """Exercises in notebook order: each answer cell with the test cells after it."""
    tests = {t.grade_id: t for t in master.tests}
    out, current = [], None
    for cell in release_nb.cells:
        meta = course.nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if meta.get("solution") and cell.cell_type == "code":
            current = Exercise(gid)
            out.append(current)
        elif gid in tests:
            if current is None:
                current = Exercise("(setup)")
                out.append(current)
            if is_code(tests[gid].source):
                current.tests.append(tests[gid])
            else:
                current.hidden_points += tests[gid].points
    return out


def unfinished(nb, master):
    """Answer cells that still raise NotImplementedError, and answer cells deleted."""
    present, todo = set(), []
    for cell in nb.cells:
        gid = course.nbgrader_meta(cell).get("grade_id")
        if gid in master.solution_ids:
            present.add(gid)
            if cell.cell_type == "code" and NOT_WRITTEN_MARK in cell.source:
                todo.append(gid)
    deleted = [g for g in sorted(master.solution_ids) if g not in present]
    return todo, deleted


def run_checks(nb, master, timeout, memory_mb):
    """Run the learner's notebook with the released test cells; {grade_id: TestResult}."""
    from .grade import NotebookResult, _note_memory_errors, ordered_tests, run_with_retries
    from .session import Limits

    # check puts solutions/ on the path for hidden tests; a learner's check needs none of it
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != course.SOLUTIONS.resolve()]
    result = NotebookResult("you", master.assignment, master.name, "graded",
                            max_score=master.max_score)
    # the learner's own code on the learner's own machine (macOS too): nothing to confine
    limits = Limits(timeout, memory_mb, confined=False)
    base, tests = run_with_retries(nb, master, limits, result)
    _note_memory_errors(base, ordered_tests(tests, master), result, limits)
    return tests, result


def report(path, nb, master, release_nb, tests, result, out=print):
    """Print the check; returns the exit status."""
    from .grade import tampering

    exs = exercises(release_nb, master)
    todo, deleted = unfinished(nb, master)
    changed = tampering(nb, release_nb, master)
    visible = [t for e in exs for t in e.tests]
    passed = [t for t in visible if t.grade_id in tests and tests[t.grade_id].passed]
    hidden_points = sum(e.hidden_points for e in exs)
    width = max([len(e.name) for e in exs] + [8])

    out(f"Checking {path}")
    out(f"as {master.assignment}/{master.filename}: visible tests only (the grader also runs "
        f"hidden tests, worth {hidden_points:g} of the {master.max_score:g} points)\n")
    if result.status != "graded" or result.detail:
        out(f"!! {result.status}: {result.detail}\n")
    for e in exs:
        if not e.tests:
            continue
        verdicts = [tests.get(t.grade_id) for t in e.tests]
        if e.name in todo:
            mark, why = "TODO", "not written yet (the cell still raises NotImplementedError)"
        elif all(v is not None and v.passed for v in verdicts):
            mark, why = "PASS", ""
        else:
            mark, why = "FAIL", ""
        out(f"{mark}  {e.name:<{width}}  {why}".rstrip())
        if mark == "TODO":
            continue
        for t, v in zip(e.tests, verdicts):
            if v is None:
                out(f"      {t.grade_id}: not run ({result.detail or 'stopped'})")
            elif not v.passed:
                lines = (v.message or "failed").strip().splitlines()
                out(f"      {t.grade_id}: " + lines[0])
                for line in lines[1:8]:
                    out(f"          {line}")
    missing = ([f"write {', '.join(todo)} (the cell{'s still raise' if len(todo) > 1 else ' still raises'}"
                " NotImplementedError)"] if todo else [])
    missing += [f"{c} (the grader ignores such changes and runs the original test)"
                for c in changed]
    if missing:
        out("\nStill to do before you submit:")
        for m in missing:
            out(f"  - {m}")
    if deleted:
        out(f"\nNote: the released answer cell{'s' if len(deleted) > 1 else ''} "
            f"{', '.join(deleted)} {'are' if len(deleted) > 1 else 'is'} not in your notebook "
            "(deleted, or its cell metadata lost). The grader runs all your code cells anyway; "
            "keep your answers in the released cells to be safe.")
    out(f"\nVisible tests: {len(passed)} of {len(visible)} pass.")
    ok = len(passed) == len(visible) and not missing and result.status == "graded"
    out("Ready to submit: the visible tests pass. The grader's hidden tests check more cases."
        if ok else "Not ready yet: fix the items above and run the check again.")
    return 0 if ok else 1


def main(args):
    path = Path(args.notebook)
    if not path.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    try:
        nb = collect.load_notebook(path)
    except collect.InvalidNotebook as exc:
        print(f"{path}: cannot be checked: {exc}", file=sys.stderr)
        return 2
    masters = release_masters()
    if args.assignment and args.assignment not in masters:
        print(f"unknown assignment {args.assignment}; the course has {', '.join(masters)}",
              file=sys.stderr)
        return 2
    master = identify(nb, path, masters, args.assignment)
    if master is None:
        print(f"{path}: not one of this course's notebooks (give --assignment)", file=sys.stderr)
        return 2
    release_nb = nbformat.read(master.path, as_version=4)
    tests, result = run_checks(nb, master, args.timeout, args.memory_mb)
    return report(path, nb, master, release_nb, tests, result)
