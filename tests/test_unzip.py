"""LMS zips (Canvas, Moodle, nbgrader layout) become the same rows as folders."""
import io
import zipfile

import nbformat
import pytest

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


def _layout(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.ipynb"))


@pytest.mark.slow
def test_canvas_zip_is_graded_through_the_cli(tmp_path):
    flipped = catalogue()["gates-update-flipped"]
    archive = _zip(tmp_path / "submissions.zip", {
        "adalovelace_1001_5001_gru_gates.ipynb": _nb_bytes(),
        "alanturing_late_1002_5002_gru_gates-1.ipynb": _nb_bytes([flipped]),
        "graceh_1003_5003_notes.txt": b"not a notebook",
    })
    proc = run_cli("autograde", "--submissions", archive, "--out", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr[-2000:]
    grades = read_grades(tmp_path / "out")
    assert grades[("adalovelace_1001", "01_gates")]["score"] == "15.0"
    assert grades[("alanturing_1002", "01_gates")]["score"] == "12.0"
    assert len(grades) == 2


def test_moodle_and_nbgrader_layouts(tmp_path):
    _zip(tmp_path / "moodle.zip", {
        "Ada Lovelace_123_assignsubmission_file_/gru_gates.ipynb": b"{}",
        "Alan Turing_124_assignsubmission_file_/parameter_counting.ipynb": b"{}",
    })
    unzip.unpack(tmp_path / "moodle.zip", tmp_path / "m", NOTEBOOKS)
    assert _layout(tmp_path / "m") == ["Ada_Lovelace_123/01_gates/gru_gates.ipynb",
                                       "Alan_Turing_124/03_parameters/parameter_counting.ipynb"]
    _zip(tmp_path / "nbg.zip", {"course/ada/01_gates/gru_gates.ipynb": b"{}",
                                "course/bob/05_quiz/gate_quiz.ipynb": b"{}"})
    unzip.unpack(tmp_path / "nbg.zip", tmp_path / "n", NOTEBOOKS)
    assert _layout(tmp_path / "n") == ["ada/01_gates/gru_gates.ipynb", "bob/05_quiz/gate_quiz.ipynb"]


def test_hostile_zips_cannot_escape_or_explode(tmp_path):
    buf = tmp_path / "evil.zip"
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../escape_1_2_gru_gates.ipynb", b"{}")
        zf.writestr("/abs_1_2_gru_gates.ipynb", b"{}")
        link = zipfile.ZipInfo("link_1_2_gru_gates.ipynb")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
        zf.writestr("ok_7_8_gru_gates.ipynb", b"{}")
    notes = unzip.unpack(buf, tmp_path / "out", NOTEBOOKS)
    assert _layout(tmp_path / "out") == ["ok_7/01_gates/gru_gates.ipynb"]
    assert not (tmp_path.parent / "escape_1_2_gru_gates.ipynb").exists()
    assert notes == []
    with pytest.raises(unzip.BadZip):
        unzip.unpack(io.BytesIO(b"not a zip"), tmp_path / "x", NOTEBOOKS)


def test_zip_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(unzip, "MAX_TOTAL", 1000)
    _zip(tmp_path / "big.zip", {f"s{i}_1_2_gru_gates.ipynb": b"0" * 600 for i in range(3)})
    with pytest.raises(unzip.BadZip, match="more than"):
        unzip.unpack(tmp_path / "big.zip", tmp_path / "out", NOTEBOOKS)
