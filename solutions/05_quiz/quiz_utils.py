"""The quiz questions' format check, for notebooks 05 and 06 (one file: 06's folder links to it).

``check_format`` is what the visible tests run: it checks that an answer is written the
way the grader reads it (a set of uppercase option letters) and nothing else. The answer
key is not in this file; the grader keeps it.
"""

_EXAMPLE = '{"A", "C"}'


def check_format(name, answer, letters):
    """Check that ``answer`` is a non-empty set of option letters taken from ``letters``.

    ``letters`` is the question's options, e.g. ``"ABCDE"``. Raises an AssertionError
    that says how to fix the answer; prints what it checked when the format is right.
    """
    if isinstance(answer, dict) and not answer:
        raise AssertionError(f"{name} is an empty dict: {{}} makes a dict in Python. "
                             f"Write a set of letters such as {_EXAMPLE}.")
    if isinstance(answer, str):
        raise AssertionError(f"{name} is the string {answer!r}. Write a set of letters, one "
                             f"string per option, such as {_EXAMPLE} (not \"AC\").")
    if not isinstance(answer, (set, frozenset)):
        kind = type(answer).__name__
        hint = " Use curly braces: {\"A\", \"C\"} instead of [\"A\", \"C\"]." if isinstance(answer, (list, tuple)) else ""
        raise AssertionError(f"{name} should be a set (or frozenset) of option letters such as "
                             f"{_EXAMPLE}, not a {kind}.{hint}")
    if not answer:
        raise AssertionError(f"{name} is empty. Every question has at least one right option: "
                             f"choose all the options you think are right.")
    not_str = [a for a in answer if not isinstance(a, str)]
    if not_str:
        raise AssertionError(f"{name} contains {not_str[0]!r}, which is not a letter. "
                             f"Options are strings such as \"A\".")
    lower = sorted(a for a in answer if a.upper() in letters and a != a.upper())
    if lower:
        raise AssertionError(f"{name} contains lowercase letters {lower}. Option letters are "
                             f"uppercase: write {sorted(a.upper() for a in lower)} instead.")
    unknown = sorted(a for a in answer if a not in letters)
    if unknown:
        raise AssertionError(f"{name} contains {unknown}, which are not options of this "
                             f"question. Its options are {', '.join(letters)}.")
    print(f"{name}: a set of {len(answer)} option letter(s) among {', '.join(letters)}. "
          f"Format OK (the grader checks the choices themselves).")
