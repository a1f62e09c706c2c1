"""Grader side of the quizzes: a learner's choices against the answer key.

A wrong answer fails with a short message that names the question and the part of the
lesson to reread, nothing more: naming each wrong choice would give the key away to an
answer that ticks every option (the key is then the rest). The explanation of each wrong
choice, and where the lesson explains a right option that was left out, travels with the
failure as ``explanation``; learners see it once the instructor releases explanations
(``python -m grader autograde --reveal-quiz``, for example after the deadline).
"""

LETTER_SETS = (set, frozenset)


class QuizNotRight(AssertionError):
    """A quiz answer that is not the key; ``explanation`` is for after the release."""

    def __init__(self, message, explanation):
        super().__init__(message)
        self.explanation = explanation


def explain_choices(name, answer, letters, key, why_wrong, reread, if_missing=None):
    """Compare ``answer`` (a set of option letters) with ``key``.

    ``why_wrong`` maps each option that is not in the key to the reason it is wrong;
    ``reread`` says where the lesson answers the question; ``if_missing`` (optional) maps a
    right option to where the lesson explains it.
    """
    assert set(why_wrong) == set(letters) - set(key), "quiz key and explanations disagree"
    assert set(if_missing or {}) <= set(key), "a pointer for an option that is not in the key"
    if not isinstance(answer, LETTER_SETS) or not all(isinstance(a, str) for a in answer):
        raise AssertionError(f"{name} is not a set of option letters: its visible test says "
                             "how to write it.")
    missing = set(key) - set(answer)
    wrong = sorted(set(answer) - set(key))
    if not wrong and not missing:
        print(f"{name}: correct.")
        return
    lines = []
    for letter in wrong:
        lines.append(f"You chose {letter}, which is wrong: {why_wrong.get(letter, 'not an option.')}")
    if missing:
        n = len(missing)
        opts = "option is" if n == 1 else "options are"
        lead = "Your other choices are right, but" if wrong else "Your choices are right, but"
        lines.append(f"{lead} {n} right {opts} missing from your answer.")
        for letter in sorted(missing):
            if (if_missing or {}).get(letter):
                lines.append(f"To find {'it' if n == 1 else 'one of them'}: {if_missing[letter]}")
    raise QuizNotRight(f"{name} is not right yet. Reread {reread}", "\n".join(lines))
