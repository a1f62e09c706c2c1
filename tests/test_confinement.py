"""An attacker's notebooks against the confinement, graded through the real CLI.

Each case checks the effect, not the mechanism: the victim process lives, no file outside
the kernel's own folder changed or appeared, no secret reached any output, the run ends
within its time budget, and every honest student keeps full marks. The same file runs as
root and, in CI, as an ordinary user on a copy that user owns (``.ci/run``).
"""
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

from cohort.submissions import answers_for, fill, write
from conftest import ROOT, read_grades, run_cli
from grader import course
from hostile_cases import A, NB, insert_after, notebook, prefix_body, save

SECRET_ENV = "s3cr3t-env-7f3a"
SECRET_CMDLINE = "s3cr3t-cmdline-9b2c"
TIMEOUT = 25

KILL = """
import os, signal
hits = []
for pid in [{victim}, os.getppid(), 1]:
    try:
        os.kill(pid, signal.SIGKILL); hits.append(pid)
    except OSError as exc:
        print("no kill", pid, type(exc).__name__)
for fd in range(3, 200):       # a pid into every inherited descriptor (the old zygote pipe)
    try:
        os.write(fd, b"{victim}\\n")
    except OSError:
        pass
print("killed", hits)
"""

PLANT = """
import os, sys, glob
for i, target in enumerate(glob.glob(sys.prefix + "/lib/python3*/site-packages/numpy/*.py")[:5]):
    for name in (f".grader-in-{{i}}.pkl", f"link{{i}}"):
        try:
            os.symlink(target, name)
        except OSError:
            pass
    try:
        with open(target, "a") as f:
            f.write("# pwned")
        print("LEAK wrote", target)
    except OSError as exc:
        print("no write", type(exc).__name__)
for folder in ("/tmp", "/dev/shm", "/var/tmp", {home!r}):
    try:
        with open(os.path.join(folder, "gru-leak-marker"), "w") as f:
            f.write("x")
        print("LEAK planted", folder)
    except OSError as exc:
        print("no plant", folder, type(exc).__name__)
"""

SNOOP = """
import os, socket, glob
print("env", sorted(os.environ.items()))
for path in glob.glob("/proc/[0-9]*/cmdline") + glob.glob("/proc/[0-9]*/environ"):
    try:
        print(open(path, "rb").read()[:300])
    except OSError:
        pass
for what, path in [("other copy", {copy!r}), ("home", {home!r} + "/.bash_history")]:
    try:
        print("LEAK", what, open(path).read()[:50])
    except OSError as exc:
        print("no access", what, type(exc).__name__)
for family, kind, addr in [(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", {port})),
                           (socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", {port})),
                           (socket.AF_UNIX, socket.SOCK_STREAM, "\\0gru-test-abstract")]:
    try:
        s = socket.socket(family, kind)
        s.connect(addr)
        s.sendall(b"hello") if kind == socket.SOCK_STREAM else s.send(b"hello")
        print("LEAK network", family, kind)
    except OSError as exc:
        print("no network", type(exc).__name__)
"""

STEAL = """
import os, threading
def steal():
    while True:
        for fd in range(3, 64):
            try:
                os.read(fd, 1 << 16)
                os.write(fd, b"\\xff" * 64)
            except OSError:
                pass
threading.Thread(target=steal, daemon=True).start()
"""

FIND = """
import os, glob
print("found", glob.glob("/tmp/gru-leak*") + glob.glob("/dev/shm/*") + glob.glob(os.path.expanduser("~/*")))
"""


def _hash(paths):
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _watched():
    import numpy

    site = Path(numpy.__file__).parent
    return [*site.glob("*.py"), *(ROOT / "grader").glob("*.py"),
            *(ROOT / "solutions" / "gru_reference").glob("*.py")]


class Listener(threading.Thread):
    """A TCP and a UDP server on loopback that count who reached them."""

    def __init__(self):
        super().__init__(daemon=True)
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp.listen()
        self.tcp.settimeout(0.2)
        self.udp.settimeout(0.2)
        self.hits, self.stop = 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            for sock, take in ((self.tcp, lambda s: s.accept()), (self.udp, lambda s: s.recv(64))):
                try:
                    take(sock)
                    self.hits += 1
                except OSError:
                    pass


def _other_copy():
    """Another clone of the course, readable by every user, where an instructor might keep
    one (not under pytest's private folder, which the grader started as root hides anyway:
    only Landlock may be what stops the probe)."""
    folder = Path(tempfile.mkdtemp(prefix="gru-other-copy-"))
    folder.chmod(0o755)
    copy = folder / "cell.py"
    shutil.copy(ROOT / "solutions" / "gru_reference" / "cell.py", copy)
    copy.chmod(0o644)
    return copy


@pytest.fixture(scope="module")
def attack(tmp_path_factory):
    root = tmp_path_factory.mktemp("attack")
    subs, out = root / "subs", root / "out"
    copy = _other_copy()
    home = Path(os.path.expanduser("~"))
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)", SECRET_CMDLINE])
    listener = Listener()
    listener.start()
    fmt = {"victim": victim.pid, "home": str(home), "copy": str(copy), "port": listener.port}
    cells = {"kill": KILL, "plant": PLANT, "snoop": SNOOP, "steal": STEAL, "find": FIND}
    for name, code in cells.items():
        save(subs, f"conf-{name}", insert_after(notebook(), "imports", code.format(**fmt)))
    # a learner's nbgrader metadata turns an answer cell into a 100-point graded cell
    nb = notebook()
    for cell in nb.cells:
        meta = course.nbgrader_meta(cell)
        if meta.get("solution"):
            meta.update(grade=True, points=100)
    save(subs, "conf-points-on-answer", nb)
    # a submission that is a link to the master, one that is a FIFO
    (subs / "conf-link-to-master" / A).mkdir(parents=True)
    os.symlink(course.SOLUTIONS / A / f"{NB}.ipynb", subs / "conf-link-to-master" / A / f"{NB}.ipynb")
    (subs / "conf-fifo" / A).mkdir(parents=True)
    os.mkfifo(subs / "conf-fifo" / A / f"{NB}.ipynb")
    # statuses that tell the truth
    save(subs, "conf-deep-json", "[" * 200_000 + "]" * 200_000)
    save(subs, "conf-interrupt-subclass", notebook(edit=prefix_body(
        "update_gate", "class Stop(KeyboardInterrupt):\n    pass\nraise Stop('mine')")))
    master = course.course_notebooks()[A][0]
    for honest in ("zz-honest-1", "zz-honest-2", "zz-honest-3"):
        write(fill(A, NB, answers_for(master)), subs, honest, A, NB)
    before = _hash(_watched())
    env = dict(os.environ, PGPASSWORD=SECRET_ENV, GRU_TEST_SECRET=SECRET_ENV)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", "autograde", "--submissions", subs,
                           "--out", out, "--assignment", A, "--timeout", str(TIMEOUT),
                           "--workers", "2"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    elapsed = time.monotonic() - start
    listener.stop.set()
    victim_alive = victim.poll() is None
    victim.kill()
    shutil.rmtree(copy.parent)
    yield {"proc": proc, "out": out, "grades": read_grades(out) if proc.returncode == 0 else {},
           "before": before, "elapsed": elapsed, "victim_alive": victim_alive,
           "listener": listener, "home": home}


def _dump(attack, student):
    """What the learner's cells printed (outputs only: the sources name the probes)."""
    path = attack["out"] / "results" / student / A / f"{NB}.json"
    if not path.exists():
        return ""
    cells = json.loads(path.read_text())["graded_notebook"]["cells"]
    return json.dumps([c.get("outputs", []) for c in cells])


def test_the_run_completes(attack):
    assert attack["proc"].returncode == 0, attack["proc"].stderr[-3000:]


def test_victim_lives_and_grader_is_not_killed(attack):
    assert attack["victim_alive"]
    # junk written into its own descriptors may wreck its own kernel: that costs only it
    assert attack["grades"][("conf-kill", A)]["status"] in {"graded", "timeout", "kernel_died"}


def test_nothing_outside_the_kernel_changed_or_appeared(attack):
    assert _hash(_watched()) == attack["before"]
    for folder in ("/tmp", "/dev/shm", "/var/tmp", str(attack["home"])):
        assert not os.path.exists(os.path.join(folder, "gru-leak-marker")), folder
    assert "LEAK" not in _dump(attack, "conf-plant")
    assert "no plant" in _dump(attack, "conf-plant")
    assert "gru-leak" not in _dump(attack, "conf-find")


def test_no_secret_in_any_output(attack):
    everything = "".join(p.read_text(errors="replace") for p in attack["out"].rglob("*")
                         if p.is_file() and p.suffix in (".json", ".html", ".txt", ".csv"))
    assert "no network" in _dump(attack, "conf-snoop")
    assert "no access other copy" in _dump(attack, "conf-snoop")
    for secret in (SECRET_ENV, SECRET_CMDLINE):
        assert secret not in everything
    for student in ("conf-snoop", "conf-plant", "conf-kill", "conf-find"):
        assert "LEAK" not in _dump(attack, student)
    assert attack["listener"].hits == 0


def test_a_hostile_channel_costs_only_its_own_time(attack):
    row = attack["grades"][("conf-steal", A)]
    assert row["status"] in {"graded", "timeout"}, row
    assert row["retries"] == "0", row   # its own doing: never retried as the grader's fault
    # 12 notebooks on 2 workers: far below one budget each, whatever the thief does
    assert attack["elapsed"] < 6 * TIMEOUT + 120


def test_learner_metadata_never_makes_a_graded_cell(attack):
    row = attack["grades"][("conf-points-on-answer", A)]
    assert (row["status"], float(row["score"]), float(row["max_score"])) == ("graded", 15.0, 15.0)


def test_links_and_fifos_are_refused(attack):
    for student in ("conf-link-to-master", "conf-fifo"):
        row = attack["grades"][(student, A)]
        assert row["status"] == "invalid_notebook" and float(row["score"]) == 0, row
        assert "refused" in row["detail"], row


def test_statuses_tell_the_truth(attack):
    deep = attack["grades"][("conf-deep-json", A)]
    assert deep["status"] == "invalid_notebook" and "nested too deeply" in deep["detail"], deep
    mine = attack["grades"][("conf-interrupt-subclass", A)]
    assert mine["status"] == "graded", mine
    assert "Stop" in _dump(attack, "conf-interrupt-subclass")


def test_every_honest_student_keeps_full_marks(attack):
    for student in ("zz-honest-1", "zz-honest-2", "zz-honest-3", "conf-plant",
                    "conf-snoop", "conf-find"):
        row = attack["grades"][(student, A)]
        assert (row["status"], float(row["score"])) == ("graded", 15.0), row
        assert row["confined"] == "yes"


def test_probes_do_leak_when_unconfined(tmp_path):
    """The probes above are real: with --unconfined the same code reads the other copy of
    the course and reaches the network (so a pass above is the confinement's doing)."""
    listener = Listener()
    listener.start()
    copy = _other_copy()
    subs = tmp_path / "subs"
    save(subs, "snoop", insert_after(notebook(), "imports", SNOOP.format(
        victim=0, home=str(tmp_path), copy=str(copy), port=listener.port)))
    proc = run_cli("autograde", "--submissions", subs, "--out", tmp_path / "out",
                   "--assignment", A, "--unconfined", "--workers", "1")
    listener.stop.set()
    shutil.rmtree(copy.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dump = _dump({"out": tmp_path / "out"}, "snoop")
    assert "LEAK other copy" in dump and listener.hits >= 1
    row = read_grades(tmp_path / "out")[("snoop", A)]
    assert row["confined"] == "no"
    assert "Unconfined run" in (tmp_path / "out" / "report" / "index.html").read_text()


def test_injected_kernel_deaths_are_retried(tmp_path):
    """A kernel killed right after it started (before any learner code) is the grader's
    fault: once or twice, the row still ends graded with full marks and the retries are
    counted; every time, the row says error with the cause."""
    master = course.course_notebooks()[A][0]
    results = {}
    for student, times in (("once", 1), ("twice", 2), ("always", 3)):
        subs = tmp_path / f"subs-{student}"   # the faulty student and one left alone
        for who in (student, "ok"):
            write(fill(A, NB, answers_for(master)), subs, who, A, NB)
        env = dict(os.environ, GRU_GRADER_FAULTS=f"kill-kernel-after-start={student}:{times}")
        out = tmp_path / f"out-{student}"
        proc = subprocess.run([sys.executable, "-m", "grader", "autograde", "--submissions",
                               subs, "--out", out, "--assignment", A, "--workers", "2"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-2000:]
        results[student] = (read_grades(out), proc.stdout)
    for student, times in (("once", 1), ("twice", 2)):
        grades, stdout = results[student]
        row = grades[(student, A)]
        assert (row["status"], float(row["score"]), row["retries"]) == ("graded", 15.0, str(times))
        assert f"{times} fresh kernels for grader faults in 1 notebooks" in stdout
        assert grades[("ok", A)]["retries"] == "0"
    row = results["always"][0][("always", A)]
    assert row["status"] == "error" and "before the learner's first cell" in row["detail"], row


# a cell that waits until the test has looked (the file "go" in the kernel's own folder)
GATE = """
import os, time
open("waiting", "w").close()
while not os.path.exists("go"):
    time.sleep(0.05)
"""


def _wait_until(condition, seconds, what):
    """Poll ``condition`` until it holds; ``seconds`` only bounds a run that went wrong."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _has_root(process):
    import psutil

    try:
        return 0 in process.uids()
    except psutil.Error:   # gone
        return False


@pytest.mark.skipif(os.geteuid() != 0, reason="only a grader started as root has rights to drop")
def test_started_as_root_only_the_launchers_keep_root(tmp_path):
    """While notebooks are graded, the main process and the workers (which read submissions,
    kernel replies, outputs and write every file) run as the unprivileged grader identity
    with no saved root; only the launchers are root, and ``--out`` belongs to the grader.
    The notebook's kernel waits (GATE) until the test has seen every process it looks for."""
    import psutil

    subs = tmp_path / "subs"
    # after the imports (a cell after the last test would not run)
    save(subs, "slow", insert_after(notebook(), "imports", GATE))
    proc = subprocess.Popen([sys.executable, "-m", "grader", "autograde", "--submissions", subs,
                             "--out", tmp_path / "out", "--assignment", A, "--workers", "1",
                             "--timeout", "300"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def tree():
        try:
            return [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        except psutil.Error:
            return []

    def waiting_kernel():
        return next((p for p in tree() if os.path.exists(f"/proc/{p.pid}/cwd/waiting")), None)

    try:
        _wait_until(lambda: waiting_kernel() or proc.poll() is not None, 240,
                    "the kernel never reached its first cell")
        kernel = waiting_kernel()
        assert kernel is not None, proc.communicate()[1][-2000:]
        seen = {}
        for p in tree():
            try:
                cmd, uids = " ".join(p.cmdline()), tuple(p.uids())
                parent = " ".join(p.parent().cmdline())
            except psutil.Error:
                continue
            if p.pid == kernel.pid:
                seen["kernel"] = uids
            elif "launcher.py" in cmd and "launcher.py" not in parent:
                seen["launcher"] = uids
            elif "spawn_main" in cmd:
                seen["worker"] = uids
            elif p.pid == proc.pid:
                seen["main"] = uids
            elif 0 in uids and "launcher.py" not in cmd:
                # multiprocessing's resource tracker; a fork of the main process (run_as)
                # is root only until it drops, a moment after fork
                _wait_until(lambda: not _has_root(p), 60, f"{cmd} kept root")
    finally:
        if waiting_kernel():
            open(f"/proc/{waiting_kernel().pid}/cwd/go", "w").close()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert seen.get("launcher") == (0, 0, 0), seen
    for role in ("main", "worker", "kernel"):
        assert seen.get(role) and 0 not in seen[role], seen
    assert (tmp_path / "out" / "grades.csv").stat().st_uid != 0
    assert read_grades(tmp_path / "out")[("slow", A)]["status"] == "graded"


LEAVE_BEHIND = """
import os, subprocess
subprocess.Popen(["sleep", "987655"], start_new_session=True)
d = os.open(".", os.O_RDONLY)
for i in range(1500):          # deeper than shutil.rmtree's recursion and than PATH_MAX
    os.mkdir("d", dir_fd=d)
    nd = os.open("d", os.O_RDONLY, dir_fd=d)
    os.close(d)
    d = nd
os.mkdir("locked")
os.chmod("locked", 0)
print("left behind in", os.getcwd())
"""

LOOK_AROUND = """
import glob, os
def _read(path):
    try:
        return open(path, "rb").read()
    except OSError:
        return b""
alive = [p for p in glob.glob("/proc/[0-9]*/cmdline") if b"987655" in _read(p)]
print("LEAK alive" if alive else "nothing of the last kernel")
print("looked in", os.getcwd())
"""


def test_nothing_of_a_kernel_outlives_its_notebook(tmp_path):
    """One worker: a kernel leaves a session-leader process, a 1,500-level folder tree and a
    locked folder; the next kernel finds none of its processes, and after the run nothing
    of either is left (no process, no kernel folder, no temporary folder of the grader).
    What is looked for is this run's own: the folders its kernels said they ran in, and a
    temporary folder of its own for the grader (other runs on the machine come and go)."""
    subs = tmp_path / "subs"
    save(subs, "a-leaves", insert_after(notebook(), "imports", LEAVE_BEHIND))
    save(subs, "b-looks", insert_after(notebook(), "imports", LOOK_AROUND))
    own_tmp = Path(tempfile.mkdtemp(prefix="gru-test-tmp-"))
    own_tmp.chmod(0o1777)   # like /tmp: the grader's user writes there too
    try:
        proc = subprocess.run([sys.executable, "-m", "grader", "autograde", "--submissions", subs,
                               "--out", tmp_path / "out", "--assignment", A, "--workers", "1",
                               "--timeout", "60"], cwd=ROOT, capture_output=True, text=True,
                              timeout=900, env=dict(os.environ, TMPDIR=str(own_tmp)))
        assert proc.returncode == 0, proc.stderr[-2000:]
        left_in_tmp = sorted(p.name for p in own_tmp.iterdir())
    finally:
        shutil.rmtree(own_tmp, ignore_errors=True)
    grades = read_grades(tmp_path / "out")
    for student in ("a-leaves", "b-looks"):
        row = grades[(student, A)]
        assert (row["status"], float(row["score"]), row["retries"]) == ("graded", 15.0, "0"), row
    leaves = _dump({"out": tmp_path / "out"}, "a-leaves")
    looks = _dump({"out": tmp_path / "out"}, "b-looks")
    assert "nothing of the last kernel" in looks
    said = [re.search(r"left behind in (/[^\\\"]+)", leaves), re.search(r"looked in (/[^\\\"]+)", looks)]
    assert all(said), (leaves, looks)
    for workdir in (Path(m[1]) for m in said):
        assert workdir.parent.name.startswith("gru-kernels-"), workdir
        assert not workdir.parent.exists(), workdir   # the kernel's folder and its launcher's
    assert not [p for p in psutil_cmdlines() if "987655" in p]
    assert left_in_tmp == [], left_in_tmp   # no gru-mounts-*, gru-grader-home-*, ...


def psutil_cmdlines():
    import psutil

    out = []
    for p in psutil.process_iter(["cmdline"]):
        out.append(" ".join(p.info["cmdline"] or []))
    return out
