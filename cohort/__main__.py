"""``python -m cohort OUT [--students N] [--seed S]``: write a synthetic cohort."""
import argparse
from collections import Counter

from .synth import make_cohort

p = argparse.ArgumentParser(prog="python -m cohort", description=__doc__)
p.add_argument("out")
p.add_argument("--students", type=int, default=24)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--assignment", action="append")
a = p.parse_args()
plan = make_cohort(a.out, a.students, a.seed, a.assignment)
counts = Counter(plan.values())
print(f"wrote {a.students} students to {a.out}: " + ", ".join(f"{n} {k}" for k, n in counts.most_common()))
