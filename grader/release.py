"""``python -m grader release``: student notebooks from the master notebooks, by nbgrader.

nbgrader's own ``generate_assignment`` strips solutions and hidden tests, clears outputs,
locks the test cells and records checksums; nothing here re-implements that. The quiz
answer keys declared in the answer cells' metadata are removed by one more nbgrader
preprocessor, configured in ``nbgrader_config.py`` (so nbgrader's own commands strip
them too).
"""
import contextlib
import io
import logging
import tempfile
from pathlib import Path

from nbgrader import api as _nbgrader_api
from nbgrader.dbutil import _temp_alembic_ini
from traitlets.config.loader import PyFileConfigLoader

from . import course


def alembic_head():
    """What nbgrader's ``get_alembic_version`` reads from the ``alembic heads`` command,
    asked of alembic in this process."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    with _temp_alembic_ini("sqlite:////tmp/gradebook.db") as alembic_ini:
        return ScriptDirectory.from_config(AlembicConfig(alembic_ini)).get_current_head()


def stamp_gradebooks_in_process():
    """Set-up, before nbgrader creates a gradebook in this process: nbgrader's ``Gradebook``
    stamps a new database with the revision that the ``alembic heads`` command prints
    (``nbgrader.api.get_alembic_version``), a command that must be on PATH and re-imports
    nbgrader, seconds of CPU for each new gradebook (the release's scratch one, a run's own).
    From this call on, nbgrader gets it from ``alembic_head`` instead: the same revision
    (``tests/test_faults.py`` checks it), asked of alembic in this process. Called by
    ``release``, ``record.prepare_gradebook`` and ``grader/cli.py`` (for ``export``)."""
    _nbgrader_api.get_alembic_version = alembic_head


def load_config(root):
    """The course's ``nbgrader_config.py``, with the course root made explicit."""
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    cfg.CourseDirectory.root = str(Path(root).resolve())
    return cfg


def nbgrader_api(root, **overrides):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = load_config(root)
    for section, values in overrides.items():
        for key, value in values.items():
            setattr(getattr(cfg, section), key, value)
    cfg.NbGraderAPI.log_level = logging.WARNING
    coursedir = CourseDirectory(config=cfg)
    return NbGraderAPI(coursedir=coursedir, config=cfg)


def release(root=course.ROOT, assignment_ids=None, db_url=None, release_dir=None):
    """Generate ``notebooks/<assignment>/`` for each assignment; returns the ids released.

    nbgrader also records the assignments' cells in the gradebook at ``db_url`` (that is
    how ``autograde`` sets up its gradebook; a plain release uses a scratch one).
    """
    root = Path(root)
    stamp_gradebooks_in_process()
    if db_url is None:
        # nbgrader opens a gradebook even when told not to create entries: keep it out of
        # the repository.
        scratch = tempfile.mkdtemp(prefix="gru-release-")
        db_url = f"sqlite:///{scratch}/gradebook.db"
    ids = assignment_ids or course.assignments(root / "solutions")
    overrides = {"CourseDirectory": {"db_url": db_url}}
    if release_dir:
        overrides["CourseDirectory"]["release_directory"] = str(release_dir)
    api = nbgrader_api(root, **overrides)
    for aid in ids:
        # nbgrader prints progress through its logger and, for the API, also to stdout
        with contextlib.redirect_stdout(io.StringIO()):
            result = api.generate_assignment(aid, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not release {aid}:\n{result.get('log', '')}\n{result.get('error', '')}")
    return ids


def main(args):
    ids = release(course.ROOT, args.assignment or None)
    for aid in ids:
        files = sorted(p.name for p in (course.RELEASE / aid).iterdir())
        print(f"released {aid}: {', '.join(files)}")
    return 0

