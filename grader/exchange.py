"""nbgrader's exchange files beside a collected submission.

``nbgrader collect`` puts each submission in ``submitted/STUDENT/ASSIGNMENT/`` with
``timestamp.txt`` (when the learner submitted) and ``submission_secret.txt`` (the key that
``release_feedback`` and ``fetch_feedback`` name the feedback file by). ``autograde``
records the timestamp in the gradebook (so nbgrader's late penalty applies) and copies both
files into ``OUT/feedback/STUDENT/ASSIGNMENT/`` beside its own pages, which is where
``nbgrader release_feedback`` looks when ``nbgrader_config.py`` names that folder as
``CourseDirectory.feedback_directory``.
"""
import os
import stat
from pathlib import Path

RECEIPTS = ("timestamp.txt", "submission_secret.txt")
MAX_BYTES = 4096


def _read_small(path):
    """A small regular file's text, never through a link; None when absent or odd."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def receipts(subs):
    """{(student, assignment): {file name: text}} for the exchange files of each folder."""
    found = {}
    for sub in subs:
        if sub.path is None or (sub.student, sub.assignment) in found:
            continue
        folder = Path(sub.path).parent
        files = {name: text for name in RECEIPTS
                 if (text := _read_small(folder / name)) is not None}
        if files:
            found[(sub.student, sub.assignment)] = files
    return found


def timestamps(found):
    """{(student, assignment): datetime (UTC)} parsed as nbgrader parses them."""
    from nbgrader.utils import parse_utc

    out = {}
    for key, files in found.items():
        text = (files.get("timestamp.txt") or "").strip()
        if text:
            try:
                out[key] = parse_utc(text)
            except (ValueError, OverflowError):
                pass
    return out


def write_receipts(out_dir, found, results=()):
    """Copy the exchange files into each student's feedback folder, for release_feedback,
    and write each graded notebook to ``OUT/autograded/STUDENT/ASSIGNMENT/`` (with its
    timestamp), where nbgrader's formgrader looks for what was autograded and shows it for
    grading by hand (``CourseDirectory.autograded_directory`` in ``nbgrader_config.py``)."""
    import nbformat

    for result in results:
        if not result.recordable:
            continue
        folder = Path(out_dir) / "autograded" / result.student / result.assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.from_dict(result.graded_notebook),
                       str(folder / f"{result.notebook}.ipynb"))
        stamp = found.get((result.student, result.assignment), {}).get("timestamp.txt")
        if stamp is not None:
            (folder / "timestamp.txt").write_text(stamp)
    for (student, assignment), files in found.items():
        folder = Path(out_dir) / "feedback" / student / assignment
        if not folder.is_dir():
            continue
        for name, text in files.items():
            (folder / name).write_text(text)
