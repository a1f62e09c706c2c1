"""``python -m grader check NOTEBOOK.ipynb``: a learner checks a notebook before submitting.

It runs the notebook the way the grader does (a fresh kernel, the learner's cells in order,
each test cell right after the cell it follows, the learner's functions called from the
test through the grading protocol), but with the test cells *as released*: the visible
tests the learner already has. It never reads ``solutions/`` (the hidden tests and the
reference GRU live there), so it cannot reveal them; it says only how many points the
hidden tests are worth.

For each exercise it prints whether its visible tests pass (for a quiz question, "format OK":
its visible test checks only how the answer is written), and the test's message when one
fails, with the line of the learner's own code when their function raised; then what is
still missing: answer cells that still ``raise NotImplementedError``, deleted answer cells,
and test cells that were deleted or edited (the grader ignores such edits and runs its own
copy). It closes with what the hidden tests of that notebook check, in the words of the
comments the release keeps in their place. Exit status: 0 when every visible test passes
and nothing is missing, 1 otherwise, 2 when the notebook cannot be checked at all.
"""
import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import collect, course, identity, launch

NOT_WRITTEN_MARK = "raise NotImplementedError"


@dataclass
class Exercise:
    name: str                        # the answer cell's grade_id, e.g. "sigmoid" or "q1"
    tests: list = field(default_factory=list)     # visible TestCell of the release
    hidden_points: float = 0.0
    hidden_checks: list = field(default_factory=list)   # what its hidden tests check (words)
    quiz: course.QuizQuestion | None = None   # a quiz question's answer cell (its metadata)

    @property
    def is_quiz(self):
        return self.quiz is not None


def release_masters(release=None):
    """{assignment: [CourseNotebook]} read from the released notebooks (no hidden tests)."""
    release = Path(release or course.RELEASE)
    return {aid: course.read_notebooks(aid, release) for aid in course.assignments(release)}


def identify(nb, path, masters, assignment=None):
    """The released notebook a learner's notebook is a copy of: by its cell ids, else by name."""
    candidates = [m for aid, ms in masters.items() if not assignment or aid == assignment
                  for m in ms]
    return identity.closest(nb, candidates,
                            bonus=lambda m: 0.01 if Path(path).stem == m.name else 0.0)


def is_code(source):
    """Whether a released test cell has code (a hidden-only cell is comments in the release)."""
    try:
        return bool(ast.parse(source).body)
    except SyntaxError:
        return True


def comment_text(source):
    """The words of a hidden-only cell's comments, as the release keeps them."""
    lines = [line.strip().lstrip("#").strip() for line in source.splitlines()]
    text = " ".join(line for line in lines if line)
    return re.sub(r"^Hidden tests?\s*:?\s*", "", text).rstrip(".")


def exercises(release_nb, master):
    """Exercises in notebook order: each answer cell with the test cells after it."""
    tests = {t.grade_id: t for t in master.tests}
    quiz = {q.cell: q for q in course.quiz_questions(master).values()}
    out, current = [], None
    for cell in release_nb.cells:
        meta = course.nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if meta.get("solution") and cell.cell_type == "code":
            current = Exercise(gid, quiz=quiz.get(gid))
            out.append(current)
        elif gid in tests:
            if current is None:
                current = Exercise("(setup)")
                out.append(current)
            if is_code(tests[gid].source):
                current.tests.append(tests[gid])
            else:
                current.hidden_points += tests[gid].points
                if comment_text(tests[gid].source):
                    current.hidden_checks.append(comment_text(tests[gid].source))
    return out


def hidden_summary(exs):
    """Lines saying what the hidden tests check, exercises with the same words together."""
    groups = {}
    for e in exs:
        for words in e.hidden_checks:
            groups.setdefault(words, []).append(e)
    lines = []
    for words, group in groups.items():
        names = ", ".join(e.name for e in group)
        points = sum(e.hidden_points for e in group)
        lines.append(f"  - {names} ({points:g} point{'s' if points != 1 else ''}): {words}.")
    return lines


LEARNER_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)\n'
                           r'(?P<code>(?:    .*\n)*)', re.M)


def learner_lines(traceback_text):
    """The frames of a learner's traceback that are the learner's own code (not the
    grader's helper, not numpy or the standard library): 'function, line N of its cell'
    and the line itself, with Python's markers under the failing part when it gave them."""
    skip = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(__file__).parent)})
    out = []
    for m in LEARNER_FRAME.finditer(traceback_text or ""):
        if m["file"].startswith(skip) or "site-packages" in m["file"]:
            continue
        code = [line[4:] for line in m["code"].splitlines() if line.strip()]
        out.append(f"in your {m['func']}, line {m['line']} of its cell:")
        out.extend(f"    {line}" for line in code[:2])
    return out[-6:]


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
    from .grade import _note_memory_errors, ordered_tests, run_with_retries
    from .result import NotebookResult, Status
    from .session import Limits

    result = NotebookResult("you", master.assignment, master.name, Status.GRADED,
                            max_score=master.max_score)
    # the learner's own code on the learner's own machine (macOS too): nothing to confine
    limits = Limits(timeout, memory_mb, confined=False)
    try:
        base, tests = run_with_retries(nb, master, limits, result)
        _note_memory_errors(base, ordered_tests(tests, master), result, limits)
    finally:
        launch.close_launchers()
    return tests, result


def report(path, nb, master, release_nb, tests, result, out=print):
    """Print the check; returns the exit status."""
    from .tampering import changed_tests

    exs = exercises(release_nb, master)
    todo, deleted = unfinished(nb, master)
    changed = changed_tests(nb, release_nb, master)
    visible = [t for e in exs for t in e.tests]
    passed = [t for t in visible if t.grade_id in tests and tests[t.grade_id].passed]
    hidden_points = sum(e.hidden_points for e in exs)
    width = max([len(e.name) for e in exs] + [8])

    out(f"Checking {path}")
    out(f"as {master.assignment}/{master.filename}: visible tests only (the grader also runs "
        f"hidden tests, worth {hidden_points:g} of the {master.max_score:g} points)\n")
    if result.status != "graded" or result.detail:
        out(f"!! {result.status}: {result.detail}\n")
    quiz = []
    for e in exs:
        if not e.tests:
            continue
        verdicts = [tests.get(t.grade_id) for t in e.tests]
        if e.name in todo:
            mark, why = "TODO", "not written yet (the cell still raises NotImplementedError)"
        elif all(v is not None and v.passed for v in verdicts):
            mark, why = ("format OK", "") if e.is_quiz else ("PASS", "")
            if e.is_quiz:
                quiz.append(e.name)
        else:
            mark, why = "FAIL", ""
        out(f"{mark:<9}  {e.name:<{width}}  {why}".rstrip())
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
                for line in learner_lines(v.learner_traceback):
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
    if quiz:
        out(f"For {', '.join(quiz)} they check only that the answer is written as a set of "
            "option letters: whether your choices are right, only the hidden tests say.")
    ok = len(passed) == len(visible) and not missing and result.status == "graded"
    lead = ("Ready to submit: every visible test passes." if ok else
            "Not ready yet: fix the items above and run the check again.")
    summary = hidden_summary(exs)
    if summary:
        out(f"{lead} The grader's hidden tests ({hidden_points:g} of the {master.max_score:g} "
            "points) then check:")
        for line in summary:
            out(line)
    else:
        out(lead)
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
