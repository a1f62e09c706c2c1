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
from pathlib import Path

from ..record import write_csv
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
    else:
        rows = [dict(r, score=float(r["score"]), max_score=float(r["max_score"])) for r in rows]
    masters = analysis.course_masters() if masters is None else masters
    folder = out_dir / "report"
    figs = folder / "figures"
    figs.mkdir(parents=True, exist_ok=True)

    review = analysis.needs_review(results)
    score_rows = analysis.scores(rows)
    ex_rows = analysis.exercises(results, masters)
    diag_rows = analysis.diagnoses(results)
    questions = analysis.quiz_questions(masters)
    questions = {a: q for a, q in questions.items() if any(r.assignment == a for r in results)}
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
                       (option_rows, question_rows), drawn, _similarity(out_dir, results))
    path = folder / "index.html"
    path.write_text(html)
    return path


def _write_csv(path, rows, columns=None):
    write_csv(path, [{k: r.get(k, "") for k in columns or CSV_COLUMNS[path.name]} for r in rows],
              columns or CSV_COLUMNS[path.name])


def _similarity(out_dir, results):
    """Write OUT/report/similarity/ (grader/similarity.py) from the results; returns its
    summary rows for the page, or the error that stopped it (the report never fails for it)."""
    from .. import similarity

    try:
        _, analyses = similarity.write_run(out_dir, results)
        return {"rows": analysis.similarity_summary(analyses), "error": None}
    except Exception as exc:  # noqa: BLE001 (the report never fails for it)
        return {"rows": [], "error": f"{type(exc).__name__}: {exc}"}


def main(args):
    out = Path(args.out)
    if not (out / "grades.csv").exists():
        raise SystemExit(f"{out} has no grades.csv: run `python -m grader autograde` first")
    path = write_report(out)
    print(f"wrote {path}")
    return 0
