"""Which of the course's notebooks a learner's notebook is: nbgrader's cell ids (grade ids)
survive renaming a file, so the notebook whose ids overlap most is the one it is a copy of.
Used by ``grade`` (a notebook of another assignment handed in here) and ``check`` (which
released notebook a learner asks about)."""
from . import course


def cell_ids(nb):
    return {course.nbgrader_meta(c).get("grade_id") for c in nb.cells} - {None}


def overlap(ids, notebook):
    """Jaccard overlap of a submission's cell ids with a course notebook's; 0 without ids."""
    return len(ids & notebook.grade_ids) / len(ids | notebook.grade_ids) if ids else 0.0


def closest(nb, candidates, bonus=lambda notebook: 0.0):
    """The candidate whose ids overlap ``nb``'s most (plus ``bonus``, a tie-breaker); the
    first of equals; None when nothing overlaps."""
    ids = cell_ids(nb)
    scored = [(overlap(ids, m) + bonus(m), i, m) for i, m in enumerate(candidates)]
    best = max(scored, key=lambda s: (s[0], -s[1]), default=None)
    return best[2] if best and best[0] > 0 else None


def belongs_elsewhere(nb, master):
    """"ASSIGNMENT/FILE" of the course notebook that ``nb`` matches better than ``master``,
    or None (ties go to ``master``)."""
    everyone = [m for ms in course.course_notebooks().values() for m in ms]
    best = closest(nb, everyone, bonus=lambda m: 1e-9 if m.path == master.path else 0.0)
    if best is None or best.path == master.path:
        return None
    return f"{best.assignment}/{best.filename}"
