"""The feedback page: the same HTML as nbconvert's own exporter, and nothing active from
the learner reaches the instructor's browser."""
import copy
import re

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter

from grader import course, feedback

PAYLOAD = "alert('from-the-learner')"


def _release_notebook(aid):
    master = course.course_notebooks()[aid][0]
    return nbformat.read(course.RELEASE / aid / master.filename, as_version=4)


def _with_outputs(nb):
    """A graded notebook as a learner might leave it: text, a figure, HTML and JavaScript."""
    nb = copy.deepcopy(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[0].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="hello\n"),
        nbformat.v4.new_output("display_data", data={
            "image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
            "text/plain": "<Figure>"}),
    ]
    code[1].outputs = [nbformat.v4.new_output("display_data", data={
        "text/html": f"<b>bold</b><script>{PAYLOAD}</script><img src=x onerror=\"{PAYLOAD}\">",
        "text/plain": "html"})]
    # code that looks like markup: highlighted as text, never run by the browser
    code[2].source += f'\nnote = "</pre><script>{PAYLOAD}</script>"  # <b onclick="{PAYLOAD}">\n'
    code[2].outputs = [nbformat.v4.new_output("display_data", data={
        "application/javascript": PAYLOAD, "text/plain": "js"})]
    nb.cells.append(nbformat.v4.new_markdown_cell(
        f"learner note <script>{PAYLOAD}</script> <a href=\"javascript:{PAYLOAD}\">x</a>"))
    return nb


def _normalized(page):
    # the template gives each JavaScript output a random element id
    page = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", page)
    return str(BeautifulSoup(page, "html.parser"))


@pytest.mark.parametrize("aid", course.assignments())
def test_page_equals_nbconvert_lab_export(aid):
    nb = _with_outputs(_release_notebook(aid))
    stock, _ = HTMLExporter(template_name="lab", sanitize_html=True).from_notebook_node(nb)
    exporter = feedback.FeedbackExporter()
    first, _ = exporter.from_notebook_node(nb)
    again, _ = exporter.from_notebook_node(nb)   # from the memoized filters
    assert _normalized(first) == _normalized(stock)
    assert _normalized(again) == _normalized(first)


def test_learner_html_and_javascript_are_inert():
    nb = _with_outputs(_release_notebook("01_gates"))
    page, _ = feedback.FeedbackExporter().from_notebook_node(nb)
    assert "<b>bold</b>" in page          # harmless markup stays
    assert "hello" in page and 'src="data:image/png;base64,' in page
    soup = BeautifulSoup(page, "html.parser")
    for script in soup.find_all("script"):
        assert PAYLOAD not in script.get_text()
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            text = " ".join(value) if isinstance(value, list) else str(value)
            assert PAYLOAD not in text or name not in ("onerror", "href", "src"), (tag.name, name)
    assert 'alt="No description has been provided for this image"' in page
    assert 'class="jp-Cell-inputWrapper" tabindex="0"' in page


def test_memoized_filters_do_not_mix_cells_up():
    """Two notebooks that differ in one cell render that cell each their own way."""
    a = _release_notebook("01_gates")
    b = copy.deepcopy(a)
    code = next(c for c in b.cells if c.cell_type == "code" and "sigmoid" in c.source)
    code.source = code.source.replace("raise NotImplementedError", "return 0.5  # my_unique_attempt")
    exporter = feedback.FeedbackExporter()
    page_a, _ = exporter.from_notebook_node(a)
    page_b, _ = exporter.from_notebook_node(b)
    assert "my_unique_attempt" in page_b and "my_unique_attempt" not in page_a
