"""The reference GRU is what every grade is measured against, so it is proved against torch."""
import numpy as np
import pytest
import torch

import gru_reference as ref
from gru_reference.torch_bridge import params_from_torch, torch_state_from_params, grads_to_torch
from gru_reference.jacobians import hidden_jacobian_norms

N, T, D, H = 3, 5, 4, 6  # D != H, N > 1, T > 1


def rel_err(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.max(np.abs(a - b) / np.maximum(1e-12, np.abs(a) + np.abs(b)))


def torch_course_step(x, h, p):
    """The course's equations ("reset before") written in torch ops for autograd."""
    z = torch.sigmoid(x @ p["W_Fz"] + h @ p["W_Rz"] + p["b_z"])
    r = torch.sigmoid(x @ p["W_Fr"] + h @ p["W_Rr"] + p["b_r"])
    ht = torch.tanh(x @ p["W_Fh"] + (r * h) @ p["W_Rh"] + p["b_h"])
    return (1 - z) * h + z * ht


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    return rng.standard_normal((N, T, D)), rng.standard_normal((N, H)), rng.standard_normal((N, T, H))


def test_sequence_and_all_gradients_equal_torch_gru(data):
    x, h0, dh_all = data
    torch.manual_seed(0)
    gru = torch.nn.GRU(D, H, batch_first=True).double()
    params = params_from_torch(gru)
    h_all, cache = ref.gru_forward(x, h0, params, reset_after=True)

    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, _ = gru(xt, h0t)
    assert rel_err(h_all, out.detach().numpy()) < 1e-10
    out.backward(torch.tensor(dh_all))

    dx, dh0, grads = ref.gru_backward(dh_all, cache)
    assert rel_err(dx, xt.grad.numpy()) < 1e-10
    assert rel_err(dh0, h0t.grad[0].numpy()) < 1e-10
    theirs = {n[:-3]: p.grad.numpy() for n, p in gru.named_parameters()}
    for name, g in grads_to_torch(grads).items():
        assert g.shape == theirs[name].shape
        assert rel_err(g, theirs[name]) < 1e-10, name


def test_torch_conversion_round_trips_exactly():
    torch.manual_seed(1)
    gru = torch.nn.GRU(D, H).double()
    params = params_from_torch(gru)
    clone = torch.nn.GRU(D, H).double()
    clone.load_state_dict(torch_state_from_params(params))
    x = torch.randn(T, N, D, dtype=torch.float64)
    assert torch.allclose(gru(x)[0], clone(x)[0], rtol=1e-12, atol=1e-14)
    cell = torch.nn.GRUCell(D, H).double()
    cell.load_state_dict(torch_state_from_params(params, cell=True))
    assert torch.allclose(cell(x[0]), gru(x[:1])[0][0], rtol=1e-12, atol=1e-14)
    back = params_from_torch(cell)
    for k in params:
        np.testing.assert_allclose(back[k], params[k], rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("reset_after", [False, True])
def test_course_cell_equals_torch_autograd(reset_after):
    rng = np.random.default_rng(3)
    params = ref.init_params(D, H, rng, scale=0.8, reset_after=reset_after)
    x, h, dh = rng.standard_normal((N, D)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    h_next, cache = ref.gru_cell_forward(x, h, params, reset_after)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt, ht = torch.tensor(x, requires_grad=True), torch.tensor(h, requires_grad=True)
    if reset_after:
        cell = torch.nn.GRUCell(D, H).double()
        cell.load_state_dict(torch_state_from_params(params, cell=True))
        out = cell(xt, ht)
    else:
        out = torch_course_step(xt, ht, tp)
    assert rel_err(h_next, out.detach().numpy()) < 1e-10
    out.backward(torch.tensor(dh))
    dx, dh_prev, grads = ref.gru_cell_backward(dh, cache)
    assert set(grads) == set(params)
    assert rel_err(dx, xt.grad.numpy()) < 1e-10
    assert rel_err(dh_prev, ht.grad.numpy()) < 1e-10
    if not reset_after:
        for k in params:
            assert rel_err(grads[k], tp[k].grad.numpy()) < 1e-10, k


def test_course_sequence_gradients_equal_torch_autograd(data):
    x, h0, dh_all = data
    params = ref.init_params(D, H, np.random.default_rng(4), scale=0.9)
    h_all, cache = ref.gru_forward(x, h0, params)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt, h = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
    outs, state = [], h
    for t in range(T):
        state = torch_course_step(xt[:, t], state, tp)
        outs.append(state)
    out = torch.stack(outs, dim=1)
    assert rel_err(h_all, out.detach().numpy()) < 1e-10
    out.backward(torch.tensor(dh_all))
    dx, dh0, grads = ref.gru_backward(dh_all, cache)
    assert rel_err(dx, xt.grad.numpy()) < 1e-10
    assert rel_err(dh0, h.grad.numpy()) < 1e-10
    for k in params:
        assert rel_err(grads[k], tp[k].grad.numpy()) < 1e-10, k


def norm_rel_err(a, b):
    """Relative error of the whole array: entrywise it is noise where an entry is ~0."""
    return np.linalg.norm(a - b) / max(1e-12, np.linalg.norm(a) + np.linalg.norm(b))


def numeric_grad(f, arr, df, eps=1e-6):
    grad = np.zeros_like(arr)
    it = np.nditer(arr, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = arr[i]
        arr[i] = old + eps
        plus = f().copy()
        arr[i] = old - eps
        minus = f().copy()
        arr[i] = old
        grad[i] = np.sum((plus - minus) * df) / (2 * eps)
    return grad


def test_numeric_gradient_check(data):
    x, h0, dh_all = data
    params = ref.init_params(D, H, np.random.default_rng(5), scale=0.9)
    _, cache = ref.gru_forward(x, h0, params)
    dx, dh0, grads = ref.gru_backward(dh_all, cache)
    f = lambda: ref.gru_forward(x, h0, params)[0]
    assert norm_rel_err(dx, numeric_grad(f, x, dh_all)) < 1e-8
    assert norm_rel_err(dh0, numeric_grad(f, h0, dh_all)) < 1e-8
    for k in params:
        assert norm_rel_err(grads[k], numeric_grad(f, params[k], dh_all)) < 1e-8, k


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind,gates,count", [
    ("RNN", 1, ref.rnn_param_count), ("GRU", 3, ref.gru_param_count),
    ("LSTM", 4, ref.lstm_param_count)])
def test_param_counts_match_torch(kind, gates, count, bias):
    for d, h in [(1, 1), (4, 6), (32, 17), (100, 64)]:
        module = getattr(torch.nn, kind)(d, h, bias=bias)
        torch_total = sum(p.numel() for p in module.parameters())
        second_bias = gates * h if bias else 0  # torch's b_hh next to b_ih
        assert count(d, h, bias) + second_bias == torch_total
        assert isinstance(count(d, h, bias), int)
    assert ref.gru_param_count(7, 5, bias) == 3 * ref.rnn_param_count(7, 5, bias)
    assert ref.lstm_param_count(7, 5, bias) == 4 * ref.rnn_param_count(7, 5, bias)


def test_sigmoid_is_stable_and_correct():
    a = np.array([-1e4, -800.0, -30.0, -1.0, 0.0, 1.0, 30.0, 800.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = ref.sigmoid(a)
    assert np.all(np.isfinite(s))
    small = np.abs(a) < 50
    np.testing.assert_allclose(s[small], 1 / (1 + np.exp(-a[small])), rtol=1e-15)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[4] == 0.5
    np.testing.assert_allclose(ref.sigmoid(-a), 1 - s, atol=1e-15)
    assert np.ndim(ref.sigmoid(3.0)) == 0


def test_hidden_jacobian_norms_match_full_jacobian():
    torch.manual_seed(2)
    cell = torch.nn.GRUCell(D, H).double()
    x = torch.randn(T, D, dtype=torch.float64)
    h0 = torch.randn(H, dtype=torch.float64)
    norms = hidden_jacobian_norms(cell, x, h0)
    assert isinstance(norms, np.ndarray) and norms.shape == (T,)
    for t in range(T):
        def tail(h):
            for s in range(t, T):
                h = cell(x[s], h)
            return h
        h_t = h0
        for s in range(t):
            h_t = cell(x[s], h_t)
        J = torch.autograd.functional.jacobian(tail, h_t.detach())
        assert norms[t] == pytest.approx(torch.linalg.matrix_norm(J).item(), rel=1e-10)
