"""Code similarity at scale: ``python benchmarks/similarity.py [--students 1000]``.

A synthetic cohort of one assignment (01_gates): every learner writes each exercise in one
of several styles or as the course's solution, with checks of their own at the top of each
function; 2 % of them copy another learner with random disguises (renamed variables,
changed comments and layout, reordered code, an extra helper). Prints the time of the
analysis (normalizing, fingerprinting, the inverted index and the scores), the pairs
considered against all pairs, and how many planted copies were listed.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cohort.styles import synthetic_cohort  # noqa: E402
from cohort.submissions import answers_for  # noqa: E402
from grader import course, similarity  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--students", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pages", metavar="DIR", help="also write the pages to DIR/report/similarity/")
    a = p.parse_args()
    master = course.course_notebooks()["01_gates"][0]
    answers, planted = synthetic_cohort(a.students, a.seed, usual=answers_for(master))
    starters = similarity.starter_cells("01_gates")
    t0 = time.perf_counter()
    an = similarity.analyse("01_gates", answers, starters, usual=similarity.solution_cells("01_gates"))
    t1 = time.perf_counter()
    listed = {frozenset((x.a, x.b)) for x in an.listed}
    found = len(planted & listed)
    print(f"{len(answers)} submissions of 01_gates, judged: {', '.join(an.judged)}"
          + (f"; too short: {', '.join(an.too_short)}" if an.too_short else ""))
    print(f"analysis: {t1 - t0:.1f} s")
    print(f"pairs considered: {len(an.pairs)} of {an.total_pairs} "
          f"({100 * len(an.pairs) / max(an.total_pairs, 1):.2f}%), rare = in at most {an.rare_cap} submissions")
    print(f"listed: {len(listed)} pairs; planted copies listed: {found} of {len(planted)}; "
          f"listed pairs not planted: {len(listed - planted)}")
    if a.pages:
        t2 = time.perf_counter()
        folder = similarity.write_pages(a.pages, [an])
        print(f"pages: {time.perf_counter() - t2:.1f} s -> {folder}")


if __name__ == "__main__":
    main()
