"""The class report's page: ``templates/report/index.html.j2`` with the run's numbers.

``render`` turns the tables of ``analysis`` into what the template shows (plain values:
strings, numbers, lists and dicts of them) and renders it with autoescape, so every value
on the page, a learner's answer or an error message alike, is escaped by Jinja; the page's
markup is all in the template.
"""
import base64
import datetime
import functools
from pathlib import Path

import jinja2

from . import analysis

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "report"


@functools.lru_cache(maxsize=None)
def environment():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["cell"] = cell
    return env


def cell(value):
    """A table cell's text: floats without trailing zeros (15.0 -> 15)."""
    return f"{value:g}" if isinstance(value, float) else value


def embed(path):
    """A figure's PNG as base64 text, for a data: URI; None when there is no figure."""
    return None if path is None else base64.b64encode(Path(path).read_bytes()).decode()


def render(out_dir, rows, results, review, score_rows, diag_rows, quiz, figures, similarity):
    """The page's HTML. ``quiz`` is (option rows, question rows) of ``analysis.quiz_items``;
    ``figures`` {name: PNG path or None}; ``similarity`` {"rows": [...]} or {"error": text}."""
    out_dir = Path(out_dir)
    option_rows, question_rows = quiz
    context = {
        "out_dir": str(out_dir.resolve()),
        "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "overview": analysis.overview(rows, results, review, score_rows),
        "review": [_review_row(out_dir, r) for r in review],
        "scores": score_rows,
        "figures": {name: embed(figures.get(name)) for name in ("scores", "exercises")},
        "diagnoses": _diagnoses(diag_rows, {q["assignment"] for q in question_rows}),
        "quiz": _quiz(option_rows, question_rows, figures),
        "similarity": similarity,
        "tables": sorted(p.name for p in (out_dir / "report").glob("*.csv")),
    }
    return environment().get_template("index.html.j2").render(context)


def _review_row(out_dir, r):
    link = Path("..") / "feedback" / r["student_id"] / r["assignment"] / f"{r['notebook']}.html"
    return dict(r, score=f"{r['score']:g} / {r['max_score']:g}",
                feedback=link.as_posix() if (out_dir / link.relative_to("..")).exists() else None)


def _diagnoses(diag_rows, quiz_assignments):
    """The recognised mistakes (15 most frequent) and the other failures (12), quiz
    answers left out of those: the quiz section analyses them option by option."""
    def view(d):
        return dict(d, tests=", ".join(d["tests"].split()),
                    who=analysis.shorten(d["student_ids"].split(), 8))

    recognised = [view(d) for d in diag_rows if d["source"] == "diagnosis"]
    others = [view(d) for d in diag_rows
              if d["source"] != "diagnosis" and d["assignment"] not in quiz_assignments]
    return {"any": bool(diag_rows), "recognised": recognised[:15], "others": others[:12]}


def _quiz(option_rows, question_rows, figures):
    out = []
    for aid in sorted({q["assignment"] for q in question_rows}):
        questions = []
        for q in (q for q in question_rows if q["assignment"] == aid):
            options = [{"option": o["option"], "text": o["text"], "chosen": o["chosen"],
                        "cls": "ok" if o["in_key"] == "yes" else "bad" if o["chosen"] else "muted"}
                       for o in option_rows
                       if o["assignment"] == aid and o["question"] == q["question"]]
            questions.append(dict(q, options=options,
                                  right=f"{q['fully_right']}/{q['answered']}" if q["answered"] else "–"))
        out.append({"assignment": aid, "figure": embed(figures.get(f"quiz_{aid}")),
                    "questions": questions})
    return out
