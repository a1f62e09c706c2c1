"""The catalogue of plausible mistakes, one module per assignment (``m<assignment>.py``).

A ``Mistake`` edits the solution of one solution cell by plain substring replacement, and
lists every test cell it must fail (the exercise itself and the later exercises that call
the broken function); every other test must still pass. ``diagnosis`` is the probable cause
the hidden tests must name for it (tests/test_diagnoses.py), or "" for none; ``visible`` is
what the message of every visible test it fails must say after "Probable cause: " (the
visible tests' own diagnoses, tests/test_visible_diagnoses.py), or "" when they name none.
"""
import importlib
import pkgutil
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mistake:
    id: str
    assignment: str
    cell: str                       # grade_id of the solution cell it edits
    edits: tuple                    # ((old, new), ...) applied to that cell's solution code
    fails: frozenset                # grade_ids of the test cells that must fail
    description: str = ""           # in the learner's terms
    extra_cells: dict = field(default_factory=dict)   # other cells to edit: {grade_id: edits}
    diagnosis: str = ""             # the id (solutions/gru_reference/diagnose.py) that the
                                    # hidden tests name for it; "" when none is expected
    visible: str = ""               # words of the cause its failing visible tests name


def catalogue():
    """All mistakes of all assignments: {mistake id: Mistake}."""
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for m in getattr(module, "MISTAKES", []):
            assert m.id not in found, f"duplicate mistake id {m.id}"
            found[m.id] = m
    return found
