"""Code similarity across a cohort: which learners share their code (what MOSS is for).

For instructors only: the pages go to ``OUT/report/similarity/``, never to ``feedback/``.

What is compared: per assignment, the learners' own code, i.e. the answer cells (nbgrader
metadata ``"solution": true``, as the grader restored it from the release in each result's
``graded_notebook``). Test cells, helper modules and the released starter code of each
answer cell (its ``def`` line, docstring, ``raise NotImplementedError()``) never count.

How (``copydetect``'s winnowing, as MOSS fingerprints code):

1. **Normalize** each answer cell with Python's ``tokenize``: comments, blank lines,
   indentation and docstrings are dropped; every name the cell binds (arguments, assigned
   variables, its own helper functions) becomes ``V``, so renaming changes nothing; names it
   does not bind (``np``, ``np.einsum``, the course's functions) and literals stay, so
   ``x @ W`` and ``np.einsum(...)`` remain different code. A map back to the original
   characters is kept for highlighting.
2. **Fingerprint** the normalized text by winnowing its character k-grams
   (``copydetect.utils.winnow``, over hashes that are the same in every run), per exercise (a fingerprint of
   ``update_gate`` never matches one of ``reset_gate``), minus the fingerprints of the
   released starter code (copydetect's boilerplate).
3. **Weigh by rarity**: a fingerprint found in ``df`` of the ``N`` submissions weighs
   ``log(N/df) / log(N/2)`` (1 when two learners share it), and nothing once more than
   ``rare_cap`` submissions have it: the way forty learners write a three-line sigmoid is
   not evidence of copying; nor is code the course's own solution has (what the API
   dictates looks rare in a small cohort). Exercises whose median answer has fewer than ``MIN_FINGERPRINTS``
   fingerprints are too short to judge and are left out (the page says which).
4. **Inverted index**: only pairs that share at least one rare fingerprint are ever
   considered; every other pair scores 0 without being looked at.
5. **Score** of a pair: the rarity-weighted shared fingerprints over the fingerprints of the
   smaller submission, over the exercises both wrote (and per exercise). A pair is listed
   when the whole is high, or when one judged exercise is shared almost entirely (copying
   only some of the exercises).
"""
import ast
import base64
import csv
import datetime
import hashlib
import html
import io
import json
import keyword
import math
import re
import statistics
import tokenize
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
from copydetect.utils import find_fingerprint_overlap, get_copied_slices, winnow

from . import course
from .result import NotebookResult

K = 15                   # characters per k-gram of the normalized code (noise threshold)
WINDOW = 5               # winnowing window: any shared run of K + WINDOW - 1 chars is found
MIN_FINGERPRINTS = 20    # an answer with fewer is too short to judge (and left out)
MAX_CELL_CHARS = 50_000  # a longer answer cell is cut (hostile input stays bounded)
LIST_SCORE = 0.3        # listed: this share of the smaller submission is shared and rare ...
LIST_EXERCISE = 0.7      # ... or one exercise is shared this much
LIST_EXERCISE_MASS = 15.0 # ... with at least this much rare weight in it
LIST_MIN_MASS = 10.0     # and never on less rare shared weight than this in all
COMMON_WEIGHT = 0.2      # what a common fingerprint counts in the size of a submission
RARE_FLOOR, RARE_SHARE, RARE_CEIL = 5, 0.02, 20


# --------------------------------------------------------------------------- normalizing

def _bound_names(src):
    """Names the cell binds itself (renamable without changing the code), or an empty set
    when it does not parse."""
    try:
        tree = ast.parse(src)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    keep = set(course.LEARNER_FUNCTIONS)
    return {n for n in bound if n not in keep and n not in course.quiz_names()}


def _tokens(src):
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            out.append(tok)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
        tokenize.ENDMARKER}


def normalize(src, also_bound=frozenset()):
    """(normalized text, start, end): ``start[i]``/``end[i]`` are the characters of ``src``
    that the token behind normalized character ``i`` spans. ``also_bound``: names the
    learner binds in other cells (a helper defined once and used everywhere)."""
    src = src[:MAX_CELL_CHARS]
    line_start = [0, 0]
    for line in src.splitlines(keepends=True):
        line_start.append(line_start[-1] + len(line))
    bound = _bound_names(src) | set(also_bound)
    toks = _tokens(src)
    text, starts, ends = [], [], []
    prev = None            # the previous token that is not skipped
    for i, tok in enumerate(toks):
        if tok.type in SKIP:
            continue
        s = line_start[tok.start[0]] + tok.start[1] if tok.start[0] < len(line_start) else len(src)
        e = line_start[tok.end[0]] + tok.end[1] if tok.end[0] < len(line_start) else len(src)
        kind, word = tok.type, tok.string
        if kind == tokenize.NEWLINE:
            word = ";"
        elif kind == tokenize.STRING:
            nxt = next((t for t in toks[i + 1:] if t.type not in (tokenize.COMMENT, tokenize.NL)), None)
            if (prev is None or prev.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
                    or prev.string == ":") and (nxt is None or nxt.type in (tokenize.NEWLINE, tokenize.ENDMARKER)):
                prev = tok
                continue   # a docstring (or a bare string statement): prose, not code
            try:
                word = repr(ast.literal_eval(word))
            except (ValueError, SyntaxError, RecursionError, MemoryError, TypeError):
                pass
        elif kind == tokenize.NAME:
            if not keyword.iskeyword(word) and word in bound and not (prev is not None and prev.string == "."):
                word = "V"
        elif kind == tokenize.ERRORTOKEN:
            word = word.strip()
        if not word:
            continue
        if text and (word[0].isalnum() or word[0] == "_") and (text[-1][-1:].isalnum() or text[-1][-1:] == "_"):
            text.append(" ")
            starts.append(s)
            ends.append(s)
        text.append(word)
        starts.extend([s] * len(word))
        ends.extend([e] * len(word))
        prev = tok
    return "".join(text), np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


@dataclass
class Cell:
    source: str
    doc: str
    starts: np.ndarray
    ends: np.ndarray
    hashes: set
    idx: dict


def _kgram_hashes(doc):
    """Hashes of every K-gram, the same in every process (copydetect's use Python's
    ``hash``, which changes from run to run: the report would too)."""
    data = doc.encode("utf-32-le", "surrogatepass")
    return np.array([int.from_bytes(hashlib.blake2b(data[4 * i:4 * (i + K)], digest_size=8).digest(),
                                    "little", signed=True) for i in range(len(doc) - K + 1)],
                    dtype=np.int64)


def _fingerprints(doc, boilerplate):
    """copydetect's ``get_document_fingerprints`` (winnowing, boilerplate removed) over
    ``_kgram_hashes``."""
    hashes, idx = winnow(_kgram_hashes(doc), WINDOW, remove_duplicates=False)
    if boilerplate is not None and len(boilerplate):
        keep = ~np.isin(hashes, boilerplate)
        hashes, idx = hashes[keep], idx[keep]
    where = defaultdict(list)
    for h, i in zip(hashes.tolist(), idx.tolist()):
        where[h].append(i)
    return set(where), dict(where)


def fingerprint(source, boilerplate=None, also_bound=frozenset()):
    doc, starts, ends = normalize(source, also_bound)
    if len(doc) < K + WINDOW:
        return Cell(source, doc, starts, ends, set(), {})
    hashes, idx = _fingerprints(doc, boilerplate)
    return Cell(source, doc, starts, ends, hashes, idx)


def starter_fingerprints(source):
    """Fingerprints of the released starter code of an answer cell (boilerplate)."""
    return np.array(sorted(fingerprint(source).hashes), dtype=np.int64)


# --------------------------------------------------------------------------- analysis

@dataclass
class Pair:
    a: str
    b: str
    score: float                  # rare shared weight / fingerprints of the smaller, over all
    per_exercise: dict            # exercise -> (score, rare shared weight, fingerprints shared)
    listed: bool = False


@dataclass
class Analysis:
    assignment: str
    students: list
    exercises: list               # every answer cell id, in notebook order
    judged: list
    too_short: dict               # exercise -> (median fingerprints, answers long enough)
    cells: dict                   # student -> {exercise: Cell}
    rare_cap: int
    pairs: list                   # considered pairs (sharing a rare fingerprint), best first
    total_pairs: int
    df: dict = field(default_factory=dict)
    usual: set = field(default_factory=set)   # (exercise, hash) of the course's own solution

    @property
    def listed(self):
        return [p for p in self.pairs if p.listed]

    def weight(self, exercise, h):
        if (exercise, h) in self.usual:
            return 0.0
        return _weight(self.df.get((exercise, h), 0), len(self.students), self.rare_cap)


def _weight(df, n, cap):
    if df < 2 or df > cap:
        return 0.0
    if n <= 2:
        return 1.0
    return min(1.0, math.log(n / df) / math.log(n / 2))


def rare_cap(n):
    return int(min(RARE_CEIL, max(RARE_FLOOR, math.ceil(RARE_SHARE * n))))


def analyse(assignment, answers, starters, order=None, usual=None):
    """``answers``: {student: {exercise: source}} (answer cells only); ``starters``:
    {exercise: released source}; ``usual``: {exercise: source} of the course's own
    solution, whose code counts as common however few learners share it (what the API
    dictates, such as calling the three gates, looks rare in a small cohort). Returns an
    ``Analysis``."""
    order = list(order or starters)
    boiler = {ex: starter_fingerprints(src) for ex, src in starters.items()}
    usual_fp = {(ex, h) for ex, src in (usual or {}).items() if ex in boiler
                for h in fingerprint(src, boiler[ex]).hashes}
    cells = {}
    for student, cellmap in answers.items():
        own = {}
        mine = {ex: src[:MAX_CELL_CHARS] for ex, src in cellmap.items()
                if ex in boiler and isinstance(src, str)}
        names = {ex: _bound_names(src) for ex, src in mine.items()}
        also = {ex: set().union(*[b for e, b in names.items() if e != ex]) for ex in mine}
        for ex, src in mine.items():
            try:
                cell = fingerprint(src, boiler[ex], frozenset(also[ex]))
            except (ValueError, TypeError, RecursionError, MemoryError, UnicodeError):
                continue   # hostile or broken beyond reading: never the whole report's fault
            if cell.hashes:
                own[ex] = cell
        cells[student] = own
    too_short, judged = {}, []
    for ex in order:
        sizes = [len(c[ex].hashes) for c in cells.values() if ex in c]
        med = statistics.median(sizes) if sizes else 0
        long = sum(1 for size in sizes if size >= MIN_FINGERPRINTS)
        if med < MIN_FINGERPRINTS:
            too_short[ex] = (med, long)
        if long >= 2:
            judged.append(ex)
    for own in cells.values():   # an answer too short to judge is left out
        for ex in [ex for ex, c in own.items() if len(c.hashes) < MIN_FINGERPRINTS]:
            del own[ex]
    students = sorted(s for s, c in cells.items() if any(ex in c for ex in judged))
    n = len(students)
    cap = rare_cap(n)
    postings = defaultdict(list)
    for s in students:
        for ex in judged:
            if ex in cells[s]:
                for h in cells[s][ex].hashes:
                    postings[(ex, h)].append(s)
    df = {key: len(v) for key, v in postings.items()}
    # the size of an answer: its rare fingerprints (its own included) count fully, the
    # common ones little, so code everybody writes neither hides nor makes a copy
    size = {(s, ex): sum(COMMON_WEIGHT if (ex, h) in usual_fp else
                         max(1.0 if df[(ex, h)] == 1 else _weight(df[(ex, h)], n, cap), COMMON_WEIGHT)
                         for h in cells[s][ex].hashes)
            for s in students for ex in judged if ex in cells[s]}
    shared = defaultdict(lambda: defaultdict(float))   # (a, b) -> exercise -> weight
    for (ex, h), who in postings.items():
        w = 0.0 if (ex, h) in usual_fp else _weight(len(who), n, cap)
        if w <= 0:
            continue
        for a, b in combinations(who, 2):
            shared[(a, b)][ex] += w
    pairs = []
    for (a, b), by_ex in shared.items():
        num = den = 0.0
        per = {}
        for ex in judged:
            ca, cb = cells[a].get(ex), cells[b].get(ex)
            if ca is None or cb is None:
                continue
            smaller = min(size[(a, ex)], size[(b, ex)])
            mass = by_ex.get(ex, 0.0)
            num += mass
            den += smaller
            per[ex] = (min(1.0, mass / smaller) if smaller else 0.0, mass, len(ca.hashes & cb.hashes))
        score = min(1.0, num / den) if den else 0.0
        listed = num >= LIST_MIN_MASS and (score >= LIST_SCORE or any(
            s >= LIST_EXERCISE and m >= LIST_EXERCISE_MASS for s, m, _ in per.values()))
        pairs.append(Pair(a, b, score, per, listed))
    pairs.sort(key=lambda p: (-p.listed, -p.score, p.a, p.b))
    return Analysis(assignment, students, order, judged, too_short, cells, cap, pairs,
                    n * (n - 1) // 2, df, usual_fp)


# --------------------------------------------------------------------------- from an autograde run

def starter_cells(assignment, release=course.RELEASE):
    """{exercise: released source} of every answer cell of an assignment, in order."""
    import nbformat

    out = {}
    for path in sorted((Path(release) / assignment).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = course.nbgrader_meta(cell)
            if meta.get("solution") and cell.cell_type == "code" and meta.get("grade_id"):
                out[meta["grade_id"]] = cell.source
    return out


SOLUTION_REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*\n?",
                             re.S | re.M)


def solution_cells(assignment, solutions=course.SOLUTIONS):
    """{exercise: source} of the master notebooks' answer cells, solution written in."""
    import nbformat

    out = {}
    for path in sorted((Path(solutions) / assignment).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = course.nbgrader_meta(cell)
            if meta.get("solution") and cell.cell_type == "code" and meta.get("grade_id"):
                out[meta["grade_id"]] = SOLUTION_REGION.sub(lambda m: m.group(1), cell.source)
    return out


def answers_from_results(results):
    """{assignment: {student: {exercise: source}}} from results' ``graded_notebook`` (whose
    answer cells carry the release's nbgrader metadata, never the learner's)."""
    out = defaultdict(dict)
    for r in results:
        nb = r.graded_notebook
        if not isinstance(nb, dict):
            continue
        cells = {}
        for cell in nb.get("cells", []):
            if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                continue
            try:
                meta = course.nbgrader_meta(cell)
                gid = meta.get("grade_id")
            except (AttributeError, TypeError):
                continue
            if meta.get("solution") and isinstance(gid, str):
                src = cell.get("source", "")
                src = "".join(src) if isinstance(src, list) else src
                if isinstance(src, str):
                    cells[gid] = src
        if cells:
            out[r.assignment].setdefault(str(r.student), {}).update(cells)
    return dict(out)


def load_results(out_dir):
    """The saved results of an autograde run (``OUT/results/``); unreadable ones skipped."""
    results = []
    for path in sorted((Path(out_dir) / "results").glob("*/*/*.json")):
        try:
            results.append(NotebookResult.from_dict(json.loads(path.read_text())))
        except (ValueError, OSError, TypeError, KeyError):
            continue
    return results


def analyse_run(out_dir, results=None, release=course.RELEASE):
    results = load_results(out_dir) if results is None else results
    out = []
    for aid, answers in sorted(answers_from_results(results).items()):
        starters = starter_cells(aid, release)
        if starters:
            try:
                usual = solution_cells(aid)
            except OSError:
                usual = {}
            out.append(analyse(aid, answers, starters, usual=usual))
    return out


# --------------------------------------------------------------------------- pages

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1250px;margin:2em auto;
     padding:0 1em;color:#222;line-height:1.45}
h2{margin-top:2em;border-bottom:2px solid #ddd;padding-bottom:.2em}
.muted{color:#666} .small{font-size:.85em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right}
img{max-width:100%;height:auto}
.pair{border:1px solid #ccc;border-radius:6px;margin:1.2em 0;padding:.5em 1em}
.side{display:grid;grid-template-columns:1fr 1fr;gap:.8em}
pre{background:#f8f8f8;border:1px solid #e4e4e4;padding:.5em;font-size:.8em;
    margin:.2em 0;white-space:pre-wrap;overflow-wrap:anywhere}
mark.rare{background:#ffb347} mark.common{background:#e3ecf7}
.ex{font-weight:600;margin-top:.6em}
"""
HEAD = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "img-src data:; style-src 'unsafe-inline'\">"
        "<title>TITLE</title><style>" + CSS + "</style></head><body>")


def _head(title):
    return HEAD.replace("TITLE", html.escape(title))


def _marks(cell, slices_rare, slices_common):
    """The cell's source as escaped HTML with shared regions marked."""
    src = cell.source[:MAX_CELL_CHARS]
    level = np.zeros(len(src) + 1, dtype=np.int8)
    for slices, lv in ((slices_common, 1), (slices_rare, 2)):
        for s, e in zip(*slices):
            s, e = int(s), int(min(e, len(cell.doc)))
            # the tokens behind the shared characters, and the blanks between them (never
            # a comment or docstring the normalization dropped)
            spans = sorted(set(zip(cell.starts[s:e].tolist(), cell.ends[s:e].tolist())))
            prev_end = None
            for a, b in spans:
                if prev_end is not None and prev_end < a and not src[prev_end:a].strip():
                    a = prev_end
                level[a:b] = np.maximum(level[a:b], lv)
                prev_end = b
    out, i = [], 0
    while i < len(src):
        j = i
        while j < len(src) and level[j] == level[i]:
            j += 1
        chunk = html.escape(src[i:j])
        out.append(f"<mark class='{'rare' if level[i] == 2 else 'common'}'>{chunk}</mark>"
                   if level[i] else chunk)
        i = j
    return "".join(out)


def _overlap(an, ex, ca, cb, rare):
    """Slices of (a, b) shared in exercise ``ex``: the rare ones, or the common ones."""
    keep = {h for h in ca.hashes & cb.hashes if (an.weight(ex, h) > 0) == rare}
    ia, ib = find_fingerprint_overlap(keep, keep, ca.idx, cb.idx)
    return get_copied_slices(ia, K), get_copied_slices(ib, K)


def pair_html(an, pair):
    parts = [f"<div class='pair' id='{html.escape(pair.a)}--{html.escape(pair.b)}'>",
             f"<h3>{html.escape(pair.a)} · {html.escape(pair.b)}: {100 * pair.score:.0f}%</h3>"]
    quiet = []
    for ex in an.judged:
        ca, cb = an.cells[pair.a].get(ex), an.cells[pair.b].get(ex)
        if ca is None or cb is None:
            continue
        s, mass, nshared = pair.per_exercise.get(ex, (0.0, 0.0, 0))
        if s < 0.05:
            quiet.append(ex)
            continue
        ra, rb = _overlap(an, ex, ca, cb, True)
        ma, mb = _overlap(an, ex, ca, cb, False)
        parts.append(f"<div class='ex'>{html.escape(ex)}: {100 * s:.0f}% "
                     f"<span class='muted small'>(rare shared weight {mass:.1f}, "
                     f"{nshared} fingerprints in common)</span></div>")
        parts.append("<div class='side'>"
                     f"<pre>{_marks(ca, ra, ma)}</pre><pre>{_marks(cb, rb, mb)}</pre></div>")
    if quiet:
        parts.append(f"<p class='muted small'>Little or no rare code in common: "
                     f"{html.escape(', '.join(quiet))}.</p>")
    parts.append("</div>")
    return "".join(parts)


def fig_distribution(an):
    """PNG bytes: the similarity of every pair (0 for pairs never considered)."""
    from .report.figures import pyplot

    plt = pyplot()
    scores = [p.score for p in an.pairs]
    zeros = an.total_pairs - len(scores)
    fig, ax = plt.subplots(figsize=(7, 2.8))
    bins = np.linspace(0, 1, 41)
    values = np.array(scores + [0.0] * max(zeros, 0))
    if len(values):
        ax.hist(np.clip(values, 0, 1), bins=bins, color="#4a78b5", edgecolor="white")
    ax.set_yscale("symlog", linthresh=1)
    ax.axvline(LIST_SCORE, color="#d0473e", ls="--", lw=1)
    ax.text(LIST_SCORE, ax.get_ylim()[1], " listed from here (or one exercise copied)",
            color="#d0473e", va="top", fontsize=8)
    ax.set_xlabel("similarity: rare shared code / the smaller submission")
    ax.set_ylabel("pairs (log scale)")
    ax.set_title(f"{an.assignment}: {an.total_pairs} pairs, {len(an.pairs)} share a rare fingerprint")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def assignment_html(an, max_pairs=60):
    title = f"Code similarity · {an.assignment}"
    parts = [_head(title), f"<h1>{html.escape(title)}</h1>",
             "<p class='muted'>For instructors only. A listed pair is a reason to look, not a "
             "verdict: read both submissions before talking to anyone.</p>",
             f"<p>{len(an.students)} submissions with code of their own in the judged exercises; "
             f"{an.total_pairs} pairs, of which <b>{len(an.pairs)}</b> share at least one rare "
             f"fingerprint and were compared (the others score 0); <b>{len(an.listed)}</b> "
             "listed.</p>"]
    judged = ", ".join(an.judged) or "none"
    parts.append(f"<p>Exercises compared: <b>{html.escape(judged)}</b>.</p>")
    if an.too_short:
        parts.append("<p><b>Too short to judge</b>: " + ", ".join(
            f"{html.escape(ex)} (median answer {m:g} fingerprints; "
            + (f"only the {n} longer answers are compared)" if n >= 2 else "left out)")
            for ex, (m, n) in an.too_short.items())
            + f". An answer needs {MIN_FINGERPRINTS} fingerprints (about 80 characters of code "
            "beyond the starter, names and layout aside) before two learners writing it the same "
            "way means anything: a one-line gate or sigmoid written alike by many learners is not "
            "copying, and shorter answers are never compared.</p>")
    parts.append(
        "<p class='small muted'>How it is scored: each answer cell is normalized (comments, "
        "docstrings, whitespace dropped; the names a learner chooses become <code>V</code>) and "
        "fingerprinted by winnowing (copydetect, as MOSS); the released starter code, the "
        "tests and the helper modules never count. A fingerprint weighs by how rare it is: "
        f"shared by two submissions it weighs 1, by more it weighs less, and by more than "
        f"{an.rare_cap} nothing (the usual way to write an exercise is not copying); code the "
        "course's own solution has counts as common too. The "
        "similarity of a pair is the rare shared weight over the fingerprints of the smaller "
        f"submission. Listed: similarity {100 * LIST_SCORE:.0f}% or more, or one exercise "
        f"{100 * LIST_EXERCISE:.0f}% shared (copying only some exercises). Highlights: "
        "<mark class='rare'>rare shared code</mark>, <mark class='common'>shared but common in "
        "the cohort</mark>.</p>")
    if an.total_pairs:
        data = base64.b64encode(fig_distribution(an)).decode()
        parts.append(f"<img alt='similarity of every pair' src='data:image/png;base64,{data}'>")
    listed = an.listed
    if listed:
        parts.append("<h2>Listed pairs</h2><table><thead><tr><th>learner</th><th>learner</th>"
                     "<th>similarity</th><th>per exercise</th></tr></thead><tbody>")
        for p in listed:
            per = ", ".join(f"{ex} {100 * s:.0f}%" for ex, (s, _, _) in p.per_exercise.items() if s >= 0.05)
            parts.append(f"<tr><td>{html.escape(p.a)}</td><td>{html.escape(p.b)}</td>"
                         f"<td class='num'>{100 * p.score:.0f}%</td><td>{html.escape(per)}</td></tr>")
        parts.append("</tbody></table>")
        for p in listed[:max_pairs]:
            parts.append(pair_html(an, p))
        if len(listed) > max_pairs:
            parts.append(f"<p class='muted'>{len(listed) - max_pairs} more listed pairs: pairs.csv.</p>")
    else:
        parts.append("<p>No pair shares an unusual amount of code.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_pages(out_dir, analyses):
    """``OUT/report/similarity/``: index.html, ASSIGNMENT.html, pairs.csv. Returns the folder."""
    folder = Path(out_dir) / "report" / "similarity"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for an in analyses:
        (folder / f"{an.assignment}.html").write_text(assignment_html(an))
        for p in an.listed:
            rows.append({"assignment": an.assignment, "student_a": p.a, "student_b": p.b,
                         "similarity": f"{p.score:.3f}",
                         "exercises": " ".join(f"{ex}={s:.2f}" for ex, (s, _, _) in p.per_exercise.items())})
    with open(folder / "pairs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["assignment", "student_a", "student_b", "similarity", "exercises"])
        w.writeheader()
        w.writerows(rows)
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [_head("Code similarity"), "<h1>Code similarity</h1>",
             f"<p class='muted'>For instructors only · generated {now}</p>", summary_html(analyses, "")]
    parts.append("</body></html>")
    (folder / "index.html").write_text("\n".join(parts))
    return folder


def summary_html(analyses, prefix="similarity/"):
    """A table of the assignments with links to their pages (for the class report too)."""
    if not analyses:
        return "<p class='muted'>No answer cells to compare.</p>"
    rows = []
    for an in analyses:
        names = ", ".join(f"{p.a} · {p.b}" for p in an.listed[:6]) + (" …" if len(an.listed) > 6 else "")
        rows.append(f"<tr><td><a href='{html.escape(prefix + an.assignment)}.html'>"
                    f"{html.escape(an.assignment)}</a></td><td class='num'>{len(an.students)}</td>"
                    f"<td class='num'>{len(an.pairs)} / {an.total_pairs}</td>"
                    f"<td class='num'>{len(an.listed)}</td><td>{html.escape(names)}</td>"
                    f"<td>{html.escape(', '.join(an.too_short) or '–')}</td></tr>")
    return ("<table><thead><tr><th>assignment</th><th>submissions</th><th>pairs compared / all"
            "</th><th>listed</th><th>pairs listed</th><th>too short to judge</th></tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>")


def write_run(out_dir, results=None):
    analyses = analyse_run(out_dir, results)
    folder = write_pages(out_dir, analyses)
    return folder, analyses


def main(args):
    out = Path(args.out)
    if not (out / "results").is_dir():
        raise SystemExit(f"{out} has no results/: run `python -m grader autograde` first")
    folder, analyses = write_run(out)
    for an in analyses:
        print(f"{an.assignment}: {len(an.students)} submissions, {len(an.pairs)} of "
              f"{an.total_pairs} pairs compared, {len(an.listed)} listed"
              + (f" (too short to judge: {', '.join(an.too_short)})" if an.too_short else ""))
    print(f"wrote {folder / 'index.html'}")
    return 0
