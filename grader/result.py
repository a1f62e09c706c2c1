"""What grading one notebook produces: the one record from which the gradebook,
``grades.csv``, the feedback pages, the class report and the exports are all written.

Results cross process boundaries (a worker, a Dask worker) and are saved as JSON in
``OUT/results/`` so that a run can resume; ``to_dict``/``from_dict`` are that format.
"""
import enum
from dataclasses import asdict, dataclass, field, fields


class Status(enum.StrEnum):
    """A notebook's outcome, most severe first: a row of several notebooks takes the most
    severe of theirs (``worst``)."""
    ERROR = "error"                        # the grader failed (not the learner's fault)
    KERNEL_DIED = "kernel_died"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    INVALID_NOTEBOOK = "invalid_notebook"  # not a notebook, unreadable, refused
    WRONG_ASSIGNMENT = "wrong_assignment"  # another assignment's notebook
    MISSING = "missing"
    NOT_ATTEMPTED = "not_attempted"        # handed in as released
    GRADED = "graded"

    @property
    def severity(self):
        """0 for the most severe; larger is milder."""
        return list(Status).index(self)

    @classmethod
    def worst(cls, statuses):
        return min((cls(s) for s in statuses), key=lambda s: s.severity)


@dataclass
class TestResult:
    """The verdict of one test cell of the master notebook."""
    grade_id: str
    max_points: float
    points: float = 0.0
    passed: bool = False
    message: str = ""          # safe to show a learner: never hidden test code
    output: str = ""           # what the test printed
    learner_traceback: str = ""
    not_run: bool = False
    diagnosis: str = ""        # the catalogued mistake a hidden test recognised
    explanation: str = ""      # a quiz question's words on each wrong choice (--reveal-quiz)

    @classmethod
    def from_dict(cls, d):
        d = dict(d)
        extra = d.pop("extra", None) or {}   # results saved before these were fields
        for key in ("diagnosis", "explanation"):
            d.setdefault(key, extra.get(key, ""))
        return cls(**_known(cls, d))


@dataclass
class NotebookResult:
    student: str
    assignment: str
    notebook: str
    status: Status
    detail: str = ""
    score: float = 0.0
    max_score: float = 0.0
    tests: list[TestResult] = field(default_factory=list)
    graded_notebook: dict | None = None    # release cells + learner cells and outputs
    seconds: float = 0.0
    fingerprint: str = ""                  # of the submitted file: reuse when unchanged
    source_hash: str = ""                  # of the master notebook: regrade when changed
    figures: bool = False                  # graded with figures drawn (--figures)
    tampering: list[str] = field(default_factory=list)
    answers: dict[str, list[str]] = field(default_factory=dict)   # quiz: {q1_answer: letters}
    answer_types: dict[str, str] = field(default_factory=dict)    # answers not given as a set
    retries: int = 0                       # fresh kernels needed for the grader's own faults
    retry_reasons: list[str] = field(default_factory=list)   # the fault behind each of them
    confined: bool = True
    feedback_error: str = ""

    def __post_init__(self):
        self.status = Status(self.status)

    @property
    def recordable(self):
        """Whether the gradebook gets this notebook (it has a graded notebook)."""
        return self.graded_notebook is not None

    def fail(self, detail):
        """The grader could not finish this notebook: an error row, never credit."""
        self.status, self.detail = Status.ERROR, detail

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        d = _known(cls, d)
        d["tests"] = [TestResult.from_dict(t) for t in d.get("tests", [])]
        return cls(**d)


def _known(cls, d):
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}
