"""Per-student feedback: the graded notebook as HTML (nbconvert) and a short text summary.

Hidden tests never appear: the graded notebook carries the released test cells, and a
hidden test's failure shows only its message.
"""
import functools
import html
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter


def summary_text(result):
    lines = [f"{result['student']} · {result['assignment']}/{result['notebook']}.ipynb",
             f"score {result['score']:g} / {result['max_score']:g}   status: {result['status']}"]
    if result["detail"]:
        lines.append(f"note: {result['detail']}")
    lines.append("")
    for t in result["tests"]:
        mark = "✓" if t["passed"] else "✗"
        lines.append(f"{mark} {t['grade_id']}: {t['points']:g}/{t['max_points']:g}")
        if not t["passed"] and t["message"]:
            lines.extend("    " + line for line in t["message"].splitlines()[:8])
    return "\n".join(lines) + "\n"


def _banner(result):
    rows = "".join(
        f"<tr><td>{'✓' if t['passed'] else '✗'}</td><td>{html.escape(t['grade_id'])}</td>"
        f"<td>{t['points']:g} / {t['max_points']:g}</td>"
        f"<td><pre>{html.escape(t['message'])}</pre></td></tr>" for t in result["tests"])
    note = f"<p><b>Note:</b> {html.escape(result['detail'])}</p>" if result["detail"] else ""
    return (f"<div class='gru-feedback' style='font-family:sans-serif;margin:1em'>"
            f"<h2>{html.escape(result['assignment'])} · {html.escape(result['notebook'])}</h2>"
            f"<p><b>Score: {result['score']:g} / {result['max_score']:g}</b> "
            f"(status: {html.escape(result['status'])})</p>{note}"
            f"<table border='1' cellpadding='4' style='border-collapse:collapse'>"
            f"<tr><th></th><th>test</th><th>points</th><th>what went wrong</th></tr>{rows}</table></div>")


@functools.lru_cache(maxsize=1)
def _exporter():
    # building the exporter (templates, CSS) costs more than rendering one notebook
    return HTMLExporter(template_name="lab")


def render_feedback(result):
    """``(html, text)`` for one graded notebook."""
    nb = nbformat.from_dict(result["graded_notebook"])
    body, _ = _exporter().from_notebook_node(nb)
    marker = body.find(">", body.find("<body")) + 1
    return body[:marker] + _banner(result) + body[marker:], summary_text(result)


def write_feedback(out_dir, result, html_text=None, text=None):
    """Write ``feedback/<student>/<assignment>/<notebook>.{html,txt}``; returns the html path."""
    if html_text is None:
        html_text, text = render_feedback(result)
    folder = Path(out_dir) / "feedback" / result["student"] / result["assignment"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{result['notebook']}.txt").write_text(text)
    path = folder / f"{result['notebook']}.html"
    path.write_text(html_text)
    return path
