"""Figures while grading: by default plotting code runs but nothing is drawn (the feedback
page has a note where each figure would be, and the cells after the last test do not run);
``autograde --figures`` draws them as inline PNGs. Scores are the same either way, and
plotting code that raises costs what it costs when figures are drawn."""
import pytest
from bs4 import BeautifulSoup

from cohort.submissions import answers_for, fill, write
from conftest import failed_tests, read_grades, read_result, run_cli
from grader import course

AID = "01_gates"
MASTER = course.course_notebooks()[AID][0]
SHOWN = ("\nimport matplotlib.pyplot as plt\n"
         "plt.plot([0, 1], [0, 1])\nplt.title('my check')\nplt.show()   # drawn here\n"
         "plt.figure()\nplt.plot([1, 0])   # left open: drawn at the end of the cell\n")


def _answers(edit=None):
    answers = answers_for(MASTER)
    if edit:
        gid, change = edit
        answers[gid] = change(answers[gid])
    return answers


CASES = {
    "solution": _answers(),
    # figures in an answer cell: two of them, one shown by plt.show(), one at the cell's end
    "plots": _answers(("update_gate", lambda src: src + SHOWN)),
    # plotting code that raises before the function is defined: sigmoid never exists
    "plot-raises-first": _answers(("sigmoid", lambda src: (
        "import matplotlib.pyplot as plt\nplt.plot([1, 2], [1, 2, 3])\n" + src))),
    # a function whose plotting raises on every call
    "plot-raises-inside": _answers(("reset_gate", lambda src: src.replace(
        '    """r = sigmoid', '    import matplotlib.pyplot as plt\n'
        '    plt.plot(x[0], [0.0])   # x and y of different lengths: ValueError\n'
        '    """r = sigmoid'))),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("figures")
    subs = root / "subs"
    for student, answers in CASES.items():
        write(fill(AID, MASTER.name, answers), subs, student, AID, MASTER.name)
    outs = {}
    for mode, extra in (("default", []), ("figures", ["--figures"])):
        outs[mode] = root / mode
        proc = run_cli("autograde", "--submissions", subs, "--out", outs[mode], *extra)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return outs


def _result(out, student):
    return read_result(out, student, AID, MASTER.name)


def _images(result):
    return sum("image/png" in o.get("data", {}) for c in result["graded_notebook"]["cells"]
               for o in c.get("outputs", []))


def _page(out, student):
    html = (out / "feedback" / student / AID / f"{MASTER.name}.html").read_text()
    return BeautifulSoup(html, "html.parser")


def _cell(page, text):
    """The code cell of the feedback page whose source contains ``text``."""
    cells = [c for c in page.select(".jp-Cell.jp-CodeCell")
             if text in c.select_one(".jp-InputArea").get_text()]
    assert len(cells) == 1, f"{len(cells)} cells with {text!r}"
    return cells[0]


def test_no_images_by_default_and_images_with_figures_same_scores(graded):
    default, figures = read_grades(graded["default"]), read_grades(graded["figures"])
    assert set(default) == set(figures) == {(s, AID) for s in CASES}
    for key in default:
        assert (default[key]["score"], default[key]["status"]) == \
            (figures[key]["score"], figures[key]["status"]), key
    assert float(default[("solution", AID)]["score"]) == MASTER.max_score
    for student in CASES:
        assert _images(_result(graded["default"], student)) == 0, student
        assert _result(graded["default"], student)["figures"] is False
    # the closing gate plot of every notebook, and the two figures of the answer cell
    assert _images(_result(graded["figures"], "solution")) == 1
    assert _images(_result(graded["figures"], "plots")) == 3


def test_feedback_page_shows_the_note_where_a_figure_would_be(graded):
    page = _page(graded["default"], "plots")
    cell = _cell(page, "my check")
    notes = cell.select(".jp-OutputArea .gru-figure-note")
    assert len(notes) == 2, cell.select(".jp-OutputArea")
    assert all("Figure not drawn while grading" in n.get_text() for n in notes)
    assert "figures are drawn when you run the notebook" in notes[0].get_text()
    assert not page.select(".jp-OutputArea img")
    # the gate plot after the last test is not run: its cell says so
    plot = _cell(page, "GRU gates on a toy sequence")
    assert plot.select(".jp-OutputArea .gru-not-run-note")
    assert not plot.select(".gru-figure-note")
    # with --figures: the figures themselves, and no note
    drawn = _page(graded["figures"], "plots")
    assert len(_cell(drawn, "my check").select(".jp-OutputArea img")) == 2
    assert len(_cell(drawn, "GRU gates on a toy sequence").select(".jp-OutputArea img")) == 1
    assert not drawn.select(".gru-note")


def test_plotting_code_that_raises_costs_the_same(graded):
    for student in ("plot-raises-first", "plot-raises-inside"):
        by_mode = {mode: _result(graded[mode], student) for mode in graded}
        assert failed_tests(by_mode["default"]) == failed_tests(by_mode["figures"]), student
        assert by_mode["default"]["score"] == by_mode["figures"]["score"] < MASTER.max_score
    first = _result(graded["default"], "plot-raises-first")
    assert {"test-sigmoid-visible", "test-sigmoid-hidden"} <= failed_tests(first)
    errors = [o for c in first["graded_notebook"]["cells"] for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert any(o["ename"] == "ValueError" for o in errors), errors
    inside = _result(graded["default"], "plot-raises-inside")
    assert {"test-reset-visible", "test-reset-hidden"} <= failed_tests(inside)
    assert not {"test-sigmoid-visible", "test-update-visible"} & failed_tests(inside)
