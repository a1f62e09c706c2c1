"""Set-up files agree with each other and with the README."""
import re
from importlib import metadata

import yaml

from grader import course

ROOT = course.ROOT


def _requirements():
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def _environment():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                name, version = line.split("==")
                pins[name.lower()] = version
        elif "=" in dep:
            name, version = dep.split("=", 1)
            if name != "python":
                pins[name.lower()] = version
    return pins


def test_requirements_and_environment_agree():
    assert _requirements() == _environment()


def test_every_requirement_is_pinned_exactly_and_is_what_is_installed():
    """Grades must not move with a package release: each requirement is ``name==X.Y.Z``
    (environment.yml agrees, above), and the environment running the tests has exactly those
    versions (a local build tag such as torch's ``+cpu`` aside)."""
    lines = [line.split("#")[0].strip() for line in
             (ROOT / "requirements.txt").read_text().splitlines()]
    for line in filter(None, lines):
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==\d+(\.\d+)+", line), f"not an exact pin: {line}"
    pins = _requirements()
    assert "torch" in pins and "numpy" in pins
    installed = {name: metadata.version(name).split("+")[0] for name in pins}
    assert installed == pins


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^\s*(make \w+)\s*$", readme, re.M)
    assert "make demo" in commands and "make test" in commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^if ! make test; then\s*$", ci, re.M)   # as root, as the README says
    # and again as an ordinary user, on a copy that user owns
    assert re.search(r"scripts/as-user\.sh .* -- make test ", ci)
