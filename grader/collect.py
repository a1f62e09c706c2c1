"""Find a cohort's submissions: nbgrader's ``STUDENT/ASSIGNMENT/NOTEBOOK.ipynb`` layout.

Every (student, assignment, notebook) the course expects becomes one ``Submission``;
what is missing or unusable is a ``problem`` on it, never an exception.
"""
import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import nbformat


@dataclass
class Submission:
    student: str
    assignment: str
    notebook: str                  # the master notebook's stem
    path: Path | None = None
    problem: str | None = None     # a status such as "missing" when it cannot be graded
    detail: str = ""
    content: bytes | None = None   # the file's bytes, when it travels to a remote worker

    @property
    def key(self):
        return (self.student, self.assignment, self.notebook)

    def read(self):
        return self.content if self.content is not None else read_submission(self.path)

    def fingerprint(self):
        return hashlib.sha256(self.read()).hexdigest() if self.path else "-"


def students(submissions_dir):
    return sorted(p.name for p in Path(submissions_dir).iterdir()
                  if p.is_dir() and not p.name.startswith("."))


def collect(submissions_dir, notebooks_by_assignment, assignment_ids=None):
    """``notebooks_by_assignment``: {assignment: [CourseNotebook]} of the course."""
    root = Path(submissions_dir)
    if assignment_ids is None:
        present = {a.name for s in students(root) for a in (root / s).iterdir() if a.is_dir()}
        assignment_ids = [a for a in notebooks_by_assignment if a in present]
    found = []
    for student in students(root):
        for aid in assignment_ids:
            for master in notebooks_by_assignment[aid]:
                path = root / student / aid / master.filename
                sub = Submission(display_name(student), aid, master.name)
                if not (root / student / aid).is_dir():
                    folders = sorted(display_name(p.name) for p in (root / student).iterdir()
                                     if p.is_dir() and p.name not in notebooks_by_assignment)
                    sub.problem, sub.detail = "missing", f"no folder {aid}/ was submitted" + (
                        f" (found {', '.join(folders)}/)" if folders else "")
                elif _not_a_file(root, path):
                    sub.problem, sub.detail = "invalid_notebook", _not_a_file(root, path)
                elif not path.is_file():
                    _renamed(sub, root / student / aid, notebooks_by_assignment[aid])
                else:
                    sub.path = path
                found.append(sub)
    return found


def _renamed(sub, folder, masters):
    """A lone notebook under another name is graded (and the row says so)."""
    expected = {m.filename for m in masters}
    others = sorted(p for p in folder.glob("*.ipynb") if p.name not in expected and p.is_file())
    if len(masters) == 1 and len(others) == 1:
        sub.path = others[0]
        sub.detail = f"graded {display_name(others[0].name)} (expected {sub.notebook}.ipynb)"
    else:
        found = ", ".join(display_name(p.name) for p in others) or "no notebook"
        sub.problem = "missing"
        sub.detail = f"{sub.assignment}/{sub.notebook}.ipynb was not submitted (found {found})"


MAX_NOTEBOOK_BYTES = 64 * 2 ** 20


def _not_a_file(root, path):
    """Why ``path`` is refused (a link, a device, a FIFO, on the way or at the end), or ''."""
    here = Path(root)
    for part in path.relative_to(root).parts:
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except FileNotFoundError:
            return ""
        if stat.S_ISLNK(mode):
            return f"refused: {display_name(str(here.relative_to(root)))} is a symbolic link, not a file"
        if here != path and not stat.S_ISDIR(mode):
            return ""
        if here == path and not stat.S_ISREG(mode):
            return f"refused: {display_name(path.name)} is not a regular file (a device, FIFO or socket)"
    return ""


def read_submission(path):
    """A submission's bytes: never through a link, never from a FIFO or device, bounded."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise InvalidNotebook("refused: not a regular file")
        data = f.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise InvalidNotebook(f"the file is larger than {MAX_NOTEBOOK_BYTES // 2 ** 20} MB")
    return data


def display_name(name):
    """A folder or file name as text, even when it is not valid UTF-8."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class InvalidNotebook(Exception):
    pass


def load_notebook(path_or_bytes):
    """Read a submitted notebook as nbformat 4, or say in a sentence why it cannot be."""
    raw = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    if not raw.strip():
        raise InvalidNotebook("the file is empty")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidNotebook(f"the file is not valid notebook JSON ({exc})") from None
    except RecursionError:
        raise InvalidNotebook("the file is JSON nested too deeply to be a notebook") from None
    if not isinstance(data, dict) or "nbformat" not in data:
        raise InvalidNotebook("the file is JSON but not a notebook (no nbformat field)")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except RecursionError:
        raise InvalidNotebook("the notebook is nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 (nbformat raises many kinds)
        raise InvalidNotebook(f"nbformat cannot read it ({type(exc).__name__}: {exc})") from None
    if not isinstance(nb.get("cells"), list):
        raise InvalidNotebook("the notebook has no cells")
    return nb
