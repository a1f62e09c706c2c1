"""Submissions from an LMS download (a .zip) laid out as nbgrader's folders.

Understood, inside the zip (optionally under one top folder):

* nbgrader's own layout ``STUDENT/ASSIGNMENT/NOTEBOOK.ipynb``;
* Canvas' "Download Submissions": flat files ``login[_late]_userid_subid_NAME.ipynb``
  (Canvas appends ``-1``, ``-2`` to resubmitted names);
* Moodle's "Download all submissions": ``Full Name_123_assignsubmission_file_/NAME.ipynb``.

A notebook is matched to the course by its file name. Nothing is extracted outside the
target folder, links are skipped, and sizes are capped (a zip bomb is refused, not grown).

A Canvas file name carries the learner's Canvas user id (``userid``, the number Canvas'
gradebook import matches in its ``ID`` column). The student folder is ``login_userid``;
``identities`` gives {student: {"canvas_id": userid, "name": login}} for the export, which
``write_identities`` keeps next to the grades (``lms_ids.csv``).
"""
import csv
import os
import re
import zipfile
from pathlib import Path, PurePosixPath

MAX_FILE = 50 * 2 ** 20
MAX_TOTAL = 2 * 2 ** 30
CANVAS = re.compile(r"^(?P<login>[^_]+)(?:_LATE|_late)?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<name>.+)$")
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assign(?:submission|feedback)_\w+_?$")


class BadZip(Exception):
    pass


def _safe_members(zf):
    total = 0
    for info in zf.infolist():
        path = PurePosixPath(info.filename)
        if info.is_dir() or path.is_absolute() or ".." in path.parts or not path.parts:
            continue
        if (info.external_attr >> 16) & 0o170000 == 0o120000:   # a symbolic link
            continue
        if info.file_size > MAX_FILE:
            continue
        total += info.file_size
        if total > MAX_TOTAL:
            raise BadZip("the zip unpacks to more than 2 GiB")
        yield info, path


def _notebook_of(filename, notebooks):
    """(assignment, notebook) whose file name this is, allowing LMS suffixes."""
    stem = re.sub(r"(-\d+)+$", "", Path(filename).stem)
    for aid, names in notebooks.items():
        for name in names:
            if stem == name or stem.endswith(name):
                return aid, name
    return None


def _open(zip_path):
    try:
        return zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadZip(f"{zip_path} is not a readable zip ({exc})") from None


def _notebook_members(zf, notebooks):
    """(member, parts inside the zip, destination or None) of every notebook in the zip."""
    members = list(_safe_members(zf))
    parts = [p.parts for _, p in members]
    # one common top folder (how zips of a folder are made) is not a student
    if parts and all(len(p) > 1 for p in parts) and len({p[0] for p in parts}) == 1 \
            and not any(len(p) == 3 and p[1] in notebooks for p in parts):
        parts = [p[1:] for p in parts]
    for (info, _), p in zip(members, parts):
        if p[-1].endswith(".ipynb"):
            yield info, p, _place(p, notebooks)


def unpack(zip_path, target, notebooks):
    """Lay the zip out under ``target``; ``notebooks`` is {assignment: [notebook stems]}.
    Returns a list of notes about files it could not place."""
    target = Path(target)
    notes = []
    with _open(zip_path) as zf:
        for info, p, dest in _notebook_members(zf, notebooks):
            if dest is None:
                notes.append(f"could not tell whose or which notebook {'/'.join(p)} is")
                continue
            out = target.joinpath(*dest)
            if out.exists():
                notes.append(f"{'/'.join(p)}: a notebook for {'/'.join(dest)} came earlier; kept that one")
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(zf.read(info))
    return notes


def _place(parts, notebooks):
    if len(parts) == 3 and parts[1] in notebooks:                  # nbgrader layout
        return parts[0], parts[1], parts[2]
    match = _notebook_of(parts[-1], notebooks)
    if match is None:
        return None
    aid, name = match
    if len(parts) == 2:                                            # Moodle folder per student
        m = MOODLE.match(parts[0])
        student = f"{m['name'].strip()}_{m['id']}" if m else parts[0]
        return _clean(student), aid, name + ".ipynb"
    if len(parts) == 1:                                            # Canvas, flat
        m = CANVAS.match(parts[0])
        if m:
            return _clean(f"{m['login']}_{m['uid']}"), aid, name + ".ipynb"
    return None


def identities(zip_path, notebooks):
    """{student folder: {"canvas_id": Canvas user id, "name": the name in the file name}}
    for the Canvas files of the zip that ``unpack`` places; empty for other layouts."""
    ids = {}
    with _open(zip_path) as zf:
        for _, p, dest in _notebook_members(zf, notebooks):
            m = CANVAS.match(p[0]) if dest is not None and len(p) == 1 else None
            if m:
                ids.setdefault(dest[0], {"canvas_id": m["uid"], "name": m["login"]})
    return ids


IDS_FILE = "lms_ids.csv"        # in the --out folder of autograde
IDENTITY_COLUMNS = ["student_id", "canvas_id", "name"]


def write_identities(path, ids):
    """``ids`` as a CSV (``student_id, canvas_id, name``), replaced atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(IDENTITY_COLUMNS)
        for student in sorted(ids):
            writer.writerow([student] + [ids[student][c] for c in IDENTITY_COLUMNS[1:]])
    os.replace(tmp, path)
    return path


def _clean(student):
    return re.sub(r"[^\w.@-]+", "_", student).strip("_") or "unknown"
