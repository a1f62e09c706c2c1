"""Command line: ``python -m grader release`` and ``python -m grader autograde``."""
import argparse


def parser():
    p = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    rel = sub.add_parser("release", help="solutions/ -> notebooks/ (student versions)")
    rel.add_argument("--assignment", action="append", help="only this assignment (repeatable)")

    auto = sub.add_parser("autograde", help="grade a folder of submissions")
    auto.add_argument("--submissions", required=True,
                      help="STUDENT/ASSIGNMENT/NOTEBOOK.ipynb folders")
    auto.add_argument("--out", required=True, help="grades.csv, gradebook.db, feedback/ go here")
    auto.add_argument("--workers", type=int, default=None, help="parallel kernels (default: all cores)")
    auto.add_argument("--timeout", type=float, default=60.0, help="seconds per notebook (default 60)")
    auto.add_argument("--memory-mb", type=int, default=2048, help="memory per kernel (default 2048)")
    auto.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    auto.add_argument("--db-url", default=None, help="gradebook URL (default: sqlite in --out)")
    auto.add_argument("--regrade", action="store_true",
                      help="grade everything again instead of reusing saved results")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if args.command == "release":
        from .release import main as run
    else:
        from .autograde import main as run
    return run(args)
