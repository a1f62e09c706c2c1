"""A realistic synthetic cohort in nbgrader's layout: ``STUDENT/ASSIGNMENT/NOTEBOOK.ipynb``.

Profiles mix what a real class hands in: complete and correct work, one or two of the
catalogued mistakes, unfinished notebooks, untouched releases, a missing assignment and
the occasional broken file.
"""
import random
from pathlib import Path

from grader import course

from . import mistakes as mistake_catalogue
from .submissions import answers_for, fill, write

NAMES = ["ada", "alan", "grace", "edsger", "barbara", "donald", "frances", "john", "katherine",
         "leslie", "margaret", "niklaus", "radia", "tim", "shafi", "yoshua", "fei-fei", "geoffrey",
         "jurgen", "sepp", "kyunghyun", "ilya", "andrej", "yann", "cynthia", "judea", "marvin",
         "claude", "hedy", "sophie"]
PROFILES = [("correct", 0.35), ("one_mistake", 0.25), ("two_mistakes", 0.12),
            ("unfinished", 0.12), ("blank", 0.08), ("missing", 0.05), ("broken_file", 0.03)]


def _profile(rng):
    x, acc = rng.random(), 0.0
    for name, p in PROFILES:
        acc += p
        if x < acc:
            return name
    return "correct"


def make_cohort(root, n_students=24, seed=0, assignment_ids=None):
    """Write the cohort under ``root``; returns {(student, assignment): profile}."""
    rng = random.Random(seed)
    root = Path(root)
    catalogue = mistake_catalogue.catalogue()
    masters = course.course_notebooks()
    ids = assignment_ids or list(masters)
    plan = {}
    for i in range(n_students):
        student = f"s{i + 1:03d}-{NAMES[i % len(NAMES)]}"
        (root / student).mkdir(parents=True, exist_ok=True)
        for aid in ids:
            profile = _profile(rng)
            # the first students cover every profile, so even a small cohort shows them all
            if i < len(PROFILES):
                profile = PROFILES[i][0]
            plan[(student, aid)] = profile
            for master in masters[aid]:
                _write_one(root, student, aid, master, profile, catalogue, rng)
    return plan


def _write_one(root, student, aid, master, profile, catalogue, rng):
    if profile == "missing":
        return
    if profile == "broken_file":
        path = root / student / aid / master.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('{"cells": [ {"cell_type": "code", "source": "trunc')
        return
    own = [m for m in catalogue.values() if m.assignment == aid]
    chosen, blank = [], []
    if profile == "one_mistake" and own:
        chosen = rng.sample(own, 1)
    elif profile == "two_mistakes" and len(own) > 1:
        chosen = rng.sample(own, 2)
        if chosen[0].cell == chosen[1].cell:
            chosen = chosen[:1]
    answers = answers_for(master, chosen)
    if profile == "unfinished":
        cells = list(answers)
        blank = cells[len(cells) // 2:]
    elif profile == "blank":
        blank = list(answers)
    for gid in blank:
        answers.pop(gid)
    write(fill(aid, master.name, answers), root, student, aid, master.name)
