"""The hostile corpus graded through the real CLI: every row, the right status and score,
nothing leaked, nothing left running, the rest of the cohort unharmed."""
import hashlib
import json

import psutil
import pytest

from grader import course
from cohort.submissions import answers_for, fill, write
from conftest import read_grades, run_cli
from hostile_cases import A, CASES, NB

TIMEOUT = 20


def _fingerprint():
    """Hashes of everything a kernel must not change."""
    folders = ("solutions/gru_reference", "solutions/01_gates", "notebooks/01_gates", "grader")
    paths = [p for folder in folders for p in (course.ROOT / folder).rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    subs, out = root / "submissions", root / "out"
    for case in CASES:
        case.build(subs, case.id)
    master = course.course_notebooks()[A][0]
    for honest in ("zz-honest-1", "zz-honest-2"):   # graded after the hostile ones
        write(fill(A, NB, answers_for(master)), subs, honest, A, NB)
    before = _fingerprint()
    proc = run_cli("autograde", "--submissions", subs, "--out", out, "--assignment", A,
                   "--timeout", TIMEOUT, "--memory-mb", 1536, "--workers", 2)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return {"out": out, "grades": read_grades(out), "before": before, "stdout": proc.stdout,
            "stderr": proc.stderr}


def test_corpus_is_large_enough():
    assert len(CASES) >= 20
    assert len({c.id for c in CASES}) == len(CASES)


BEFORE_LEARNER_CODE = ("the kernel did not start", "the kernel died before replying to kernel_info",
                       "the kernel died before the learner's first cell")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_gets_its_row(hostile_run, case):
    row = hostile_run["grades"][(case.student or case.id, A)]
    assert row["status"] in case.statuses, row
    assert float(row["score"]) == case.score, row
    assert float(row["max_score"]) == 15.0
    # what learner code does is never the grader's fault: a fresh kernel is allowed only for
    # a kernel that failed before any of this row's code ran (the machine's: retried by design)
    reasons = json.loads((hostile_run["out"] / "results" / (case.student or case.id) / A
                          / f"{NB}.json").read_text())["retry_reasons"]
    assert int(row["retries"]) == len(reasons), (row, reasons)
    assert all(r.startswith(BEFORE_LEARNER_CODE) for r in reasons), (row, reasons)
    for text in case.present:
        assert text in row["detail"], row
    if case.absent:
        result_dir = hostile_run["out"] / "results" / (case.student or case.id) / A
        graded = json.loads((result_dir / f"{NB}.json").read_text())["graded_notebook"]
        dump = json.dumps([c.get("outputs", []) for c in graded["cells"]])
        assert "no access" in dump, "the probe did not run"
        for text in case.absent:
            assert text not in dump


def test_the_rest_of_the_cohort_is_graded_normally(hostile_run):
    for honest in ("zz-honest-1", "zz-honest-2"):
        row = hostile_run["grades"][(honest, A)]
        assert row["status"] == "graded" and float(row["score"]) == 15.0


def test_exactly_one_row_each(hostile_run):
    assert len(hostile_run["grades"]) == len(CASES) + 2


def test_no_stray_process_survives(hostile_run):
    """Only this run's processes: the hostile cases' own markers, and kernels or launchers
    of this checkout (another grader on the machine is none of our business)."""
    launcher = str(course.ROOT / "grader" / "launcher.py")
    strays = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "987654" in cmd or "987653" in cmd or launcher in cmd:
            strays.append(cmd)
    assert not strays


def test_course_files_untouched(hostile_run):
    assert _fingerprint() == hostile_run["before"]


def test_flood_output_is_capped(hostile_run):
    path = hostile_run["out"] / "results" / "output-flood" / A / f"{NB}.json"
    assert path.stat().st_size < 5 * 2 ** 20


def test_display_updates_stay_within_the_output_cap(hostile_run):
    result = hostile_run["out"] / "results" / "display-update-flood" / A / f"{NB}.json"
    page = hostile_run["out"] / "feedback" / "display-update-flood" / A / f"{NB}.html"
    assert result.stat().st_size < 3_000_000 and page.stat().st_size < 4_000_000
    assert "display update dropped by the grader" in result.read_text()


def test_learner_text_never_drives_the_terminal(hostile_run):
    for stream in (hostile_run["stdout"], hostile_run["stderr"]):
        assert "\x1b]0;" not in stream and "\x1b[2J" not in stream
