"""Command line: ``python -m grader release|autograde|report|export|check``."""
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
    auto.add_argument("--db-url", default=None,
                      help="gradebook URL, e.g. postgresql://user@host/db (default: sqlite in --out)")
    auto.add_argument("--dask", metavar="tcp://HOST:PORT", default=None,
                      help="grade on this Dask scheduler's workers instead of local processes")
    auto.add_argument("--regrade", action="store_true",
                      help="grade everything again instead of reusing saved results")
    auto.add_argument("--unconfined", action="store_true",
                      help="grade where kernels cannot be confined (no Landlock/seccomp): learner "
                           "code then has this account's rights; grades.csv and the report say so")
    auto.add_argument("--grader-user", metavar="USER",
                      help="started as root: the unprivileged user that reads submissions and "
                           "writes --out (default: the sudo user, else nobody); only the kernel "
                           "launchers keep root")
    auto.add_argument("--dask-tls-ca", metavar="FILE", help="CA certificate for --dask tls://")
    auto.add_argument("--dask-tls-cert", metavar="FILE", help="this client's TLS certificate")
    auto.add_argument("--dask-tls-key", metavar="FILE", help="this client's TLS key")

    rep = sub.add_parser("report", help="class report of an autograde run: --out/report/index.html")
    rep.add_argument("--out", required=True, help="the --out folder of an autograde run")

    exp = sub.add_parser("export", help="grades for Canvas, Moodle or as nbgrader's CSV")
    exp.add_argument("--out", required=True, help="the --out folder of an autograde run")
    exp.add_argument("--format", required=True, choices=["canvas", "moodle", "nbgrader"])
    exp.add_argument("--to", default=None, help="file to write (default: OUT/export/FORMAT.csv)")
    exp.add_argument("--roster", default=None,
                     help="CSV with student_id and the platform's ids (name, canvas_id, "
                          "sis_user_id, sis_login_id, section, id_number, email, username)")
    exp.add_argument("--canvas-assignment-id", action="append", metavar="ASSIGNMENT=ID",
                     help="Canvas id of an existing assignment (repeatable); otherwise Canvas "
                          "matches the column by title or creates the assignment")
    exp.add_argument("--moodle-id", default="idnumber", choices=["idnumber", "email", "username"],
                     help="the column Moodle identifies learners by (default: idnumber)")
    exp.add_argument("--blank-missing", action="store_true",
                     help="leave the cell empty (not 0) where nothing was submitted")
    exp.add_argument("--db-url", default=None, help="gradebook URL for --format nbgrader")

    chk = sub.add_parser("check", help="for learners: run a notebook's visible tests before "
                                       "submitting it")
    chk.add_argument("notebook", help="your notebook, e.g. notebooks/01_gates/gru_gates.ipynb")
    chk.add_argument("--assignment", default=None,
                     help="the assignment it belongs to (default: recognised from its cells)")
    chk.add_argument("--timeout", type=float, default=300.0,
                     help="seconds for the whole notebook (default 300)")
    chk.add_argument("--memory-mb", type=int, default=4096, help="memory for the kernel (default 4096)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if args.command == "release":
        from .release import main as run
    elif args.command == "report":
        from .class_report import main as run
    elif args.command == "export":
        from .lms import main as run
    elif args.command == "check":
        from .student_check import main as run
    else:
        from .autograde import main as run
    return run(args)
