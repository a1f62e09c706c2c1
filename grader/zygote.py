"""Warm kernels without shared state: a pre-imported process forked once per notebook.

A worker starts one zygote. The zygote imports what every notebook needs (IPython,
ipykernel, numpy, matplotlib, torch) and then only forks: each child confines itself
(``sandbox.confine``) and becomes a fresh IPython kernel for exactly one notebook. No
learner code ever runs in the zygote, so no state passes between students; what a fork
saves is the start-up and the imports (seconds with torch), not isolation.

Protocol on the zygote's stdin/stdout: one JSON request per line, one pid per line back.
"""
import json
import os
import signal
import sys

# What notebooks import, and what a kernel's start-up imports (found by diffing
# sys.modules around IPKernelApp.initialize).
PRELOAD = ("numpy", "matplotlib", "matplotlib.pyplot", "torch", "IPython",
           "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger", "ipykernel.zmqshell",
           "matplotlib_inline.backend_inline", "sqlite3", "pdb", "pydoc", "http.server",
           "xmlrpc.server", "tornado.queues", "tornado.locks", "tornado.gen", "faulthandler",
           "IPython.core.history", "IPython.core.completer", "IPython.core.interactiveshell",
           "IPython.extensions.storemagic", "jedi", "IPython.core.completerlib",
           "IPython.core.debugger", "IPython.core.magic_arguments", "IPython.core.magics.ast_mod",
           "IPython.core.magics.execution", "IPython.core.oinspect", "IPython.utils.module_paths",
           "IPython.utils.wildcard", "tornado.platform.asyncio")


def warm_up():
    """Import what notebooks import, then pay the one-time costs that libraries defer to
    first use. Nothing here is learner code: every fork starts from the same state.

    The benchmark's floor kernel runs this too, so the floor is as warm as our kernels."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    try:
        import io

        import matplotlib.pyplot as plt
        import torch
        from matplotlib.backends.registry import backend_registry

        # --IPKernelApp.matplotlib=inline is checked against every installed backend, which
        # scans all packages' entry points (30 ms per kernel); the registry keeps the list
        backend_registry.list_all()

        # torch.optim's first optimizer imports torch._dynamo and sympy (over a second)
        torch.optim.Adam([torch.zeros(1, requires_grad=True)])
        # fonts, mathtext and the PNG writer load on the first figure drawn
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.semilogy([1, 10], label=r"$\|x\|_F$")
        ax.legend()
        fig.tight_layout()
        fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
        plt.close(fig)
    except Exception:  # noqa: BLE001 (a warm-up that fails only costs speed)
        pass


def serve():
    warm_up()
    sandbox = _load("sandbox.py", "gru_sandbox")
    confine, parse = sandbox.confine, sandbox.parse
    helper = _load("kernel_helper.py", "gru_kernel_helper").__gru_grader__
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)   # children are reaped by the system
    out = os.fdopen(os.dup(1), "w", buffering=1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _become_kernel(request, null, confine, parse, helper)
        out.write(f"{pid}\n")


def _become_kernel(request, null, confine, parse, helper):
    try:
        os.setsid()
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        args = parse(request["sandbox_args"])
        os.environ.clear()
        os.environ.update(request["env"])
        connection_file = confine(args, request["connection_file"])
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        # the trait's default was read from the environment when the zygote imported it
        parent = os.environ.get("JPY_PARENT_PID", "0")
        app.initialize(["-f", connection_file, *request["kernel_args"],
                        f"--IPKernelApp.parent_handle={parent}"])
        if request.get("helper_fifos"):
            # the checks' helper thread, outside the learner's namespace (see kernel_helper)
            helper.serve(*request["helper_fifos"])
        app.start()
    finally:
        os._exit(0)


def _load(filename, name):
    # loaded by path, before any fork confines itself: nothing in a kernel's world
    # imports the grader package, and the course folder is hidden from the kernels
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(name, os.path.join(here, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    serve()
