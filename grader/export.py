"""``python -m grader export``: the grades of an autograde run for a learning platform.

* ``canvas``: a Canvas gradebook import file. The header is the one Canvas' own gradebook
  export writes, ``Student, ID, SIS User ID, SIS Login ID, Section`` and one column per
  assignment, followed by the ``    Points Possible`` row (each assignment's maximum).
  Canvas matches a row to a learner by ``ID`` (its numeric user id), else ``SIS User ID``,
  else ``SIS Login ID``, else the name; an assignment column is matched by the Canvas
  assignment id in parentheses (``01_gates (12345)``) or by its title, and a title Canvas
  does not know becomes a new assignment with the points of the Points Possible row.
  Submissions graded from a Canvas zip keep the Canvas user id of their file names
  (``OUT/lms_ids.csv``), which fills ``ID``. Otherwise, without a roster, ``SIS Login ID``
  is the student id of the submission folder (nbgrader's, usually the JupyterHub user
  name), and ``Student`` is that id too. A row Canvas cannot match (no ``ID``, ``SIS User
  ID`` or ``SIS Login ID``) is written, and said on stderr.
* ``moodle``: a Moodle "Import grades: CSV file" file: one identifier column
  (``ID number``, ``Email address`` or ``Username``, chosen with ``--moodle-id``) and one
  column per grade item named after the assignment; Moodle asks which column identifies
  the user and which grade item each column feeds. Without a roster the identifier is the
  student id; ``--moodle-id email`` needs a roster with an ``email`` column (submissions
  carry no email address), and stops with an error without one.
* ``nbgrader``: nbgrader's own CSV export (``CsvExportPlugin``) of the gradebook, exactly
  what ``nbgrader export --db sqlite:///DIR/gradebook.db`` writes.

Scores are the points of ``grades.csv``. A roster (``--roster``, CSV with a
``student_id`` column and any of ``name``, ``sortable_name``, ``canvas_id``,
``sis_user_id``, ``sis_login_id``, ``section``, ``id_number``, ``email``, ``username``)
supplies the platform's identifiers.
"""
import csv
import sys
from pathlib import Path

from .record import read_csv
from .unzip import IDS_FILE

CANVAS_STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_ROW = "    Points Possible"
MOODLE_ID_COLUMNS = {"idnumber": ("ID number", "id_number"),
                     "email": ("Email address", "email"),
                     "username": ("Username", "username")}


def read_grades(out_dir):
    path = Path(out_dir) / "grades.csv"
    if not path.exists():
        raise SystemExit(f"{out_dir} has no grades.csv: run `python -m grader autograde` first")
    rows, _ = read_csv(path)
    for r in rows:
        r["score"], r["max_score"] = float(r["score"]), float(r["max_score"])
    return rows


def read_roster(path):
    if not path:
        return {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if "student_id" not in (reader.fieldnames or []):
            raise SystemExit(f"{path}: a roster needs a student_id column "
                             f"(found {', '.join(reader.fieldnames or [])})")
        return {r["student_id"].strip(): {k: (v or "").strip() for k, v in r.items()}
                for r in reader if r.get("student_id")}


def number(x):
    """Points as a plain decimal (no exponent, at most 2 decimals, as Canvas writes them)."""
    text = f"{float(x):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def table(rows):
    """(assignments in order, {assignment: max points}, {student: {assignment: row}})."""
    assignments = sorted({r["assignment"] for r in rows})
    max_points = {a: max(r["max_score"] for r in rows if r["assignment"] == a) for a in assignments}
    grid = {}
    for r in rows:
        grid.setdefault(r["student_id"], {})[r["assignment"]] = r
    return assignments, max_points, grid


def _cell(row, blank_missing):
    if row is None or (blank_missing and row["status"] == "missing"):
        return ""
    return number(row["score"])


def _students(grid, roster, log):
    students = sorted(grid)
    extra = sorted(set(roster) - set(grid))
    if extra:
        log(f"note: {len(extra)} roster students have no submission at all (cells left blank): "
            + ", ".join(extra[:10]) + (" ..." if len(extra) > 10 else ""))
    if roster:
        unknown = [s for s in students if s not in roster]
        if unknown:
            log(f"note: {len(unknown)} students are not in the roster (exported with their "
                "student id): " + ", ".join(unknown[:10]) + (" ..." if len(unknown) > 10 else ""))
    return students + extra


def _some(names, limit=10):
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")


def canvas_rows(rows, roster=None, canvas_ids=None, blank_missing=False, log=print,
                lms_ids=None):
    """The Canvas import file as a list of rows (header, Points Possible, one per learner).

    ``lms_ids`` ({student: {"canvas_id": ...}}, from a Canvas zip) fills ``ID`` where the
    roster does not."""
    roster, canvas_ids, lms_ids = roster or {}, canvas_ids or {}, lms_ids or {}
    assignments, max_points, grid = table(rows)
    titles = [f"{a} ({canvas_ids[a]})" if canvas_ids.get(a) else a for a in assignments]
    out = [CANVAS_STUDENT_COLUMNS + titles,
           [CANVAS_POINTS_ROW, "", "", "", ""] + [number(max_points[a]) for a in assignments]]
    unmatched, by_folder = [], []
    for student in _students(grid, roster, log):
        info, zipped = roster.get(student, {}), lms_ids.get(student, {})
        name = info.get("sortable_name") or info.get("name") or student
        canvas_id = info.get("canvas_id") or zipped.get("canvas_id", "")
        if info:
            login = info.get("sis_login_id") or info.get("username", "")
        elif zipped:
            login = ""   # the name in a Canvas file name is no login id; ID matches the row
        else:
            login = student
            by_folder.append(student)
        ids = [canvas_id, info.get("sis_user_id", ""), login]
        if not any(ids):
            unmatched.append(student)
        out.append([name, *ids, info.get("section", "")]
                   + [_cell(grid.get(student, {}).get(a), blank_missing) for a in assignments])
    if unmatched:
        log(f"warning: {len(unmatched)} rows have an empty ID, SIS User ID and SIS Login ID: "
            "Canvas matches a row by one of these columns and cannot import these "
            f"({_some(unmatched)}); give them a canvas_id, sis_user_id or sis_login_id in "
            "--roster")
    if by_folder:
        log(f"note: {len(by_folder)} rows have an empty ID, so Canvas matches them by SIS "
            "Login ID, here the submission folder's name; that works only where it is the "
            f"learner's Canvas login ({_some(by_folder)}), otherwise give --roster with canvas_id")
    return out


def moodle_rows(rows, roster=None, identifier="idnumber", blank_missing=False, log=print):
    roster = roster or {}
    header, field = MOODLE_ID_COLUMNS[identifier]
    if identifier == "email" and not any(info.get(field) for info in roster.values()):
        raise SystemExit(
            f"--moodle-id email: no email address to write. Submissions do not carry the "
            f"learners' email addresses; give --roster with student_id and email columns "
            f"({'the roster has no email' if roster else 'no --roster was given'}), or use "
            "--moodle-id idnumber or username")
    assignments, _, grid = table(rows)
    out = [[header] + assignments]
    missing_id = []
    for student in _students(grid, roster, log):
        info = roster.get(student, {})
        ident = info.get(field) or (student if identifier != "email" else "")
        if not ident:
            missing_id.append(student)
        out.append([ident] + [_cell(grid.get(student, {}).get(a), blank_missing) for a in assignments])
    if missing_id:
        log(f"warning: {len(missing_id)} rows have an empty {header} (no {field} in the "
            f"roster), so Moodle cannot match them: {_some(missing_id)}")
    return out


def write_rows(path, rows):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def nbgrader_export(db_url, path):
    """nbgrader's own CSV export of the gradebook (its CsvExportPlugin)."""
    import logging

    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plugin = CsvExportPlugin()
    plugin.to = str(path)
    plugin.log.setLevel(logging.WARNING)
    with Gradebook(db_url) as gb:
        plugin.export(gb)
    return path


def export(out_dir, fmt, to=None, roster=None, canvas_ids=None, moodle_id="idnumber",
           blank_missing=False, db_url=None, log=print):
    out_dir = Path(out_dir)
    to = Path(to) if to else out_dir / "export" / f"{fmt}.csv"
    from .record import refresh_csv

    refresh_csv(out_dir, db_url)   # scores a grader changed by hand in formgrader
    if fmt == "nbgrader":
        from .record import sqlite_url

        db_url = db_url or sqlite_url(out_dir / "gradebook.db")
        return nbgrader_export(db_url, to)
    rows = read_grades(out_dir)
    roster = read_roster(roster)
    if fmt == "canvas":
        lms_ids = read_roster(out_dir / IDS_FILE) if (out_dir / IDS_FILE).exists() else {}
        return write_rows(to, canvas_rows(rows, roster, canvas_ids, blank_missing, log, lms_ids))
    if fmt == "moodle":
        return write_rows(to, moodle_rows(rows, roster, moodle_id, blank_missing, log))
    raise SystemExit(f"unknown format {fmt!r}")


def parse_ids(pairs):
    ids = {}
    for pair in pairs or []:
        aid, sep, cid = pair.partition("=")
        if not sep or not cid.strip().isdigit():
            raise SystemExit(f"--canvas-assignment-id wants ASSIGNMENT=NUMBER, got {pair!r}")
        ids[aid.strip()] = cid.strip()
    return ids


def main(args):
    path = export(args.out, args.format, args.to, args.roster, parse_ids(args.canvas_assignment_id),
                  args.moodle_id, args.blank_missing, args.db_url,
                  log=lambda m: print(m, file=sys.stderr))
    print(f"wrote {path}")
    return 0
