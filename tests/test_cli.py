"""The command line: help for every command, one set of limits, the run lock."""
import inspect
import os
import subprocess
import sys

import pytest

from grader import autograde, cli, defaults
from conftest import ROOT, run_cli

COMMANDS = ["release", "autograde", "report", "export", "check"]


def _subparsers():
    p = cli.parser()
    action = next(a for a in p._actions if a.dest == "command")
    return p, action.choices


def _help(*args):
    proc = subprocess.run([sys.executable, "-m", "grader", *args, "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("command", [None] + COMMANDS)
def test_every_help_has_a_description_an_example_and_no_markup(command):
    p, subs = _subparsers()
    parser = p if command is None else subs[command]
    assert parser.description and len(parser.description.split()) >= 5
    out = _help(*([command] if command else []))
    assert "`" not in out                     # no RST/Markdown markup in a terminal
    assert "example" in out
    assert "python -m grader " + (command or "") in out.split("example", 1)[1]
    assert parser.description.splitlines()[0] in out


@pytest.mark.slow
def test_top_level_help_lists_every_command():
    out = _help()
    for command in COMMANDS:
        assert f"\n    {command}" in out


def test_options_say_what_they_take():
    _, subs = _subparsers()
    options = {a.dest: a for a in subs["autograde"]._actions}
    assert "zip" in options["submissions"].help and "Canvas" in options["submissions"].help
    fmt = next(a for a in subs["export"]._actions if a.dest == "format")
    assert fmt.help and all(choice in fmt.help for choice in fmt.choices)
    for name, parser in subs.items():
        for action in parser._actions:
            assert action.help, (name, action.dest)


def test_check_and_autograde_share_one_set_of_limits():
    _, subs = _subparsers()
    check = subs["check"].parse_args(["nb.ipynb"])
    auto = subs["autograde"].parse_args(["--submissions", "s", "--out", "o"])
    assert (check.timeout, check.memory_mb) == (auto.timeout, auto.memory_mb) \
        == (defaults.TIMEOUT_S, defaults.MEMORY_MB)
    signature = inspect.signature(autograde.autograde).parameters
    assert signature["timeout"].default == defaults.TIMEOUT_S
    assert signature["memory_mb"].default == defaults.MEMORY_MB
    from grader.session import Limits

    assert (Limits().timeout, Limits().memory_mb) == (defaults.TIMEOUT_S, defaults.MEMORY_MB)


# ------------------------------------------------------------------ the run lock

def test_lock_refuses_a_second_run_and_is_removed_at_the_end(tmp_path):
    lock = tmp_path / ".autograde.lock"
    with autograde.Lock(tmp_path):
        assert lock.exists()
        with pytest.raises(SystemExit, match="another autograde is already writing"):
            autograde.Lock(tmp_path).__enter__()
    assert not lock.exists()
    with pytest.raises(RuntimeError), autograde.Lock(tmp_path):
        raise RuntimeError("the run failed")
    assert not lock.exists()
    with autograde.Lock(tmp_path):   # and it can be taken again
        pass
    lock.write_text("")              # left by a run killed outright: no lock is held on it
    with autograde.Lock(tmp_path):
        pass
    assert not lock.exists()


def test_a_run_that_locked_the_removed_file_does_not_run_beside_the_next(tmp_path, monkeypatch):
    """B opens the lock file, A ends (removes it and unlocks), C starts (a new file), then B
    gets its flock, on the removed file: B must see that and refuse, since C holds the lock."""
    path = tmp_path / ".autograde.lock"
    a = autograde.Lock(tmp_path).__enter__()
    stale = os.open(path, os.O_WRONLY)          # B's open, before A ends
    a.__exit__(None, None, None)
    c = autograde.Lock(tmp_path).__enter__()
    real_open, calls = os.open, []

    def b_open(*args, **kwargs):
        calls.append(args[0])
        return stale if len(calls) == 1 else real_open(*args, **kwargs)

    monkeypatch.setattr(os, "open", b_open)
    with pytest.raises(SystemExit, match="another autograde is already writing"):
        autograde.Lock(tmp_path).__enter__()
    monkeypatch.undo()
    assert len(calls) == 2                       # B tried the new file after the stale one
    c.__exit__(None, None, None)
    assert not path.exists()


@pytest.mark.slow
def test_no_lock_left_after_a_failed_run(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("autograde", "--submissions", tmp_path / "nothing-here", "--out", out,
                   timeout=300)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert not (out / ".autograde.lock").exists()
