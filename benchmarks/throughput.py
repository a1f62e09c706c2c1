"""Grade one synthetic cohort two ways, side by side, and compare.

    .venv/bin/python benchmarks/throughput.py [--students 40] [--workers N]

(a) stock ``nbgrader autograde``, one assignment after another, as an instructor runs it
today; (b) ``python -m grader autograde`` with its default settings. Both grade the same
submissions with the same notebooks and environment (GRU_AUTOGRADING=1, one BLAS thread);
the script checks that every score agrees, then prints the throughput ratio, the
per-notebook cost of each against the floor (the cells' own execution time in an
already-warm kernel) and the peak memory of each run's process tree.
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cohort.synth import make_cohort  # noqa: E402
from grader import course  # noqa: E402
from grader.confine import kernel_env  # noqa: E402

ENV = dict(os.environ, **kernel_env(), PYTHONPATH=str(ROOT / "solutions"),
           PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
# nbgrader as an instructor runs it: ipykernel's default (inline) figures, as ours draw them
NBGRADER_ENV = {k: v for k, v in ENV.items() if k != "MPLBACKEND"}
# the floor's kernel is as warm as ours: the launcher's imports and first-use warm-up, and
# figures drawn inline as in our kernels
WARM_UP = (f"import sys; sys.path.insert(0, {str(ROOT / 'grader')!r}); "
           "from launcher import warm_up; warm_up(); sys.path.pop(0)\n"
           "get_ipython().run_line_magic('matplotlib', 'inline')")


class PeakMemory(threading.Thread):
    """Largest total RSS of a process and all its descendants, sampled every 50 ms."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                root = psutil.Process(self.pid)
                procs = [root] + root.children(recursive=True)
                self.peak = max(self.peak, sum(_rss(p) for p in procs))
            except psutil.Error:
                pass
            time.sleep(0.05)


def _rss(proc):
    try:
        return proc.memory_info().rss
    except psutil.Error:
        return 0


def timed(cmd, cwd, env=None, check=True):
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    meter = PeakMemory(proc.pid)
    meter.start()
    out, _ = proc.communicate()
    meter.stop.set()
    meter.join()
    if check and proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed:\n{out[-3000:]}")
    return time.monotonic() - start, meter.peak, out


def speed_check():
    """Seconds for a fixed piece of Python work (best of 3): the shared machine's speed
    drifts, and the three measurements below happen minutes apart."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        total = 0
        for i in range(2_000_000):
            total += i * i
        best = min(best, time.process_time() - start)
    return best


def stock_nbgrader(work, submissions, assignment_ids):
    """A course folder as nbgrader expects it, then `nbgrader autograde` per assignment."""
    course_root = work / "nbgrader-course"
    shutil.copytree(course.SOLUTIONS, course_root / "solutions",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "nbgrader_config.py", course_root)
    nbgrader = [str(Path(sys.executable).parent / "nbgrader")]
    for aid in assignment_ids:
        subprocess.run(nbgrader + ["generate_assignment", aid, "--force"], cwd=course_root,
                       env=NBGRADER_ENV, check=True, capture_output=True)
    shutil.copytree(submissions, course_root / "submitted")
    total, peak = 0.0, 0
    for aid in assignment_ids:
        # nbgrader exits 1 when any student's notebook failed (the broken files): expected
        seconds, mem, _ = timed(nbgrader + ["autograde", aid, "--force"], course_root,
                                NBGRADER_ENV, check=False)
        total, peak = total + seconds, max(peak, mem)
    db = sqlite3.connect(course_root / "gradebook.db")
    scores = {}
    rows = db.execute(
        "SELECT s.student_id, a.name, COALESCE(SUM(COALESCE(g.manual_score, g.auto_score, 0)), 0) "
        "FROM submitted_assignment s JOIN assignment a ON s.assignment_id = a.id "
        "JOIN submitted_notebook n ON n.assignment_id = s.id JOIN grade g ON g.notebook_id = n.id "
        "GROUP BY s.student_id, a.name")
    for student, aid, score in rows:
        scores[(student, aid)] = round(score, 3)
    return total, peak, scores


def ours(work, submissions, workers):
    out = work / "ours"
    cmd = [sys.executable, "-m", "grader", "autograde", "--submissions", str(submissions),
           "--out", str(out)] + (["--workers", str(workers)] if workers else [])
    seconds, peak, log = timed(cmd, ROOT)
    results = [json.loads(p.read_text()) for p in (out / "results").rglob("*.json")]
    scores = {}
    for r in results:
        key = (r["student"], r["assignment"])
        scores[key] = round(scores.get(key, 0) + r["score"], 3)
    return seconds, peak, scores, results


def floor_seconds(submissions, graded):
    """Each graded submission's own cells, as nbgrader would run them (the learner's code
    cells with the master's test cells, hidden tests included), timed cell by cell in a
    kernel that is already started and warmed as the launcher warms ours (imports, first
    optimizer, first figure) and draws figures inline as ours do. One such kernel per
    assignment, with ``%reset -f`` between submissions."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from grader import collect, grade

    floors = {}
    for aid in sorted({r["assignment"] for r in graded}):
        mine = [r for r in graded if r["assignment"] == aid]
        masters = {m.name: m for m in course.master_notebooks(aid)}
        scratch = nbformat.v4.new_notebook()
        client = NotebookClient(scratch, timeout=120, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(course.RELEASE / aid)}})

        def run(source):
            cell = nbformat.v4.new_code_cell(source)
            scratch.cells.append(cell)
            client.execute_cell(cell, len(scratch.cells) - 1)

        def fresh_kernel():
            if client.km is not None:
                client._cleanup_kernel()
            client.km = client.create_kernel_manager()
            client.start_new_kernel(env=ENV, cwd=str(course.RELEASE / aid))
            client.start_new_kernel_client()
            run(WARM_UP)

        fresh_kernel()
        try:
            for r in mine:
                path = submissions / r["student"] / aid / f"{r['notebook']}.ipynb"
                if not path.exists():   # graded under another name: use what was graded
                    path = next((submissions / r["student"] / aid).glob("*.ipynb"))
                nb = collect.load_notebook(path.read_bytes())
                run("get_ipython().run_line_magic('reset', '-f'); "
                    "import matplotlib.pyplot as _p; _p.close('all'); del _p")
                total = 0.0
                for kind, item in grade.plan(nb, masters[r["notebook"]]):
                    start = time.monotonic()
                    try:
                        run(item.source)
                    except (CellTimeoutError, DeadKernelError):
                        total += time.monotonic() - start
                        fresh_kernel()
                        break
                    total += time.monotonic() - start
                floors[(r["student"], aid, r["notebook"])] = total
        finally:
            client._cleanup_kernel()
    return floors


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=40)
    p.add_argument("--workers", type=int, default=None, help="ours: default = all cores")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--skip-stock", action="store_true", help="only time this grader")
    args = p.parse_args()
    ids = course.assignments()
    work = Path(tempfile.mkdtemp(prefix="gru-bench-"))
    submissions = work / "submissions"
    plan = make_cohort(submissions, args.students, args.seed, ids)
    n_notebooks = sum(1 for s in submissions.glob("*/*/*.ipynb"))
    print(f"cohort: {args.students} students x {len(ids)} assignments, {n_notebooks} notebooks "
          f"submitted; {psutil.cpu_count()} cores")
    profiles = {}
    for profile in plan.values():
        profiles[profile] = profiles.get(profile, 0) + 1
    print("profiles: " + ", ".join(f"{k} {v}" for k, v in sorted(profiles.items())))

    speed = {"before ours": speed_check()}
    ours_s, ours_peak, ours_scores, results = ours(work, submissions, args.workers)
    graded = [r for r in results if r["status"] not in ("missing", "invalid_notebook",
                                                         "wrong_assignment")]
    speed["before the floor"] = speed_check()
    floors = floor_seconds(submissions, graded)
    speed["after the floor"] = speed_check()
    floor_total = sum(floors.values())
    workers = args.workers or os.cpu_count()
    by_assignment = {}
    for (_, aid, _), seconds in floors.items():
        by_assignment.setdefault(aid, []).append(seconds)
    print("\nfloor (the submissions' own cells in a warm kernel), mean per notebook: " + ", ".join(
        f"{a} {statistics.mean(v):.2f}s" for a, v in sorted(by_assignment.items())))
    print(f"this grader : {ours_s:7.1f} s wall, {ours_s / n_notebooks:.3f} s per notebook, "
          f"peak memory {ours_peak / 2**20:.0f} MiB ({workers} workers)")
    cost = ours_s * workers / max(1, len(graded))
    floor = floor_total / max(1, len(graded))
    print(f"              per notebook per worker {cost:.3f} s against a floor of {floor:.3f} s: "
          f"overhead ratio {cost / floor:.2f}x (target <= 1.3x)")
    if args.skip_stock:
        print(_speeds(speed))
        return 0
    stock_s, stock_peak, stock_scores = stock_nbgrader(work, submissions, ids)
    speed["after nbgrader"] = speed_check()
    print(_speeds(speed))
    print(f"nbgrader    : {stock_s:7.1f} s wall, {stock_s / n_notebooks:.3f} s per notebook, "
          f"peak memory {stock_peak / 2**20:.0f} MiB (one notebook at a time)")
    keys = set(ours_scores) | set(stock_scores)
    differ = sorted(k for k in keys if ours_scores.get(k, 0.0) != stock_scores.get(k, 0.0))
    print(f"\nthroughput ratio (nbgrader wall / this grader wall): {stock_s / ours_s:.1f}x "
          f"(target >= 10x)")
    print(f"scores compared: {len(keys)} (student, assignment) pairs, {len(differ)} differ")
    for k in differ[:20]:
        print(f"  {k}: ours {ours_scores.get(k, 0.0)}, nbgrader {stock_scores.get(k, 0.0)}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if differ else 0


def _speeds(speed):
    return ("machine speed check, seconds for the same work (lower is faster): "
            + ", ".join(f"{k} {v:.3f}" for k, v in speed.items()))


if __name__ == "__main__":
    sys.exit(main())
