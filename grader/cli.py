"""Command line: python -m grader release|autograde|report|export|check."""
import argparse

from . import defaults

DESCRIPTION = """\
The autograder of the GRU course.

Instructors: release the student notebooks, autograde a cohort, write the class report,
export the grades for Canvas or Moodle. Learners: check a notebook before submitting it.
Run "python -m grader COMMAND --help" for a command's options and an example."""

EPILOG = """\
examples:
  python -m grader release
  python -m grader autograde --submissions submissions/ --out graded/
  python -m grader export --out graded/ --format canvas
  python -m grader check notebooks/01_gates/gru_gates.ipynb"""

LIMITS = (f"A notebook gets {defaults.TIMEOUT_S:g} s and {defaults.MEMORY_MB} MB unless "
          "--timeout and --memory-mb say otherwise:\n"
          "check and autograde share these defaults.")


def _sub(sub, name, help, description, examples):
    return sub.add_parser(name, help=help, description=description,
                          epilog="example" + ("s" if len(examples) > 1 else "") + ":\n"
                          + "\n".join(f"  {e}" for e in examples),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def parser():
    p = argparse.ArgumentParser(prog="python -m grader", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    rel = _sub(sub, "release", "solutions/ -> notebooks/ (student versions)", """\
Generate the student notebooks notebooks/ASSIGNMENT/ from the master notebooks in
solutions/ with nbgrader's generate_assignment: solutions and hidden tests removed,
outputs cleared, test cells locked. Run it after every change to solutions/.""",
               ["python -m grader release",
                "python -m grader release --assignment 01_gates --assignment 02_backprop"])
    rel.add_argument("--assignment", action="append", help="only this assignment (repeatable)")

    auto = _sub(sub, "autograde", "grade a cohort: folders or an LMS zip", f"""\
Grade every submission in fresh, confined kernels with the hidden tests and record the
scores. --out receives grades.csv, gradebook.db (nbgrader's gradebook), feedback/ (a page
per student and notebook), results/ (reused by the next run unless --regrade) and the
class report report/index.html.
{LIMITS}""",
                ["python -m grader autograde --submissions submissions/ --out graded/",
                 "python -m grader autograde --submissions canvas-download.zip --out graded/ \\\n"
                 "      --workers 4 --timeout 120"])
    auto.add_argument("--submissions", required=True, metavar="DIR_OR_ZIP",
                      help="a folder in nbgrader's layout STUDENT/ASSIGNMENT/NOTEBOOK.ipynb, or "
                           "an LMS zip: Canvas 'Download Submissions', Moodle 'Download all "
                           "submissions', or a zip of nbgrader's layout (unpacked into "
                           "OUT/submissions/)")
    auto.add_argument("--out", required=True, metavar="DIR",
                      help="grades.csv, gradebook.db, feedback/, results/ and report/ go here")
    auto.add_argument("--workers", type=int, default=None, metavar="N",
                      help="parallel kernels (default: all cores)")
    auto.add_argument("--timeout", type=float, default=defaults.TIMEOUT_S, metavar="S",
                      help=f"seconds per notebook (default {defaults.TIMEOUT_S:g}, as in check)")
    auto.add_argument("--memory-mb", type=int, default=defaults.MEMORY_MB, metavar="MB",
                      help=f"memory per kernel (default {defaults.MEMORY_MB}, as in check)")
    auto.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    auto.add_argument("--db-url", default=None,
                      help="gradebook URL, e.g. postgresql://user@host/db (default: sqlite in --out)")
    auto.add_argument("--dask", metavar="tcp://HOST:PORT", default=None,
                      help="grade on this Dask scheduler's workers instead of local processes")
    auto.add_argument("--regrade", action="store_true",
                      help="grade everything again instead of reusing saved results")
    auto.add_argument("--figures", action="store_true",
                      help="draw the notebooks' figures into the feedback pages (inline PNGs, "
                           "as Jupyter draws them) and run the cells after a notebook's last "
                           "test; slower. Without it plotting code runs but draws nothing, the "
                           "page says where a figure would be, and those cells do not run. "
                           "Scores are the same either way")
    auto.add_argument("--reveal-quiz", action="store_true",
                      help="feedback pages explain why each quiz choice is wrong (release them "
                           "after the deadline: saved results get new pages, no regrading); "
                           "without it a wrong answer names only what to reread")
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

    rep = _sub(sub, "report", "class report of an autograde run: OUT/report/index.html", """\
Write the class report of an autograde run again, from its grades.csv and results/:
OUT/report/index.html (one self-contained page) and its tables as CSV in OUT/report/.
It lists the submissions that need a human look, the score distribution per assignment,
the success rate of every test and the most frequent diagnoses. autograde writes it at
the end of every run; this command is for a report lost or deleted since.""",
               ["python -m grader report --out graded/"])
    rep.add_argument("--out", required=True, metavar="DIR",
                     help="the --out folder of an autograde run")

    exp = _sub(sub, "export", "grades for Canvas, Moodle or as nbgrader's CSV", """\
Write the grades of an autograde run as a file a learning platform imports, by default
OUT/export/FORMAT.csv. Canvas matches rows by ID (its user id: taken from a Canvas zip's
file names, or from --roster), else SIS User ID, else SIS Login ID (without a roster, the
submission folder's name); Moodle by the column --moodle-id names. A row the platform
cannot match is said on stderr.""",
               ["python -m grader export --out graded/ --format canvas",
                "python -m grader export --out graded/ --format canvas --roster roster.csv \\\n"
                "      --canvas-assignment-id 01_gates=12345",
                "python -m grader export --out graded/ --format moodle --moodle-id email \\\n"
                "      --roster roster.csv"])
    exp.add_argument("--out", required=True, metavar="DIR",
                     help="the --out folder of an autograde run")
    exp.add_argument("--format", required=True, choices=["canvas", "moodle", "nbgrader"],
                     help="canvas: a Canvas gradebook import file; moodle: a Moodle grade import "
                          "CSV; nbgrader: nbgrader's own CSV export of the gradebook")
    exp.add_argument("--to", default=None, metavar="FILE",
                     help="file to write (default: OUT/export/FORMAT.csv)")
    exp.add_argument("--roster", default=None, metavar="CSV",
                     help="CSV with student_id and the platform's ids (name, sortable_name, "
                          "canvas_id, sis_user_id, sis_login_id, section, id_number, email, "
                          "username)")
    exp.add_argument("--canvas-assignment-id", action="append", metavar="ASSIGNMENT=ID",
                     help="Canvas id of an existing assignment (repeatable); otherwise Canvas "
                          "matches the column by title or creates the assignment")
    exp.add_argument("--moodle-id", default="idnumber", choices=["idnumber", "email", "username"],
                     help="the column Moodle identifies learners by (default: idnumber; email "
                          "needs --roster with an email column)")
    exp.add_argument("--blank-missing", action="store_true",
                     help="leave the cell empty (not 0) where nothing was submitted")
    exp.add_argument("--db-url", default=None, help="gradebook URL for --format nbgrader")

    sim = _sub(sub, "similarity", "which learners share code: pairs and pages for instructors", """\
Compare the learners' own code (answer cells only; starter code, tests and helper modules
never count) within each assignment of an autograde run, fingerprinted by winnowing as
MOSS does, after names, comments and layout are normalized. Code that many learners write
the same way weighs little and exercises too short to judge are left out. Writes
OUT/report/similarity/: index.html, one page per assignment (the listed pairs with their
shared code highlighted side by side, the similarity of all pairs as a figure) and
pairs.csv. For instructors only: nothing goes to feedback/.""",
               ["python -m grader similarity --out graded/"])
    sim.add_argument("--out", required=True, metavar="DIR",
                     help="the --out folder of an autograde run")

    chk = _sub(sub, "check", "for learners: run a notebook's visible tests before submitting it",
               f"""\
For learners: run your notebook the way the grader will (a fresh kernel, top to bottom)
and then its visible tests. Prints PASS, FAIL with the test's message or TODO for each
exercise, then what is still missing. Exit status 0 when every visible test passes.
The grader also runs hidden tests, which this check cannot show.
{LIMITS}""",
               ["python -m grader check notebooks/01_gates/gru_gates.ipynb",
                "python -m grader check ~/work/my_copy.ipynb --assignment 01_gates"])
    chk.add_argument("notebook", help="your notebook, e.g. notebooks/01_gates/gru_gates.ipynb")
    chk.add_argument("--assignment", default=None,
                     help="the assignment it belongs to (default: recognised from its cells)")
    chk.add_argument("--timeout", type=float, default=defaults.TIMEOUT_S, metavar="S",
                     help=f"seconds for the whole notebook (default {defaults.TIMEOUT_S:g}, "
                          "as in grading)")
    chk.add_argument("--memory-mb", type=int, default=defaults.MEMORY_MB, metavar="MB",
                     help=f"memory for the kernel (default {defaults.MEMORY_MB}, as in grading)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    if args.command == "release":
        from .release import main as run
    elif args.command == "report":
        from .report import main as run
    elif args.command == "export":
        from .export import main as run
        from .release import stamp_gradebooks_in_process

        # nbgrader's Gradebook may make a new gradebook here: see there (release and
        # record.prepare_gradebook call it for autograde's)
        stamp_gradebooks_in_process()
    elif args.command == "similarity":
        from .similarity import main as run
    elif args.command == "check":
        from .check import main as run
    else:
        from .autograde import main as run
    return run(args)
