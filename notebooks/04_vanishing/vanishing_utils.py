"""Helpers for the vanishing-gradients notebook: cells to probe and checks for the visible tests.

The cells here are ``torch.nn.Module`` subclasses (not lambdas), so they can be pickled:
the grader sends them to your ``hidden_jacobian_norms`` like any torch cell.
``EXPECTED_GRU`` was computed with the course's reference implementation.
"""
import numpy as np
import torch


class LinearCell(torch.nn.Module):
    """h_{t+1} = A h_t + B x_t (in row-vector code: ``h @ A.T + x @ B.T``).

    Each step multiplies the state by A, so dh_T/dh_t = A^(T-t) exactly.
    """

    def __init__(self, A, B):
        super().__init__()
        self.A = torch.nn.Parameter(torch.as_tensor(np.asarray(A, dtype=np.float64)))
        self.B = torch.nn.Parameter(torch.as_tensor(np.asarray(B, dtype=np.float64)))

    def forward(self, x, h):
        return h @ self.A.T + x @ self.B.T


class LSTMAsCell(torch.nn.Module):
    """An ``LSTMCell`` seen as a cell with one state s = [h, c] of size 2H.

    ``s_{t+1} = cell(x_t, s_t)`` runs the LSTM on (h, c) = (s[:H], s[H:]) and concatenates
    its outputs, so dh_T/dh_t measures how the whole LSTM state depends on its past.
    """

    def __init__(self, lstm_cell):
        super().__init__()
        self.lstm = lstm_cell

    def forward(self, x, s):
        H = self.lstm.hidden_size
        h, c = self.lstm(x, (s[:H], s[H:]))
        return torch.cat([h, c])


def as_cell(layer):
    """The one-step cell (``GRUCell``/``RNNCell``/``LSTMCell``) with the weights of a
    one-layer ``torch.nn.GRU``/``RNN``/``LSTM`` (for probing a trained network)."""
    kinds = {torch.nn.GRU: torch.nn.GRUCell, torch.nn.RNN: torch.nn.RNNCell,
             torch.nn.LSTM: torch.nn.LSTMCell}
    extra = {"nonlinearity": layer.nonlinearity} if isinstance(layer, torch.nn.RNN) else {}
    weight = layer.weight_ih_l0
    cell = kinds[type(layer)](layer.input_size, layer.hidden_size, bias=layer.bias,
                              dtype=weight.dtype, **extra)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    return cell


def small_gru_case():
    """A fixed ``GRUCell(2, 3)`` in float64 (weights from sines, no randomness), an input
    sequence x of shape (6, 2) and h0 of shape (3,)."""
    cell = torch.nn.GRUCell(2, 3, dtype=torch.float64)
    with torch.no_grad():
        for k, p in enumerate(cell.parameters()):
            p.copy_(torch.as_tensor(0.9 * np.sin(np.arange(p.numel()) + 3.0 * k)).reshape(p.shape))
    x = torch.as_tensor(np.cos(np.arange(12.0)).reshape(6, 2))
    h0 = torch.tensor([0.5, -0.3, 0.1], dtype=torch.float64)
    return cell, x, h0


# hidden_jacobian_norms(*small_gru_case()), from the reference implementation
EXPECTED_GRU = np.array([0.063668685923, 0.151392875933, 0.294110569156, 0.347943946609,
                         0.591583557654, 1.133918875866])


def check_norms(name, got, expected, alternatives=None, tol=1e-6):
    """Compare your norms with the expected ones; ``alternatives`` maps a likely mistake
    (in words) to the numbers that mistake would give, to say what went wrong."""
    expected = np.asarray(expected, dtype=float)
    kind = getattr(got, "type_name", type(got).__name__)
    assert isinstance(got, np.ndarray), (
        f"{name} returned a {kind}, not a numpy array. Convert at the end, e.g. "
        "tensor.detach().numpy(), or build the norms with numpy.")
    assert np.issubdtype(got.dtype, np.floating), (
        f"{name} returned an array of dtype {got.dtype}; expected floats")
    assert got.shape == expected.shape, (
        f"{name} returned shape {got.shape}, expected {expected.shape}: one norm per time step t")
    if np.allclose(got, expected, rtol=tol, atol=1e-10):
        print(f"{name}: OK")
        return
    hints = dict(alternatives or {})
    hints.setdefault("the norms in reverse order: entry t must be dh_T/dh_t, not the "
                     "Jacobian at distance t", expected[::-1])
    hint = ""
    for words, values in hints.items():
        values = np.asarray(values, dtype=float)
        if values.shape == got.shape and np.allclose(got, values, rtol=1e-5, atol=1e-10):
            hint = f"\nYour numbers look like {words}."
            break
    if not hint and np.allclose(got[:-1], expected[1:], rtol=1e-5, atol=1e-10):
        hint = "\nYour entry t looks like dh_T/dh_{t+1} (off by one step)."
    if not hint and np.all(got[:-1] == 0) and np.any(expected[:-1] != 0):
        hint = ("\nYour earlier entries are zero: the gradient does not flow back through "
                "the steps (did you detach the states?).")
    raise AssertionError(f"{name} is off.{hint}\ngot      {np.array2string(got, precision=6)}\n"
                         f"expected {np.array2string(expected, precision=6)}")
