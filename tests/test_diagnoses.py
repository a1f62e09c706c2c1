"""Diagnoses: a wrong answer whose numbers match a common mistake is named, and only then.

Two levels:

* ``diagnose.py`` directly, in this process: the reference's mistaken variants, the
  catalogued cohort mistakes (their real code, the solution with the mistake's edit) and more
  hand-edited mistakes below, each fed to ``diagnose`` on fresh inputs; right answers, near
  misses and double mistakes must get no diagnosis.
* Through the real CLI (``graded_cohort``): every catalogued mistake with a ``diagnosis``
  gets exactly that id in its failing tests' ``diagnosis``, and nothing else does.
"""
import pickle
import warnings

import nbformat
import numpy as np
import pytest
import torch

import gru_reference as ref
from gru_reference import diagnose as dg
from gru_reference.jacobians import hidden_jacobian_norms as ref_norms
from gru_reference.testing import (Diagnosed, call_without_warnings, check_against_reference,
                                   random_case)
from grader import course, verdict
from cohort.mistakes import Mistake, catalogue
from cohort.submissions import answers_for
from conftest import read_result

MASTERS = course.course_notebooks()
MISTAKES = catalogue()
DIAGNOSED = sorted(m.id for m in MISTAKES.values() if m.diagnosis)
UNDIAGNOSED = sorted(m.id for m in MISTAKES.values() if not m.diagnosis)
FUNCTIONS = ("update_gate", "reset_gate", "candidate_state", "gru_cell_forward",
             "gru_cell_backward", "gru_forward", "gru_backward", "rnn_param_count",
             "gru_param_count", "lstm_param_count", "hidden_jacobian_norms")


# ------------------------------------------------------------------ inputs like the hidden tests'

def make_inputs(function, seed=0):
    """Inputs for ``function`` as the hidden tests make them (D != H, except the square case
    that candidate_state and gru_cell_forward start with)."""
    rng = np.random.default_rng(seed)
    if function == "sigmoid":
        return (rng.standard_normal((3, 4)) * 3,)
    if function in ("update_gate", "reset_gate"):
        return random_case(4, 5, 3, seed=seed, scale=1.5)
    if function in ("candidate_state", "gru_cell_forward"):
        x, h, p = random_case(3, 4, 4, seed=seed, scale=1.5)
        return (x, h, rng.uniform(0, 1, (3, 4)), p) if function == "candidate_state" else (x, h, p)
    if function == "gru_cell_backward":
        x, h, p = random_case(4, 5, 3, seed=seed)
        return rng.standard_normal((4, 3)), x, h, p
    if function == "gru_forward":
        return random_case(3, 5, 2, seed=seed, T=4, scale=1.5)
    if function == "gru_backward":
        x, h0, p = random_case(3, 4, 6, seed=seed, T=5, scale=1.2)
        return rng.standard_normal((3, 5, 6)), x, h0, p
    if function.endswith("_param_count"):
        sizes = [(int(a), int(b)) for a, b in rng.integers(2, 800, (12, 2)) if a != b]
        return ([(D, H, b) for D, H in sizes + [(1, 2), (2, 1), (1, 1000)] for b in (True, False)],)
    if function == "hidden_jacobian_norms":
        torch.manual_seed(seed)
        cell = torch.nn.GRUCell(3, 5, dtype=torch.float64)
        with torch.no_grad():
            for q in cell.parameters():
                q.normal_(0.0, 1.3 / np.sqrt(5))
        return cell, torch.randn(6, 3, dtype=torch.float64), torch.rand(5, dtype=torch.float64) * 2 - 1
    raise KeyError(function)


def learner_answer(function, ns, inputs):
    """What the learner functions in ``ns`` return on ``inputs`` (as a hidden test calls them)."""
    f = ns[function]
    if function == "gru_cell_backward":
        dh, x, h, p = inputs
        return f(dh, ns["gru_cell_forward"](x, h, p)[1])
    if function == "gru_backward":
        dh_all, x, h0, p = inputs
        return f(dh_all, ns["gru_forward"](x, h0, p)[1])
    if function.endswith("_param_count"):
        return [f(*case) for case in inputs[0]]
    return f(*inputs)


# ------------------------------------------------------------------ learner code, in process

def _master(assignment):
    (master,) = MASTERS[assignment]
    return master


def learner_namespace(assignment, mistakes=()):
    """The solution cells (with ``mistakes`` applied) and the given code, run here.

    Only the imports, the given code (02's forward step) and the solution cells run: no plot,
    no training."""
    master = _master(assignment)
    answers = answers_for(master, list(mistakes))
    ns = {"__name__": "learner"}
    exec("import numpy as np\nimport torch", ns)  # noqa: S102 (our own solutions)
    nb = nbformat.read(master.path, as_version=4)
    for cell in nb.cells:
        gid = course.nbgrader_meta(cell).get("grade_id", "")
        if cell.cell_type == "code" and (gid in answers or gid.startswith("given")):
            exec(answers.get(gid, cell.source), ns)  # noqa: S102
    return ns


def function_of(mistake):
    return "candidate_state" if mistake.cell == "candidate_state" else mistake.cell


# Mistakes the cohort does not grade, written the same way (an edit of the solution code), so
# that every diagnosis of the catalogue is proved on code a learner could have written.
M = Mistake
EXTRA = [
    M("x-sigmoid-swapped", "01_gates", "sigmoid",
      (("np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
        "np.where(a >= 0, e / (1.0 + e), 1.0 / (1.0 + e))"),), frozenset(),
      diagnosis="sigmoid-branches-swapped"),
    M("x-reset-tanh", "01_gates", "reset_gate", (("return sigmoid(", "return np.tanh("),),
      frozenset(), diagnosis="gate-tanh"),
    M("x-update-complement", "01_gates", "update_gate", (("return sigmoid(", "return 1 - sigmoid("),),
      frozenset(), diagnosis="gate-complement"),
    M("x-update-no-sigmoid", "01_gates", "update_gate", (("return sigmoid(", "return ("),),
      frozenset(), diagnosis="missing-activation"),
    M("x-update-reset-bias", "01_gates", "update_gate", (('params["b_z"]', 'params["b_r"]'),),
      frozenset(), diagnosis="wrong-weights"),
    M("x-reset-candidate-weight", "01_gates", "reset_gate", (('params["W_Rr"]', 'params["W_Rh"]'),),
      frozenset(), diagnosis="wrong-weights"),
    M("x-reset-no-bias", "01_gates", "reset_gate", ((' + params["b_r"]', ""),),
      frozenset(), diagnosis="missing-bias"),
    M("x-update-transposed", "01_gates", "update_gate",
      (('h_prev @ params["W_Rz"]', 'h_prev @ params["W_Rz"].T'),), frozenset(),
      diagnosis="transposed-recurrent-weight"),
    M("x-candidate-no-bias", "01_gates", "candidate_state", ((' + params["b_h"]', ""),),
      frozenset(), diagnosis="missing-bias"),
    M("x-candidate-transposed", "01_gates", "candidate_state",
      (('(r * h_prev) @ params["W_Rh"]', '(r * h_prev) @ params["W_Rh"].T'),), frozenset(),
      diagnosis="transposed-recurrent-weight"),
    M("x-candidate-no-reset", "01_gates", "candidate_state",
      (('(r * h_prev) @ params["W_Rh"]', 'h_prev @ params["W_Rh"]'),), frozenset(),
      diagnosis="reset-ignored"),
    M("x-candidate-no-tanh", "01_gates", "candidate_state", (("return np.tanh(", "return ("),),
      frozenset(), diagnosis="missing-activation"),
    M("x-candidate-update-weight", "01_gates", "candidate_state", (('params["W_Fh"]', 'params["W_Fz"]'),),
      frozenset(), diagnosis="wrong-weights"),
    M("x-cell-no-mix", "01_gates", "gru_cell_forward",
      (("h_next = (1 - z) * h_prev + z * h_tilde", "h_next = h_tilde"),), frozenset(),
      diagnosis="no-interpolation"),
    M("x-cell-mix-reset", "01_gates", "gru_cell_forward",
      (("h_next = (1 - z) * h_prev + z * h_tilde", "h_next = (1 - r) * h_prev + r * h_tilde"),),
      frozenset(), diagnosis="mix-uses-reset"),
    M("x-cell-reset-after", "01_gates", "candidate_state",
      (('(r * h_prev) @ params["W_Rh"]', 'r * (h_prev @ params["W_Rh"])'),), frozenset(),
      diagnosis="reset-after-matmul"),
    M("x-tanh-missing", "02_backprop", "gru_cell_backward",
      (("da_h = dh_tilde * (1 - h_tilde ** 2)", "da_h = dh_tilde"),), frozenset(),
      diagnosis="tanh-derivative-missing"),
    M("x-sigmoid-missing-r", "02_backprop", "gru_cell_backward",
      (("da_r = dr * r * (1 - r)", "da_r = dr"),), frozenset(),
      diagnosis="sigmoid-derivative-missing"),
    M("x-sigmoid-twice-both", "02_backprop", "gru_cell_backward",
      (("da_z = dz * z * (1 - z)", "da_z = dz * sigmoid(z) * (1 - sigmoid(z))"),
       ("da_r = dr * r * (1 - r)", "da_r = dr * sigmoid(r) * (1 - sigmoid(r))")), frozenset(),
      diagnosis="sigmoid-derivative-of-output"),
    M("x-update-tanh-derivative", "02_backprop", "gru_cell_backward",
      (("da_z = dz * z * (1 - z)", "da_z = dz * (1 - z ** 2)"),), frozenset(),
      diagnosis="sigmoid-derivative-as-tanh"),
    M("x-no-gate-paths", "02_backprop", "gru_cell_backward",
      (('dh_prev = dh_prev + da_z @ p["W_Rz"].T + da_r @ p["W_Rr"].T', "pass"),), frozenset(),
      diagnosis="missing-gate-paths"),
    M("x-recurrent-not-transposed", "02_backprop", "gru_cell_backward",
      (('ds = da_h @ p["W_Rh"].T', 'ds = da_h @ p["W_Rh"]'),
       ('da_z @ p["W_Rz"].T + da_r @ p["W_Rr"].T', 'da_z @ p["W_Rz"] + da_r @ p["W_Rr"]')),
      frozenset(), diagnosis="recurrent-not-transposed"),
    M("x-bias-mean", "02_backprop", "gru_cell_backward",
      ((".sum(axis=0)", ".mean(axis=0)"),), frozenset(), diagnosis="bias-grad-mean"),
    M("x-no-carry", "02_backprop", "gru_backward",
      (("gru_cell_backward(dh_all[:, t] + dh_next, cache[t])",
        "gru_cell_backward(dh_all[:, t], cache[t])"),), frozenset(),
      diagnosis="carry-not-added"),
    M("x-states-shifted", "02_backprop", "gru_forward",
      (("        h, cache_t = gru_cell_forward(x[:, t], h, params)\n        h_all[:, t] = h\n",
        "        h_all[:, t] = h\n        h, cache_t = gru_cell_forward(x[:, t], h, params)\n"),),
      frozenset(), diagnosis="forward-states-shifted"),
    M("x-lstm-as-gru", "03_parameters", "lstm_param_count", (("n_sets = 4 ", "n_sets = 3 "),),
      frozenset(), diagnosis="counted-as-gru"),
    M("x-lstm-as-rnn", "03_parameters", "lstm_param_count", (("n_sets = 4 ", "n_sets = 1 "),),
      frozenset(), diagnosis="counted-as-rnn"),
    M("x-rnn-as-gru", "03_parameters", "rnn_param_count",
      (("return W_F + W_R + b", "return 3 * (W_F + W_R + b)"),), frozenset(),
      diagnosis="counted-as-gru"),
    M("x-gru-recurrent-shape", "03_parameters", "gru_param_count",
      (("W_R = hidden_size * hidden_size", "W_R = input_size * hidden_size"),), frozenset(),
      diagnosis="recurrent-weight-shape"),
    M("x-gru-no-bias", "03_parameters", "gru_param_count",
      (("b = hidden_size if bias else 0", "b = 0"),), frozenset(), diagnosis="no-bias"),
    M("x-lstm-torch-biases", "03_parameters", "lstm_param_count",
      (("b = hidden_size if bias else 0", "b = 2 * hidden_size if bias else 0"),), frozenset(),
      diagnosis="torch-two-biases"),
    M("x-squared-norm", "04_vanishing", "hidden_jacobian_norms",
      (('np.linalg.norm(J, ord="fro", axis=(1, 2))', "(J ** 2).sum(axis=(1, 2))"),), frozenset(),
      diagnosis="squared-norm"),
    M("x-normalised", "04_vanishing", "hidden_jacobian_norms",
      (('np.linalg.norm(J, ord="fro", axis=(1, 2))', 'np.linalg.norm(J, ord="fro", axis=(1, 2)) / np.sqrt(H)'),),
      frozenset(), diagnosis="norm-divided-by-sqrt-n"),
]


def _affected(mistake):
    """The contract functions a mistake changes: its own, and those that call it."""
    f = function_of(mistake)
    later = {"update_gate": ["gru_cell_forward"], "reset_gate": ["gru_cell_forward"],
             "candidate_state": ["gru_cell_forward"], "gru_cell_backward": ["gru_backward"],
             "gru_forward": ["gru_backward"]}
    return [f] + later.get(f, [])


def _diagnose_in_process(mistake, seed):
    ns = learner_namespace(mistake.assignment, [mistake])
    found = {}
    for f in _affected(mistake):
        inputs = make_inputs(f, seed)
        found[f] = dg.diagnose(f, learner_answer(f, ns, inputs), *inputs)
    return found


# ------------------------------------------------------------------ diagnose.py, directly

def test_catalogue_is_large_and_every_id_is_explained():
    assert len(dg.CATALOGUE) >= 10
    assert all(isinstance(v, str) and v for v in dg.CATALOGUE.values())
    for f in FUNCTIONS:
        for d, _ in dg.variants(f, *make_inputs(f)):
            assert d.id in dg.CATALOGUE and d.message and "Probable" not in d.message


def _close(got, want):
    """``got`` equals ``want`` within the contract's tolerance, part by part (arrays, numbers,
    tuples and dicts of them; ``None`` for a cache the learner returns)."""
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(
            _close(got[k], want[k]) for k in want)
    if isinstance(want, (tuple, list)):
        return isinstance(got, (tuple, list)) and len(got) == len(want) and all(
            _close(g, w) for g, w in zip(got, want))
    if want is None:
        return True
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    return got.shape == want.shape and np.allclose(got, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_diagnoses_compare_with_the_solution_and_every_variant_is_a_mistake(function):
    """``reference`` is what the course's own solution returns, and no mistaken variant is
    the right answer in disguise (it could never be named: diagnose checks the reference
    first). That each variant is exactly its mistake and nothing else is proved on learner
    code below: the cohort's mistakes and EXTRA, every diagnosis at least once."""
    inputs = make_inputs(function, 2)
    ns = learner_namespace(next(a for a, ms in MASTERS.items()
                                if any(function in m.solution_ids for m in ms)))
    right = dg.reference(function, *inputs)
    assert _close(learner_answer(function, ns, inputs), right)
    ids = []
    for d, answer in dg.variants(function, *inputs):
        ids.append(d.id)
        assert not _close(answer, right), d.id
    assert ids, f"no variants for {function}"


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("seed", [0, 1])
def test_right_answers_get_no_diagnosis(function, seed):
    inputs = make_inputs(function, seed)
    assert dg.diagnose(function, dg.reference(function, *inputs), *inputs) is None
    ns = learner_namespace(next(a for a, ms in MASTERS.items()
                                if any(function in m.solution_ids for m in ms)))
    assert dg.diagnose(function, learner_answer(function, ns, inputs), *inputs) is None


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_variant_is_recognised_as_itself(function):
    """On the hidden tests' kind of inputs, no two catalogued mistakes look alike."""
    inputs = make_inputs(function, 3)
    for d, answer in dg.variants(function, *inputs):
        got = dg.diagnose(function, answer, *inputs)
        assert got is not None and got.id == d.id, (d.id, got)


@pytest.mark.parametrize("mistake_id", DIAGNOSED)
def test_catalogued_mistake_is_diagnosed_in_process(mistake_id):
    """The cohort mistake's own code, run here, is named by diagnose() directly."""
    mistake = MISTAKES[mistake_id]
    if mistake.diagnosis == "sigmoid-overflow":
        ns = learner_namespace(mistake.assignment, [mistake])
        with pytest.raises(Diagnosed) as info:
            call_without_warnings("sigmoid", ns["sigmoid"], np.array([-1e4, 0.0, 1e4]))
        assert info.value.diagnosis == "sigmoid-overflow"
        return
    found = _diagnose_in_process(mistake, seed=5)
    assert _named(found) == _expected(mistake), found


# Two mistakes of a gate that a whole GRU step cannot tell apart from a mistaken mix (the same
# numbers); the step's diagnosis says so ("Or update_gate returns 1 - z: same numbers.").
SAME_NUMBERS_IN_THE_STEP = {"x-update-complement": "update-flipped"}
# gru_backward works from the cache of each step, which a shifted h_all does not change
NOT_SEEN_LATER = {"x-states-shifted": "gru_backward"}


def _named(found):
    return {f: d.id if d else None for f, d in found.items()}


def _expected(mistake):
    """Every function a mistake reaches names it: its own, and those that call it."""
    expected = dict.fromkeys(_affected(mistake), mistake.diagnosis)
    if mistake.id in SAME_NUMBERS_IN_THE_STEP:
        expected["gru_cell_forward"] = SAME_NUMBERS_IN_THE_STEP[mistake.id]
    if mistake.id in NOT_SEEN_LATER:
        expected[NOT_SEEN_LATER[mistake.id]] = None
    return expected


@pytest.mark.parametrize("mistake", EXTRA, ids=[m.id for m in EXTRA])
def test_more_mistakes_are_diagnosed_in_process(mistake):
    found = _diagnose_in_process(mistake, seed=6)
    assert _named(found) == _expected(mistake), found
    if mistake.id in SAME_NUMBERS_IN_THE_STEP:
        assert "update_gate returns 1 - z" in found["gru_cell_forward"].message


def test_every_diagnosis_is_proved_on_learner_code():
    proved = {m.diagnosis for m in list(MISTAKES.values()) + EXTRA if m.diagnosis}
    assert proved == set(dg.CATALOGUE), sorted(set(dg.CATALOGUE) ^ proved)


@pytest.mark.parametrize("mistake_id", [m for m in UNDIAGNOSED if function_of(MISTAKES[m]) in FUNCTIONS])
def test_undiagnosed_mistakes_get_no_diagnosis_in_process(mistake_id):
    mistake = MISTAKES[mistake_id]
    found = _diagnose_in_process(mistake, seed=7)
    assert not any(found.values()), found


def test_near_misses_and_double_mistakes_get_no_diagnosis():
    x, h, p = make_inputs("update_gate")
    d, wrong = next(iter(dg.variants("update_gate", x, h, p)))
    assert dg.diagnose("update_gate", wrong * (1 + 1e-9), x, h, p).id == d.id   # within tolerance
    assert dg.diagnose("update_gate", wrong + 1e-4, x, h, p) is None             # not quite it
    right = ref.update_gate(x, h, p)
    assert dg.diagnose("update_gate", right + 1e-3, x, h, p) is None
    # two mistakes at once (no bias in z and a sigmoid candidate) match no single one
    xq, hq, pq = make_inputs("gru_cell_forward")
    z = ref.sigmoid(xq @ pq["W_Fz"] + hq @ pq["W_Rz"])
    r = ref.reset_gate(xq, hq, pq)
    ht = ref.sigmoid(xq @ pq["W_Fh"] + (r * hq) @ pq["W_Rh"] + pq["b_h"])
    assert dg.diagnose("gru_cell_forward", ((1 - z) * hq + z * ht, None), xq, hq, pq) is None
    # in a sequence: a mistake in the step and a second one in the loop, each named alone
    inputs = make_inputs("gru_backward")
    step, loop = MISTAKES["backprop-tanh-one-minus-h"], MISTAKES["backprop-grads-overwritten"]
    for alone in (step, loop):
        ns = learner_namespace("02_backprop", [alone])
        assert dg.diagnose("gru_backward", learner_answer("gru_backward", ns, inputs), *inputs).id \
            == alone.diagnosis
    ns = learner_namespace("02_backprop", [step, loop])
    assert dg.diagnose("gru_backward", learner_answer("gru_backward", ns, inputs), *inputs) is None


@pytest.mark.parametrize("got", [None, "text", 3, np.zeros((2, 2)), (np.zeros(3),), {"a": 1},
                                 (np.zeros((4, 3)), np.zeros((4, 3)), {"W_Fz": 0})])
def test_answers_of_the_wrong_form_are_not_diagnosed_and_never_raise(got):
    for f in ("update_gate", "gru_cell_forward", "gru_cell_backward", "gru_param_count"):
        assert dg.diagnose(f, got, *make_inputs(f)) is None


def test_parts_restrict_the_comparison():
    dh, x, h, p = make_inputs("gru_cell_backward")
    no_direct = next(answer for d, answer in dg.variants("gru_cell_backward", dh, x, h, p)
                     if d.id == "missing-direct-path")
    assert dg.diagnose("gru_cell_backward", no_direct, dh, x, h, p).id == "missing-direct-path"
    # its parameter gradients are right: graded on those only, there is nothing to diagnose
    assert dg.diagnose("gru_cell_backward", no_direct, dh, x, h, p, parts=("grads",)) is None
    # a wrong dx next to the mistaken dh_prev: whole answer undiagnosed, dh_prev alone diagnosed
    mixed = (no_direct[0] + 1.0, no_direct[1], no_direct[2])
    assert dg.diagnose("gru_cell_backward", mixed, dh, x, h, p) is None
    assert dg.diagnose("gru_cell_backward", mixed, dh, x, h, p, parts=("dh_prev",)).id == "missing-direct-path"


# ------------------------------------------------------------------ the hidden-test helpers

def test_check_against_reference_passes_right_answers_and_names_mistakes():
    x, h, p = make_inputs("gru_cell_forward")
    expected = check_against_reference("gru_cell_forward", ref.gru_cell_forward(x, h, p), x, h, p)
    np.testing.assert_array_equal(expected[0], ref.gru_cell_forward(x, h, p)[0])
    z, r = ref.update_gate(x, h, p), ref.reset_gate(x, h, p)
    ht = ref.candidate_state(x, h, r, p)
    with pytest.raises(Diagnosed) as info:
        check_against_reference("gru_cell_forward", (z * h + (1 - z) * ht, "cache"), x, h, p)
    assert info.value.diagnosis == "update-flipped"
    message = str(info.value)
    assert message.startswith("gru_cell_forward h_next differs from the reference")
    assert "\nProbable cause: z and 1 - z are swapped" in message
    # an unrecognised wrong answer: a plain AssertionError, no diagnosis
    with pytest.raises(AssertionError) as info:
        check_against_reference("gru_cell_forward", (0.5 * h + 0.5 * ht, None), x, h, p)
    assert not isinstance(info.value, Diagnosed) and "Probable cause" not in str(info.value)


def test_diagnosed_pickles_and_is_an_assertion_error():
    d = dg.Diagnosis("update-flipped", "a message")
    exc = Diagnosed("values differ", d)
    assert isinstance(exc, AssertionError)
    back = pickle.loads(pickle.dumps(exc))
    assert back.diagnosis == "update-flipped" and str(back) == str(exc)
    assert str(exc) == "values differ\nProbable cause: a message"


def test_naive_sigmoid_warning_is_diagnosed():
    def naive(a):
        return 1.0 / (1.0 + np.exp(-a))

    with pytest.raises(Diagnosed) as info:
        call_without_warnings("sigmoid", naive, np.array([-1000.0, 0.0]))
    assert info.value.diagnosis == "sigmoid-overflow"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(call_without_warnings("sigmoid", ref.sigmoid, np.zeros(2)), 0.5)


# ------------------------------------------------------------------ grader/verdict.py records it

def _run_cell(tmp_path, source):
    test = course.TestCell("test-x-hidden", 2, source, None)
    return verdict.run_test(test, {}, tmp_path)


def test_check_records_the_diagnosis_of_a_failed_test(tmp_path):
    result = _run_cell(tmp_path, "### BEGIN HIDDEN TESTS\n"
                                 "from gru_reference.diagnose import Diagnosis\n"
                                 "from gru_reference.testing import Diagnosed\n"
                                 "raise Diagnosed('h_next differs', Diagnosis('update-flipped', 'swapped'))\n"
                                 "### END HIDDEN TESTS\n")
    assert not result.passed and result.diagnosis == "update-flipped"
    assert result.message.startswith("h_next differs\nProbable cause: swapped")
    assert "(in a hidden test)" in result.message


@pytest.mark.parametrize("source", ["assert False, 'plain'", "raise ValueError('x')",
                                    "class E(Exception):\n    diagnosis = 7\nraise E()", "pass"])
def test_check_records_no_diagnosis_otherwise(tmp_path, source):
    assert _run_cell(tmp_path, source).diagnosis == ""


def test_check_ignores_a_diagnosis_on_a_learner_error(tmp_path):
    from grader.protocol import LearnerError

    class Fake(LearnerError):
        diagnosis = "update-flipped"

    def raises():
        raise Fake("update_gate", "ValueError", "boom")

    test = course.TestCell("test-x-hidden", 2, "update_gate()", None)
    result = verdict.run_test(test, {"update_gate": raises}, tmp_path)
    assert not result.passed and result.diagnosis == ""


# ------------------------------------------------------------------ through the real CLI

def _tests_of(graded_cohort, student, assignment):
    tests = []
    for master in MASTERS[assignment]:
        result = read_result(graded_cohort["out"], student, assignment, master.name)
        expected = "not_attempted" if student == "blank" else "graded"
        assert result["status"] == expected, result["detail"]
        tests += result["tests"]
    return tests


def test_at_least_ten_catalogued_mistakes_carry_a_diagnosis():
    early = [m for m in MISTAKES.values() if m.diagnosis and m.assignment[:2] in {"01", "02", "03", "04"}]
    assert len(early) >= 10
    assert len({m.diagnosis for m in early}) >= 10
    for m in MISTAKES.values():
        assert not m.diagnosis or m.diagnosis in dg.CATALOGUE, m.id


@pytest.mark.parametrize("mistake_id", DIAGNOSED)
def test_graded_mistake_gets_its_diagnosis(graded_cohort, mistake_id):
    mistake = MISTAKES[mistake_id]
    tests = _tests_of(graded_cohort, mistake_id, mistake.assignment)
    given = {t["grade_id"]: t["diagnosis"] for t in tests if t["diagnosis"]}
    assert mistake.diagnosis in given.values(), f"{mistake_id}: diagnoses {given}"
    assert set(given.values()) == {mistake.diagnosis}, f"{mistake_id}: a wrong diagnosis in {given}"
    for t in tests:
        if t["grade_id"] in given:
            assert not t["passed"] and t["grade_id"] in mistake.fails
            assert "\nProbable cause: " in t["message"]
    master = MASTERS[mistake.assignment][0]
    feedback = (graded_cohort["out"] / "feedback" / mistake_id / mistake.assignment / f"{master.name}.txt")
    assert "Probable cause: " in feedback.read_text()


@pytest.mark.parametrize("student", ["solution", "blank"] + UNDIAGNOSED)
def test_no_diagnosis_without_a_catalogued_cause(graded_cohort, student):
    assignments = MASTERS if student in ("solution", "blank") else [MISTAKES[student].assignment]
    for aid in assignments:
        for t in _tests_of(graded_cohort, student, aid):
            assert not t["diagnosis"], (student, t["grade_id"], t["diagnosis"])
            assert "Probable cause" not in t["message"], (student, t["grade_id"])
