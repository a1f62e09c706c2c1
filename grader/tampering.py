"""Test cells a learner changed. They are never run (every test comes from the master
notebook) but a person should know: the class report lists them under "needs a look"."""
from . import course


def changed_tests(nb, release_nb, master):
    """Test cells the learner deleted, edited or re-labelled (graded from the master anyway)."""
    released = {course.nbgrader_meta(c).get("grade_id"): c for c in release_nb.cells
                if course.is_test_cell(c)}
    seen, notes = {}, []
    for cell in nb.cells:
        gid = course.nbgrader_meta(cell).get("grade_id")
        if gid in released:
            seen[gid] = seen.get(gid, 0) + 1
            if cell.source != released[gid].source:
                notes.append(f"edited test cell {gid}")
            meta, orig = course.nbgrader_meta(cell), course.nbgrader_meta(released[gid])
            if any(meta.get(k) != orig.get(k) for k in ("points", "grade", "locked")):
                notes.append(f"changed the metadata of test cell {gid}")
    for gid in released:
        if gid not in seen:
            notes.append(f"deleted or re-labelled test cell {gid}")
        elif seen[gid] > 1:
            notes.append(f"duplicated test cell {gid}")
    return notes
