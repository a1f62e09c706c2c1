"""Code similarity (grader/similarity.py): planted copies are listed whatever their disguise,
independent solutions written in other styles are not, common and tiny code is no evidence,
the page escapes hostile code, and the CLI works on an autograde output folder."""
import csv
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from grader import course
from grader import similarity as S
from grader.result import NotebookResult
from cohort import mistakes
from cohort.styles import STYLE_IMPORTS, STYLES, disguise
from cohort.submissions import answers_for, fill, write

from conftest import read_grades, run_cli

A = "01_gates"
MASTER = course.course_notebooks()[A][0]
DISGUISES = [["rename"], ["recomment"], ["reorder"], ["helper"],
             ["rename", "recomment", "reorder", "helper"]]


def _background(n, seed=0):
    """Learners who wrote the course's own solution, some with a catalogued mistake, some
    unfinished: the usual way to write the exercises."""
    rng = random.Random(seed)
    own = [m for m in mistakes.catalogue().values() if m.assignment == A]
    out = {}
    for i in range(n):
        answers = answers_for(MASTER, [] if i % 3 == 0 else rng.sample(own, 1))
        if i % 7 == 6:
            for gid in list(answers)[3:]:
                answers.pop(gid)
        out[f"bg{i:02d}"] = answers
    return out


def _partial(source_style, exercises, kinds=()):
    """Copies ``exercises`` from ``source_style`` and writes the rest as most learners do."""
    answers = answers_for(MASTER)
    answers.update({ex: STYLES[source_style][ex] for ex in exercises})
    return disguise(answers, kinds, seed=7) if kinds else answers


@pytest.fixture(scope="module")
def planted():
    answers = _background(24)
    for name, code in STYLES.items():
        answers[f"ind-{name}"] = dict(code)
    planted = set()
    sources = list(STYLES)
    for i, kinds in enumerate(DISGUISES):
        source = sources[i % len(sources)]
        who = f"copy-{'+'.join(kinds)}-{source}"
        answers[who] = disguise(STYLES[source], kinds, seed=i)
        planted.add(frozenset((who, f"ind-{source}")))
    answers["copy-partial-concat"] = _partial("concat", ["candidate_state", "gru_cell_forward"])
    planted.add(frozenset(("copy-partial-concat", "ind-concat")))
    answers["copy-partial-all-disguises-loops"] = _partial(
        "loops", ["update_gate", "reset_gate"], ["rename", "recomment", "reorder", "helper"])
    planted.add(frozenset(("copy-partial-all-disguises-loops", "ind-loops")))
    an = S.analyse(A, answers, S.starter_cells(A), usual=S.solution_cells(A))
    return an, planted


def _listed(an):
    return {frozenset((p.a, p.b)): p for p in an.listed}


def test_the_styles_are_independent_correct_solutions():
    sys.path.insert(0, str(course.SOLUTIONS))
    from gru_reference import cell as ref

    rng = np.random.default_rng(3)
    params = ref.init_params(3, 4, rng=rng)
    x, h = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    want, _ = ref.gru_cell_forward(x, h, params)
    for name, code in STYLES.items():
        for kinds in [[]] + DISGUISES:
            ns = {}
            exec(STYLE_IMPORTS, ns)   # noqa: S102 (our own code)
            for src in disguise(code, kinds, seed=1).values():
                exec(src, ns)         # noqa: S102
            got, cache = ns["gru_cell_forward"](x, h, params)
            assert np.allclose(got, want), (name, kinds)
            assert np.allclose(cache["z"], ref.update_gate(x, h, params)), (name, kinds)
            assert np.allclose(ns["sigmoid"](np.array([-800.0, 0.0, 800.0])), [0, 0.5, 1])
    # genuinely different code: no two styles share a line of any exercise that the
    # course's own solution does not have (calling the gates, the stable sigmoid's asarray)
    usual = {line.strip() for src in answers_for(MASTER).values() for line in src.splitlines()}
    for ex in STYLES["loops"]:
        lines = {}
        for name, code in STYLES.items():
            for line in code[ex].splitlines()[2:]:
                if len(line.strip()) > 20 and line.strip() not in usual:
                    assert lines.setdefault(line.strip(), name) == name, (ex, line, name)


def test_every_planted_copy_is_listed(planted):
    an, pairs = planted
    listed = _listed(an)
    missed = [sorted(p) for p in pairs if p not in listed]
    assert not missed, missed
    assert an.judged, an.too_short


def test_independent_solutions_and_the_usual_code_are_not_listed(planted):
    an, _ = planted
    independent = [k for k in an.students if k.startswith(("ind-", "bg"))]
    wrong = [(sorted(p), round(v.score, 2)) for p, v in _listed(an).items()
             if all(s in independent for s in p)]
    assert not wrong, wrong
    # forty learners who wrote the course's solution: nothing is rare, nothing listed
    same = {f"s{i}": answers_for(MASTER) for i in range(40)}
    assert S.analyse(A, same, S.starter_cells(A)).listed == []


def test_only_pairs_sharing_rare_fingerprints_are_compared(planted):
    an, _ = planted
    assert 0 < len(an.pairs) < an.total_pairs / 4


def test_tiny_exercises_are_not_judged_and_the_page_says_so(tmp_path):
    one_liners = ["return 1 / (1 + np.exp(-a))", "return 1.0/(1.0+np.exp(-a))",
                  "return np.exp(-np.logaddexp(0, -a))"]
    answers = {f"s{i}": {"sigmoid": "def sigmoid(a):\n    " + one_liners[i % 3] + "\n"}
               for i in range(12)}
    an = S.analyse(A, answers, S.starter_cells(A))
    assert "sigmoid" in an.too_short and an.listed == []
    page = S.assignment_html(an)
    assert "Too short to judge" in page and "sigmoid" in page


HOSTILE = "</script><script>alert(1)</script>"


@pytest.mark.slow
def test_the_page_escapes_hostile_code(tmp_path):
    answers = _background(6)
    stolen = dict(STYLES["einsum"])
    stolen["gru_cell_forward"] = stolen["gru_cell_forward"].replace(
        "    return h_next, cache", f"    note = {HOSTILE!r}  # {HOSTILE}\n    return h_next, cache")
    answers["hostile"] = stolen
    answers["hostile2"] = disguise(stolen, ["rename"], seed=3)
    answers["<img src=x onerror=alert(2)>"] = dict(stolen)
    an = S.analyse(A, answers, S.starter_cells(A))
    assert frozenset(("hostile", "hostile2")) in _listed(an)
    folder = S.write_pages(tmp_path, [an])
    page = (folder / f"{A}.html").read_text()
    assert "<script" not in page and "<img src=x" not in page
    assert html_escaped(HOSTILE) in page
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("no Chromium to open the page in")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"])
        page_ = browser.new_page()
        dialogs = []
        page_.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page_.goto((folder / f"{A}.html").as_uri())
        text = page_.inner_text("body")
        browser.close()
    assert not dialogs
    assert HOSTILE in text


def html_escaped(text):
    import html

    return html.escape(text)


@pytest.mark.slow
def test_similarity_command_on_an_autograde_output(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    cohort = {"alice": STYLES["matmul"], "bob": disguise(STYLES["matmul"], ["rename", "recomment"], 2),
              "carol": STYLES["concat"], "dave": answers_for(MASTER), "erin": STYLES["einsum"]}
    for student, answers in cohort.items():
        write(fill(A, MASTER.name, answers), subs, student, A, MASTER.name)
    proc = run_cli("autograde", "--submissions", subs, "--out", out, "--assignment", A,
                   "--timeout", 60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the styles are correct in the real notebook too: full marks
    grades = read_grades(out)
    assert all(g["score"] == g["max_score"] for g in grades.values()), grades
    shutil.rmtree(out / "report" / "similarity")
    proc = run_cli("similarity", "--out", out, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 listed" in proc.stdout, proc.stdout
    folder = out / "report" / "similarity"
    with open(folder / "pairs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["student_a"], r["student_b"]) for r in rows] == [("alice", "bob")]
    assert "alice" in (folder / f"{A}.html").read_text()
    assert "similarity/01_gates.html" in (out / "report" / "index.html").read_text()
    # instructors only: nothing about it in any learner's feedback
    pages = [p for p in (out / "feedback" / "alice").rglob("*") if p.is_file()]
    assert pages
    for page in pages:
        text = page.read_text(errors="replace")
        assert "bob" not in text and "similarity" not in text.lower(), page
    assert not list((out / "feedback").rglob("*similar*"))


def test_broken_and_hostile_cells_never_break_the_analysis():
    cells = ["def sigmoid(a):\n" + "    x = 1\n" * 40000,
             "def sigmoid(a):\n    return " + "(" * 100000 + "a" + ")" * 100000 + "\n",
             "def sigmoid(a):\n    return a\x00 + 1\n",
             "def sigmoid(a):\n  x = 1\n        y = 2\n return\n",
             'def sigmoid(a):\n    s = """never closed\n',
             "def sigmoid(a):\n    t = '\ud800' if a else '\u26a0'\n    return t\n"]
    answers = {f"s{i}": {"sigmoid": src, "update_gate": 5, "not-an-exercise": "x"}
               for i, src in enumerate(cells)}
    answers["x"] = {"gru_cell_forward": STYLES["loops"]["gru_cell_forward"]}
    answers["y"] = {"gru_cell_forward": STYLES["loops"]["gru_cell_forward"]}
    an = S.analyse(A, answers, S.starter_cells(A))
    assert frozenset(("x", "y")) in _listed(an)
    assert "<h1>" in S.assignment_html(an)
    odd = [NotebookResult("a", A, "gru_gates", "graded", graded_notebook={"cells": [
        None, 3, {"cell_type": "code", "metadata": [1]},
        {"cell_type": "code", "metadata": {"nbgrader": {"solution": True, "grade_id": "sigmoid"}},
         "source": ["def sigmoid(a):\n", "    return a\n"]}]}),
           NotebookResult("b", A, "gru_gates", "graded", graded_notebook=None)]
    assert S.answers_from_results(odd) == {A: {"a": {"sigmoid": "def sigmoid(a):\n    return a\n"}}}
