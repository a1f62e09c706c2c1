"""What confinement costs a kernel: start-up, one call into it, and the end, for kernels
started confined and unconfined by the same warm launchers, interleaved (ABAB...) so that
the machine's drift cancels.

    .venv/bin/python benchmarks/confinement.py [--rounds 15]
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nbformat  # noqa: E402
import numpy as np  # noqa: E402

from grader.session import KernelSession, Limits  # noqa: E402

SIGMOID = "import numpy as np\ndef sigmoid(a):\n    return 1 / (1 + np.exp(-a))"


def one(confined):
    t0 = time.perf_counter()
    with KernelSession("01_gates", Limits(timeout=60, confined=confined)) as session:
        t1 = time.perf_counter()
        session.run_cell(nbformat.v4.new_code_cell(SIGMOID))
        session.lookup(["sigmoid"])["sigmoid"](np.zeros(3))
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, time.perf_counter() - t2


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=15)
    rounds = p.parse_args().rounds
    for confined in (True, False):   # warm both launchers first
        one(confined)
    runs = {True: [], False: []}
    for _ in range(rounds):
        for confined in (True, False):
            runs[confined].append(one(confined))
    print(f"{rounds} kernels each, interleaved; median (min-max) in ms")
    for i, what in enumerate(("start", "cell + call", "end")):
        c = [r[i] * 1000 for r in runs[True]]
        u = [r[i] * 1000 for r in runs[False]]
        print(f"{what:>12}: confined {statistics.median(c):6.1f} ({min(c):.0f}-{max(c):.0f})"
              f"  unconfined {statistics.median(u):6.1f} ({min(u):.0f}-{max(u):.0f})"
              f"  ratio {statistics.median(c) / statistics.median(u):.2f}")


if __name__ == "__main__":
    main()
