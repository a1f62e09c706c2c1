"""Notebooks a learner finishes alone: visible diagnoses, the self-check, one notation.

* Notebook 01's visible tests name the likely cause of a wrong answer, from
  ``gates_hints.py``, which ``gru_reference.visible`` computes with the hidden tests' own
  catalogue (``diagnose.py``) on the visible fixed examples only. Every catalogued mistake
  with a ``visible`` cause is run through the visible tests (in process, graded through the
  real CLI, and checked with ``python -m grader check`` on the released notebook).
* ``grader check``: "format OK" for quiz questions, the learner's own line when their
  function raised, nothing left running, and a closing list of what the hidden tests check.
* The notebooks' text: torch's flipped update gate flagged where its equations first
  appear, one time index, and 04's drops where the plot shows them.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

import gru_reference as ref
from gru_reference import diagnose as dg
from gru_reference import visible
from grader import course
from grader.check import comment_text, is_code
from cohort.mistakes import Mistake, catalogue
from cohort.submissions import answers_for, fill, write
from conftest import read_result

MASTERS = course.course_notebooks()
MISTAKES = catalogue()
GATES = MASTERS["01_gates"][0]
WITH_VISIBLE = sorted(m.id for m in MISTAKES.values() if m.visible)
# Issue 15, point 1: each of these mistakes must get a message naming it.
POINT_ONE = {"gates-update-missing-bias", "gates-reset-update-weights", "gates-update-flipped",
             "gates-reset-after-matmul", "gates-reset-on-x"}


def gates_utils():
    return visible.gates_utils()


# ------------------------------------------------------------------ the hints file

def test_hints_file_is_what_the_reference_computes():
    assert visible.HINTS_FILE.read_text() == visible.source(), (
        "solutions/01_gates/gates_hints.py is out of step: run "
        "`PYTHONPATH=solutions .venv/bin/python -m gru_reference.visible`, then release")


def test_fixed_examples_are_the_references_answers():
    g = gates_utils()
    for case, expected, square in ((g.small_case(), g.EXPECTED, False),
                                   (g.square_case(), g.EXPECTED_SQUARE, True)):
        x, h, p = case
        assert (x.shape[1] == h.shape[1]) == square
        z, r = ref.update_gate(x, h, p), ref.reset_gate(x, h, p)
        right = {"z": z, "r": r, "h_tilde": ref.candidate_state(x, h, r, p),
                 "h_next": ref.gru_cell_forward(x, h, p)[0]}
        for k, v in right.items():
            np.testing.assert_allclose(expected[k], v, rtol=0, atol=1e-9, err_msg=k)


@pytest.mark.parametrize("key", list(visible.examples()))
def test_each_hint_is_the_diagnosis_of_its_numbers(key):
    """Each listed mistake differs from the right answer and from the others, and the hidden
    tests' diagnose() names the same cause for the same numbers."""
    function, inputs = visible.examples()[key]
    hints = gates_utils().LIKELY_MISTAKES[key]
    assert hints, key
    right = visible._value(function, dg.reference(function, *inputs))
    for i, (message, values) in enumerate(hints):
        values = np.asarray(values)
        assert visible.rel_error(values, right) > 1e-5, message
        for other_message, other in hints[:i]:
            assert visible.rel_error(values, np.asarray(other)) > 1e-5, (message, other_message)
        got = (values, None) if function == "gru_cell_forward" else values
        found = dg.diagnose(function, got, *inputs)
        assert found is not None and found.message == message, (key, message, found)


def test_hints_reveal_nothing_of_the_hidden_tests():
    text = (course.RELEASE / "01_gates" / "gates_hints.py").read_text()
    assert "gru_reference" not in text and "HIDDEN" not in text
    assert (course.RELEASE / "01_gates" / "gates_hints.py").read_bytes() == visible.HINTS_FILE.read_bytes()


# ------------------------------------------------------------------ each mistake, in process

def test_every_point_one_mistake_is_catalogued_with_its_visible_cause():
    assert POINT_ONE <= set(WITH_VISIBLE), sorted(POINT_ONE - set(WITH_VISIBLE))
    for mid in POINT_ONE:
        assert MISTAKES[mid].assignment == "01_gates" and MISTAKES[mid].diagnosis


def learner_ns(mistakes):
    """The learner's notebook 01 (solution cells with ``mistakes``), run here."""
    answers = answers_for(GATES, list(mistakes))
    ns = {"__name__": "learner"}
    exec("import numpy as np", ns)  # noqa: S102 (our own solutions)
    for gid, source in answers.items():
        exec(source, ns)  # noqa: S102
    return ns


def run_visible(ns):
    """{grade_id: None or the AssertionError's message} for every visible test of 01."""
    sys.path.insert(0, str(course.SOLUTIONS / "01_gates"))
    out = {}
    try:
        for t in GATES.tests:
            if t.grade_id.endswith("-visible"):
                try:
                    exec(t.source, dict(ns))  # noqa: S102 (the master's visible test)
                    out[t.grade_id] = None
                except AssertionError as exc:
                    out[t.grade_id] = str(exc)
    finally:
        sys.path.remove(str(course.SOLUTIONS / "01_gates"))
    return out


def test_right_answers_pass_every_visible_test(capsys):
    assert run_visible(learner_ns([])) == {t.grade_id: None for t in GATES.tests
                                           if t.grade_id.endswith("-visible")}


@pytest.mark.parametrize("mistake_id", [m for m in WITH_VISIBLE if MISTAKES[m].assignment == "01_gates"])
def test_visible_tests_name_the_mistake_in_process(mistake_id, capsys):
    mistake = MISTAKES[mistake_id]
    results = run_visible(learner_ns([mistake]))
    failed = {gid for gid, message in results.items() if message is not None}
    assert failed == {g for g in mistake.fails if g.endswith("-visible")}, failed
    for gid in failed:
        assert f"\nProbable cause: {mistake.visible}" in results[gid], (gid, results[gid])


def test_an_unknown_wrong_answer_gets_no_probable_cause(capsys):
    odd = Mistake("x-odd", "01_gates", "update_gate", (("return sigmoid(", "return 0.9 * sigmoid("),),
                  frozenset())
    message = run_visible(learner_ns([odd]))["test-update-visible"]
    assert message and "update_gate is off" in message and "Probable cause" not in message


# ------------------------------------------------------------------ graded through the CLI

@pytest.mark.parametrize("mistake_id", WITH_VISIBLE)
def test_graded_visible_tests_name_the_mistake(graded_cohort, mistake_id):
    mistake = MISTAKES[mistake_id]
    seen = 0
    for master in MASTERS[mistake.assignment]:
        result = read_result(graded_cohort["out"], mistake_id, mistake.assignment, master.name)
        for t in result["tests"]:
            if t["grade_id"].endswith("-visible") and t["grade_id"] in mistake.fails:
                assert not t["passed"], t
                assert f"Probable cause: {mistake.visible}" in t["message"], t["message"]
                seen += 1
    assert seen == len([g for g in mistake.fails if g.endswith("-visible")]) > 0


# ------------------------------------------------------------------ python -m grader check

@pytest.fixture(scope="module")
def learner_copy(tmp_path_factory):
    """What a learner has: the grader and the released notebooks, no solutions/."""
    root = tmp_path_factory.mktemp("learner")
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
    shutil.copytree(course.ROOT / "grader", root / "grader", ignore=ignore)
    shutil.copytree(course.RELEASE, root / "notebooks", ignore=ignore)
    return root


def check(learner_copy, notebook):
    """``python -m grader check`` as a learner runs it, with every ResourceWarning shown."""
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
           "PYTHONPATH": str(learner_copy), "HOME": str(learner_copy)}
    return subprocess.run([sys.executable, "-W", "always::ResourceWarning", "-m", "grader",
                           "check", str(notebook)], cwd=Path(notebook).parent,
                          capture_output=True, text=True, timeout=600, env=env)


def submission(tmp_path, assignment, mistakes, student="me"):
    (master,) = MASTERS[assignment]
    return write(fill(assignment, master.name, answers_for(master, mistakes)), tmp_path, student,
                 assignment, master.name)


def hidden_lines(master):
    lines = set()
    for t in master.tests:
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", t.source, re.S):
            lines.update(line.strip() for line in block.splitlines() if len(line.strip()) > 15
                         and not line.strip().startswith("#"))
    return lines


def test_check_names_each_point_one_mistake(learner_copy, tmp_path):
    for mid in sorted(POINT_ONE):
        mistake = MISTAKES[mid]
        proc = check(learner_copy, submission(tmp_path, "01_gates", [mistake], mid))
        assert proc.returncode == 1, proc.stdout + proc.stderr
        for gid in mistake.fails:
            if gid.endswith("-visible"):
                shown = re.search(rf"^\s+{gid}: (.*)\n\s+Probable cause: (.*)$", proc.stdout, re.M)
                assert shown and shown[2].startswith(mistake.visible), (mid, gid, proc.stdout)
        for line in hidden_lines(GATES):
            assert line not in proc.stdout, line
        assert "ResourceWarning" not in proc.stderr, proc.stderr


def test_check_shows_the_line_of_the_learners_code(learner_copy, tmp_path):
    flipped = Mistake("x-matmul-order", "01_gates", "update_gate",
                      (('x @ params["W_Fz"]', 'params["W_Fz"] @ x'),), frozenset())
    proc = check(learner_copy, submission(tmp_path, "01_gates", [flipped]))
    assert re.search(r"^FAIL\s+update_gate", proc.stdout, re.M), proc.stdout
    assert "update_gate raised ValueError" in proc.stdout
    shown = re.search(r"in your update_gate, line (\d+) of its cell:\n\s+(.*)\n", proc.stdout)
    assert shown, proc.stdout
    cell = answers_for(GATES, [flipped])["update_gate"].splitlines()
    assert cell[int(shown[1]) - 1].strip() == shown[2].strip() == (
        'return sigmoid(params["W_Fz"] @ x + h_prev @ params["W_Rz"] + params["b_z"])')
    assert "kernel_helper" not in proc.stdout and "site-packages" not in proc.stdout
    assert "ResourceWarning" not in proc.stderr, proc.stderr


def test_check_says_format_ok_for_quiz_questions_and_what_hidden_tests_check(learner_copy, tmp_path):
    proc = check(learner_copy, submission(tmp_path, "05_quiz", []))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.findall(r"^format OK\s+(q\d+)$", proc.stdout, re.M) == [f"q{i}" for i in range(1, 10)]
    assert not re.search(r"^PASS", proc.stdout, re.M)
    assert "only the hidden tests say" in proc.stdout
    closing = proc.stdout[proc.stdout.index("Ready to submit"):]
    assert "hidden tests (18 of the 27 points) then check:" in closing
    assert "q1, q2, q3, q4, q5, q6, q7, q8, q9 (18 points): your choices against the answer key" in closing
    assert "ResourceWarning" not in proc.stderr, proc.stderr


def test_check_closes_with_what_each_hidden_test_checks(learner_copy, tmp_path):
    proc = check(learner_copy, submission(tmp_path, "01_gates", []))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    closing = proc.stdout[proc.stdout.index("Ready to submit"):].splitlines()
    release = nbformat.read(course.RELEASE / "01_gates" / "gru_gates.ipynb", as_version=4)
    hidden_only = [c for c in release.cells
                   if course.nbgrader_meta(c).get("grade") and not is_code(c.source)]
    assert len(hidden_only) == 5 and len(closing) == 6
    for cell, line in zip(hidden_only, closing[1:]):
        words = comment_text(cell.source)
        assert "against the reference" in words and line.endswith(f": {words}.")
    assert "fresh random inputs" in proc.stdout and "(2 points)" in proc.stdout


# ------------------------------------------------------------------ one notation in the text

def markdown(assignment):
    (master,) = MASTERS[assignment]
    return [c.source for c in nbformat.read(master.path, as_version=4).cells
            if c.cell_type == "markdown"]


def test_torch_flipped_update_gate_is_flagged_where_torch_equations_first_appear():
    torch_mix = re.compile(r"\(1 - z[^)]*\)\s*(\\,\s*)?(\\odot\s*)?n\b")
    for aid in MASTERS:
        cells = [c for c in markdown(aid) if torch_mix.search(c)]
        if cells:
            first = cells[0]
            assert "is the course's $1 - z$" in first, (aid, first)
            assert aid == "03_parameters", "torch's equations appear before notebook 3"
            return
    pytest.fail("no notebook shows torch's GRU equations")


def test_notebooks_02_and_04_number_steps_alike():
    """Step t reads x_t and h_t and produces h_{t+1}, in both notebooks."""
    text02, text04 = "\n".join(markdown("02_backprop")), "\n".join(markdown("04_vanishing"))
    assert r"h_{t+1} = \mathrm{GRU}(x_t, h_t)" in text02
    assert r"h_{k+1} = \mathrm{cell}(x_k, h_k)" in text04
    for text in (text02, text04):
        assert not re.search(r"x_\{[tk]-1\}|h_t = \\mathrm\{GRU\}\(x_t, h_\{t-1\}\)", text)


def test_04_puts_the_drops_where_the_plot_shows_them():
    """The marked steps of the plotted sequence and their distances, as the text states them."""
    import torch

    (master,) = MASTERS["04_vanishing"]
    nb = nbformat.read(master.path, as_version=4)
    cells = {course.nbgrader_meta(c).get("grade_id"): c.source for c in nb.cells}
    ns = {"torch": torch}
    exec(cells["adding-data"].split("\n\nx_demo")[0], ns)  # noqa: S102 (the notebook's own code)
    seq_len = int(re.search(r"SEQ_LEN, BATCH, LR = (\d+)", cells["train"])[1])
    x, _ = ns["adding_batch"](1, seq_len, torch.Generator().manual_seed(2))
    marked = torch.nonzero(x[0, :, 1]).flatten().tolist()
    text = cells["plot-read"]
    said = re.search(r"steps \$s = (\d+)\$ and \$(\d+)\$.*?\$T - s = (\d+)\$ and \$(\d+)\$", text, re.S)
    assert said, text
    assert [int(said[1]), int(said[2])] == marked
    assert [int(said[3]), int(said[4])] == [seq_len - s for s in marked]


def test_06_defines_b_in_its_parameter_count():
    summary = markdown("06_gru_vs_lstm")[-1]
    assert "3H(D + H + b)" in summary and re.search(r"\$b\$ is the number of bias vectors", summary)


# ------------------------------------------------------------------ the quiz and the lesson

def _quiz_key(number):
    (quiz,) = MASTERS["05_quiz"]
    test = next(t for t in quiz.tests if t.grade_id == f"test-q{number}-hidden")
    return set(re.findall(r"[\"']([A-F])[\"']", re.search(r"KEY = \{(.*?)\}", test.source)[1]))


def test_q1_key_and_notebook_3_agree_on_the_cell_state():
    """'No cell state' is a right reason for fewer parameters, and the lesson says why."""
    q1 = next(c for c in markdown("05_quiz") if c.startswith("### Question 1"))
    letter = re.search(r"^\* \*\*([A-F])\.\*\* [^\n]*no separate cell state", q1, re.M)[1]
    assert letter in _quiz_key(1)
    lstm = next(c for c in markdown("03_parameters") if c.startswith("## Exercise 3"))
    assert "cell state" in lstm and "output gate" in lstm
    assert "costs no parameters of its own." not in lstm


def test_a_learner_who_leaves_out_the_cell_state_is_told_where_the_lesson_explains_it(graded_cohort):
    mistake = MISTAKES["quiz-q1-shared-weights"]       # leaves out the cell-state option
    (quiz,) = MASTERS["05_quiz"]
    result = read_result(graded_cohort["out"], mistake.id, "05_quiz", quiz.name)
    (q1,) = [t for t in result["tests"] if t["grade_id"] == "test-q1-hidden"]
    # the learner is sent back to the lesson at once; the pointer to the option left out is
    # part of the explanation, shown once the instructor releases it (--reveal-quiz)
    assert not q1["passed"] and "Reread notebook 3" in q1["message"]
    why = q1["explanation"]
    assert "1 right option is missing" in why
    assert "To find it: notebook 3" in why and "output gate" in why
