"""Seen in a real browser: what a learner sees in JupyterLab, and what the class report and a
feedback page look like once rendered.

Headless Chromium (Debian's, installed by ``scripts/system-deps.sh``, which ``make test`` runs)
driven by Playwright from PyPI (``requirements.txt``). Playwright's own browser downloads are
not used. Without either, these tests skip and say why.

* JupyterLab serves a temporary copy of the released ``01_gates`` folder on loopback; the test
  opens the notebook, runs all cells from the Run menu, sees the visible test fail with
  ``NotImplementedError`` on the blank release, then types a sigmoid into the solution cell and
  sees the visible test print ``sigmoid: OK``.
* A tiny cohort is graded with the real CLI (``--figures``, so feedback pages carry the
  learners' plots); the class report's figures and a feedback page's score banner and gate
  plot must be rendered by the browser, not just present in the HTML.

Screenshots land in each test's ``tmp_path`` (pytest keeps the last few runs under
``/tmp/pytest-of-<user>/``).
"""
import csv
import functools
import hashlib
import http.server
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from conftest import system_dep_missing
from grader import course

ROOT = course.ROOT
# Debian's Chromium; GRU_CHROMIUM points the tests at another binary (or at none, to see the skip)
CHROMIUM = Path(os.environ.get("GRU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ASSIGNMENT, NOTEBOOK = "01_gates", "gru_gates.ipynb"

if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
    pytest.skip(system_dep_missing(f"Chromium ({CHROMIUM})", "chromium"),
                allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed: pip install -r requirements.txt")
expect = sync_api.expect

# Bounded but generous: the machine running the suite may be busy with other work.
SERVER_START_S = 120
KERNEL_S = 120          # kernel start, and a run of all cells
PAGE_MS = 60_000        # default wait for anything in a page

# A correct, numerically stable sigmoid, as a learner would type it into the solution cell.
SIGMOID = '''def sigmoid(a):
    """Numerically stable logistic function, elementwise."""
    a = np.asarray(a, dtype=float)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))'''


# ---------------------------------------------------------------------------------------------
# browser


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                              timeout=PAGE_MS)
        try:
            yield b
        finally:
            b.close()


LOOPBACK = re.compile(r"^(https?://127\.0\.0\.1[:/]|data:|blob:|about:)")


@pytest.fixture
def page(browser):
    """A fresh page that reaches loopback only: anything else (a CDN's MathJax in nbconvert's
    HTML) is refused at once and listed in ``page.external``, so no test waits on a network."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(PAGE_MS)
    external = []

    def refuse(route):
        external.append(route.request.url)
        route.abort()

    context.route(lambda url: not LOOPBACK.match(url), refuse)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.page_errors, pg.external = errors, external
    try:
        yield pg
    finally:
        context.close()


def shot(page, tmp_path, name, **kw):
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), **kw)
    return path


# ---------------------------------------------------------------------------------------------
# JupyterLab on loopback


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, proc, port, token, folder, log):
        self.proc, self.port, self.token, self.folder, self.log = proc, port, token, folder, log
        self.url = f"http://127.0.0.1:{port}"

    def api(self, path, method="GET"):
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
            return json.loads(body) if body else None

    def log_tail(self, n=3000):
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


@pytest.fixture
def lab(tmp_path_factory):
    """``jupyter lab`` serving a temporary copy of the released 01_gates folder."""
    root = tmp_path_factory.mktemp("lab")
    folder = root / ASSIGNMENT
    shutil.copytree(ROOT / "notebooks" / ASSIGNMENT, folder)
    # a fresh user: no saved workspace, no settings, no "get Jupyter news?" toast over the page
    settings = root / "settings"
    notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "JPY_", "PYTHONPATH", "MPLBACKEND"))}
    env.update(JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_RUNTIME_DIR=str(root / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(root / "ws"),
               IPYTHONDIR=str(root / "ipython"))
    port, token = free_port(), secrets.token_hex(16)
    log = root / "lab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--ServerApp.token={token}", f"--ServerApp.root_dir={folder}", "--allow-root"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = Lab(proc, port, token, folder, log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                server.api("/api/status")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not answer within {SERVER_START_S} s:\n"
                                f"{server.log_tail()}")
                time.sleep(0.5)
        yield server
    finally:
        try:   # shut the kernels down through the server, then the server itself
            for kernel in server.api("/api/kernels"):
                server.api(f"/api/kernels/{kernel['id']}", method="DELETE")
        except Exception:
            pass
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)   # its own session: only what it started
            proc.wait(timeout=30)


def cell_index(nb, grade_id):
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise AssertionError(f"no cell {grade_id!r} in the released notebook")


def run_all_cells(page):
    """Run > Run All Cells, from the menu bar as a learner does."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def expect_kernel_idle(page):
    status = page.locator("#jp-main-statusbar").get_by_text("Python 3 (ipykernel) | Idle",
                                                            exact=True)
    expect(status).to_be_visible(timeout=KERNEL_S * 1000)


def test_learner_runs_the_released_notebook_in_jupyterlab(page, lab, tmp_path):
    released = ROOT / "notebooks" / ASSIGNMENT / NOTEBOOK
    before = hashlib.sha256(released.read_bytes()).hexdigest()
    nb = nbformat.read(lab.folder / NOTEBOOK, as_version=4)
    imports, solution = cell_index(nb, "imports"), cell_index(nb, "sigmoid")
    visible, next_visible = cell_index(nb, "test-sigmoid-visible"), cell_index(nb, "test-update-visible")

    page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    expect(cells).to_have_count(len(nb.cells), timeout=KERNEL_S * 1000)
    expect_kernel_idle(page)

    # the blank release: the first visible test fails where the learner has work to do
    run_all_cells(page)
    test_cell = cells.nth(visible)
    expect(test_cell.locator(".jp-OutputArea")).to_contain_text("NotImplementedError",
                                                               timeout=KERNEL_S * 1000)
    expect_kernel_idle(page)
    expect(cells.nth(imports).locator(".jp-InputPrompt")).to_contain_text("[1]")
    expect(cells.nth(imports).locator(".jp-OutputArea-output")).to_have_count(0)
    test_cell.scroll_into_view_if_needed()
    expect(test_cell.locator(".jp-OutputArea")).to_be_visible()
    shot(page, tmp_path, "lab_blank_release")

    # the learner writes a sigmoid in the solution cell and runs everything again
    editor = cells.nth(solution).locator(".cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(SIGMOID)   # one input event: no auto-indent of the pasted lines
    expect(editor).to_contain_text("np.where(a >= 0")
    expect(editor).not_to_contain_text("NotImplementedError")
    page.keyboard.press("Escape")
    run_all_cells(page)
    output = test_cell.locator(".jp-OutputArea")
    expect(output).to_contain_text("sigmoid: OK", timeout=KERNEL_S * 1000)
    expect(output).to_contain_text("no overflow for |a| up to 1e4")
    expect(output).not_to_contain_text("Traceback")
    # the run goes on to the next exercise, which is still blank
    expect(cells.nth(next_visible).locator(".jp-OutputArea")).to_contain_text(
        "NotImplementedError", timeout=KERNEL_S * 1000)
    expect_kernel_idle(page)
    test_cell.scroll_into_view_if_needed()
    expect(output).to_be_in_viewport()
    shot(page, tmp_path, "lab_sigmoid_ok")

    assert not page.page_errors, page.page_errors
    assert hashlib.sha256(released.read_bytes()).hexdigest() == before, "the release changed"


# ---------------------------------------------------------------------------------------------
# class report and feedback, from a tiny cohort graded with the real CLI


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_cohort")
    subs, out = root / "submissions", root / "out"
    # --figures: the pages carry the learners' figures (by default the grader draws none and
    # says so where each would be; tests/test_figures.py), so the gate plot test has one
    for args in (["cohort", subs, "--students", "6", "--assignment", ASSIGNMENT],
                 ["grader", "autograde", "--submissions", subs, "--out", out,
                  "--assignment", ASSIGNMENT, "--figures"]):
        proc = subprocess.run([sys.executable, "-m", *map(str, args)], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{args[:2]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    with open(out / "grades.csv", newline="") as f:
        grades = list(csv.DictReader(f))
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"out": out, "grades": grades, "url": f"http://127.0.0.1:{server.server_port}"}
    finally:
        server.shutdown()
        server.server_close()


def images(page):
    """Every <img> of the page as the browser decoded it (after scrolling each into view)."""
    imgs = page.locator("img")
    for i in range(imgs.count()):
        imgs.nth(i).scroll_into_view_if_needed()
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    return page.evaluate("""Array.from(document.images).map(i => ({
        alt: i.alt, src: i.src.slice(0, 30), complete: i.complete,
        naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight,
        width: i.getBoundingClientRect().width, height: i.getBoundingClientRect().height}))""")


def test_class_report_figures_render(page, graded, tmp_path):
    page.goto(f"{graded['url']}/report/index.html")
    imgs = images(page)
    assert len(imgs) >= 2, f"expected the report's figures, found {imgs}"
    for img in imgs:
        assert img["src"].startswith("data:image/png;base64,"), img
        assert img["naturalWidth"] > 0 and img["naturalHeight"] > 0, f"figure not decoded: {img}"
        assert img["width"] > 0 and img["height"] > 0, f"figure not laid out: {img}"
    shot(page, tmp_path, "class_report", full_page=True)
    assert not page.page_errors, page.page_errors
    assert not page.external, f"the class report should be self-contained: {page.external}"


def correct_student(graded):
    graded_rows = [r for r in graded["grades"] if r["status"] == "graded"]
    best = max(graded_rows, key=lambda r: float(r["score"]))
    assert float(best["score"]) == float(best["max_score"]), graded["grades"]
    return best


def open_feedback(page, graded, row):
    page.goto(f"{graded['url']}/feedback/{row['student_id']}/{ASSIGNMENT}/"
              f"{Path(NOTEBOOK).stem}.html")


def test_feedback_page_shows_the_score_banner(page, graded, tmp_path):
    row = correct_student(graded)
    open_feedback(page, graded, row)
    banner = page.get_by_text(re.compile(rf"Score: {float(row['score']):g} / {float(row['max_score']):g}"))
    expect(banner).to_be_visible()
    expect(banner).to_be_in_viewport()    # the first thing the learner sees, no scrolling
    expect(page.get_by_text("def sigmoid(a):").first).to_be_attached()
    for img in images(page):
        assert img["naturalWidth"] > 0, f"image not decoded: {img}"
    shot(page, tmp_path, "feedback_top")
    assert not page.page_errors, page.page_errors


def test_feedback_page_shows_the_gate_plot(page, graded, tmp_path):
    row = correct_student(graded)
    open_feedback(page, graded, row)
    plot_cell = page.locator(".jp-Cell").filter(has_text="GRU gates on a toy sequence")
    expect(plot_cell).to_have_count(1)
    plot_cell.scroll_into_view_if_needed()
    shot(page, tmp_path, "feedback_plot")
    plot = plot_cell.locator(".jp-OutputArea img")
    expect(plot).to_have_count(1, timeout=5000)
    plot.scroll_into_view_if_needed()
    loaded = plot.evaluate("i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0")
    assert loaded, "the gate plot did not decode"


# ---------------------------------------------------------------------------------------------
# read as text, offline: what the reader sees, not the HTML

TAG_AS_TEXT = r"</?(p|h[1-6]|th|td|tr|thead|tbody|table|ul|ol|li|em|strong)\b[^>]*>"
READING = """() => ({
    text: document.body.innerText,
    markdown: [...document.querySelectorAll('.jp-RenderedMarkdown')].map(e => e.innerText),
    maths: [...document.querySelectorAll('math')].map(m => {
        const r = m.getBoundingClientRect();
        return {mathml: m instanceof MathMLElement, w: r.width, h: r.height};
    }),
    width: document.documentElement.scrollWidth,
    rows: [...document.querySelectorAll('.gru-feedback tbody tr')].map(
        tr => [...tr.cells].map(td => td.innerText.trim())),
})"""


def read_page(page, url):
    page.goto(url)
    return page.evaluate(READING)


def struggling_student(graded):
    """A graded row with failed tests (the cohort has mistakes and blank answers)."""
    rows = [r for r in graded["grades"] if r["status"] in ("graded", "not_attempted")
            and float(r["score"]) < float(r["max_score"])]
    assert rows, graded["grades"]
    return min(rows, key=lambda r: float(r["score"]))


def test_feedback_page_reads_as_text_offline(page, graded, tmp_path):
    """Network blocked: Markdown rendered (no tag shown as text), math rendered by the
    browser as MathML (no TeX left), nothing wider than the window, and the summary says
    'passed' or what went wrong in the learner's terms."""
    for row in (correct_student(graded), struggling_student(graded)):
        seen = read_page(page, f"{graded['url']}/feedback/{row['student_id']}/{ASSIGNMENT}/"
                               f"{Path(NOTEBOOK).stem}.html")
        assert not re.search(TAG_AS_TEXT, seen["text"]), re.search(TAG_AS_TEXT, seen["text"])
        assert seen["markdown"] and not any("$" in m for m in seen["markdown"])
        assert len(seen["maths"]) > 20
        assert all(m["mathml"] and m["w"] > 0 and m["h"] > 0 for m in seen["maths"])
        assert seen["width"] <= 1280, seen["width"]
        for mark, exercise, points, why in seen["rows"]:
            assert "\n" not in exercise, exercise          # one line, by its exercise's name
            assert exercise.split(" · ")[0] in course.LEARNER_FUNCTIONS, exercise
            assert (why == "passed") == (mark == "✓"), (mark, why)
            assert "raised NotImplementedError" not in why
        shot(page, tmp_path, f"feedback_{row['student_id']}")
    assert any(mark == "✗" for mark, *_ in seen["rows"])    # the second page has failures
    assert not page.external, f"a feedback page reached for the network: {page.external}"
    assert not page.page_errors, page.page_errors


def test_class_report_reads_as_text_offline(page, graded, tmp_path):
    seen = read_page(page, f"{graded['url']}/report/index.html")
    assert not re.search(TAG_AS_TEXT, seen["text"])
    assert seen["width"] <= 1280, seen["width"]
    for name in re.findall(r"\b[\w.]+\.csv\b", seen["text"].split("Tables in this folder:")[-1]):
        assert (graded["out"] / "report" / name).exists(), name    # the footer lists real files
    shot(page, tmp_path, "class_report_top")
    assert not page.external, page.external
