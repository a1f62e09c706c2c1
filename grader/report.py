"""The class report: what a cohort got right and wrong, for the instructor.

``write_report(out_dir)`` reads ``grades.csv`` and ``results/`` of an autograde run and
writes ``out_dir/report/``:

* ``index.html``: one self-contained page (figures embedded as PNG), in this order:
  submissions that need a human look, score distribution per assignment, success rate of
  every test cell, the most frequent diagnoses, and the quiz item analysis;
* ``needs_review.csv``, ``scores.csv``, ``exercises.csv``, ``diagnoses.csv``,
  ``quiz_items.csv`` and ``quiz_answers.csv``: the same numbers as tables;
* ``figures/*.png``: the figures as files;
* ``similarity/``: which learners share their code (``grader/similarity.py``), summarized
  in a last section of ``index.html``.

It runs at the end of ``autograde`` and on its own as ``python -m grader report --out DIR``.
The report is for instructors: it names hidden tests and shows the quiz answer key.
"""
import ast
import base64
import csv
import datetime
import html
import json
import re
import statistics
import textwrap
from collections import Counter, defaultdict
from pathlib import Path

from . import course

# Statuses that a person should look at (the grade may be wrong or incomplete).
NEEDS_LOOK = {
    "timeout": "ran past the time limit",
    "kernel_died": "the kernel died",
    "memory_limit": "ran out of memory",
    "error": "the grader failed on it",
    "wrong_assignment": "another assignment's notebook",
    "invalid_notebook": "not a readable notebook",
}
# A notebook in one of these states never ran: its tests say nothing about the exercise.
NOT_RUN = {"missing", "invalid_notebook", "wrong_assignment"}
# the function still raises NotImplementedError, or the name was never defined
NOT_WRITTEN = re.compile(r"is not written yet|raised NotImplementedError\b|^name '\w+' is not defined")
QUIZ_NAME = re.compile(r"\b(q(\d+)_answer)\b")
NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
COLORS = {"passed": "#3a923a", "failed": "#d0473e", "not written": "#b8b8b8",
          "not run": "#e4e4e4"}


# --------------------------------------------------------------------------- loading

def load(out_dir):
    """(grades.csv rows, results) of an autograde run; results only for rows in grades.csv."""
    out_dir = Path(out_dir)
    rows = []
    if (out_dir / "grades.csv").exists():
        with open(out_dir / "grades.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            r["score"], r["max_score"] = float(r["score"]), float(r["max_score"])
    keep = {(r["student_id"], r["assignment"]) for r in rows}
    results = []
    for path in sorted((out_dir / "results").glob("*/*/*.json")):
        try:
            result = json.loads(path.read_text())
        except ValueError:
            continue
        if not rows or (result.get("student"), result.get("assignment")) in keep:
            results.append(result)
    return rows, results


def _masters():
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
        if r["status"] in NEEDS_LOOK:
            reasons.append(f"{r['status']}: {NEEDS_LOOK[r['status']]}")
        if r.get("tampering"):
            reasons.append("suspected tampering: " + ", ".join(r["tampering"]))
        if r.get("feedback_error"):
            reasons.append("feedback could not be written: " + r["feedback_error"])
        if reasons:
            out.append({"student_id": r["student"], "assignment": r["assignment"],
                        "notebook": r["notebook"], "status": r["status"],
                        "reason": "; ".join(reasons), "score": r.get("score", 0.0),
                        "max_score": r.get("max_score", 0.0), "detail": r.get("detail", "")})
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
    if test.get("passed"):
        return "passed"
    if test.get("not_run"):
        return "not run"
    if NOT_WRITTEN.search(test.get("message") or ""):
        return "not written"
    return "failed"


def exercises(results, masters=None):
    """One row per test cell: of the notebooks that ran, how many passed it.

    ``ran``: the notebooks of the assignment that were submitted and readable (every
    status but missing, invalid_notebook and wrong_assignment); a test that a time limit
    stopped counts as not passed. ``success_rate`` = passed / ran.
    """
    masters = _masters() if masters is None else masters
    hidden = _hidden_ids(masters)
    order, counts = [], {}
    for r in results:
        if r["status"] in NOT_RUN:
            continue
        for t in r["tests"]:
            key = (r["assignment"], r["notebook"], t["grade_id"])
            if key not in counts:
                order.append(key)
                counts[key] = Counter(points=t["max_points"])
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
    import sys

    added = str(course.SOLUTIONS) not in sys.path
    if added:
        sys.path.append(str(course.SOLUTIONS))
    try:
        return dict(importlib.import_module("gru_reference.diagnose").CATALOGUE)
    except Exception:  # noqa: BLE001 (no reference, an older one: ids without meanings)
        return {}
    finally:
        if added:
            sys.path.remove(str(course.SOLUTIONS))


def diagnoses(results):
    """The failures, grouped: by the test's diagnosis id when it has one, else by the
    first line of its message with the numbers blanked out. Unwritten functions
    (NotImplementedError) and tests that did not run are left out."""
    groups = {}
    for r in results:
        for t in r["tests"]:
            if _outcome(t) != "failed":
                continue
            diag = (t.get("extra") or {}).get("diagnosis")
            first = (t.get("message") or "failed").strip().splitlines()[0] if t.get("message") else "failed"
            if diag:
                source, key = "diagnosis", _diagnosis_label(diag)
            else:
                source, key = "message", NUMBER.sub("#", first)[:300]
            g = groups.setdefault((r["assignment"], source, key), {
                "assignment": r["assignment"], "source": source, "diagnosis": key,
                "example": _clip(first, 300), "students": set(), "tests": Counter(), "failures": 0})
            g["students"].add(r["student"])
            g["tests"][t["grade_id"]] += 1
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
    """{assignment: {name: {"title", "options": {letter: text}, "key": set|None}}} for the
    assignments whose learner names are q<N>_answer."""
    masters = _masters() if masters is None else masters
    import nbformat

    out = {}
    for aid, ms in masters.items():
        for m in ms:
            names = sorted({n for t in m.tests for n, _ in QUIZ_NAME.findall(t.source)},
                           key=lambda n: int(re.sub(r"\D", "", n)))
            if not names:
                continue
            questions = out.setdefault(aid, {})
            for name in names:
                questions[name] = {"title": name, "options": {}, "key": None, "notebook": m.name}
            for t in m.tests:
                refs = set(n for n, _ in QUIZ_NAME.findall(t.source))
                key = re.search(r"^\s*KEY\s*=\s*(\{[^}]*\})", t.source, re.M)
                if key and len(refs) == 1:
                    try:
                        questions[refs.pop()]["key"] = set(ast.literal_eval(key.group(1)))
                    except (ValueError, SyntaxError):
                        pass
                letters = re.search(r'check_format\(\s*"(q\d+_answer)"\s*,.*?,\s*"([A-Z]+)"', t.source)
                if letters:
                    opts = questions[letters.group(1)]["options"]
                    for letter in letters.group(2):
                        opts.setdefault(letter, "")
            path = release / aid / m.filename
            if not path.exists():
                path = m.path
            _question_texts(nbformat.read(path, as_version=4), questions)
    return out


def _question_texts(nb, questions):
    """Titles and option texts from the markdown cell before each answer cell."""
    last_md = ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            last_md = cell.source
            continue
        assigned = re.findall(r"^\s*(q\d+_answer)\s*=", cell.source, re.M)
        meta = course.nbgrader_meta(cell)
        gid = meta.get("grade_id", "")
        name = assigned[0] if assigned else (f"{gid}_answer" if re.fullmatch(r"q\d+", gid or "") else None)
        if name in questions and last_md:
            title = re.search(r"^#+\s*(.+)$", last_md, re.M)
            if title:
                questions[name]["title"] = title.group(1).strip()
            for letter, text in re.findall(r"^\s*[*-]\s*\*\*([A-Z])\.\*\*\s*(.+)$", last_md, re.M):
                questions[name]["options"][letter] = text.strip()
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
            if r["assignment"] != aid:
                continue
            for name, letters in (r.get("answers") or {}).items():
                kind = (r.get("answer_types") or {}).get(name, "set")
                answered[name].append((r["student"], letters, kind))
        for name, q in sorted(qs.items(), key=lambda kv: int(re.sub(r"\D", "", kv[0]))):
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


# --------------------------------------------------------------------------- figures

def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                         "axes.titlesize": 10, "axes.titleweight": "bold"})
    return plt


def _save(fig, folder, name):
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def fig_scores(rows, folder):
    plt = _plt()
    aids = sorted({r["assignment"] for r in rows})
    if not aids:
        return None
    ncol = min(3, len(aids))
    nrow = -(-len(aids) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 2.6 * nrow), squeeze=False)
    bins = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100.001]
    for ax, aid in zip(axes.flat, aids):
        group = [r for r in rows if r["assignment"] == aid]
        pct = [100 * r["score"] / r["max_score"] for r in group
               if r["status"] != "missing" and r["max_score"]]
        missing = len(group) - len(pct)
        ax.hist(pct, bins=bins, color="#4a78b5", edgecolor="white")
        top = max(ax.get_ylim()[1], 1) * 1.18
        ax.set_ylim(0, top)
        if pct:
            mean = statistics.mean(pct)
            ax.axvline(mean, color="#222", lw=1, ls="--")
            ax.text(mean + (-1.5 if mean > 60 else 1.5), top * 0.97, f"mean {mean:.0f}%",
                    va="top", ha="right" if mean > 60 else "left", fontsize=8)
        ax.set_title(f"{aid}\n{len(pct)} submitted, {missing} missing", fontsize=9)
        ax.set_xlim(0, 100)
        ax.set_xlabel("score (% of max)")
        ax.set_ylabel("students")
        ax.yaxis.get_major_locator().set_params(integer=True)
    for ax in list(axes.flat)[len(aids):]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, folder, "scores")


def fig_exercises(ex_rows, folder):
    plt = _plt()
    aids = sorted({r["assignment"] for r in ex_rows})
    if not aids:
        return None
    heights = [max(1.0, 0.24 * sum(1 for r in ex_rows if r["assignment"] == a) + 0.6) for a in aids]
    fig, axes = plt.subplots(len(aids), 1, figsize=(8, sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    parts = [("passed", "passed"), ("failed", "failed"), ("not_written", "not written"),
             ("not_run", "not run")]
    for ax, aid in zip(axes[:, 0], aids):
        group = [r for r in ex_rows if r["assignment"] == aid][::-1]
        labels = [f"{r['exercise']} · {r['kind']}" if r["kind"] else r["exercise"] for r in group]
        left = [0.0] * len(group)
        for field, name in parts:
            share = [100 * r[field] / r["ran"] if r["ran"] else 0 for r in group]
            ax.barh(labels, share, left=left, color=COLORS[name], label=name, height=0.72)
            left = [a + b for a, b in zip(left, share)]
        for y, r in enumerate(group):
            ax.text(101, y, f"{100 * r['success_rate']:.0f}%  ({r['passed']}/{r['ran']})",
                    va="center", fontsize=8)
        ax.set_xlim(0, 100)
        ax.set_title(aid, loc="left")
        ax.tick_params(axis="y", length=0)
        ax.set_xlabel("% of the submitted, readable notebooks" if ax is axes[-1, 0] else "")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=4, frameon=False,
               bbox_to_anchor=(0.5, 1.0))
    # the legend's row is 0.45 inch whatever the figure's height (one assignment: a short one)
    fig.tight_layout(rect=(0, 0, 0.9, 1 - 0.45 / fig.get_figheight()))
    return _save(fig, folder, "exercises")


def fig_quiz(aid, question_rows, option_rows, folder):
    plt = _plt()
    qs = [q for q in question_rows if q["assignment"] == aid]
    if not qs:
        return None
    ncol = min(3, len(qs))
    nrow = -(-len(qs) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.3 * ncol, 2.1 * nrow), squeeze=False)
    for ax, q in zip(axes.flat, qs):
        opts = [o for o in option_rows if o["assignment"] == aid and o["question"] == q["question"]]
        # learners' own "options" (a string, a lowercase letter...): the three most chosen
        odd = sorted((o for o in opts if o["text"] == "(not an option)"), key=lambda o: -o["chosen"])
        opts = [o for o in opts if o["text"] != "(not an option)"] + odd[:3]
        colors = ["#3a923a" if o["in_key"] == "yes" else "#d0473e" if o["in_key"] == "no"
                  else "#4a78b5" for o in opts]
        labels = [(o["option"] if o["text"] != "(not an option)" else repr(o["option"][:12]))
                  .replace("$", r"\$") for o in opts]   # learner text: no mathtext
        ax.bar(labels, [100 * o["share"] for o in opts], color=colors)
        for i, o in enumerate(opts):
            ax.text(i, 100 * o["share"] + 2, str(o["chosen"]), ha="center", fontsize=7)
        ax.set_ylim(0, 112)
        right = f"{q['fully_right']}/{q['answered']} fully right" if q["answered"] else "no answers"
        ax.set_title(f"{q['question'].replace('_answer', '').upper()} · {right}", fontsize=9)
        ax.set_ylabel("% chose it", fontsize=8)
    for ax in list(axes.flat)[len(qs):]:
        ax.axis("off")
    fig.suptitle(f"{aid}: share of learners choosing each option "
                 "(green: in the key, red: distractor; number: learners)", fontsize=9)
    fig.tight_layout()
    return _save(fig, folder, f"quiz_{aid}")


# --------------------------------------------------------------------------- output

def _write_csv(path, rows, columns):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _img(path, alt):
    if path is None:
        return "<p class='muted'>(no data)</p>"
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def _table(rows, columns, headers=None, nowrap=(), num=()):
    headers = headers or columns

    def cls(c):
        names = (["nowrap"] if c in nowrap else []) + (["num"] if c in num else [])
        return f" class='{' '.join(names)}'" if names else ""

    head = "".join(f"<th{cls(c)}>{html.escape(h)}</th>" for c, h in zip(columns, headers))
    body = "".join("<tr>" + "".join(f"<td{cls(c)}>{_cell(r, c)}</td>" for c in columns) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(row, column):
    value = row.get(column, "")
    if isinstance(value, float):
        value = f"{value:g}"
    if column.startswith("_html"):
        return value
    return html.escape(str(value))


CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;
     padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.1em} h2{margin-top:2em;border-bottom:2px solid #ddd;padding-bottom:.2em}
h3{margin-bottom:.3em}
.muted{color:#666} .small{font-size:.85em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3} tbody tr:nth-child(even){background:#fafafa}
td.num,th.num{text-align:right} .nowrap{white-space:nowrap}
.sub{font-size:.8em;color:#666;margin-top:.2em}
img{max-width:100%;height:auto;margin:.5em 0}
.cards{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:9em;background:#fcfcfc}
.card b{font-size:1.6em;display:block}
.warn b{color:#b3261e} .ok{color:#3a923a} .bad{color:#b3261e}
nav a{margin-right:1em}
"""


def render_html(out_dir, rows, results, review, score_rows, ex_rows, diag_rows, quiz, figures,
                similarity=None):
    students = sorted({r["student_id"] for r in rows} or {r["student"] for r in results})
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    # the mean over submitted rows, as the score histograms draw it
    submitted = [r for r in rows if r["status"] != "missing" and r["max_score"]]
    mean = (f"{100 * statistics.mean(r['score'] / r['max_score'] for r in submitted):.0f}%"
            if submitted else "–")
    blank = sum(1 for r in results if r["status"] == "not_attempted")
    cards = [("students", len(students), ""), ("assignments", len(score_rows), ""),
             ("notebooks graded", sum(1 for r in results if r["status"] == "graded"), ""),
             ("submitted with nothing written", blank, "warn" if blank else ""),
             ("need a human look", len(review), "warn" if review else ""),
             ("mean score (submitted)", mean, ""),
             ("grader faults retried", sum(r.get("retries", 0) for r in results), "")]
    unconfined = sum(1 for r in results if r.get("confined") is False)
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>Class report</title><style>{CSS}</style></head><body>",
             "<h1>Class report</h1>",
             f"<p class='muted'>{html.escape(str(Path(out_dir).resolve()))} · generated {now}</p>",
             "<nav><a href='#review'>Needs a look</a><a href='#scores'>Scores</a>"
             "<a href='#exercises'>Exercises</a><a href='#diagnoses'>Diagnoses</a>"
             + ("<a href='#quiz'>Quiz</a>" if quiz[1] else "")
             + ("<a href='#similarity'>Similarity</a>" if similarity else "") + "</nav>",
             "<div class='cards'>" + "".join(
                 f"<div class='card {cls}'><b>{html.escape(str(v))}</b>{html.escape(k)}</div>"
                 for k, v, cls in cards) + "</div>"]
    if unconfined:
        parts.append(f"<p class='bad'><b>Unconfined run:</b> {unconfined} notebooks were graded "
                     "with --unconfined, so learner code could read and change anything this "
                     "account can. Do not trust these grades for an untrusted cohort.</p>")

    # needs a look
    parts.append("<h2 id='review'>Submissions that need a human look</h2>")
    if review:
        parts.append("<p>The grade of these notebooks may be incomplete or wrong: a limit "
                     "stopped them, the grader could not run them, or test cells were changed "
                     "(the grader always uses the original tests, so changes earn nothing, "
                     "but they are worth a conversation).</p>")
        for r in review:
            link = Path("..") / "feedback" / r["student_id"] / r["assignment"] / f"{r['notebook']}.html"
            r["_html_feedback"] = (f"<a href='{html.escape(link.as_posix())}'>feedback</a>"
                                   if (Path(out_dir) / link.relative_to("..")).exists() else "")
            r["_score"] = f"{r['score']:g} / {r['max_score']:g}"
        parts.append(_table(review, ["student_id", "assignment", "reason", "_score", "detail",
                                     "_html_feedback"],
                            ["student", "assignment", "why", "score", "detail", ""],
                            nowrap={"student_id", "assignment", "_score"}))
    else:
        parts.append("<p class='ok'>None: every submitted notebook ran to the end within its "
                     "limits and no test cell was changed.</p>")

    # scores
    parts.append("<h2 id='scores'>Score distribution</h2>")
    parts.append(_img(figures.get("scores"), "score histograms"))
    parts.append(_table(score_rows, ["assignment", "students", "submitted", "missing",
                                     "not_attempted", "full_marks", "needs_look", "max_score",
                                     "mean_pct", "median_pct", "min_pct", "max_pct"],
                        ["assignment", "students", "submitted", "missing", "nothing written",
                         "full marks", "need a look", "max points", "mean %", "median %",
                         "min %", "max %"],
                        num={"students", "submitted", "missing", "not_attempted", "full_marks",
                             "needs_look", "max_score", "mean_pct", "median_pct", "min_pct",
                             "max_pct"}))
    parts.append("<p class='small muted'>Percentages are over submitted notebooks "
                 "(missing ones are left out); the dashed line is the mean. \"Nothing "
                 "written\": submitted with no code of the learner's own "
                 "(status <code>not_attempted</code>, score 0).</p>")

    # exercises
    parts.append("<h2 id='exercises'>Success rate per test cell</h2>")
    parts.append("<p>Each bar is one test cell: the share of the submitted, readable notebooks "
                 "that passed it (green), failed it (red), had not written the function yet "
                 "(grey: it still raises <code>NotImplementedError</code>) or were stopped "
                 "before it ran (light grey). A visible test that most pass followed by a "
                 "hidden test that many fail points at a gap the visible test does not "
                 "catch.</p>")
    parts.append(_img(figures.get("exercises"), "success rate per test cell"))

    # diagnoses
    parts.append("<h2 id='diagnoses'>Most frequent diagnoses</h2>")
    quiz_aids = {q["assignment"] for q in quiz[1]}
    recognised = [d for d in diag_rows if d["source"] == "diagnosis"]
    others = [d for d in diag_rows if d["source"] != "diagnosis" and d["assignment"] not in quiz_aids]
    if not diag_rows:
        parts.append("<p class='ok'>No failed test (other than unwritten functions).</p>")
    if recognised:
        parts.append("<h3>Mistakes the hidden tests recognised</h3>"
                     "<p>A hidden test that finds a wrong value recomputes what the usual "
                     "mistakes would have returned on the same inputs; when one matches, it "
                     "names it. Each row is one such mistake.</p>")
        parts.append(_diagnosis_table(recognised[:15]))
    if others:
        parts.append("<h3>Other failures</h3>"
                     "<p>Failed tests without a recognised mistake, grouped by the first line "
                     "of their message (numbers shown as #). Functions not written yet are left "
                     "out (the grey bars above)"
                     + ("; quiz answers are analysed option by option below" if quiz_aids else "")
                     + ".</p>")
        parts.append(_diagnosis_table(others[:12]))
    if diag_rows:
        parts.append("<p class='small muted'>All groups: <code>diagnoses.csv</code>.</p>")

    # quiz
    option_rows, question_rows = quiz
    if question_rows:
        parts.append("<h2 id='quiz'>Quiz item analysis</h2>")
        parts.append("<p>For each question: how many learners chose each option. Green bars "
                     "are options in the answer key, red bars distractors: a tall red bar is a "
                     "misconception many share.</p>")
        for aid in sorted({q["assignment"] for q in question_rows}):
            parts.append(f"<h3>{html.escape(aid)}</h3>")
            parts.append(_img(figures.get(f"quiz_{aid}"), f"quiz {aid}"))
            qrows = [q for q in question_rows if q["assignment"] == aid]
            for q in qrows:
                opts = [o for o in option_rows if o["assignment"] == aid and o["question"] == q["question"]]
                q["_html_options"] = " ".join(
                    f"<span class='{'ok' if o['in_key'] == 'yes' else 'bad' if o['chosen'] else 'muted'}'"
                    f" title='{html.escape(o['text'])}'>{html.escape(o['option'])}:{o['chosen']}</span>"
                    for o in opts)
                q["_right"] = (f"{q['fully_right']}/{q['answered']}" if q["answered"] else "–")
            parts.append(_table(qrows, ["question", "title", "key", "_right", "_html_options",
                                        "common_wrong_answers", "not_a_set"],
                                ["question", "title", "key", "fully right", "chosen (hover: text)",
                                 "most common wrong answers", "not written as a set"],
                                nowrap={"question", "key", "_right", "_html_options"}, num={"not_a_set"}))
        missing_answers = sum(1 for r in results if r["assignment"] in {q["assignment"] for q in question_rows}
                              and r["status"] not in NOT_RUN and "answers" not in r)
        if missing_answers:
            parts.append(f"<p class='small muted'>{missing_answers} notebooks were graded before "
                         "answers were recorded; grade them again with --regrade to include "
                         "them.</p>")

    if similarity:
        parts.append("<h2 id='similarity'>Code similarity</h2>"
                     "<p>Pairs of learners whose own code shares an unusual amount of rare code "
                     "(the usual way to write an exercise weighs little, short exercises are left "
                     "out); each assignment's page shows the shared code side by side. A reason "
                     "to look, not a verdict.</p>" + similarity)

    tables = sorted(p.name for p in (Path(out_dir) / "report").glob("*.csv"))
    parts.append(f"<p class='small muted'>Tables in this folder: {html.escape(', '.join(tables))}.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _diagnosis_table(rows):
    for d in rows:
        if d["source"] == "diagnosis":
            text = (f"<b>{html.escape(d['diagnosis'])}</b>"
                    + (f": {html.escape(d['meaning'])}" if d["meaning"] else "")
                    + f"<div class='sub'>e.g. {html.escape(d['example'])}</div>")
        else:
            text = html.escape(d["example"])
        d["_html_text"] = text + "<div class='sub'>" + html.escape(", ".join(d["tests"].split())) + "</div>"
        d["_html_who"] = "<span class='sub'>" + html.escape(
            _shorten(", ".join(d["student_ids"].split()), 8)) + "</span>"
    return _table(rows, ["students", "assignment", "_html_text", "_html_who"],
                  ["learners", "assignment", "what went wrong · test cells", "who"],
                  nowrap={"assignment"}, num={"students"})


def _clip(text, n):
    """At most ``n`` characters, cut at a word boundary, with an ellipsis when cut."""
    return text if len(text) <= n else textwrap.shorten(text, n, placeholder=" …")


def _shorten(text, n):
    items = text.split(", ")
    return ", ".join(items[:n]) + (f" … (+{len(items) - n})" if len(items) > n else "")


def write_report(out_dir, rows=None, results=None, masters=None):
    """Write ``out_dir/report/``; returns the path of ``index.html``."""
    out_dir = Path(out_dir)
    if rows is None or results is None:
        rows, results = load(out_dir)
    else:
        rows = [dict(r, score=float(r["score"]), max_score=float(r["max_score"])) for r in rows]
    masters = _masters() if masters is None else masters
    folder = out_dir / "report"
    figs = folder / "figures"
    figs.mkdir(parents=True, exist_ok=True)

    review = needs_review(results)
    score_rows = scores(rows)
    ex_rows = exercises(results, masters)
    diag_rows = diagnoses(results)
    questions = quiz_questions(masters)
    questions = {a: q for a, q in questions.items() if any(r["assignment"] == a for r in results)}
    option_rows, question_rows = quiz_items(results, questions)

    _write_csv(folder / "needs_review.csv", review,
               ["student_id", "assignment", "notebook", "status", "reason", "score", "max_score", "detail"])
    _write_csv(folder / "scores.csv", score_rows, list(score_rows[0]) if score_rows else ["assignment"])
    _write_csv(folder / "exercises.csv", ex_rows,
               ["assignment", "notebook", "test", "exercise", "kind", "points", "ran", "passed",
                "failed", "not_written", "not_run", "success_rate"])
    _write_csv(folder / "diagnoses.csv", diag_rows,
               ["assignment", "source", "diagnosis", "meaning", "example", "students", "failures",
                "tests", "student_ids"])
    if question_rows:
        _write_csv(folder / "quiz_items.csv", option_rows,
                   ["assignment", "question", "option", "text", "in_key", "chosen", "answered",
                    "share"])
        _write_csv(folder / "quiz_answers.csv", question_rows,
                   ["assignment", "question", "title", "key", "answered", "fully_right",
                    "not_a_set", "common_wrong_answers"])
    else:   # no quiz graded in this run: no quiz tables (nor an older run's)
        for name in ("quiz_items.csv", "quiz_answers.csv"):
            (folder / name).unlink(missing_ok=True)

    figures = {"scores": fig_scores(rows, figs), "exercises": fig_exercises(ex_rows, figs)}
    for aid in sorted({q["assignment"] for q in question_rows}):
        figures[f"quiz_{aid}"] = fig_quiz(aid, question_rows, option_rows, figs)
    page = render_html(out_dir, rows, results, review, score_rows, ex_rows, diag_rows,
                       (option_rows, question_rows), figures, _similarity(out_dir, results))
    path = folder / "index.html"
    path.write_text(page)
    return path


def _similarity(out_dir, results):
    """OUT/report/similarity/ (grader/similarity.py) and its summary table for this page."""
    from .similarity import summary_html, write_run

    try:
        have = any(r.get("graded_notebook") for r in results)
        _, analyses = write_run(out_dir, results if have else None)
        return summary_html(analyses)
    except Exception as exc:  # noqa: BLE001 (the report never fails for it)
        return f"<p class='bad'>Not computed ({html.escape(type(exc).__name__)}: {html.escape(str(exc))}).</p>"


def main(args):
    out = Path(args.out)
    if not (out / "grades.csv").exists():
        raise SystemExit(f"{out} has no grades.csv: run `python -m grader autograde` first")
    path = write_report(out)
    print(f"wrote {path}")
    return 0
