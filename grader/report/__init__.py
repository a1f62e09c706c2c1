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

The parts: ``analysis`` (loading and statistics: plain rows), ``figures`` (matplotlib),
``page`` (the Jinja template ``grader/templates/report/index.html.j2``, autoescaped).
"""
import csv
from pathlib import Path

from . import analysis, figures, page

__all__ = ["write_report", "main"]

CSV_COLUMNS = {
    "needs_review.csv": ["student_id", "assignment", "notebook", "status", "reason", "score",
                         "max_score", "detail"],
    "exercises.csv": ["assignment", "notebook", "test", "exercise", "kind", "points", "ran",
                      "passed", "failed", "not_written", "not_run", "success_rate"],
    "diagnoses.csv": ["assignment", "source", "diagnosis", "meaning", "example", "students",
                      "failures", "tests", "student_ids"],
    "quiz_items.csv": ["assignment", "question", "option", "text", "in_key", "chosen",
                       "answered", "share"],
    "quiz_answers.csv": ["assignment", "question", "title", "key", "answered", "fully_right",
                         "not_a_set", "common_wrong_answers"],
}


def write_report(out_dir, rows=None, results=None, masters=None):
    """Write ``out_dir/report/``; returns the path of ``index.html``."""
    out_dir = Path(out_dir)
    if rows is None or results is None:
        rows, results = analysis.load(out_dir)
        given = None
    else:
        rows = [dict(r, score=float(r["score"]), max_score=float(r["max_score"])) for r in rows]
        given, results = results, [analysis.plain(r) for r in results]
    masters = analysis.course_masters() if masters is None else masters
    folder = out_dir / "report"
    figs = folder / "figures"
    figs.mkdir(parents=True, exist_ok=True)

    review = analysis.needs_review(results)
    score_rows = analysis.scores(rows)
    ex_rows = analysis.exercises(results, masters)
    diag_rows = analysis.diagnoses(results)
    questions = analysis.quiz_questions(masters)
    questions = {a: q for a, q in questions.items() if any(r["assignment"] == a for r in results)}
    option_rows, question_rows = analysis.quiz_items(results, questions)

    _write_csv(folder / "needs_review.csv", review)
    _write_csv(folder / "scores.csv", score_rows, list(score_rows[0]) if score_rows else ["assignment"])
    _write_csv(folder / "exercises.csv", ex_rows)
    _write_csv(folder / "diagnoses.csv", diag_rows)
    if question_rows:
        _write_csv(folder / "quiz_items.csv", option_rows)
        _write_csv(folder / "quiz_answers.csv", question_rows)
    else:   # no quiz graded in this run: no quiz tables (nor an older run's)
        for name in ("quiz_items.csv", "quiz_answers.csv"):
            (folder / name).unlink(missing_ok=True)

    drawn = {"scores": figures.fig_scores(rows, figs), "exercises": figures.fig_exercises(ex_rows, figs)}
    for aid in sorted({q["assignment"] for q in question_rows}):
        drawn[f"quiz_{aid}"] = figures.fig_quiz(aid, question_rows, option_rows, figs)
    html = page.render(out_dir, rows, results, review, score_rows, diag_rows,
                       (option_rows, question_rows), drawn, _similarity(out_dir, rows, given))
    path = folder / "index.html"
    path.write_text(html)
    return path


def _write_csv(path, rows, columns=None):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns or CSV_COLUMNS[path.name],
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _similarity(out_dir, rows, results=None):
    """Write OUT/report/similarity/ (grader/similarity.py) from ``results`` as the caller
    gave them, else from those saved in OUT/results/ that grades.csv lists; returns its
    summary rows for the page, or the error that stopped it (the report never fails for it)."""
    from .. import similarity

    try:
        if results is None:
            keep = {(r["student_id"], r["assignment"]) for r in rows}
            results = [r for r in similarity.load_results(out_dir)
                       if not keep or (_field(r, "student"), _field(r, "assignment")) in keep]
        have = any(_field(r, "graded_notebook") for r in results)
        _, analyses = similarity.write_run(out_dir, results if have else None)
        return {"rows": analysis.similarity_summary(analyses), "error": None}
    except Exception as exc:  # noqa: BLE001 (the report never fails for it)
        return {"rows": [], "error": f"{type(exc).__name__}: {exc}"}


def _field(result, name):
    """A field of a saved result, a dict or the grader's result object."""
    return result.get(name) if isinstance(result, dict) else getattr(result, name, None)


def main(args):
    out = Path(args.out)
    if not (out / "grades.csv").exists():
        raise SystemExit(f"{out} has no grades.csv: run `python -m grader autograde` first")
    path = write_report(out)
    print(f"wrote {path}")
    return 0
