# nbgrader course configuration: the repository root is the course root.
c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "gru-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
# The reference package lives beside the assignments; it is never released.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# A quiz question is declared in its answer cell's metadata ("quiz": {"name", "options",
# "key"}); nbgrader keeps a cell's metadata as it is, so the key is removed here, by one
# more of nbgrader's preprocessors: `python -m grader release`, `nbgrader generate_assignment`
# and formgrader's "Generate" all release through this list.
from nbgrader.converters import GenerateAssignment  # noqa: E402
from nbgrader.preprocessors import NbGraderPreprocessor  # noqa: E402


class StripQuizKeys(NbGraderPreprocessor):
    """Removes the answer key of every quiz question from the released notebook."""

    def preprocess_cell(self, cell, resources, index):
        quiz = cell.metadata.get("quiz")
        if isinstance(quiz, dict):
            quiz.pop("key", None)
        return cell, resources


c.GenerateAssignment.preprocessors = (
    GenerateAssignment.class_traits()["preprocessors"].make_dynamic_default() + [StripQuizKeys])

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
