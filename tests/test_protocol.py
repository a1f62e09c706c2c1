"""The kernel-to-grader channel accepts plain data only."""
import base64
import io
import pickle

import numpy as np
import pytest

from grader import protocol


def npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode()


def test_arrays_numbers_and_containers_round_trip():
    node = {"t": "tuple", "items": [
        {"t": "ndarray", "npy": npy(np.arange(6.0).reshape(2, 3)), "handle": 3},
        {"t": "dict", "items": {"a": {"t": "int", "v": 4, "type": "numpy.int64"}}},
        {"t": "set", "items": [{"t": "str", "v": "A"}, {"t": "str", "v": "C"}]}]}
    handles = {}
    arr, d, s = protocol.decode(node, handles)
    assert arr.shape == (2, 3) and arr[1, 2] == 5.0
    assert type(d["a"]) is np.int64 and s == {"A", "C"}
    assert handles[id(arr)] == (3, arr)


def test_pickled_object_arrays_are_refused():
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    node = {"t": "ndarray", "npy": base64.b64encode(buf.getvalue()).decode()}
    with pytest.raises(ValueError):
        protocol.decode(node)


def test_unknown_tags_and_raw_pickles_are_refused():
    with pytest.raises(protocol.ProtocolError):
        protocol.decode({"t": "pickle", "v": base64.b64encode(pickle.dumps(1)).decode()})
    with pytest.raises(protocol.ProtocolError):
        protocol.decode(["not", "a", "node"])


def test_opaque_values_never_equal_arrays():
    value = protocol.decode({"t": "opaque", "type": "evil.AlwaysEqual"})
    assert isinstance(value, protocol.Opaque)
    with pytest.raises(TypeError):
        np.allclose(value, np.zeros(2))


def test_changed_input_names_the_changed_entry():
    a = {"W": np.ones((2, 2))}
    b = {"W": np.ones((2, 2))}
    assert protocol.changed_input((a,), {}, [[b], {}]) is None
    b["W"][0, 0] = 2
    where = protocol.changed_input((1, a), {}, [[1, b], {}])
    assert where == protocol.ChangedInput(1, ("W",))
    assert str(where) == "argument 2['W']"
    where = protocol.changed_input((), {"h": [a]}, [[], {"h": [b]}])
    assert where == protocol.ChangedInput("h", (0, "W"))
    assert str(where) == "keyword h[0]['W']"
    # the arguments themselves differ: which one cannot be told
    assert str(protocol.changed_input((a,), {}, [[a, a], {}])) == "(an argument)"
    assert str(protocol.changed_input((a,), {}, [[a], {"x": 1}])) == "(an argument)"
    assert str(protocol.changed_input((a,), {}, [[b["W"]], {}])) == "argument 1"


def test_the_kernel_cannot_name_what_the_grader_looks_up():
    """A type name from the kernel selects from a fixed table of numpy scalars, nothing
    else: naming ``numpy.save`` or ``os.system`` gives back the plain number."""
    for name in ("numpy.save", "numpy.load", "numpy.lib.format.read_array", "os.system"):
        value = protocol.decode({"t": "int", "v": 3, "type": name})
        assert value == 3 and type(value) is int
    assert type(protocol.decode({"t": "int", "v": 3, "type": "numpy.int64"})) is np.int64
