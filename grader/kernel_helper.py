"""Kernel side of the grading protocol.

The launcher loads it and every kernel it forks starts it before the learner's first cell
(it never enters the learner's namespace). Requests and replies travel over two pipes that
the grader made for this kernel alone: nothing is read or written by path.

The kernel only *evaluates* learner functions on inputs the grader sent and
writes back plain data: JSON plus arrays in ``.npy`` form, which the grader reads without
unpickling. Every comparison happens in the grader process, so nothing the learner's code
does to numpy, builtins or the objects it returns can change a verdict.

Everything is defined inside ``_make`` so that the kernel's namespace gets one name.
"""


def _make():
    import base64
    import contextlib
    import io
    import json
    import os
    import pickle
    import threading
    import traceback
    import warnings

    import numpy

    registry = {}          # handle -> object kept in the kernel (caches, opaque results)
    limits = {"bytes": 64 * 2 ** 20, "depth": 8}
    simple = (type(None), bool, int, float, str)

    def type_name(obj):
        t = type(obj)
        return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"

    def enc(obj, budget, depth=0):
        if depth > limits["depth"]:
            return {"t": "opaque", "type": type_name(obj), "why": "nested too deeply"}
        t = type(obj)
        if obj is None:
            return {"t": "none"}
        if t is bool or t is numpy.bool_:
            return {"t": "bool", "v": bool(obj), "type": type_name(obj)}
        if t is int or isinstance(obj, numpy.integer):
            return {"t": "int", "v": int(obj), "type": type_name(obj)}
        if t is float or isinstance(obj, numpy.floating):
            return {"t": "float", "v": float(obj), "type": type_name(obj)}
        if t is str:
            return {"t": "str", "v": obj[:100000]}
        if isinstance(obj, numpy.ndarray) and obj.dtype.kind in "biuf":
            arr = numpy.array(obj, copy=True, subok=False)  # drops subclasses and their tricks
            budget[0] -= arr.nbytes
            if budget[0] < 0:
                return {"t": "opaque", "type": type_name(obj), "why": "too large"}
            buf = io.BytesIO()
            numpy.save(buf, arr, allow_pickle=False)
            return {"t": "ndarray", "npy": base64.b64encode(buf.getvalue()).decode(),
                    "type": type_name(obj)}
        if t in (tuple, list):
            return {"t": t.__name__, "items": [enc(v, budget, depth + 1) for v in obj]}
        if t in (set, frozenset) and all(type(v) in simple for v in obj):
            return {"t": t.__name__, "items": [enc(v, budget, depth + 1) for v in obj]}
        if t is dict and all(type(k) is str for k in obj):
            return {"t": "dict", "items": {k: enc(v, budget, depth + 1) for k, v in obj.items()}}
        return {"t": "opaque", "type": type_name(obj)}

    def keep(obj):
        registry[len(registry) + 1] = obj
        return len(registry)

    def enc_result(obj):
        """Top level (and each element of a returned tuple) also keeps a handle."""
        budget = [limits["bytes"]]
        if type(obj) is tuple:
            return {"t": "tuple", "items": [dict(enc(v, budget), handle=keep(v)) for v in obj],
                    "handle": keep(obj)}
        return dict(enc(obj, budget), handle=keep(obj))

    class Unpickler(pickle.Unpickler):
        def persistent_load(self, pid):
            return registry[pid]

    def user_ns():
        from IPython import get_ipython   # the kernel's shell (also outside a cell)

        return get_ipython().user_ns

    def call(name, args, kwargs):
        payload = {}
        fn = user_ns().get(name)
        printed = io.StringIO()   # what the function prints during a check is not shown
        with warnings.catch_warnings(record=True) as caught, \
                contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            warnings.simplefilter("always")
            # The contract's floating-point rules hold whatever np.seterr the notebook set.
            with numpy.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # noqa: B902 (SystemExit inside a function too)
                    tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
                    payload["error"] = {"ename": type(exc).__name__, "evalue": str(exc)[:2000],
                                        "traceback": "".join(tb[-6:])[-6000:]}
                else:
                    payload["result"] = enc_result(result)
        payload["warnings"] = [{"category": w.category.__name__, "message": str(w.message)[:500]}
                               for w in caught[:20]]
        payload["args_after"] = enc([args, kwargs], [limits["bytes"]])
        return payload

    def lookup(names):
        """Which learner names exist; values (quiz answers) come back encoded."""
        ns = user_ns()
        found = {}
        for name in names:
            if name not in ns:
                continue
            obj = ns[name]
            if callable(obj) and not isinstance(obj, (set, frozenset, dict, list, tuple, str)):
                found[name] = {"kind": "callable"}
            else:
                found[name] = {"kind": "value", "value": enc_result(obj)}
        return found

    def read_exactly(fd, n):
        buf = b""
        while len(buf) < n:
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def serve(req_fd, rep_fd):
        """Answer the grader's requests from a thread, one frame each way over two pipes
        (8-byte length, then the body: a pickle in, JSON out).

        This keeps calls off the Jupyter execute path (milliseconds each instead of a
        cell round trip); the main thread stays idle while checks run, so learner code
        still runs alone.
        """
        def loop():
            while True:
                try:
                    size = int.from_bytes(read_exactly(req_fd, 8), "big")
                    request = Unpickler(io.BytesIO(read_exactly(req_fd, size))).load()
                except EOFError:
                    return
                try:
                    if request["op"] == "call":
                        reply = call(request["name"], *request["args"])
                    else:
                        reply = lookup(request["names"])
                except BaseException as exc:  # noqa: B902 (the grader must get an answer)
                    reply = {"error": {"ename": type(exc).__name__, "evalue": str(exc)[:2000]}}
                reply = {"seq": request["seq"], "reply": reply}
                body = json.dumps(reply).encode()
                os.write(rep_fd, len(body).to_bytes(8, "big"))
                view = memoryview(body)
                while view:
                    view = view[os.write(rep_fd, view):]

        threading.Thread(target=loop, name="gru-grader", daemon=True).start()

    class Helper:
        pass

    helper = Helper()
    helper.call, helper.lookup, helper.serve = call, lookup, serve
    return helper


__gru_grader__ = _make()
