"""Grade one synthetic cohort with stock nbgrader and with this grader, side by side.

    .venv/bin/python benchmarks/throughput.py [--students 40] [--workers N] [--rounds 3]

Both grade the same submissions with the same notebooks and kernel environment
(GRU_AUTOGRADING=1, one BLAS thread). Each round runs, one after the other:

  A. ``python -m grader autograde`` with its default settings (figures not drawn);
  B. the floor: the same notebooks' own work, timed cell by cell in a kernel that is
     already started and warm (see ``floor_seconds``);
  C. ``python -m grader autograde --figures``;
  D. stock ``nbgrader autograde`` for a share of the assignments (all of them over the
     rounds), as an instructor runs it today.

so that A and B alternate (ABAB...) and the machine's drift cancels out of their
difference, and stock nbgrader is spread over the same stretch of time as ours. It prints
the throughput ratios (stock wall over ours, with and without --figures), the cost of a
notebook above the floor in milliseconds per round with its spread (in wall time, as
cost per notebook and worker, and in CPU time, which other processes on a shared machine
disturb less), where our CPU time goes, the proportional set size (PSS, shared pages counted once) of a worker's launcher
and of a kernel from one more run of A sampled closely, and whether every score agrees.
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

ENV = {**os.environ, **kernel_env(), "PYTHONPATH": str(ROOT / "solutions"),
       "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
# nbgrader as an instructor runs it: ipykernel's default (inline) figures
NBGRADER_ENV = {k: v for k, v in ENV.items() if k != "MPLBACKEND"}
# the floor's kernel is as warm as ours (the launcher's imports and first-use warm-up) and
# draws nothing, as ours do by default (grader/figure_notes.py)
WARM_UP = f"""\
import importlib.util as _u, sys as _s
_spec = _u.spec_from_file_location("gru_figure_notes", {str(ROOT / 'grader' / 'figure_notes.py')!r})
_notes = _u.module_from_spec(_spec); _spec.loader.exec_module(_notes)
_s.modules[_notes.NAME] = _notes
_s.path.insert(0, {str(ROOT / 'grader')!r})
from launcher import warm_up as _w
_w(False, _notes); _notes.install(get_ipython()); _s.path.pop(0)
del _u, _s, _spec, _notes, _w
"""
NO_RESULT = ("missing", "invalid_notebook", "wrong_assignment")


# ----------------------------------------------------------------------------- measuring
class Sampler(threading.Thread):
    """Samples a process tree until stopped.

    ``pss``: also the proportional set size of every process (``smaps_rollup``, a few ms a
    process: only for the memory run). Always: the largest total RSS of the tree, and the
    CPU time of each role, from the last sample of each process (a kernel's CPU time comes
    from its launcher, which reaps it)."""

    def __init__(self, pid, interval=0.5, pss=False):
        super().__init__(daemon=True)
        self.pid, self.interval, self.pss = pid, interval, pss
        self.stop = threading.Event()
        self.peak_rss = self.peak_pss = 0
        self.launcher_pss = self.kernel_pss = self.pair_pss = self.worker_pss = 0
        self.cpu = {}      # pid -> (role, own seconds, reaped children's seconds)

    def run(self):
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)

    def sample(self):
        try:
            root = psutil.Process(self.pid)
            procs = [root] + root.children(recursive=True)
        except psutil.Error:
            return
        rss = pss = 0
        roles, kernels_of = {}, {}
        for p in procs:
            try:
                known = self.cpu.get(p.pid, ("other",))[0]
                # a process just forked still shows its parent's command line: look again
                role = known if known != "other" else _role(p, root)
                t = p.cpu_times()
                self.cpu[p.pid] = (role, t.user + t.system, t.children_user + t.children_system)
                rss += p.memory_info().rss
                if self.pss:
                    size = p.memory_full_info().pss
                    pss += size
                    roles[p.pid] = (role, size)
                    if role == "kernel":
                        kernels_of.setdefault(p.ppid(), []).append(size)
            except psutil.Error:
                continue
        self.peak_rss = max(self.peak_rss, rss)
        if self.pss:
            self.peak_pss = max(self.peak_pss, pss)
            for pid, (role, size) in roles.items():
                if role == "launcher":
                    self.launcher_pss = max(self.launcher_pss, size)
                    self.pair_pss = max(self.pair_pss, size + max(kernels_of.get(pid, [0])))
                elif role == "kernel":
                    self.kernel_pss = max(self.kernel_pss, size)
                elif role == "worker":
                    self.worker_pss = max(self.worker_pss, size)

    def cpu_by_role(self):
        out = {}
        for role, own, reaped in self.cpu.values():
            if role == "kernel":
                continue          # counted in its launcher's reaped children, whole
            out[role] = out.get(role, 0.0) + own
            if role == "launcher":
                out["kernels"] = out.get("kernels", 0.0) + reaped
        return out


def _role(proc, root):
    if proc.pid == root.pid:
        return "main"
    cmd = " ".join(proc.cmdline())
    if "launcher.py" in cmd:   # the launcher, or a kernel it forked (same command line)
        return "kernel" if "launcher.py" in " ".join(proc.parent().cmdline()) else "launcher"
    return "worker" if "multiprocessing.spawn" in cmd else "other"


def timed(cmd, cwd, env=None, check=True, pss=False):
    """(seconds, Sampler, output) of one command."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    sampler = Sampler(proc.pid, interval=0.1 if pss else 0.5, pss=pss)
    sampler.start()
    out, _ = proc.communicate()
    seconds = time.monotonic() - start
    sampler.stop.set()
    sampler.join()
    if check and proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed:\n{out[-3000:]}")
    return seconds, sampler, out


def speed_check():
    """Seconds for a fixed piece of Python work (best of 3): the shared machine's speed
    drifts, and so does what other processes leave us."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i * i
        best = min(best, time.perf_counter() - start)
    return best


# ----------------------------------------------------------------------------- graders
def stock_course(work, submissions, assignment_ids):
    """A course folder as nbgrader expects it, its assignments generated."""
    course_root = work / "nbgrader-course"
    shutil.copytree(course.SOLUTIONS, course_root / "solutions",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "nbgrader_config.py", course_root)
    for aid in assignment_ids:
        subprocess.run(_nbgrader() + ["generate_assignment", aid, "--force"], cwd=course_root,
                       env=NBGRADER_ENV, check=True, capture_output=True)
    shutil.copytree(submissions, course_root / "submitted")
    return course_root


def _nbgrader():
    return [str(Path(sys.executable).parent / "nbgrader")]


def stock_nbgrader(course_root, aid):
    """``nbgrader autograde`` of one assignment: (seconds, peak RSS)."""
    # nbgrader exits 1 when any student's notebook failed (the broken files): expected
    seconds, sampler, _ = timed(_nbgrader() + ["autograde", aid, "--force"], course_root,
                                NBGRADER_ENV, check=False)
    return seconds, sampler.peak_rss


def stock_scores(course_root):
    # nbgrader_config.py puts the course's gradebook in graded/ (the exchange's layout)
    path = course_root / "graded" / "gradebook.db"
    db = sqlite3.connect(path if path.exists() else course_root / "gradebook.db")
    rows = db.execute(
        "SELECT s.student_id, a.name, COALESCE(SUM(COALESCE(g.manual_score, g.auto_score, 0)), 0) "
        "FROM submitted_assignment s JOIN assignment a ON s.assignment_id = a.id "
        "JOIN submitted_notebook n ON n.assignment_id = s.id JOIN grade g ON g.notebook_id = n.id "
        "GROUP BY s.student_id, a.name")
    return {(student, aid): round(score, 3) for student, aid, score in rows}


def ours(work, submissions, workers, figures=False, pss=False, name="ours"):
    out = work / name
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "grader", "autograde", "--submissions", str(submissions),
           "--out", str(out)] + (["--workers", str(workers)] if workers else []) \
        + (["--figures"] if figures else [])
    seconds, sampler, _ = timed(cmd, ROOT, pss=pss)
    results = [json.loads(p.read_text()) for p in (out / "results").rglob("*.json")]
    scores = {}
    for r in results:
        key = (r["student"], r["assignment"])
        scores[key] = round(scores.get(key, 0) + r["score"], 3)
    images = sum(1 for r in results if r.get("graded_notebook")
                 for c in r["graded_notebook"]["cells"] for o in c.get("outputs", [])
                 if "image/png" in o.get("data", {}))
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "sampler": sampler, "scores": scores, "results": results,
            "images": images}


def floor_seconds(submissions, graded):
    """Each graded submission's own work, the cells our grader runs (the learner's code
    cells up to the notebook's last test, with the master's test cells, hidden tests
    included, where nbgrader runs them), timed cell by cell in a kernel that is already
    started, warmed as the launcher warms ours, and drawing nothing, as ours by default.
    One such kernel per assignment, with ``%reset -f`` between submissions.
    Returns ({(student, assignment, notebook): seconds}, CPU seconds that the floor kernels
    and this process's client spent in those cells)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from grader import collect, grade

    floors, cpu = {}, [0.0]
    for aid in sorted({r["assignment"] for r in graded}):
        mine = [r for r in graded if r["assignment"] == aid]
        masters = {m.name: m for m in course.read_notebooks(aid)}
        scratch = nbformat.v4.new_notebook()
        client = NotebookClient(scratch, timeout=120, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(course.RELEASE / aid)}})

        def run(source):
            cell = nbformat.v4.new_code_cell(source)
            scratch.cells.append(cell)
            client.execute_cell(cell, len(scratch.cells) - 1)

        def kernel_cpu():
            try:
                t = psutil.Process(client.km.provisioner.pid).cpu_times()
            except (psutil.Error, AttributeError):
                return 0.0
            return t.user + t.system

        def fresh_kernel():
            if client.km is not None:
                client._cleanup_kernel()
            client.km = client.create_kernel_manager()
            client.start_new_kernel(env=ENV, cwd=str(course.RELEASE / aid),
                                    stderr=subprocess.DEVNULL)
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
                for kind, item in grade.graded_part(grade.plan(nb, masters[r["notebook"]])):
                    start, k0, p0 = time.monotonic(), kernel_cpu(), time.process_time()
                    try:
                        run(item.source)
                    except (CellTimeoutError, DeadKernelError):
                        total += time.monotonic() - start
                        k1 = kernel_cpu()   # 0 for a dead kernel: count its wall time
                        cpu[0] += time.process_time() - p0 + (
                            k1 - k0 if k1 >= k0 else time.monotonic() - start)
                        fresh_kernel()
                        break
                    total += time.monotonic() - start
                    cpu[0] += kernel_cpu() - k0 + time.process_time() - p0
                floors[(r["student"], aid, r["notebook"])] = total
        finally:
            client._cleanup_kernel()
    return floors, cpu[0]


# ----------------------------------------------------------------------------- report
def spread(values):
    values = sorted(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return (f"median {statistics.median(values):.0f}, range {values[0]:.0f} to {values[-1]:.0f}, "
            f"mean {statistics.mean(values):.0f} ± {sd:.0f} (sd)")


def compare(label, a, b):
    keys = set(a) | set(b)
    differ = sorted(k for k in keys if a.get(k, 0.0) != b.get(k, 0.0))
    print(f"scores, {label}: {len(keys)} (student, assignment) pairs, {len(differ)} differ")
    for k in differ[:10]:
        print(f"  {k}: {a.get(k, 0.0)} against {b.get(k, 0.0)}")
    return len(differ)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=40)
    p.add_argument("--workers", type=int, default=None, help="ours: default = all cores")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--skip-stock", action="store_true", help="only time this grader")
    args = p.parse_args()
    ids = course.assignments()
    work = Path(tempfile.mkdtemp(prefix="gru-bench-"))
    submissions = work / "submissions"
    plan = make_cohort(submissions, args.students, args.seed, ids)
    n_notebooks = sum(1 for _ in submissions.glob("*/*/*.ipynb"))
    workers = args.workers or os.cpu_count()
    print(f"cohort: {args.students} students x {len(ids)} assignments, {n_notebooks} notebooks "
          f"submitted; {psutil.cpu_count()} cores, {workers} workers; {args.rounds} rounds")
    profiles = {}
    for profile in plan.values():
        profiles[profile] = profiles.get(profile, 0) + 1
    print("profiles: " + ", ".join(f"{k} {v}" for k, v in sorted(profiles.items())))
    course_root = None if args.skip_stock else stock_course(work, submissions, ids)
    shares = [ids[i::args.rounds] for i in range(args.rounds)]

    rounds, stock_s, stock_peak = [], 0.0, 0
    for i in range(args.rounds):
        row = {"speed before": speed_check()}
        a = ours(work, submissions, args.workers)
        graded = [r for r in a["results"] if r["status"] not in NO_RESULT]
        floors, floor_cpu = floor_seconds(submissions, graded)
        c = ours(work, submissions, args.workers, figures=True)
        for aid in ([] if args.skip_stock else shares[i]):
            seconds, peak = stock_nbgrader(course_root, aid)
            stock_s, stock_peak = stock_s + seconds, max(stock_peak, peak)
        row.update(ours=a, floors=floors, figures=c, graded=len(graded),
                   speed_after=speed_check())
        row["cost_ms"] = a["seconds"] * workers / len(graded) * 1000
        row["floor_ms"] = sum(floors.values()) / len(graded) * 1000
        row["cpu_ms"] = sum(a["sampler"].cpu_by_role().values()) / len(graded) * 1000
        row["floor_cpu_ms"] = floor_cpu / len(graded) * 1000
        print(f"round {i + 1}: ours {a['seconds']:.1f} s, floor {sum(floors.values()):.1f} s "
              f"({len(graded)} notebooks), ours --figures {c['seconds']:.1f} s; per notebook "
              f"and worker {row['cost_ms']:.0f} ms against a floor of {row['floor_ms']:.0f} ms: "
              f"{row['cost_ms'] - row['floor_ms']:.0f} ms above it (CPU time: "
              f"{row['cpu_ms']:.0f} against {row['floor_cpu_ms']:.0f} ms, "
              f"{row['cpu_ms'] - row['floor_cpu_ms']:.0f} above); machine speed check "
              f"{row['speed before']:.3f} s then {row['speed_after']:.3f} s"
              + ("" if args.skip_stock else f"; nbgrader {', '.join(shares[i])} so far {stock_s:.1f} s"),
              flush=True)
        rounds.append(row)

    memory = ours(work, submissions, args.workers, pss=True, name="ours-memory")
    last = rounds[-1]
    by_assignment = {}
    for (_, aid, _), seconds in last["floors"].items():
        by_assignment.setdefault(aid, []).append(seconds)
    ours_s = statistics.mean(r["ours"]["seconds"] for r in rounds)
    fig_s = statistics.mean(r["figures"]["seconds"] for r in rounds)
    print("\nfloor (the work itself, warm kernel, nothing drawn), mean per notebook, last round: "
          + ", ".join(f"{a} {statistics.mean(v) * 1000:.0f} ms" for a, v in sorted(by_assignment.items())))
    print(f"this grader, default : {ours_s:6.1f} s wall (mean of {len(rounds)}), "
          f"{ours_s / n_notebooks:.3f} s per notebook submitted, "
          f"{sum(r['ours']['images'] for r in rounds)} image outputs")
    print(f"this grader, --figures: {fig_s:6.1f} s wall (mean of {len(rounds)}), "
          f"{fig_s / n_notebooks:.3f} s per notebook submitted, "
          f"{rounds[-1]['figures']['images']} image outputs a run")
    over = [r["cost_ms"] - r["floor_ms"] for r in rounds]
    print(f"per graded notebook and worker, above the floor (ms, {len(rounds)} rounds): "
          f"{spread(over)}; round by round: " + ", ".join(f"{o:.0f}" for o in over))
    print(f"  cost {spread([r['cost_ms'] for r in rounds])}; "
          f"floor {spread([r['floor_ms'] for r in rounds])}")
    cpu_over = [r["cpu_ms"] - r["floor_cpu_ms"] for r in rounds]
    print(f"the same in CPU time (ms a graded notebook; less sensitive to other processes on "
          f"the machine): {spread(cpu_over)}; round by round: "
          + ", ".join(f"{o:.0f}" for o in cpu_over))
    n = last["graded"]
    cpu = last["ours"]["sampler"].cpu_by_role()
    print("  CPU time of the last default run, ms per graded notebook: "
          + ", ".join(f"{k} {v / n * 1000:.0f}" for k, v in sorted(cpu.items()))
          + f"; all {sum(cpu.values()) / n * 1000:.0f} (of {last['ours']['seconds'] * workers / n * 1000:.0f} "
            "core-ms a notebook)")
    m = memory["sampler"]
    mib = 2 ** 20
    print(f"memory (PSS: shared pages counted once; one more default run sampled every 0.1 s, "
          f"{memory['seconds']:.1f} s): a worker's launcher {m.launcher_pss / mib:.0f} MiB, a "
          f"kernel {m.kernel_pss / mib:.0f} MiB, a launcher with its kernel {m.pair_pss / mib:.0f} "
          f"MiB (limit 1024), a worker process {m.worker_pss / mib:.0f} MiB; the whole run "
          f"{m.peak_pss / mib:.0f} MiB PSS at its peak (RSS summed: {m.peak_rss / mib:.0f} MiB)")
    differ = compare("default against --figures", last["ours"]["scores"], last["figures"]["scores"])
    for r in rounds[:-1]:
        differ += compare("default, round against round", r["ours"]["scores"], last["ours"]["scores"])
    if args.skip_stock:
        shutil.rmtree(work, ignore_errors=True)
        return 1 if differ else 0
    stock = stock_scores(course_root)
    print(f"nbgrader    : {stock_s:7.1f} s wall, {stock_s / n_notebooks:.3f} s per notebook, "
          f"peak RSS {stock_peak / mib:.0f} MiB (one notebook at a time); ours peak RSS "
          f"{max(r['ours']['sampler'].peak_rss for r in rounds) / mib:.0f} MiB")
    print(f"\nthroughput ratio (nbgrader wall / this grader wall): {stock_s / ours_s:.1f}x "
          f"by default (target >= 10x), {stock_s / fig_s:.1f}x with --figures")
    differ += compare("default against nbgrader", last["ours"]["scores"], stock)
    differ += compare("--figures against nbgrader", last["figures"]["scores"], stock)
    shutil.rmtree(work, ignore_errors=True)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
