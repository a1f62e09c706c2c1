"""Helpers for the gate quiz.

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


def explain_choices(name, answer, letters, key, why_wrong, if_missing=None):
    """Grader side: compare ``answer`` with ``key`` and explain each wrong choice.

    ``why_wrong`` maps each option that is not in the key to the reason it is wrong;
    ``if_missing`` (optional) maps a right option to where the lesson explains it. The
    message names the learner's wrong choices and says how many right options are missing,
    with those pointers to the lesson, without naming the missing options.
    """
    assert set(why_wrong) == set(letters) - set(key), "quiz key and explanations disagree"
    assert set(if_missing or {}) <= set(key), "a pointer for an option that is not in the key"
    check_format(name, answer, letters)
    missing = set(key) - set(answer)
    wrong = sorted(set(answer) - set(key))
    if not wrong and not missing:
        print(f"{name}: correct.")
        return
    lines = [f"{name} is not right yet."]
    for letter in wrong:
        lines.append(f"  You chose {letter}, which is wrong: {why_wrong[letter]}")
    if missing:
        n = len(missing)
        opts = "option is" if n == 1 else "options are"
        lead = "Your choices are all right, but" if not wrong else "Also,"
        lines.append(f"  {lead} {n} right {opts} missing from your answer.")
        for letter in sorted(missing):
            if (if_missing or {}).get(letter):
                lines.append(f"  To find {'it' if n == 1 else 'one of them'}: {if_missing[letter]}")
    raise AssertionError("\n".join(lines))
