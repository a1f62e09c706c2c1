"""Grader side of the kernel protocol: safe decoding and the learner-function proxies.

Data from the kernel is untrusted. It is JSON whose arrays are ``.npy`` bytes read with
``allow_pickle=False``; what cannot be represented that way arrives as an ``Opaque``
stand-in that compares equal to nothing useful. Inputs going *into* the kernel are
pickled (the kernel may trust the grader, never the other way round).
"""
import base64
import io
import pickle
import re
import warnings
from dataclasses import dataclass

import numpy as np


class LearnerError(Exception):
    """The learner's function raised; the message carries their traceback's tail."""

    def __init__(self, name, ename, evalue, traceback=""):
        self.name, self.ename, self.evalue, self.learner_traceback = name, ename, evalue, traceback
        super().__init__(name, ename, evalue, traceback)

    def __str__(self):
        return f"{self.name} raised {self.ename}: {self.evalue}"


class ArgumentsModified(AssertionError):
    pass


class GradingStopped(BaseException):
    """Time or memory limit, or a dead kernel: stops the remaining tests.

    A BaseException so that a test's ``except Exception`` cannot swallow it.
    """

    def __init__(self, status, message):
        self.status, self.message = status, message
        super().__init__(status, message)   # both in args: copy and pickle rebuild it

    def __str__(self):
        return self.message


class ProtocolError(Exception):
    pass


class Opaque:
    """A value the kernel could not send as plain data (a custom object, a tensor...)."""

    def __init__(self, type_name, why=""):
        self.type_name, self.why = type_name, why

    def __repr__(self):
        return f"<{self.type_name} object from the learner's kernel>"

    __str__ = __repr__
    __hash__ = object.__hash__


_CONTAINERS = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}


def decode(node, handles=None, depth=0):
    """Rebuild a value; ``handles`` maps id(value) -> kernel handle for values sent back."""
    if depth > 10 or not isinstance(node, dict):
        raise ProtocolError("malformed payload")
    t = node.get("t")
    if t == "none":
        value = None
    elif t == "bool":
        value = bool(node["v"])
    elif t == "int":
        value = _typed_number(int(node["v"]), node.get("type", "int"))
    elif t == "float":
        value = _typed_number(float(node["v"]), node.get("type", "float"))
    elif t == "str":
        value = str(node["v"])
    elif t == "ndarray":
        value = np.load(io.BytesIO(base64.b64decode(node["npy"])), allow_pickle=False)
        if value.dtype.kind not in "biuf":
            raise ProtocolError("unexpected array dtype")
    elif t in _CONTAINERS:
        value = _CONTAINERS[t](decode(v, handles, depth + 1) for v in node["items"])
    elif t == "dict":
        value = {str(k): decode(v, handles, depth + 1) for k, v in node["items"].items()}
    elif t == "opaque":
        value = Opaque(str(node.get("type", "object")), str(node.get("why", "")))
    else:
        raise ProtocolError(f"unknown type tag {t!r}")
    if handles is not None and "handle" in node and isinstance(node["handle"], int):
        if not isinstance(value, (type(None), bool, int, float, str)):
            handles[id(value)] = (node["handle"], value)  # keep value alive: ids stay unique
    return value


# numpy scalars come back as numpy scalars so "int (Python or numpy)" can be checked; the
# kernel's type name only selects from this table, it never names what the grader looks up
NUMPY_SCALARS = {f"numpy.{t.__name__}": t for t in (
    np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64, np.longdouble, np.bool_)}


def _typed_number(v, type_name):
    scalar = NUMPY_SCALARS.get(type_name) if isinstance(type_name, str) else None
    return scalar(v) if scalar is not None else v


class _ArgPickler(pickle.Pickler):
    def __init__(self, f, handles):
        super().__init__(f, protocol=4)
        self.handles = handles

    def persistent_id(self, obj):
        hit = self.handles.get(id(obj))
        if hit is not None and hit[1] is obj:
            return hit[0]
        if isinstance(obj, Opaque):
            raise ProtocolError("an opaque value without a handle cannot be sent back")
        return None


def dump_request(request, handles):
    """Bytes for the kernel (pickle: the kernel may trust the grader, not the reverse)."""
    buf = io.BytesIO()
    _ArgPickler(buf, handles).dump(request)
    return buf.getvalue()


def reemit_warnings(items):
    """Learner warnings re-raised here, so ``warnings.catch_warnings`` in a test sees them."""
    for w in items[:100]:
        if not isinstance(w, dict):
            continue
        category = {"RuntimeWarning": RuntimeWarning, "UserWarning": UserWarning,
                    "DeprecationWarning": DeprecationWarning}.get(w.get("category"), UserWarning)
        warnings.warn_explicit(printable(str(w.get("message"))[:2000]), category,
                               "<learner code>", 0)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text):
    """Learner text that may reach a terminal: control characters (escape sequences that
    clear the screen or retitle the window) shown as escapes, not sent."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


@dataclass(frozen=True)
class ChangedInput:
    """Where a learner's function changed its input in place: the argument (its position,
    from 0, or its keyword's name; None when it cannot be told which) and the keys and
    indices inside it, outermost first. ``str`` is the label learners read."""
    argument: int | str | None = None
    keys: tuple = ()

    def __str__(self):
        """``ChangedInput(2, ("W_Fz",))`` -> 'argument 3['W_Fz']'."""
        if self.argument is None:
            return "(an argument)"
        if isinstance(self.argument, str):
            head = f"keyword {self.argument}"
        else:
            head = f"argument {self.argument + 1}"
        return head + "".join(f"[{k!r}]" for k in self.keys)


def changed_input(args, kwargs, after):
    """Where the plain-data inputs of a call (``args``, ``kwargs``) differ from what the
    kernel sent back after it (``after``, as ``[args, kwargs]``): a ``ChangedInput``, or
    None when nothing changed. Objects sent by reference, or not representable as data,
    are not compared."""
    path = _difference([list(args), kwargs], after)
    if path is None:
        return None
    if len(path) < 2:        # the arguments themselves: added, removed, replaced
        return ChangedInput()
    _, argument, *keys = path   # positional (0) or keyword (1), then the argument's own
    return ChangedInput(argument, tuple(keys))


def _difference(before, after, path=()):
    """The path (keys and indices) to the first place where two plain-data values differ,
    () when they differ as a whole, None when they do not."""
    if isinstance(before, np.ndarray) or isinstance(after, np.ndarray):
        same = (isinstance(before, np.ndarray) and isinstance(after, np.ndarray)
                and before.shape == after.shape and np.array_equal(before, after, equal_nan=True))
        return None if same else path
    if isinstance(before, dict) and isinstance(after, dict):
        if before.keys() != after.keys():
            return path
        for k in before:
            hit = _difference(before[k], after[k], (*path, k))
            if hit is not None:
                return hit
        return None
    if isinstance(before, (list, tuple)) and isinstance(after, (list, tuple)):
        if len(before) != len(after):
            return path
        for i, (x, y) in enumerate(zip(before, after)):
            hit = _difference(x, y, (*path, i))
            if hit is not None:
                return hit
    return None
