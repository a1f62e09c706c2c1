# nbgrader course configuration: the repository root is the course root.
c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "gru-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# The reference package lives beside the assignments; it is never released.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# Running the course through nbgrader's exchange (README: "Running the course with
# nbgrader's exchange"): `python -m grader autograde --submissions submitted --out graded`
# grades what `nbgrader collect` put in submitted/, into the course's gradebook
# graded/gradebook.db (the one nbgrader's collect, db and formgrader use), and writes its
# feedback pages to graded/feedback/STUDENT/ASSIGNMENT/, where `nbgrader release_feedback`
# takes them from.
import os  # noqa: E402

_graded = os.path.join(os.path.dirname(os.path.abspath(__file__)), "graded")
try:   # nbgrader opens the gradebook from `collect` on
    os.makedirs(_graded, mode=0o700, exist_ok=True)
except OSError:   # read by someone who may not write here (the grader's own identity)
    pass
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_graded, "gradebook.db")
c.CourseDirectory.feedback_directory = "graded/feedback"
# the graded notebooks, for formgrader's views and grading by hand
c.CourseDirectory.autograded_directory = "graded/autograded"
# Late work (a submission timestamped after the due date set with
# `nbgrader db assignment add ASSIGNMENT --duedate=...`): nbgrader's own late penalty,
# applied by autograde as by `nbgrader autograde`; "zero" scores late work 0 (the
# submission and its feedback are kept), "none" only records how late it was.
c.LateSubmissionPlugin.penalty_method = "zero"
