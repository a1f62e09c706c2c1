"""Per-student feedback: the graded notebook as HTML (nbconvert) and a short text summary.

Hidden tests never appear: the graded notebook carries the released test cells, and a
hidden test's failure shows only its message.
"""
import copy
import functools
import html
import re
from pathlib import Path

import nbformat
from jinja2 import pass_context
from nbconvert import HTMLExporter
from nbconvert.exporters.templateexporter import TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.markdown_mistune import MarkdownWithMath
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

from . import course
from .mathml import MathMLRenderer
from .safe_outputs import Attachments, clean_html, safe_notebook


TEMPLATES = Path(__file__).parent / "templates"
STATUS_WORDS = {
    "graded": "graded", "not_attempted": "nothing written yet", "timeout": "stopped at the time limit",
    "memory_limit": "stopped at the memory limit", "kernel_died": "the notebook's Python process died",
    "error": "the grader failed on this notebook (not your fault)", "missing": "not submitted",
    "invalid_notebook": "not a readable notebook", "wrong_assignment": "another assignment's notebook",
}


def what_went_wrong(test):
    if test.passed:
        return "passed"
    return test.message or "failed"


def summary_text(result):
    lines = [f"{result.student} · {result.assignment}/{result.notebook}.ipynb",
             f"score {result.score:g} / {result.max_score:g}   "
             f"status: {STATUS_WORDS.get(result.status, result.status)}"]
    if result.detail:
        lines.append(f"note: {result.detail}")
    lines.append("")
    for t in result.tests:
        mark = "✓" if t.passed else "✗"
        label = course.test_label(result.assignment, result.notebook, t.grade_id)
        lines.append(f"{mark} {label}: {t.points:g}/{t.max_points:g}")
        if not t.passed and t.message:
            lines.extend("    " + line for line in t.message.splitlines()[:8])
    return "\n".join(lines) + "\n"


def _banner(result):
    rows = "".join(
        f"<tr class='{'pass' if t.passed else 'fail'}'>"
        f"<td class='mark'>{'✓' if t.passed else '✗'}</td>"
        f"<td class='test' title='{html.escape(t.grade_id, quote=True)}'>"
        f"{html.escape(course.test_label(result.assignment, result.notebook, t.grade_id))}</td>"
        f"<td class='points'>{t.points:g} / {t.max_points:g}</td>"
        f"<td class='why'><pre>{html.escape(what_went_wrong(t))}</pre></td></tr>"
        for t in result.tests)
    note = f"<p class='note'>{html.escape(result.detail)}</p>" if result.detail else ""
    status = STATUS_WORDS.get(result.status, result.status)
    return (f"<section class='gru-feedback' aria-label='grading summary'>"
            f"<h1>{html.escape(result.assignment)} · {html.escape(result.notebook)}</h1>"
            f"<p class='score'><b>Score: {result.score:g} / {result.max_score:g}</b> "
            f"<span class='status status-{html.escape(result.status, quote=True)}'>"
            f"{html.escape(status)}</span></p>{note}"
            f"<table><colgroup><col class='c-mark'><col class='c-test'><col class='c-points'>"
            f"<col class='c-why'></colgroup>"
            f"<thead><tr><th></th><th>exercise</th><th>points</th><th>what went wrong</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
            f"<p class='hint'>Your notebook follows, with each test's result under the test "
            f"cell. Hidden tests show only their message.</p></section>")


class FeedbackExporter(HTMLExporter):
    """nbconvert's lab HTML, sanitized, and fast on a cohort.

    Learner output is untrusted. Before nbconvert sees a notebook, ``safe_notebook``
    (``grader/safe_outputs.py``) rebuilds it from an allowlist: the output types the lab
    template renders, with their data and metadata checked (valid base64 images, plain int
    sizes, no Mermaid, no widget views, no JavaScript code), and plain cell and notebook
    metadata; the template writes some of those fields into the page unescaped. Then
    ``sanitize_html`` strips scripts and active HTML from outputs and Markdown (with the
    classes the template's Mermaid loader looks for), so a feedback page cannot run code
    in the instructor's browser.
    Most cells (released text, test cells, unchanged code) are the same for every
    student, so the pure per-cell filters are memoized; the page's CSS is read once; and
    the accessibility pass that HTMLExporter does with BeautifulSoup over the whole page
    (a large share of the time) is done by two substitutions on the template's own markup.
    The notebook is validated once, after all preprocessors, not after each of them.
    """

    def __init__(self, **kw):
        super().__init__(template_name="gru_feedback", extra_template_basedirs=[str(TEMPLATES)],
                         sanitize_html=True, skip_svg_encoding=False,
                         optimistic_validation=True, **kw)
        self._course_text = course.markdown_sources()
        self._styles, self._markdown, self._highlighters = {}, {}, {}

    def default_filters(self):
        for name, fn in super().default_filters():
            yield name, _memo(clean_html) if name == "clean_html" else fn
        yield "course_text", lambda source: source in self._course_text

    @pass_context
    def markdown2html(self, context, source):
        if "attachment:" not in source:   # then the cell's attachments play no part
            return _cached(self._markdown, source, lambda: self._markdown_html(source))
        attachments = context.get("cell", {}).get("attachments") or {}
        return self._markdown_html(source, Attachments(attachments))

    def _markdown_html(self, source, attachments=None):
        """nbconvert's Markdown to HTML, with math as MathML (``grader/mathml.py``)."""
        renderer = MathMLRenderer(escape=False, attachments={} if attachments is None else attachments,
                                  embed_images=self.embed_images,
                                  anchor_link_text=self.anchor_link_text,
                                  exclude_anchor_links=self.exclude_anchor_links)
        return MarkdownWithMath(renderer=renderer).render(source)

    def _init_resources(self, resources):
        resources = super()._init_resources(resources)
        for key in ("include_css", "include_lab_theme"):
            resources[key] = self._once(key, resources[key])
        # whatever the configuration says: bleach on, SVG only ever as an <img> data URI
        resources["should_sanitize_html"], resources["should_not_encode_svg"] = True, False
        resources["feedback_css"] = _css()
        return resources

    def _once(self, key, fn):
        return lambda name: _cached(self._styles, (key, name), lambda: fn(name))

    def from_notebook_node(self, nb, resources=None, **kw):
        # HTMLExporter.from_notebook_node without its BeautifulSoup pass (see the class doc)
        nb = safe_notebook(nb)
        info = nb.metadata.get("language_info", {})
        lexer = info.get("pygments_lexer", info.get("name"))
        if lexer not in self._highlighters:
            self._highlighters[lexer] = _MemoHighlight(
                Highlight2HTML(pygments_lexer=lexer, parent=self))
        self.register_filter("highlight_code", self._highlighters[lexer])
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        body, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return _accessible(body), resources


class _Highlighted(str):
    """Pygments' HTML for a code cell: every character of the source is escaped by the
    formatter, so there is nothing for bleach to remove (the page test checks this)."""


def _cached(cache, key, compute):
    """``cache[key]``, computed once; a cache that outgrows a cohort's variety starts over."""
    if key not in cache:
        if len(cache) > 4096:
            cache.clear()
        cache[key] = compute()
    return cache[key]


def _memo(fn):
    cache = {}

    def clean(element):
        if isinstance(element, _Highlighted):
            return element
        text = element.decode() if isinstance(element, bytes) else str(element)
        return _cached(cache, text, lambda: fn(text))
    return clean


class _MemoHighlight:
    def __init__(self, highlight):
        self.highlight = highlight
        self.cache = {}

    def __call__(self, source, language=None, metadata=None):
        return _cached(self.cache, (source, language), lambda: _Highlighted(
            self.highlight(source, language, metadata)))


_IMG_NO_ALT = re.compile(r"<img(?![^>]*\balt=)")
_FOCUSABLE = re.compile(r'<div\b[^>]*? class="(?:jp-Cell-inputWrapper|[^"]*\bjp-OutputArea-output\b[^"]*)"')


def _accessible(page):
    """What HTMLExporter adds with BeautifulSoup: alt text on images, focusable cells."""
    head, sep, body = page.partition("<body")
    body = _IMG_NO_ALT.sub('<img alt="No description has been provided for this image"', body)
    body = _FOCUSABLE.sub(r'\g<0> tabindex="0"', body)
    return head + sep + body


@functools.lru_cache(maxsize=1)
def _css():
    return (TEMPLATES / "gru_feedback" / "feedback.css").read_text()


@functools.lru_cache(maxsize=1)
def _exporter():
    # building the exporter (templates, CSS) costs more than rendering one notebook
    return FeedbackExporter()


def with_explanations(result):
    """The result as the learner may see it once quiz explanations are released: each quiz
    test's message followed by its explanation, in the summary and under the test cell."""
    explained = {t.grade_id: t.explanation for t in result.tests if t.explanation}
    if not explained:
        return result
    result = copy.deepcopy(result)
    for t in result.tests:
        if t.grade_id in explained:
            t.message = f"{t.message}\n{explained[t.grade_id]}"
    for cell in result.graded_notebook["cells"]:
        gid = course.nbgrader_meta(cell).get("grade_id")
        if gid in explained:
            cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                "stream", name="stdout", text=explained[gid] + "\n"))
    return result


def render_feedback(result, reveal_quiz=False):
    """``(html, text)`` for one graded notebook; quiz explanations only with ``reveal_quiz``."""
    if reveal_quiz:
        result = with_explanations(result)
    nb = nbformat.from_dict(result.graded_notebook)
    body, _ = _exporter().from_notebook_node(nb)
    marker = body.find(">", body.find("<body")) + 1
    return body[:marker] + _banner(result) + body[marker:], summary_text(result)


def write_feedback(out_dir, result, html_text=None, text=None):
    """Write ``feedback/<student>/<assignment>/<notebook>.{html,txt}``; returns the html path."""
    if html_text is None:
        html_text, text = render_feedback(result)
    folder = Path(out_dir) / "feedback" / result.student / result.assignment
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{result.notebook}.txt").write_text(text)
    path = folder / f"{result.notebook}.html"
    path.write_text(html_text)
    return path
