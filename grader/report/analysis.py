"""The class report's numbers: loading an autograde run and its statistics.

Plain functions: ``load`` reads ``grades.csv`` (rows, dicts) and ``results/`` (the typed
``NotebookResult``); the others take those rows and results (and the master notebooks,
``course.course_notebooks()``) and return lists of dicts, one per row of a table of the
report (the same rows are written as CSV). Quiz questions, their options and answer keys come from the masters' declarations
(``course.quiz_questions``); only their titles and option texts are read from the lesson's
Markdown.
"""
import json
import re
import statistics
import textwrap
from collections import Counter, defaultdict
from pathlib import Path

import nbformat

from .. import course
from ..record import read_csv
from ..result import NotebookResult, Status


# Statuses that a person should look at (the grade may be wrong or incomplete).
NEEDS_LOOK = {
    Status.TIMEOUT: "ran past the time limit",
    Status.KERNEL_DIED: "the kernel died",
    Status.MEMORY_LIMIT: "ran out of memory",
    Status.ERROR: "the grader failed on it",
    Status.WRONG_ASSIGNMENT: "another assignment's notebook",
    Status.INVALID_NOTEBOOK: "not a readable notebook",
}
# A notebook in one of these states never ran: its tests say nothing about the exercise.
NOT_RUN = {Status.MISSING, Status.INVALID_NOTEBOOK, Status.WRONG_ASSIGNMENT}
# the function still raises NotImplementedError, or the name was never defined
NOT_WRITTEN = re.compile(r"is not written yet|raised NotImplementedError\b|^name '\w+' is not defined")
NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


# --------------------------------------------------------------------------- loading

def load(out_dir):
    """(grades.csv rows, results) of an autograde run; results only for rows in grades.csv."""
    out_dir = Path(out_dir)
    rows = []
    if (out_dir / "grades.csv").exists():
        rows, _ = read_csv(out_dir / "grades.csv")
        for r in rows:
            r["score"], r["max_score"] = float(r["score"]), float(r["max_score"])
    keep = {(r["student_id"], r["assignment"]) for r in rows}
    results = []
    for path in sorted((out_dir / "results").glob("*/*/*.json")):
        try:
            result = NotebookResult.from_dict(json.loads(path.read_text()))
        except (ValueError, TypeError, KeyError):
            continue
        if not rows or (result.student, result.assignment) in keep:
            results.append(result)
    return rows, results


def course_masters():
    """{assignment: [CourseNotebook]} of the course; none without solutions/."""
    try:
        return course.course_notebooks()
    except OSError:
        return {}


# --------------------------------------------------------------------------- tables

def needs_review(results):
    """Notebooks whose grade a person should check: a problem status or edited test cells."""
    out = []
    for r in results:
        reasons = []
        if r.status in NEEDS_LOOK:
            reasons.append(f"{r.status}: {NEEDS_LOOK[r.status]}")
        if r.tampering:
            reasons.append("suspected tampering: " + ", ".join(r.tampering))
        if r.feedback_error:
            reasons.append("feedback could not be written: " + r.feedback_error)
        if reasons:
            out.append({"student_id": r.student, "assignment": r.assignment,
                        "notebook": r.notebook, "status": str(r.status),
                        "reason": "; ".join(reasons), "score": r.score,
                        "max_score": r.max_score, "detail": r.detail})
    return sorted(out, key=lambda x: (x["assignment"], x["student_id"], x["notebook"]))


def scores(rows):
    """Per assignment: how many rows, submitted, missing, and the score statistics (%)."""
    out = []
    by_assignment = defaultdict(list)
    for r in rows:
        by_assignment[r["assignment"]].append(r)
    for aid, group in sorted(by_assignment.items()):
        submitted = [r for r in group if r["status"] != "missing"]
        pct = [100 * r["score"] / r["max_score"] for r in submitted if r["max_score"]]
        out.append({
            "assignment": aid, "students": len(group), "submitted": len(submitted),
            "missing": len(group) - len(submitted),
            "not_attempted": sum(1 for r in group if r["status"] == "not_attempted"),
            "full_marks": sum(1 for r in submitted if r["score"] == r["max_score"]),
            "needs_look": sum(1 for r in group if r["status"] in NEEDS_LOOK),
            "max_score": max(r["max_score"] for r in group),
            "mean_pct": round(statistics.mean(pct), 1) if pct else "",
            "median_pct": round(statistics.median(pct), 1) if pct else "",
            "min_pct": round(min(pct), 1) if pct else "",
            "max_pct": round(max(pct), 1) if pct else "",
        })
    return out


def _hidden_ids(masters):
    return {(a, m.name, t.grade_id) for a, ms in masters.items() for m in ms for t in m.tests
            if "BEGIN HIDDEN TESTS" in t.source}


def _outcome(test):
    if test.passed:
        return "passed"
    if test.not_run:
        return "not run"
    if NOT_WRITTEN.search(test.message):
        return "not written"
    return "failed"


def exercises(results, masters=None):
    """One row per test cell: of the notebooks that ran, how many passed it.

    ``ran``: the notebooks of the assignment that were submitted and readable (every
    status but missing, invalid_notebook and wrong_assignment); a test that a time limit
    stopped counts as not passed. ``success_rate`` = passed / ran.
    """
    masters = course_masters() if masters is None else masters
    hidden = _hidden_ids(masters)
    order, counts = [], {}
    for r in results:
        if r.status in NOT_RUN:
            continue
        for t in r.tests:
            key = (r.assignment, r.notebook, t.grade_id)
            if key not in counts:
                order.append(key)
                counts[key] = Counter(points=t.max_points)
            counts[key]["ran"] += 1
            counts[key][_outcome(t)] += 1
    out = []
    for key in sorted(order, key=lambda k: (k[0], k[1], _test_index(masters, k, order))):
        aid, nb, gid = key
        c = counts[key]
        exercise, kind = course.exercise_name(gid)
        if masters:
            kind = "hidden" if key in hidden else "visible"
        out.append({"assignment": aid, "notebook": nb, "test": gid, "exercise": exercise,
                    "kind": kind, "points": c["points"], "ran": c["ran"],
                    "passed": c["passed"], "failed": c["failed"],
                    "not_written": c["not written"], "not_run": c["not run"],
                    "success_rate": round(c["passed"] / c["ran"], 4) if c["ran"] else 0.0})
    return out


def _test_index(masters, key, order):
    aid, nb, gid = key
    for m in masters.get(aid, []):
        if m.name == nb:
            ids = [t.grade_id for t in m.tests]
            if gid in ids:
                return ids.index(gid)
    return 1000 + order.index(key)


def _diagnosis_label(value):
    if isinstance(value, dict):
        return str(value.get("title") or value.get("id") or value.get("text") or value)
    return str(value)


def diagnosis_catalogue():
    """{diagnosis id: what it means} of the reference's diagnoser, when it is there."""
    import importlib

    try:
        with course.importable(course.SOLUTIONS):
            return dict(importlib.import_module("gru_reference.diagnose").CATALOGUE)
    except Exception:  # noqa: BLE001 (no reference, an older one: ids without meanings)
        return {}


def diagnoses(results):
    """The failures, grouped: by the test's diagnosis id when it has one, else by the
    first line of its message with the numbers blanked out. Unwritten functions
    (NotImplementedError) and tests that did not run are left out."""
    groups = {}
    for r in results:
        for t in r.tests:
            if _outcome(t) != "failed":
                continue
            first = (t.message.strip().splitlines() or ["failed"])[0] if t.message else "failed"
            if t.diagnosis:
                source, key = "diagnosis", _diagnosis_label(t.diagnosis)
            else:
                source, key = "message", NUMBER.sub("#", first)[:300]
            g = groups.setdefault((r.assignment, source, key), {
                "assignment": r.assignment, "source": source, "diagnosis": key,
                "example": clip(first, 300), "students": set(), "tests": Counter(), "failures": 0})
            g["students"].add(r.student)
            g["tests"][t.grade_id] += 1
            g["failures"] += 1
    meanings = diagnosis_catalogue() if any(s == "diagnosis" for _, s, _ in groups) else {}
    out = []
    for g in groups.values():
        out.append({"assignment": g["assignment"], "source": g["source"],
                    "diagnosis": g["diagnosis"], "meaning": meanings.get(g["diagnosis"], ""),
                    "example": g["example"],
                    "students": len(g["students"]), "failures": g["failures"],
                    "tests": " ".join(t for t, _ in g["tests"].most_common()),
                    "student_ids": " ".join(sorted(g["students"]))})
    return sorted(out, key=lambda x: (-x["students"], -x["failures"], x["assignment"], x["diagnosis"]))


# --------------------------------------------------------------------------- quiz

def quiz_questions(masters=None, release=course.RELEASE):
    """{assignment: {name: {"title", "options": {letter: text}, "key": set|None, "notebook",
    "cell"}}}: the quiz questions the masters declare, in notebook order, with the title
    and option texts of the Markdown cell before each answer cell (in the release)."""
    masters = course_masters() if masters is None else masters
    out = {}
    for aid, ms in masters.items():
        for m in ms:
            declared = course.quiz_questions(m)
            if not declared:
                continue
            questions = out.setdefault(aid, {})
            for name, q in declared.items():
                questions[name] = {"title": name, "options": dict.fromkeys(q.options, ""),
                                   "key": None if q.key is None else set(q.key),
                                   "notebook": m.name, "cell": q.cell}
            path = release / aid / m.filename
            if not path.exists():
                path = m.path
            _question_texts(nbformat.read(path, as_version=4), [questions[n] for n in declared])
    return out


def _question_texts(nb, questions):
    """Titles and option texts from the markdown cell before each answer cell."""
    by_cell = {q["cell"]: q for q in questions}
    last_md = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            last_md = cell.source
            continue
        q = by_cell.get(course.nbgrader_meta(cell).get("grade_id"))
        if q is not None and last_md:
            title = re.search(r"^#+\s*(.+)$", last_md, re.M)
            if title:
                q["title"] = title.group(1).strip()
            for letter, text in re.findall(r"^\s*[*-]\s*\*\*([A-Z])\.\*\*\s*(.+)$", last_md, re.M):
                if letter in q["options"]:
                    q["options"][letter] = text.strip()
            last_md = ""


def quiz_items(results, questions):
    """(per-option rows, per-question rows) of the quiz item analysis.

    A learner counts for a question when the grader recorded their answer to it (the
    result's ``answers``); ``chosen`` is how many of them included the option.
    """
    option_rows, question_rows = [], []
    for aid, qs in sorted(questions.items()):
        answered = defaultdict(list)   # name -> [(student, letters, type)]
        for r in results:
            if r.assignment != aid:
                continue
            for name, letters in r.answers.items():
                kind = r.answer_types.get(name, "set")
                answered[name].append((r.student, letters, kind))
        for name, q in qs.items():
            got = answered.get(name, [])
            key = q["key"]
            chosen = Counter(letter for _, letters, _ in got for letter in set(letters))
            letters = sorted(set(q["options"]) | set(chosen),
                             key=lambda x: (x not in q["options"], x))
            for letter in letters:
                option_rows.append({
                    "assignment": aid, "question": name, "option": letter,
                    "text": q["options"].get(letter, "(not an option)"),
                    "in_key": "" if key is None else ("yes" if letter in key else "no"),
                    "chosen": chosen.get(letter, 0), "answered": len(got),
                    "share": round(chosen.get(letter, 0) / len(got), 4) if got else 0.0})
            right = sum(1 for _, ls, kind in got if key is not None and set(ls) == key
                        and kind == "set")
            sets = Counter(_answer_text(ls, kind) for _, ls, kind in got
                           if key is None or set(ls) != key or kind != "set")
            question_rows.append({
                "assignment": aid, "question": name, "title": q["title"],
                "key": "" if key is None else "{" + ", ".join(sorted(key)) + "}",
                "answered": len(got), "fully_right": right,
                "not_a_set": sum(1 for _, _, kind in got if kind != "set"),
                "common_wrong_answers": "; ".join(f"{s} ×{n}" for s, n in sets.most_common(3))})
    return option_rows, question_rows


def _answer_text(letters, kind):
    if kind == "set":
        return "{" + ", ".join(sorted(set(letters))) + "}"
    return f"{kind} {letters}"


# --------------------------------------------------------------------------- overview

def overview(rows, results, review, score_rows):
    """The numbers of the page's cards."""
    students = {r["student_id"] for r in rows} or {r.student for r in results}
    # the mean over submitted rows, as the score histograms draw it
    submitted = [r for r in rows if r["status"] != "missing" and r["max_score"]]
    mean = (f"{100 * statistics.mean(r['score'] / r['max_score'] for r in submitted):.0f}%"
            if submitted else "–")
    return {"students": len(students), "assignments": len(score_rows),
            "graded": sum(1 for r in results if r.status == Status.GRADED),
            "nothing_written": sum(1 for r in results if r.status == Status.NOT_ATTEMPTED),
            "needs_look": len(review), "mean": mean,
            "retries": sum(r.retries for r in results),
            "unconfined": sum(1 for r in results if not r.confined)}


def similarity_summary(analyses, prefix="similarity/"):
    """One row per assignment of the similarity analyses (``grader/similarity.py``)."""
    out = []
    for an in analyses:
        names = ", ".join(f"{p.a} · {p.b}" for p in an.listed[:6]) + (" …" if len(an.listed) > 6 else "")
        out.append({"assignment": an.assignment, "href": f"{prefix}{an.assignment}.html",
                    "submissions": len(an.students), "compared": len(an.pairs),
                    "pairs": an.total_pairs, "listed": len(an.listed), "names": names,
                    "too_short": ", ".join(an.too_short) or "–"})
    return out


def clip(text, n):
    """At most ``n`` characters, cut at a word boundary, with an ellipsis when cut."""
    return text if len(text) <= n else textwrap.shorten(text, n, placeholder=" …")


def shorten(items, n):
    """The first ``n`` of a list, joined, with how many more there are."""
    return ", ".join(items[:n]) + (f" … (+{len(items) - n})" if len(items) > n else "")
