"""Quiz feedback never gives the key away: a wrong answer names the question and what to
reread; why each choice is wrong appears only once the instructor releases it
(``autograde --reveal-quiz``), on saved results, without grading again."""
import json
import re

from grader import course
from cohort.submissions import answers_for, fill, write
from conftest import read_grades, run_cli

A = "05_quiz"
QUIZ = course.course_notebooks()[A][0]


def _why_wrong_texts():
    """Every explanation string of the hidden tests (what must not leak before release)."""
    texts = []
    for test in QUIZ.tests:
        block = re.search(r"WHY_WRONG = \{(.*?)\n\}", test.source, re.S)
        if block:
            texts += [t for t in re.findall(r"'([^']{30,})'|\"([^\"]{30,})\"", block.group(1))
                      for t in t if t]
    return texts


def _feedback(out, student):
    folder = out / "feedback" / student / A
    return (folder / f"{QUIZ.name}.html").read_text() + (folder / f"{QUIZ.name}.txt").read_text()


def test_every_option_ticked_reveals_nothing_until_released(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    answers = answers_for(QUIZ)
    letters = {}
    for gid in QUIZ.solution_ids:
        m = re.search(r'(q\d+_answer)\s*=', answers[gid])
        if m:
            test = next(t for t in QUIZ.tests if m.group(1) in t.source and "HIDDEN" in t.source)
            letters[gid] = re.search(r'"([A-Z]{4,})"', test.source).group(1)
            answers[gid] = f"{m.group(1)} = set({letters[gid]!r})"
    assert len(letters) == 9
    write(fill(A, QUIZ.name, answers), subs, "ticks-all", A, QUIZ.name)
    write(fill(A, QUIZ.name, answers_for(QUIZ)), subs, "right", A, QUIZ.name)
    why = _why_wrong_texts()
    assert len(why) >= 20

    proc = run_cli("autograde", "--submissions", subs, "--out", out, "--assignment", A)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = _feedback(out, "ticks-all")
    assert page.count("is not right yet. Reread") >= 9
    assert "You chose" not in page
    leaked = [w for w in why if w[:60] in page]
    assert not leaked, leaked[:3]
    # the explanations were kept, for the instructor and for later
    saved = json.loads((out / "results" / "ticks-all" / A / f"{QUIZ.name}.json").read_text())
    assert sum(bool(t["explanation"]) for t in saved["tests"]) == 9
    graded_at = saved["seconds"]

    proc = run_cli("autograde", "--submissions", subs, "--out", out, "--assignment", A,
                   "--reveal-quiz")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "grading 0 notebooks" in proc.stderr + proc.stdout      # nothing graded again
    page = _feedback(out, "ticks-all")
    assert page.count("You chose") >= 20
    assert sum(w[:60] in page for w in why) >= 20
    again = json.loads((out / "results" / "ticks-all" / A / f"{QUIZ.name}.json").read_text())
    assert again["seconds"] == graded_at
    grades = read_grades(out)
    assert float(grades[("right", A)]["score"]) == float(grades[("right", A)]["max_score"])
    assert "You chose" not in _feedback(out, "right")
