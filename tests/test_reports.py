"""Class report, LMS exports and the learners' pre-submission check."""
import csv
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest

from grader import course
from cohort.mistakes import catalogue
from cohort.submissions import answers_for, fill, write
from conftest import read_grades, run_cli

MASTERS = course.course_notebooks()
MISTAKES = catalogue()
PARAMS = MASTERS["03_parameters"][0]
QUIZ = MASTERS["05_quiz"][0]
NOT_RUN = {"missing", "invalid_notebook", "wrong_assignment"}


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _meta_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _answer_value(source, name):
    ns = {}
    exec(source, ns)  # noqa: S102 (our own solution code)
    return ns[name]


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    """A small cohort with one of each problem, graded through the CLI (report included).

    03_parameters: ok, slow (time limit), tampered (edited test cell), broken (not JSON);
    05_quiz: ok, quizwrong (a distractor in q1, q3 written as a list).
    """
    root = tmp_path_factory.mktemp("crafted")
    subs, out = root / "subs", root / "out"
    write(fill("03_parameters", PARAMS.name, answers_for(PARAMS)), subs, "ok", "03_parameters", PARAMS.name)
    slow = answers_for(PARAMS)
    slow["lstm_param_count"] += "\nimport time\ntime.sleep(600)\n"
    write(fill("03_parameters", PARAMS.name, slow), subs, "slow", "03_parameters", PARAMS.name)
    nb = fill("03_parameters", PARAMS.name, answers_for(PARAMS))
    for cell in nb.cells:
        if _meta_id(cell) == "test-rnn-visible":
            cell.source = "# the test was too strict\npass\n"
    write(nb, subs, "tampered", "03_parameters", PARAMS.name)
    (subs / "broken" / "03_parameters").mkdir(parents=True)
    (subs / "broken" / "03_parameters" / f"{PARAMS.name}.ipynb").write_text('{"cells": [')
    quiz_mistakes = [MISTAKES["quiz-q1-shared-weights"], MISTAKES["quiz-q3-list"]]
    write(fill("05_quiz", QUIZ.name, answers_for(QUIZ)), subs, "ok", "05_quiz", QUIZ.name)
    wrong = answers_for(QUIZ, quiz_mistakes)
    write(fill("05_quiz", QUIZ.name, wrong), subs, "quizwrong", "05_quiz", QUIZ.name)
    proc = run_cli("autograde", "--submissions", subs, "--out", out, "--timeout", 20)
    assert proc.returncode == 0, proc.stderr[-3000:]
    right = answers_for(QUIZ)
    answers = {"ok": {n: _answer_value(right[n[:-7]], n) for n in ("q1_answer", "q3_answer")},
               "quizwrong": {n: _answer_value(wrong[n[:-7]], n) for n in ("q1_answer", "q3_answer")}}
    return {"out": out, "subs": subs, "answers": answers}


# ------------------------------------------------------------------ class report

def test_report_lists_exactly_the_submissions_that_need_a_look(crafted):
    out = crafted["out"]
    grades = read_grades(out)
    assert grades[("slow", "03_parameters")]["status"] == "timeout"
    assert grades[("tampered", "03_parameters")]["status"] == "graded"
    rows = _csv(out / "report" / "needs_review.csv")
    assert {(r["student_id"], r["assignment"]) for r in rows} == {
        ("slow", "03_parameters"), ("tampered", "03_parameters"), ("broken", "03_parameters")}
    why = {r["student_id"]: r["reason"] for r in rows}
    assert why["slow"].startswith("timeout")
    assert "suspected tampering" in why["tampered"] and "test-rnn-visible" in why["tampered"]
    assert why["broken"].startswith("invalid_notebook")
    page = (out / "report" / "index.html").read_text()
    section = page[page.index("id='review'"):page.index("id='scores'")]
    for student in ("slow", "tampered", "broken"):
        assert f"<td class='nowrap'>{student}</td>" in section
    assert "<td class='nowrap'>ok</td>" not in section
    assert "<td class='nowrap'>quizwrong</td>" not in section


def test_report_is_self_contained_html_with_figures(crafted):
    page = (crafted["out"] / "report" / "index.html").read_text()
    assert page.count("src='data:image/png;base64,") >= 3   # scores, exercises, quiz
    assert "src='http" not in page and "<script" not in page
    for section in ("review", "scores", "exercises", "diagnoses", "quiz"):
        assert f"id='{section}'" in page
    assert (crafted["out"] / "report" / "figures" / "exercises.png").stat().st_size > 1000


def test_exercise_success_rates_follow_the_results(crafted):
    rows = {(r["assignment"], r["test"]): r for r in _csv(crafted["out"] / "report" / "exercises.csv")}
    # ok, slow and tampered ran (broken is not a notebook); slow stopped before lstm's tests
    rnn, lstm = rows[("03_parameters", "test-rnn-visible")], rows[("03_parameters", "test-lstm-visible")]
    assert (int(rnn["ran"]), int(rnn["passed"])) == (3, 3)
    assert (int(lstm["ran"]), int(lstm["passed"]), int(lstm["not_run"])) == (3, 2, 1)
    assert float(lstm["success_rate"]) == pytest.approx(2 / 3, abs=1e-4)
    assert rows[("03_parameters", "test-lstm-hidden")]["kind"] == "hidden"


def _rates_from_results(out):
    grades = read_grades(out)
    ran, passed = Counter(), Counter()
    for path in (out / "results").glob("*/*/*.json"):
        r = json.loads(path.read_text())
        if (r["student"], r["assignment"]) not in grades or r["status"] in NOT_RUN:
            continue
        for t in r["tests"]:
            ran[(r["assignment"], t["grade_id"])] += 1
            passed[(r["assignment"], t["grade_id"])] += t["passed"]
    return {k: passed[k] / ran[k] for k in ran}


def test_success_rates_of_the_whole_catalogue_equal_the_results(graded_cohort):
    out = graded_cohort["out"]
    report = {(r["assignment"], r["test"]): float(r["success_rate"])
              for r in _csv(out / "report" / "exercises.csv")}
    expected = _rates_from_results(out)
    assert report.keys() == expected.keys()
    for key, rate in expected.items():
        assert report[key] == pytest.approx(rate, abs=1e-4), key
    # every mistake makes its tests fail: none of them is passed by everyone
    for m in MISTAKES.values():
        for gid in m.fails:
            assert report[(m.assignment, gid)] < 1.0


def test_diagnoses_group_the_failures(graded_cohort):
    rows = _csv(graded_cohort["out"] / "report" / "diagnoses.csv")
    assert rows, "the catalogue's mistakes must show up as diagnoses"
    assert all("NotImplementedError" not in r["example"] for r in rows)
    counts = [int(r["students"]) for r in rows]
    assert counts == sorted(counts, reverse=True)
    # the failure of gates-update-flipped is among them, with its student
    hits = [r for r in rows if "gates-update-flipped" in r["student_ids"].split()]
    assert {t for r in hits for t in r["tests"].split()} >= set(MISTAKES["gates-update-flipped"].fails)
    # a diagnosis a hidden test attached groups exactly the learners whose tests carry it
    expected = {}
    for path in (graded_cohort["out"] / "results").glob("*/*/*.json"):
        r = json.loads(path.read_text())
        for t in r["tests"]:
            diagnosis = t["diagnosis"]
            if diagnosis and not t["passed"]:
                expected.setdefault((r["assignment"], diagnosis), set()).add(r["student"])
    got = {(r["assignment"], r["diagnosis"]): set(r["student_ids"].split())
           for r in rows if r["source"] == "diagnosis"}
    assert got == expected


def test_quiz_answers_are_recorded_and_analysed(crafted):
    out, answers = crafted["out"], crafted["answers"]
    for student in ("ok", "quizwrong"):
        result = json.loads((out / "results" / student / "05_quiz" / f"{QUIZ.name}.json").read_text())
        for name in ("q1_answer", "q3_answer"):
            assert result["answers"][name] == sorted(answers[student][name])
    wrong = json.loads((out / "results" / "quizwrong" / "05_quiz" / f"{QUIZ.name}.json").read_text())
    assert wrong["answer_types"] == {"q3_answer": "list"}
    items = {(r["question"], r["option"]): r for r in _csv(out / "report" / "quiz_items.csv")}
    key = QUIZ.quiz["q1_answer"].key   # declared in the master (test_release checks it)
    for letter in "ABCDEF":
        chosen = sum(letter in answers[s]["q1_answer"] for s in answers)
        row = items[("q1_answer", letter)]
        assert int(row["chosen"]) == chosen and int(row["answered"]) == 2
        assert row["in_key"] == ("yes" if letter in key else "no")
    distractors = set(answers["quizwrong"]["q1_answer"]) - key
    assert distractors and all(int(items[("q1_answer", d)]["chosen"]) == 1 for d in distractors)
    questions = {r["question"]: r for r in _csv(out / "report" / "quiz_answers.csv")}
    assert int(questions["q1_answer"]["fully_right"]) == 1
    assert int(questions["q3_answer"]["fully_right"]) == 1      # a list is not a set
    assert int(questions["q3_answer"]["not_a_set"]) == 1


HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>'\""


def test_report_escapes_everything_a_learner_or_a_result_can_put_on_it(tmp_path):
    """No value reaches the page as markup: student ids, details, test messages,
    diagnoses, quiz answers (the page is a Jinja template with autoescape)."""
    from grader.report import write_report
    from grader.result import NotebookResult, TestResult

    def tests():
        return [TestResult("test-q1-hidden", 2.0, message=HOSTILE, diagnosis=HOSTILE)]

    results = [NotebookResult(s, "05_quiz", QUIZ.name, status, detail=HOSTILE, max_score=27.0,
                              tests=tests(), tampering=[HOSTILE],
                              answers={"q1_answer": [HOSTILE, "A"]},
                              answer_types={"q1_answer": HOSTILE}, feedback_error=HOSTILE)
               for s, status in ((HOSTILE, "timeout"), ("s2", "graded"))]
    rows = [{"student_id": r.student, "assignment": "05_quiz", "score": "0", "max_score": "27",
             "status": str(r.status), "detail": HOSTILE} for r in results]
    page = write_report(tmp_path, rows, results).read_text()
    assert "<script" not in page and "<img src=x" not in page and HOSTILE not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&#39;&#34;" in page
    for section in ("review", "diagnoses", "quiz"):   # there, and escaped
        text = page[page.index(f"id='{section}'"):].split("<h2")[0]
        assert "&lt;script&gt;alert(1)" in text, section


def test_report_command_rewrites_the_report(crafted, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(crafted["out"], out)
    shutil.rmtree(out / "report")
    proc = run_cli("report", "--out", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "report" / "index.html").exists()
    assert _csv(out / "report" / "needs_review.csv") == _csv(crafted["out"] / "report" / "needs_review.csv")
    proc = run_cli("report", "--out", tmp_path / "nothing")
    assert proc.returncode != 0 and "no grades.csv" in proc.stderr


# ------------------------------------------------------------------ LMS export

def _assignments(grades):
    return sorted({a for _, a in grades})


def test_canvas_export_matches_grades_csv(crafted, tmp_path):
    out, grades = crafted["out"], read_grades(crafted["out"])
    proc = run_cli("export", "--out", out, "--format", "canvas", "--to", tmp_path / "canvas.csv")
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(tmp_path / "canvas.csv", newline="") as f:
        table = list(csv.reader(f))
    header, points, body = table[0], table[1], table[2:]
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert header[5:] == _assignments(grades)          # plain titles: no "(number)" Canvas would read as an id
    assert points[0] == "    Points Possible" and points[1:5] == ["", "", "", ""]
    for aid, pts in zip(header[5:], points[5:]):
        assert float(pts) == max(float(r["max_score"]) for (s, a), r in grades.items() if a == aid)
    students = {s for s, _ in grades}
    assert sorted(r[3] for r in body) == sorted(students)  # SIS Login ID = the student id
    for row in body:
        for aid, cell in zip(header[5:], row[5:]):
            assert float(cell) == float(grades[(row[3], aid)]["score"]), (row[3], aid)


def test_canvas_export_uses_roster_and_assignment_ids(crafted, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,sortable_name,canvas_id,sis_user_id,sis_login_id,section\n"
                      "ok,\"Lovelace, Ada\",101,S-1,ada,Lab 1\n")
    proc = run_cli("export", "--out", crafted["out"], "--format", "canvas", "--to", tmp_path / "c.csv",
                   "--roster", roster, "--canvas-assignment-id", "03_parameters=4242", "--blank-missing")
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = list(csv.reader(open(tmp_path / "c.csv", newline="")))
    assert "03_parameters (4242)" in table[0]
    ada = next(r for r in table if r[0] == "Lovelace, Ada")
    assert ada[1:5] == ["101", "S-1", "ada", "Lab 1"]
    quizwrong = next(r for r in table if r[3] == "quizwrong")
    assert quizwrong[table[0].index("03_parameters (4242)")] == ""    # missing, left blank
    assert "not in the roster" in proc.stderr


def test_moodle_export_matches_grades_csv(crafted, tmp_path):
    out, grades = crafted["out"], read_grades(crafted["out"])
    proc = run_cli("export", "--out", out, "--format", "moodle", "--to", tmp_path / "moodle.csv")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = _csv(tmp_path / "moodle.csv")
    assert list(rows[0]) == ["ID number"] + _assignments(grades)
    assert len(rows) == len({s for s, _ in grades})
    for row in rows:
        for aid in _assignments(grades):
            assert float(row[aid]) == float(grades[(row["ID number"], aid)]["score"])


def _nbgrader_scores(path):
    return {(r["student_id"], r["assignment"]): (float(r["score"]), float(r["max_score"]))
            for r in _csv(path)}


def _grades_scores(out):
    return {k: (float(r["score"]), float(r["max_score"])) for k, r in read_grades(out).items()}


def test_nbgrader_export_equals_grades_csv(graded_cohort, tmp_path):
    out = graded_cohort["out"]
    proc = run_cli("export", "--out", out, "--format", "nbgrader", "--to", tmp_path / "plugin.csv")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _nbgrader_scores(tmp_path / "plugin.csv") == _grades_scores(out)
    # and nbgrader's own command line, on the gradebook autograde wrote
    nbgrader = Path(sys.executable).with_name("nbgrader")
    proc = subprocess.run([str(nbgrader), "export", f"--db=sqlite:///{out / 'gradebook.db'}",
                           f"--to={tmp_path / 'cli.csv'}"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _nbgrader_scores(tmp_path / "cli.csv") == _grades_scores(out)


# ------------------------------------------------------------------ grader check

@pytest.fixture(scope="module")
def learner_copy(tmp_path_factory):
    """What a learner has: the grader and the released notebooks, no solutions/."""
    root = tmp_path_factory.mktemp("learner")
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
    shutil.copytree(course.ROOT / "grader", root / "grader", ignore=ignore)
    shutil.copytree(course.RELEASE, root / "notebooks", ignore=ignore)
    assert not (root / "solutions").exists()
    return root


def run_check(learner_copy, notebook, *extra):
    """``python -m grader check`` from another folder, with only the learner's copy."""
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "PYTHONPATH": str(learner_copy),
           "HOME": str(learner_copy)}
    return subprocess.run([sys.executable, "-m", "grader", "check", str(notebook), *extra],
                          cwd=Path(notebook).parent, capture_output=True, text=True,
                          timeout=600, env=env)


def hidden_test_lines(master):
    """Distinctive lines of the master's hidden tests: none may reach a learner."""
    lines = set()
    for t in master.tests:
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", t.source, re.S):
            for line in block.splitlines():
                line = line.strip()
                if len(line) > 15 and not line.startswith("#"):
                    lines.add(line)
                # quiz explanations: the text after 'X': must stay hidden too
                lines.update(m for m in re.findall(r"'[A-Z]': [\"'](.{30,}?)[\"']", line))
    return lines


def test_check_on_the_blank_release_lists_every_exercise(learner_copy, tmp_path):
    release = learner_copy / "notebooks" / "01_gates" / "gru_gates.ipynb"
    mine = tmp_path / "gru_gates.ipynb"
    shutil.copy(release, mine)
    proc = run_check(learner_copy, mine)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    todo = re.findall(r"^TODO\s+(\S+)", proc.stdout, re.M)
    assert todo == ["sigmoid", "update_gate", "reset_gate", "candidate_state", "gru_cell_forward"]
    assert "PASS" not in proc.stdout and "Visible tests: 0 of 5 pass" in proc.stdout
    assert "NotImplementedError" in proc.stdout


def test_check_reports_the_failing_visible_test(learner_copy, tmp_path):
    mistake = MISTAKES["gates-update-flipped"]
    master = MASTERS["01_gates"][0]
    path = write(fill("01_gates", master.name, answers_for(master, [mistake])), tmp_path, "me",
                 "01_gates", master.name)
    proc = run_check(learner_copy, path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"^FAIL\s+gru_cell_forward", proc.stdout, re.M)
    assert "test-cell-visible: gru_cell_forward, D = H: h_next is off" in proc.stdout
    assert "Probable cause: z and 1 - z are swapped" in proc.stdout
    assert re.search(r"^PASS\s+update_gate", proc.stdout, re.M)
    for line in hidden_test_lines(master):
        assert line not in proc.stdout, line
    assert "gru_reference" not in proc.stdout and "hidden tests, worth 10 of the 15 points" in proc.stdout


def test_check_passes_a_finished_quiz_without_revealing_the_key(learner_copy, tmp_path):
    path = write(fill("05_quiz", QUIZ.name, answers_for(QUIZ, [MISTAKES["quiz-q1-shared-weights"]])),
                 tmp_path, "me", "05_quiz", QUIZ.name)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:   # and edit a test cell: check says the grader ignores that
        if _meta_id(cell) == "test-q2-visible":
            cell.source += "\n# fine\n"
    nbformat.write(nb, path)
    proc = run_check(learner_copy, path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(re.findall(r"^format OK\s+q\d+", proc.stdout, re.M)) == 9   # the format is right
    assert "edited test cell test-q2-visible" in proc.stdout
    for line in hidden_test_lines(QUIZ):
        assert line not in proc.stdout, line
    assert "KEY" not in proc.stdout


def test_check_refuses_what_it_cannot_check(learner_copy, tmp_path):
    bad = tmp_path / "notes.ipynb"
    bad.write_text("not json")
    proc = run_check(learner_copy, bad)
    assert proc.returncode == 2 and "cannot be checked" in proc.stderr
    proc = run_check(learner_copy, tmp_path / "nope.ipynb")
    assert proc.returncode == 2
