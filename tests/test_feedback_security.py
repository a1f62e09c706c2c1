"""A feedback page never carries script or event handlers from the learner, whatever the outputs.

Every hostile vector below is one graded notebook, the shape ``feedback.render_feedback``
gets from the grader (the released ``01_gates`` cells, the learner's outputs, the test cells
carrying their verdicts). Each page is rendered by the real ``grader.feedback`` code,
written to disk and opened in headless Chromium *with JavaScript on*; then the page must
show no effect: no dialog, ``window.__pwned`` (set by every payload) still undefined, the
title unchanged, no ``on*`` attribute anywhere in the DOM, the same ``<script>`` elements
as the page of a clean notebook, no ``<iframe>``, ``<object>``, ``<embed>``, ``<base>``,
``<meta http-equiv>`` or ``javascript:`` URL, nothing for the template's Mermaid loader to
pick up, and no request the clean page does not make. Without the browser the same pages
are checked statically (BeautifulSoup), and the normal outputs of a course notebook must
render exactly as nbconvert's own exporter renders them.

The browser is Debian's Chromium (``scripts/system-deps.sh``), driven by Playwright; no
network: anything but ``file:`` and ``data:`` is refused and listed. Set
``FEEDBACK_SHOTS=DIR`` to keep screenshots of a defused hostile page and of a normal one.
"""
import base64
import copy
import functools
import io
import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter

from grader import course, feedback, safe_outputs
from grader.result import NotebookResult

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is missing: install Debian's chromium "
           "(`bash scripts/system-deps.sh` as root, which `make test` runs)")

ASSIGNMENT, NOTEBOOK = "01_gates", "gru_gates"
# what every payload does when it runs; no spaces or quotes, so it also fits unquoted values
P = "window.__pwned=1;document.title=/PWNED/.source;alert(1)"
IMG = f"<img src=x onerror={P}>"
SCRIPT = f"<script>{P}</script>"
FORBIDDEN = "iframe,frame,frameset,object,embed,applet,portal,base,meta[http-equiv],form"
SCRIPT_URL = re.compile(r"\s*(javascript|vbscript|data:text/html)", re.I)


# ---------------------------------------------------------------------------------------------
# a graded notebook, as the grader hands it to feedback.render_feedback


@functools.lru_cache(maxsize=1)
def _release_json():
    nb = nbformat.read(course.RELEASE / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    return json.dumps(nb)


def _release():
    return nbformat.from_dict(json.loads(_release_json()))


def _png(width=4.0, height=3.0):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(width, height), dpi=60)
    ax.plot([0, 1, 2, 3], [0, 1, 0.5, 0.8], label="update gate z")
    ax.set_title("GRU gates on a toy sequence")
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode() + "\n"


def _jpeg():
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="JPEG")
    return base64.b64encode(buf.getvalue()).decode()


def _b64(text):
    return base64.b64encode(text.encode()).decode()


PNG = _png()
LEARNER_AT = next(i for i, c in enumerate(_release().cells)
                  if course.nbgrader_meta(c).get("grade_id") == "sigmoid")
JPEG = _jpeg()


def graded_notebook():
    """The release with a learner's outputs and the test cells' verdicts, as a plain dict
    (as it comes back from ``results/``)."""
    nb = _release()
    for cell in nb.cells:
        gid = course.nbgrader_meta(cell).get("grade_id", "")
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        if course.is_test_cell(cell):
            if gid == "test-sigmoid-visible":
                cell.outputs = [nbformat.v4.new_output(
                    "error", ename="TestFailed", evalue="sigmoid(0) should be 0.5",
                    traceback=["sigmoid(0) should be 0.5, got 0.0"])]
            elif not gid.endswith("hidden"):
                cell.outputs = [nbformat.v4.new_output(
                    "stream", name="stdout", text=f"{gid}: OK (relative error 1.2e-10)\n")]
        elif gid == "plot":
            cell.execution_count = 9
            cell.outputs = [nbformat.v4.new_output(
                "display_data", data={"image/png": PNG, "text/plain": "<Figure size 240x180>"})]
        elif gid == "imports":
            cell.execution_count = 1
    return json.loads(json.dumps(nb))


def result_for(nb):
    tests = [{"grade_id": gid, "max_points": pts, "points": 0.0 if gid == "test-sigmoid-visible"
              else pts, "passed": gid != "test-sigmoid-visible",
              "message": "sigmoid(0) should be 0.5, got 0.0" if gid == "test-sigmoid-visible"
              else "", "output": "", "learner_traceback": "", "not_run": False}
             for gid, pts in [("test-sigmoid-visible", 1.0), ("test-sigmoid-hidden", 2.0),
                              ("test-update-visible", 1.0), ("test-cell-visible", 1.0)]]
    return NotebookResult.from_dict(
        {"student": "mallory", "assignment": ASSIGNMENT, "notebook": NOTEBOOK,
         "status": "graded", "detail": "", "score": sum(t["points"] for t in tests),
         "max_score": sum(t["max_points"] for t in tests), "tests": tests,
         "graded_notebook": nb, "seconds": 1.0})


def _cell(nb, grade_id):
    return next(c for c in nb["cells"] if course.nbgrader_meta(c).get("grade_id") == grade_id)


def _learner(nb):
    """The learner's first answer cell, where their outputs go (found by its place: some
    vectors change its id or metadata)."""
    return nb["cells"][LEARNER_AT]


def _show(*outputs):
    def add(nb):
        _learner(nb)["outputs"] = [copy.deepcopy(o) for o in outputs]
    return add


def _display(data, metadata=None, **extra):
    out = {"output_type": "display_data", "data": data, "metadata": metadata or {}}
    out.update(extra)
    return out


def _add_cell(cell):
    def add(nb):
        cells = nb["cells"]
        at = cells.index(_learner(nb)) + 1
        cells.insert(at, cell)
    return add


# ---------------------------------------------------------------------------------------------
# the vectors: name -> what it does to a graded notebook (TITLES: a title it sets on purpose)

HTML_ACTIVE = (
    f"<b>bold</b>{SCRIPT}{IMG}<svg onload={P}><script>{P}</script></svg>"
    f"<iframe srcdoc='<script>parent.{P}</script>'></iframe><object data='javascript:{P}'></object>"
    f"<embed src='javascript:{P}'><base href='javascript:{P}//'>"
    f"<meta http-equiv=refresh content='0;url=javascript:{P}'>"
    f"<a href='javascript:{P}'>link</a><form action='javascript:{P}'><button>go</button></form>"
    f"<details open ontoggle={P}>x</details><video><source onerror={P}></video>"
    f"<style>@import 'http://evil.example/x.css';</style>"
    f"<link rel=stylesheet href=http://evil.example/y.css>")
HTML_MXSS = (
    f"<math><mtext><table><mglyph><style><img src=x onerror={P}></style></mglyph></table>"
    f"</mtext></math>"
    f"<svg></p><style><a id=\"</style><img src=1 onerror={P}>\">"
    f"<noscript><p title=\"</noscript><img src=x onerror={P}>\"></noscript>"
    f"<!--><img src=x onerror={P}>-->"
    f"<a href=\"jav&#x09;ascript:{P}\">a</a><a href=\"&#106;avascript:{P}\">b</a>"
    f"<svg><a xlink:href=\"javascript:{P}\"><text y=20>c</text></a></svg>")
MERMAID_DIAGRAM = f"graph TD\n  A[\"{IMG}\"] --> B\n  click A call alert(1)\n{IMG}"
SVG = (f"<svg xmlns='http://www.w3.org/2000/svg' onload='{P}' width='20' height='20'>"
       f"<script>{P}</script><foreignObject><iframe src='javascript:{P}'/></foreignObject>"
       f"<rect width='20' height='20' fill='red'/></svg>")
WIDGET_VIEW = {"model_id": "evil", "version_major": 2, "version_minor": 0}
WIDGET_STATE = {"application/vnd.jupyter.widget-state+json": {
    "version_major": 2, "version_minor": 0, "state": {"evil": {
        "model_name": "HTMLModel", "model_module": "@jupyter-widgets/controls",
        "model_module_version": "2.0.0", "state": {"value": IMG + SCRIPT}}}}}
ANSI_TRACEBACK = [
    f"\x1b[31m{SCRIPT}\x1b[0m {IMG}",
    f"\x1b[38;2;255;0;0m\"><img src=x onerror={P}>\x1b[0m",
    f"\x1b]8;;javascript:{P}\x1b\\click\x1b]8;;\x1b\\ \x1b[38;5;999m{IMG}\x1b[48;5;-1m",
]


def _title(nb):
    nb["metadata"]["title"] = f"</title>{SCRIPT}<title>"


def _language(nb):
    nb["metadata"]["language_info"] = {"name": SCRIPT, "pygments_lexer": IMG,
                                       "codemirror_mode": {"name": IMG}}
    nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": SCRIPT, "language": IMG}


def _widget_state(nb):
    nb["metadata"]["widgets"] = copy.deepcopy(WIDGET_STATE)
    _learner(nb)["outputs"] = [_display(
        {"application/vnd.jupyter.widget-view+json": WIDGET_VIEW, "text/plain": "HTML()"})]


def _execution_count(value):
    def set_it(nb):
        _learner(nb)["execution_count"] = value
        _learner(nb)["outputs"] = [{"output_type": "execute_result", "execution_count": value,
                                    "data": {"text/plain": "0.5"}, "metadata": {}}]
    return set_it


def _cell_field(**fields):
    def set_it(nb):
        cell = _learner(nb)
        for key, value in fields.items():
            if key == "metadata":
                cell["metadata"].update(value)
            else:
                cell[key] = value
    return set_it


def _verdict(nb):
    """A learner's exception text reaches a failed test's message and the banner."""
    cell = _cell(nb, "test-sigmoid-visible")
    cell["outputs"] = [{"output_type": "error", "ename": "TestFailed",
                        "evalue": f"sigmoid raised {IMG}",
                        "traceback": [f"sigmoid raised {IMG}", f"ValueError: {SCRIPT}"]}]


VECTORS = {
    # the two holes found first
    "mermaid-output": _show(_display({"text/vnd.mermaid": MERMAID_DIAGRAM})),
    "mermaid-with-text": _show(_display({"text/vnd.mermaid": MERMAID_DIAGRAM,
                                         "text/plain": "<Mermaid diagram>"})),
    "png-width": _show(_display({"image/png": PNG}, {"image/png": {"width": f"1 onload={P}"}})),
    "png-width-broken-image": _show(_display({"image/png": "iVBORw0KGgo="},
                                             {"image/png": {"width": f"1 onerror={P}"}})),
    # image metadata in every shape
    "png-height-top-level": _show(_display({"image/png": PNG}, {"height": f"1 onload={P}"})),
    "jpeg-width-height": _show(_display({"image/jpeg": JPEG}, {"image/jpeg": {
        "width": f"1 onerror={P}", "height": f"2 onload={P}"}})),
    "png-metadata-odd-values": _show(_display({"image/png": PNG}, {"image/png": {
        "width": 1e309, "height": -3, "unconfined": f"\" onload={P}",
        "needs_background": f"\"><img src=x onerror={P}>", "alt": f"\" onerror=\"{P}"}})),
    "png-metadata-not-a-dict": _show(_display({"image/png": PNG}, {"image/png": IMG})),
    "png-filenames": _show(
        _display({"image/png": PNG}, {"filenames": {"image/png": f"x\" onerror=\"{P}"}}),
        _display({"image/jpeg": JPEG}, {"filenames": {"image/jpeg": f"javascript:{P}"}})),
    "png-svg-filename-key": _show(_display({"image/svg+xml": SVG}, svg_filename=f"javascript:{P}")),
    # image data that is not what it says
    "png-not-base64": _show(_display({"image/png": f"x\" onerror=\"{P}",
                                      "image/jpeg": f"\"><svg onload={P}>"})),
    "png-base64-of-svg": _show(_display({"image/png": _b64(SVG), "text/plain": "fig"})),
    "svg-output": _show(_display({"image/svg+xml": SVG, "text/plain": "svg"})),
    "svg-output-as-list": _show(_display({"image/svg+xml": [SVG[:40], SVG[40:]]})),
    # markup outputs
    "html-active-tags": _show(_display({"text/html": HTML_ACTIVE, "text/plain": "html"})),
    "html-mutation-xss": _show(_display({"text/html": HTML_MXSS})),
    "html-isolated": _show(_display({"text/html": HTML_ACTIVE},
                                    {"text/html": {"isolated": True}, "isolated": True})),
    "html-mermaid-classes": _show(_display({"text/html": (
        f"<div class='jp-Mermaid'><pre class='mermaid'>{MERMAID_DIAGRAM}</pre></div>"
        f"<div class='JP-MERMAID x'><pre class='Mermaid y'>graph LR\n a-->b</pre></div>")})),
    "markdown-output": _show(_display({"text/markdown": (
        f"# hi\n\n{SCRIPT}\n\n{IMG}\n\n[x](javascript:{P}) ![y](javascript:{P})\n\n"
        f"$\\href{{javascript:{P}}}{{z}}$\n\n<div class='jp-Mermaid'><pre class='mermaid'>"
        "graph TD\n a-->b</pre></div>\n")})),
    "latex-output": _show(_display({"text/latex": (
        f"</div>{SCRIPT}$\\href{{javascript:{P}}}{{x}}$ \\unicode{{<img src=x onerror={P}>}}")})),
    "javascript-output": _show(_display({"application/javascript": P, "text/plain": "js"}),
                               _display({"application/javascript": P})),
    "widget-view-output": _show(_display({"application/vnd.jupyter.widget-view+json": WIDGET_VIEW,
                                          "text/plain": "HTML()"})),
    "widget-state-in-metadata": _widget_state,
    "pdf-output": _show(_display({"application/pdf": _b64(
        f"%PDF-1.4\n1 0 obj<</Type/Catalog/OpenAction<</S/JavaScript/JS({P})>>>>endobj\n")})),
    "json-output": _show(_display({"application/json": {"x": SCRIPT, "y": IMG}})),
    "unknown-mime-types": _show(_display({"text/x-evil": SCRIPT, "application/xhtml+xml": IMG,
                                          f"text/html\"><script>{P}</script>": IMG})),
    "data-of-odd-types": _show(_display({"text/plain": {"x": SCRIPT}, "text/html": [1, IMG],
                                         "text/markdown": None, "text/latex": 7})),
    # fields around the outputs
    "execution-count-markup": _execution_count(IMG),
    "execution-count-odd-types": _cell_field(execution_count=True, outputs=[{
        "output_type": "execute_result", "execution_count": -1.5,
        "data": {"text/plain": "0.5"}, "metadata": {}}]),
    "error-output-markup-and-ansi": _show({"output_type": "error", "ename": SCRIPT,
                                           "evalue": IMG, "traceback": ANSI_TRACEBACK}),
    "error-output-odd-types": _show({"output_type": "error", "ename": 7, "evalue": None,
                                     "traceback": f"{IMG}\n{SCRIPT}"},
                                    {"output_type": "error", "ename": "E", "evalue": "v",
                                     "traceback": [{"x": IMG}, 3, SCRIPT]}),
    "stream-names": _show({"output_type": "stream", "name": SCRIPT, "text": IMG},
                          {"output_type": "stream", "name": "stdin", "text": SCRIPT},
                          {"output_type": "stream", "name": "stderr",
                           "text": f"\x1b[31m{IMG}\x1b[0m"}),
    "ansi-code-that-crashes-nbconvert": _show(
        {"output_type": "stream", "name": "stdout", "text": f"\x1b[38m{IMG}"},
        _display({"text/plain": "\x1b[1;48mx"}),
        {"output_type": "error", "ename": "E", "evalue": "v", "traceback": ["\x1b[38m" + SCRIPT]}),
    "stream-text-odd-types": _show({"output_type": "stream", "name": "stdout",
                                    "text": {"x": IMG}}),
    "unknown-output-type": _show({"output_type": f"<script>{P}</script>", "text": IMG,
                                  "data": {"text/html": IMG}}),
    "verdict-message": _verdict,
    # the learner's own cells
    "markdown-cell-html": _add_cell({
        "cell_type": "markdown", "id": "learner-note", "metadata": {},
        "source": (f"note {SCRIPT} {IMG} <a href=\"javascript:{P}\">x</a> "
                   f"<iframe src=\"javascript:{P}\"></iframe> "
                   f"<div class='jp-Mermaid'><pre class='mermaid'>graph TD\n a-->b</pre></div>\n\n"
                   + HTML_MXSS)}),
    "markdown-cell-attachments": _add_cell({
        "cell_type": "markdown", "id": "learner-attach", "metadata": {},
        "source": ("![a](attachment:a.svg) ![b](attachment:b.html) ![c](attachment:c.png) "
                   "![d](attachment:d.png) ![e](attachment:e.gif)"),
        "attachments": {
            "a.svg": {"image/svg+xml": _b64(SVG)},
            "b.html": {"text/html": _b64(f"<script>{P}</script>")},
            "c.png": {"image/png": f"x\" onerror=\"{P}"},
            "d.png": {f"image/png\" onerror=\"{P}": PNG},
            "e.gif": IMG,
        }}),
    "raw-cells": lambda nb: [
        _add_cell({"cell_type": "raw", "id": "raw-html",
                   "metadata": {"raw_mimetype": "text/html"}, "source": HTML_ACTIVE})(nb),
        _add_cell({"cell_type": "raw", "id": "raw-plain", "metadata": {},
                   "source": HTML_MXSS})(nb),
        _add_cell({"cell_type": "raw", "id": "raw-odd",
                   "metadata": {"raw_mimetype": f"text/html\" onload=\"{P}"},
                   "source": SCRIPT})(nb)],
    "unknown-cell-type": _add_cell({"cell_type": f"<script>{P}</script>", "id": "odd",
                                    "metadata": {}, "source": IMG, "type": IMG}),
    "cell-tags": _cell_field(metadata={"tags": [f"x\" onmouseover=\"{P}", "a jp-Mermaid",
                                                SCRIPT, 7]}),
    "cell-id": _cell_field(id=f"x\" onmouseover=\"{P}"),
    "cell-metadata-misc": _cell_field(metadata={
        "magics_language": IMG, "alt": IMG, "transient": {"remove_source": IMG},
        "jupyter": {"source_hidden": SCRIPT}, "nbgrader": IMG, "raw_mimetype": "text/html"}),
    "code-cell-attachments": _cell_field(
        attachments={"x.png": {"text/html": _b64(SCRIPT)}},
        outputs=[_display({"text/markdown": "![x](attachment:x.png)"})]),
    # notebook metadata (the release's, in the grader; checked all the same)
    "notebook-title": _title,
    "notebook-language-info": _language,
}

TITLES = {"notebook-title": f"</title>{SCRIPT}<title>"}


def hostile_notebook(vector):
    nb = graded_notebook()
    VECTORS[vector](nb)
    return nb


def everything_notebook():
    """Every output and learner-cell vector on one page (the notebook-level ones apart)."""
    nb = graded_notebook()
    release_ids = {c["id"] for c in nb["cells"]}
    outputs = []
    for name, make in VECTORS.items():
        if name.startswith("notebook-") or name == "widget-state-in-metadata":
            continue
        one = graded_notebook()
        make(one)
        outputs += _learner(one)["outputs"]
        for cell in one["cells"]:
            if cell.get("id") not in release_ids:
                _add_cell(cell)(nb)
    _learner(nb)["outputs"] = outputs
    return nb


def render(nb):
    html, text = feedback.render_feedback(result_for(nb))
    return html


# ---------------------------------------------------------------------------------------------
# without a browser: the same pages, read statically


def static_findings(page):
    soup = BeautifulSoup(page, "html.parser")
    body = soup.find("body")
    return {
        "on_attributes": sorted({f"{t.name} {a}" for t in soup.find_all(True)
                                 for a in t.attrs if a.lower().startswith("on")}),
        "scripts": sorted(str(s) for s in soup.find_all("script")),
        "forbidden": sorted(str(t)[:100] for t in soup.select(FORBIDDEN)),
        "javascript_urls": sorted(f"{t.name} {a}" for t in soup.find_all(True)
                                  for a, v in t.attrs.items()
                                  if isinstance(v, str) and SCRIPT_URL.match(v)),
        "mermaid": len(body.select(".jp-Mermaid > pre.mermaid")) if body else 0,
    }


@pytest.fixture(scope="module")
def clean_page():
    return render(graded_notebook())


@pytest.fixture(scope="module")
def clean_static(clean_page):
    return static_findings(clean_page)


@pytest.mark.parametrize("vector", sorted(VECTORS))
def test_hostile_page_is_inert_statically(vector, clean_static):
    found, clean = static_findings(render(hostile_notebook(vector))), clean_static
    assert found["on_attributes"] == [], found["on_attributes"]
    assert found["scripts"] == clean["scripts"]
    assert found["forbidden"] == [] and found["javascript_urls"] == [], found
    assert found["mermaid"] == 0
    assert "window.__pwned" not in "".join(found["scripts"])


def test_safe_notebook_keeps_what_a_course_notebook_shows():
    """Text, figures (with and without a size), HTML tables, Markdown, LaTeX, SVG, errors,
    results: the page is nbconvert's own, tag for tag."""
    nb = graded_notebook()
    cell = _learner(nb)
    cell["execution_count"] = 3
    cell["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "hello\n"},
        {"output_type": "stream", "name": "stderr", "text": "a warning\n"},
        _display({"image/png": PNG, "text/plain": "<Figure>"}),
        _display({"image/png": PNG, "text/plain": "<IPython.core.display.Image object>"},
                 {"image/png": {"width": 120, "height": 90}, "needs_background": "light"}),
        _display({"image/jpeg": JPEG}, {"image/jpeg": {"width": 16}, "unconfined": True}),
        _display({"text/html": "<table class='dataframe'><tr><td>1</td></tr></table>",
                  "text/plain": "df"}),
        _display({"text/markdown": "**bold** and $x^2$", "text/plain": "md"}),
        _display({"text/latex": "$\\sigma(a)$", "text/plain": "latex"}),
        _display({"image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg'/>", "text/plain": "s"}),
        _display({"application/javascript": "console.log(1)", "text/plain": "js"}),
        _display({"application/vnd.jupyter.widget-view+json": WIDGET_VIEW, "text/plain": "w"}),
        {"output_type": "execute_result", "execution_count": 3, "metadata": {},
         "data": {"text/plain": "array([0.5])"}},
        {"output_type": "error", "ename": "ValueError", "evalue": "bad",
         "traceback": ["\x1b[0;31mValueError\x1b[0m: bad <shape>"]},
    ]
    cell["metadata"]["tags"] = ["my-tag", "answer"]
    node = nbformat.from_dict(nb)
    before = copy.deepcopy(node)
    stock = HTMLExporter(template_name="lab", sanitize_html=True)
    kept, _ = stock.from_notebook_node(safe_outputs.safe_notebook(node))
    original, _ = stock.from_notebook_node(node)

    def norm(page):
        page = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", page)
        return str(BeautifulSoup(page, "html.parser"))
    assert norm(kept) == norm(original)     # the allowlisted copy renders as the original
    ours, _ = feedback.FeedbackExporter().from_notebook_node(node)
    soup = BeautifulSoup(ours, "html.parser")
    area = soup.select(".jp-OutputArea-output")
    text = " ".join(a.get_text(" ") for a in area)
    for shown in ("hello", "a warning", "ValueError", "bad <shape>", "array([0.5])"):
        assert shown in text, shown
    assert soup.select(".jp-OutputArea-output table.dataframe td")      # a table, not its tags
    assert soup.select(".jp-OutputArea-output strong") and "**bold**" not in text
    assert soup.select(".jp-OutputArea-output math")      # $x^2$ as MathML
    images = BeautifulSoup(kept, "html.parser").select(".jp-OutputArea-output img")
    assert len(soup.select(".jp-OutputArea-output img")) == len(images) >= 4
    assert node == before       # the grader's notebook is left as it was


def test_memoized_exporter_is_not_poisoned_by_a_hostile_notebook(clean_page):
    exporter = feedback._exporter()
    for vector in ("mermaid-output", "png-width", "html-mermaid-classes", "markdown-cell-html"):
        render(hostile_notebook(vector))
    assert feedback._exporter() is exporter      # the same memoized exporter throughout
    assert exporter._markdown and exporter._highlighters
    assert render(graded_notebook()) == clean_page


def test_dropped_outputs_leave_a_note():
    def learner_outputs(vector):
        nb = safe_outputs.safe_notebook(hostile_notebook(vector))
        return next(c for c in nb.cells if c.get("id") == "cell-04-sigmoid").outputs

    (note,) = learner_outputs("mermaid-output")
    assert note.data == {"text/plain": "[output not shown in the feedback page: text/vnd.mermaid]"}
    (kept,) = learner_outputs("mermaid-with-text")
    assert kept.data == {"text/plain": "<Mermaid diagram>"}
    (sized,) = learner_outputs("png-width")
    assert sized.metadata == {} and sized.data["image/png"] == PNG


# ---------------------------------------------------------------------------------------------
# in Chromium, with JavaScript on

PROBE = """() => {
  const all = [...document.querySelectorAll('*')];
  const urlAttrs = ['href', 'src', 'action', 'formaction', 'data', 'xlink:href', 'srcdoc'];
  return {
    pwned: typeof window.__pwned,
    title: document.title,
    on_attributes: all.flatMap(e => [...e.attributes].filter(a => /^on/i.test(a.name))
                                   .map(a => `${e.tagName} ${a.name}`)),
    scripts: [...document.querySelectorAll('script')].map(
      s => `${s.type}|${s.getAttribute('src')}|${s.text.trim()}`).sort(),
    forbidden: [...document.querySelectorAll(%r)].map(e => e.outerHTML.slice(0, 120)),
    javascript_urls: all.flatMap(e => urlAttrs.filter(n => e.hasAttribute(n) &&
        /^\\s*(javascript|vbscript|data:text\\/html)/i.test(e.getAttribute(n)))
        .map(n => `${e.tagName} ${n}`)),
    mermaid: document.querySelectorAll('.jp-Mermaid > pre.mermaid').length,
    images: [...document.querySelectorAll('.jp-OutputArea img')].map(
      i => ({src: (i.getAttribute('src') || '').slice(0, 40), w: i.naturalWidth})),
  };
}""" % FORBIDDEN


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium, and one context in it that reaches nothing but ``file:`` and
    ``data:`` (every other request is refused at once and listed in ``context.external``);
    each page opened in it is a fresh window with its own globals."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium "
                    "(`bash scripts/system-deps.sh` as root, which `make test` runs)")
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="playwright is not installed: pip install -r requirements.txt")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            context = b.new_context(viewport={"width": 1280, "height": 900},
                                    java_script_enabled=True)
            context.set_default_timeout(30_000)
            context.external = []

            def refuse(route):
                context.external.append(route.request.url)
                route.abort()

            context.route(re.compile(r"^(?!file:|data:|blob:|about:)"), refuse)
            yield context
        finally:
            b.close()


def open_page(context, path, shot=None, scroll=None):
    """Open ``path`` with JavaScript on; what it did, as the PROBE sees it."""
    dialogs, errors = [], []
    del context.external[:]
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_timeout(300)      # late error events, the template's module script
        found = page.evaluate(PROBE)
        if shot:
            if scroll:
                page.locator(scroll).first.scroll_into_view_if_needed()
            page.screenshot(path=str(shot))
    finally:
        page.close()
    found.update(dialogs=dialogs, external=sorted(set(context.external)), errors=errors)
    return found


def _write(tmp_path, name, html):
    path = tmp_path / f"{name}.html"
    path.write_text(html)
    return path


@pytest.fixture(scope="module")
def clean_in_browser(chromium, clean_page, tmp_path_factory):
    return open_page(chromium, _write(tmp_path_factory.mktemp("clean"), "clean", clean_page))


def assert_inert(found, clean, title):
    assert found["dialogs"] == [], f"a dialog opened: {found['dialogs']}"
    assert found["pwned"] == "undefined", "a payload ran: window.__pwned is set"
    assert found["title"] == title, f"the title changed: {found['title']!r}"
    assert found["on_attributes"] == [], f"event handlers in the DOM: {found['on_attributes']}"
    assert found["scripts"] == clean["scripts"], "script elements differ from the clean page's"
    assert found["forbidden"] == [], f"active elements: {found['forbidden']}"
    assert found["javascript_urls"] == [], f"script URLs: {found['javascript_urls']}"
    assert found["mermaid"] == 0, "a diagram for the template's Mermaid loader"
    assert set(found["external"]) <= set(clean["external"]), \
        f"requests the clean page does not make: {set(found['external']) - set(clean['external'])}"


@needs_chromium
def test_clean_page_in_browser(clean_in_browser):
    found = clean_in_browser
    assert found["pwned"] == "undefined" and found["dialogs"] == []
    assert found["title"] == "GRU gates"
    assert found["images"] and all(i["w"] > 0 for i in found["images"]), found["images"]
    assert found["mermaid"] == 0 and found["forbidden"] == []


@needs_chromium
@pytest.mark.parametrize("vector", sorted(VECTORS))
def test_hostile_page_is_inert_in_browser(vector, chromium, clean_in_browser, tmp_path):
    page = render(hostile_notebook(vector))
    found = open_page(chromium, _write(tmp_path, vector, page))
    assert_inert(found, clean_in_browser, TITLES.get(vector, clean_in_browser["title"]))


@needs_chromium
def test_every_vector_at_once_and_screenshots(chromium, clean_in_browser, clean_page, tmp_path):
    shots = Path(os.environ.get("FEEDBACK_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = render(everything_notebook())
    found = open_page(chromium, _write(tmp_path, "everything", page), shots / "hostile-defused.png",
                      scroll='[id="cell-id=cell-03-sigmoid-md"]')
    assert_inert(found, clean_in_browser, clean_in_browser["title"])
    assert "output not shown in the feedback page" in page
    normal = open_page(chromium, _write(tmp_path, "normal", clean_page), shots / "normal.png",
                       scroll='[id="cell-id=cell-23-plot-md"]')
    assert normal["images"] and all(i["w"] > 0 for i in normal["images"])
