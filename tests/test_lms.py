"""LMS exports: Canvas' own user ids from a Canvas zip, columns the platform needs."""
import csv
import zipfile

import nbformat

from cohort.mistakes import catalogue
from cohort.submissions import answers_for, fill
from grader import course, unzip
from conftest import read_grades, run_cli

NOTEBOOKS = {aid: [m.name for m in ms] for aid, ms in course.course_notebooks().items()}


def _nb_bytes(mistakes=()):
    master = course.course_notebooks()["01_gates"][0]
    return nbformat.writes(fill("01_gates", master.name, answers_for(master, mistakes))).encode()


def _zip(path, files):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _table(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _graded(tmp_path, students=("ada", "bob")):
    """An --out folder as autograde leaves it, as far as the export reads it."""
    out = tmp_path / "out"
    out.mkdir()
    with open(out / "grades.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student_id", "assignment", "score", "max_score", "status"])
        for i, s in enumerate(students):
            w.writerow([s, "01_gates", 15 - i, 15, "graded"])
    return out


def test_canvas_zip_graded_and_exported_gives_the_canvas_user_id(tmp_path):
    flipped = catalogue()["gates-update-flipped"]
    archive = _zip(tmp_path / "submissions.zip", {
        "aliddell_1001_5001_gru_gates.ipynb": _nb_bytes(),
        "bcarroll_late_1002_5002_gru_gates-1.ipynb": _nb_bytes([flipped]),
    })
    out = tmp_path / "out"
    proc = run_cli("autograde", "--submissions", archive, "--out", out, "--workers", 1)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (out / ".autograde.lock").exists()
    assert set(read_grades(out)) == {("aliddell_1001", "01_gates"), ("bcarroll_1002", "01_gates")}
    proc = run_cli("export", "--out", out, "--format", "canvas")
    assert proc.returncode == 0, proc.stderr[-2000:]
    header, points, *body = _table(out / "export" / "canvas.csv")
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "01_gates"]
    rows = {r[1]: r for r in body}
    assert set(rows) == {"1001", "1002"}         # Canvas' user ids, which Canvas matches
    assert rows["1001"][0] == "aliddell_1001" and rows["1001"][5] == "15"
    assert rows["1002"][5] == "12"
    assert all(r[3] == "" for r in body)         # never "aliddell_1001" as a login
    assert "warning" not in proc.stderr and "note" not in proc.stderr


def test_identities_come_from_canvas_file_names_only(tmp_path):
    canvas = _zip(tmp_path / "c.zip", {"top/aliddell_1001_5001_gru_gates.ipynb": b"{}",
                                       "top/bcarroll_LATE_1002_5002_gru_gates-2.ipynb": b"{}",
                                       "top/x_1003_5003_notes.txt": b""})
    assert unzip.identities(canvas, NOTEBOOKS) == {
        "aliddell_1001": {"canvas_id": "1001", "name": "aliddell"},
        "bcarroll_1002": {"canvas_id": "1002", "name": "bcarroll"}}
    moodle = _zip(tmp_path / "m.zip", {"Ada Lovelace_123_assignsubmission_file_/gru_gates.ipynb": b"{}"})
    assert unzip.identities(moodle, NOTEBOOKS) == {}


def test_roster_ids_win_over_the_zip_and_empty_ids_warn(tmp_path):
    out = _graded(tmp_path, ["aliddell_1001", "nobody"])
    unzip.write_identities(out / unzip.IDS_FILE,
                           {"aliddell_1001": {"canvas_id": "1001", "name": "aliddell"}})
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,name,canvas_id,sis_login_id\n"
                      "aliddell_1001,Alice Liddell,,\n"
                      "nobody,No Body,,\n")
    proc = run_cli("export", "--out", out, "--format", "canvas", "--roster", roster)
    assert proc.returncode == 0, proc.stderr
    _, _, *body = _table(out / "export" / "canvas.csv")
    rows = {r[0]: r for r in body}
    assert rows["Alice Liddell"][1:4] == ["1001", "", ""]     # the zip's id fills ID
    assert rows["No Body"][1:4] == ["", "", ""]
    warning = [line for line in proc.stderr.splitlines() if line.startswith("warning")]
    assert len(warning) == 1 and "nobody" in warning[0] and "aliddell" not in warning[0]
    assert "ID, SIS User ID and SIS Login ID" in warning[0] and "--roster" in warning[0]
    roster.write_text("student_id,canvas_id\naliddell_1001,777\nnobody,778\n")
    proc = run_cli("export", "--out", out, "--format", "canvas", "--roster", roster)
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
    _, _, *body = _table(out / "export" / "canvas.csv")
    assert sorted(r[1] for r in body) == ["777", "778"]


def test_folder_names_as_sis_login_are_said(tmp_path):
    out = _graded(tmp_path)
    proc = run_cli("export", "--out", out, "--format", "canvas")
    assert proc.returncode == 0, proc.stderr
    _, _, *body = _table(out / "export" / "canvas.csv")
    assert sorted(r[3] for r in body) == ["ada", "bob"] and all(r[1] == "" for r in body)
    assert "empty ID" in proc.stderr and "SIS Login ID" in proc.stderr


def test_moodle_email_without_a_roster_is_an_error(tmp_path):
    out = _graded(tmp_path)
    proc = run_cli("export", "--out", out, "--format", "moodle", "--moodle-id", "email")
    assert proc.returncode != 0
    assert "email" in proc.stderr and "--roster" in proc.stderr and "Traceback" not in proc.stderr
    assert not (out / "export" / "moodle.csv").exists()
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,id_number\nada,A1\nbob,B2\n")       # no email column
    proc = run_cli("export", "--out", out, "--format", "moodle", "--moodle-id", "email",
                   "--roster", roster)
    assert proc.returncode != 0 and "email" in proc.stderr
    roster.write_text("student_id,email\nada,ada@example.org\n")      # one learner without
    proc = run_cli("export", "--out", out, "--format", "moodle", "--moodle-id", "email",
                   "--roster", roster)
    assert proc.returncode == 0, proc.stderr
    assert "warning" in proc.stderr and "bob" in proc.stderr
    assert _table(out / "export" / "moodle.csv") == [["Email address", "01_gates"],
                                                     ["ada@example.org", "15"], ["", "14"]]
