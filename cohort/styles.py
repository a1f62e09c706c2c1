"""Independent correct solutions of 01_gates in different styles, and the disguises a
copier uses. For the similarity tests and benchmark (``grader/similarity.py``).

Each style is what a learner who never saw the others could write: explicit loops,
``np.einsum``, concatenated weights, a shared gate helper, step-by-step ``np.matmul``, a
transposed ``dot``. All compute the reference GRU (the tests check them against it).
"""
import ast
import io
import keyword
import random
import tokenize

STYLES = {
    "loops": {
        "sigmoid": '''def sigmoid(a):
    """Numerically stable logistic function, elementwise."""
    a = np.asarray(a, dtype=float)
    out = np.empty_like(a)
    flat_in, flat_out = a.ravel(), out.ravel()
    for i in range(flat_in.size):
        v = flat_in[i]
        if v >= 0:
            flat_out[i] = 1.0 / (1.0 + np.exp(-v))
        else:
            ev = np.exp(v)
            flat_out[i] = ev / (1.0 + ev)
    return out
''',
        "update_gate": '''def update_gate(x, h_prev, params):
    """z = sigmoid(x W_Fz + h_prev W_Rz + b_z), shape (N, H)."""
    n_rows, n_hidden = h_prev.shape
    total = np.zeros((n_rows, n_hidden))
    for n in range(n_rows):
        for j in range(n_hidden):
            acc = params["b_z"][j]
            for d in range(x.shape[1]):
                acc += x[n, d] * params["W_Fz"][d, j]
            for k in range(n_hidden):
                acc += h_prev[n, k] * params["W_Rz"][k, j]
            total[n, j] = acc
    return sigmoid(total)
''',
        "reset_gate": '''def reset_gate(x, h_prev, params):
    """r = sigmoid(x W_Fr + h_prev W_Rr + b_r), shape (N, H)."""
    n_rows, n_hidden = h_prev.shape
    total = np.zeros((n_rows, n_hidden))
    for n in range(n_rows):
        for j in range(n_hidden):
            acc = params["b_r"][j]
            for d in range(x.shape[1]):
                acc += x[n, d] * params["W_Fr"][d, j]
            for k in range(n_hidden):
                acc += h_prev[n, k] * params["W_Rr"][k, j]
            total[n, j] = acc
    return sigmoid(total)
''',
        "candidate_state": '''def candidate_state(x, h_prev, r, params):
    """h~ = tanh(x W_Fh + (r * h_prev) W_Rh + b_h), shape (N, H)."""
    n_rows, n_hidden = h_prev.shape
    gated = r * h_prev
    total = np.zeros((n_rows, n_hidden))
    for n in range(n_rows):
        for j in range(n_hidden):
            acc = params["b_h"][j]
            for d in range(x.shape[1]):
                acc += x[n, d] * params["W_Fh"][d, j]
            for k in range(n_hidden):
                acc += gated[n, k] * params["W_Rh"][k, j]
            total[n, j] = np.tanh(acc)
    return total
''',
        "gru_cell_forward": '''def gru_cell_forward(x, h_prev, params):
    """One GRU step. Returns (h_next, cache)."""
    z = update_gate(x, h_prev, params)
    r = reset_gate(x, h_prev, params)
    h_tilde = candidate_state(x, h_prev, r, params)
    h_next = np.zeros_like(h_prev)
    for n in range(h_prev.shape[0]):
        for j in range(h_prev.shape[1]):
            h_next[n, j] = (1 - z[n, j]) * h_prev[n, j] + z[n, j] * h_tilde[n, j]
    cache = {}
    for key, value in [("x", x), ("h_prev", h_prev), ("z", z), ("r", r),
                       ("h_tilde", h_tilde), ("params", params)]:
        cache[key] = value
    return h_next, cache
''',
    },
    "einsum": {
        "sigmoid": '''def sigmoid(a):
    """Numerically stable logistic function, elementwise."""
    a = np.asarray(a, dtype=float)
    return np.exp(-np.logaddexp(0.0, -a))
''',
        "update_gate": '''def update_gate(x, h_prev, params):
    """z = sigmoid(x W_Fz + h_prev W_Rz + b_z), shape (N, H)."""
    pre = np.einsum("nd,dh->nh", x, params["W_Fz"]) + np.einsum("nk,kh->nh", h_prev, params["W_Rz"])
    return sigmoid(pre + params["b_z"][None, :])
''',
        "reset_gate": '''def reset_gate(x, h_prev, params):
    """r = sigmoid(x W_Fr + h_prev W_Rr + b_r), shape (N, H)."""
    pre = np.einsum("nd,dh->nh", x, params["W_Fr"]) + np.einsum("nk,kh->nh", h_prev, params["W_Rr"])
    return sigmoid(pre + params["b_r"][None, :])
''',
        "candidate_state": '''def candidate_state(x, h_prev, r, params):
    """h~ = tanh(x W_Fh + (r * h_prev) W_Rh + b_h), shape (N, H)."""
    feed = np.einsum("nd,dh->nh", x, params["W_Fh"])
    rec = np.einsum("nk,nk,kh->nh", r, h_prev, params["W_Rh"])
    return np.tanh(feed + rec + params["b_h"][None, :])
''',
        "gru_cell_forward": '''def gru_cell_forward(x, h_prev, params):
    """One GRU step. Returns (h_next, cache)."""
    gates = {"z": update_gate(x, h_prev, params), "r": reset_gate(x, h_prev, params)}
    cand = candidate_state(x, h_prev, gates["r"], params)
    h_next = np.einsum("nh,nh->nh", 1.0 - gates["z"], h_prev) + np.einsum("nh,nh->nh", gates["z"], cand)
    cache = dict(x=x, h_prev=h_prev, h_tilde=cand, params=params, **gates)
    return h_next, cache
''',
    },
    "concat": {
        "sigmoid": '''def sigmoid(a):
    """Numerically stable logistic function, elementwise."""
    a = np.asarray(a, dtype=float)
    pos = a >= 0
    result = np.zeros_like(a)
    result[pos] = 1 / (1 + np.exp(-a[pos]))
    exp_neg = np.exp(a[~pos])
    result[~pos] = exp_neg / (1 + exp_neg)
    return result
''',
        "update_gate": '''def update_gate(x, h_prev, params):
    """z = sigmoid(x W_Fz + h_prev W_Rz + b_z), shape (N, H)."""
    xh = np.concatenate([x, h_prev], axis=1)
    W = np.vstack([params["W_Fz"], params["W_Rz"]])
    return sigmoid(xh.dot(W) + params["b_z"])
''',
        "reset_gate": '''def reset_gate(x, h_prev, params):
    """r = sigmoid(x W_Fr + h_prev W_Rr + b_r), shape (N, H)."""
    xh = np.concatenate([x, h_prev], axis=1)
    W = np.vstack([params["W_Fr"], params["W_Rr"]])
    return sigmoid(xh.dot(W) + params["b_r"])
''',
        "candidate_state": '''def candidate_state(x, h_prev, r, params):
    """h~ = tanh(x W_Fh + (r * h_prev) W_Rh + b_h), shape (N, H)."""
    stacked_input = np.concatenate([x, r * h_prev], axis=1)
    stacked_weight = np.vstack([params["W_Fh"], params["W_Rh"]])
    return np.tanh(stacked_input.dot(stacked_weight) + params["b_h"])
''',
        "gru_cell_forward": '''def gru_cell_forward(x, h_prev, params):
    """One GRU step. Returns (h_next, cache)."""
    xh = np.concatenate([x, h_prev], axis=1)
    W_zr = np.vstack([np.hstack([params["W_Fz"], params["W_Fr"]]),
                      np.hstack([params["W_Rz"], params["W_Rr"]])])
    zr = sigmoid(xh.dot(W_zr) + np.concatenate([params["b_z"], params["b_r"]]))
    H = h_prev.shape[1]
    z, r = zr[:, :H], zr[:, H:]
    h_tilde = candidate_state(x, h_prev, r, params)
    h_next = h_tilde + (1 - z) * (h_prev - h_tilde)
    return h_next, {"x": x, "h_prev": h_prev, "z": z, "r": r, "h_tilde": h_tilde, "params": params}
''',
    },
    "helper": {
        "sigmoid": '''def sigmoid(a):
    """Numerically stable logistic function, elementwise."""
    a = np.asarray(a, dtype=float)
    return 0.5 * (1.0 + np.tanh(0.5 * a))
''',
        "update_gate": '''def _affine(inp, hid, params, tag):
    return np.dot(inp, params["W_F" + tag]) + np.dot(hid, params["W_R" + tag]) + params["b_" + tag]


def update_gate(x, h_prev, params):
    """z = sigmoid(x W_Fz + h_prev W_Rz + b_z), shape (N, H)."""
    return sigmoid(_affine(x, h_prev, params, "z"))
''',
        "reset_gate": '''def reset_gate(x, h_prev, params):
    """r = sigmoid(x W_Fr + h_prev W_Rr + b_r), shape (N, H)."""
    return sigmoid(_affine(x, h_prev, params, "r"))
''',
        "candidate_state": '''def candidate_state(x, h_prev, r, params):
    """h~ = tanh(x W_Fh + (r * h_prev) W_Rh + b_h), shape (N, H)."""
    return np.tanh(_affine(x, np.multiply(r, h_prev), params, "h"))
''',
        "gru_cell_forward": '''def _blend(z, old, new):
    """Keep (1 - z) of the old state and take z of the new one."""
    keep = np.subtract(1.0, z)
    return np.add(np.multiply(keep, old), np.multiply(z, new))


def gru_cell_forward(x, h_prev, params):
    """One GRU step. Returns (h_next, cache)."""
    z = update_gate(x, h_prev, params)
    r = reset_gate(x, h_prev, params)
    h_tilde = candidate_state(x, h_prev, r, params)
    names = ("x", "h_prev", "z", "r", "h_tilde", "params")
    cache = dict(zip(names, (x, h_prev, z, r, h_tilde, params)))
    return _blend(z, h_prev, h_tilde), cache
''',
    },
    "matmul": {
        "sigmoid": '''def sigmoid(a):
    """Numerically stable logistic function, elementwise."""
    a = np.asarray(a, dtype=float)
    safe = np.clip(a, -500, 500)
    return 1.0 / (1.0 + np.exp(-safe))
''',
        "update_gate": '''def update_gate(x, h_prev, params):
    """z = sigmoid(x W_Fz + h_prev W_Rz + b_z), shape (N, H)."""
    pre_activation = np.matmul(x, params["W_Fz"])
    pre_activation = pre_activation + np.matmul(h_prev, params["W_Rz"])
    pre_activation += params["b_z"]
    z_gate = sigmoid(pre_activation)
    return z_gate
''',
        "reset_gate": '''def reset_gate(x, h_prev, params):
    """r = sigmoid(x W_Fr + h_prev W_Rr + b_r), shape (N, H)."""
    pre_activation = np.matmul(x, params["W_Fr"])
    pre_activation = pre_activation + np.matmul(h_prev, params["W_Rr"])
    pre_activation += params["b_r"]
    r_gate = sigmoid(pre_activation)
    return r_gate
''',
        "candidate_state": '''def candidate_state(x, h_prev, r, params):
    """h~ = tanh(x W_Fh + (r * h_prev) W_Rh + b_h), shape (N, H)."""
    reset_hidden = r * h_prev
    pre_activation = np.matmul(x, params["W_Fh"])
    pre_activation = pre_activation + np.matmul(reset_hidden, params["W_Rh"])
    pre_activation += params["b_h"]
    return np.tanh(pre_activation)
''',
        "gru_cell_forward": '''def gru_cell_forward(x, h_prev, params):
    """One GRU step. Returns (h_next, cache)."""
    update = update_gate(x, h_prev, params)
    reset = reset_gate(x, h_prev, params)
    candidate = candidate_state(x, h_prev, reset, params)
    one_minus = np.ones_like(update) - update
    h_next = one_minus * h_prev
    h_next = h_next + update * candidate
    cache = {"x": x, "h_prev": h_prev, "z": update, "r": reset,
             "h_tilde": candidate, "params": params}
    return h_next, cache
''',
    },
    "transposed": {
        "sigmoid": '''def sigmoid(a):
    """Numerically stable logistic function, elementwise."""
    a = np.asarray(a, dtype=float)
    neg = np.exp(np.minimum(a, 0.0))
    return np.where(a < 0, neg / (1.0 + neg), 1.0 / (1.0 + np.exp(-np.maximum(a, 0.0))))
''',
        "update_gate": '''def update_gate(x, h_prev, params):
    """z = sigmoid(x W_Fz + h_prev W_Rz + b_z), shape (N, H)."""
    WzT = params["W_Fz"].T
    UzT = params["W_Rz"].T
    col = WzT.dot(x.T) + UzT.dot(h_prev.T) + params["b_z"].reshape(-1, 1)
    return sigmoid(col).T
''',
        "reset_gate": '''def reset_gate(x, h_prev, params):
    """r = sigmoid(x W_Fr + h_prev W_Rr + b_r), shape (N, H)."""
    WrT = params["W_Fr"].T
    UrT = params["W_Rr"].T
    col = WrT.dot(x.T) + UrT.dot(h_prev.T) + params["b_r"].reshape(-1, 1)
    return sigmoid(col).T
''',
        "candidate_state": '''def candidate_state(x, h_prev, r, params):
    """h~ = tanh(x W_Fh + (r * h_prev) W_Rh + b_h), shape (N, H)."""
    col = params["W_Fh"].T.dot(x.T) + params["W_Rh"].T.dot((r * h_prev).T)
    col = col + params["b_h"].reshape(-1, 1)
    return np.tanh(col).T
''',
        "gru_cell_forward": '''def gru_cell_forward(x, h_prev, params):
    """One GRU step. Returns (h_next, cache)."""
    cache = {"x": x, "h_prev": h_prev, "params": params}
    cache["z"] = update_gate(x, h_prev, params)
    cache["r"] = reset_gate(x, h_prev, params)
    cache["h_tilde"] = candidate_state(x, h_prev, cache["r"], params)
    delta = cache["h_tilde"] - h_prev
    return h_prev + cache["z"] * delta, cache
''',
    },
}
# the module-level names a style's code uses besides numpy
STYLE_IMPORTS = "import numpy as np\n"   # what the notebook imports


# --------------------------------------------------------------------------- disguises

def _bound(src):
    tree = ast.parse(src)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef) and node.name.startswith("_"):
            names.add(node.name)
    return names


def rename(src, rng, helpers=None):
    """Every variable, argument and private helper renamed (the public function names stay:
    the tests call them). ``helpers`` carries helper renames across cells."""
    helpers = {} if helpers is None else helpers
    bound = _bound(src)
    names, out = {}, []
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
            if tok.string.startswith("_") and tok.string in helpers:
                tok = tok._replace(string=helpers[tok.string])
            elif tok.string in bound:
                if tok.string not in names:
                    new = f"{rng.choice(['my', 'tmp', 'val', 'q', 'the'])}_{tok.string[::-1].strip('_')}{len(tok.string)}"
                    names[tok.string] = "_" + new if tok.string.startswith("_") else new
                    if tok.string.startswith("_"):
                        helpers[tok.string] = names[tok.string]
                tok = tok._replace(string=names[tok.string])
        out.append(tok)
    return tokenize.untokenize(out)


def recomment(src, rng):
    """Comments and docstrings replaced, indentation 4 -> 2 spaces, blank lines and spacing
    changed."""
    out = []
    for line in src.splitlines():
        code = line.split("#", 1)[0].rstrip()
        if code.strip().startswith('"""') and code.strip().endswith('"""') and len(code.strip()) > 6:
            indent = code[: len(code) - len(code.lstrip())]
            code = indent + '"""' + rng.choice(["my solution", "computes the step", "see lecture 3"]) + '"""'
        stripped = code.lstrip(" ")
        depth = (len(code) - len(stripped)) // 4
        code = "  " * depth + stripped
        code = code.replace(" + ", "+").replace(" * ", "*").replace(", ", ",")
        if code.strip():
            out.append(code + ("  # " + rng.choice(["done", "TODO check", "works", "hmm"]) if rng.random() < 0.4 else ""))
            if rng.random() < 0.3:
                out.append("")
    return "\n".join(out) + "\n"


def reorder(src, rng):
    """Top-level functions in the reverse order; in each function, two neighbouring
    assignments that do not depend on each other swapped."""
    tree = ast.parse(src)
    tree.body = list(reversed(tree.body))
    for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
        body = fn.body
        for i in range(len(body) - 1):
            a, b = body[i], body[i + 1]
            if isinstance(a, ast.Assign) and isinstance(b, ast.Assign):
                ta = {n.id for t in a.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                tb = {n.id for t in b.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                ua = {n.id for n in ast.walk(a.value) if isinstance(n, ast.Name)}
                ub = {n.id for n in ast.walk(b.value) if isinstance(n, ast.Name)}
                if not (ta & ub) and not (tb & ua) and not (ta & tb):
                    body[i], body[i + 1] = b, a
                    break
    return ast.unparse(tree) + "\n"


HELPER_LINES = ['if a.shape[0] != b.shape[0]:\n        raise ValueError("MESSAGE")',
                'assert len(a) == len(b), "MESSAGE"', 'assert np.ndim(a) == 2 and np.ndim(b) == 2',
                'rows = {np.shape(a)[0], np.shape(b)[0]}\n    assert len(rows) == 1, rows',
                'if not np.all(np.isfinite(a)):\n        raise ValueError("not finite")',
                'assert a.dtype.kind == "f" or a.dtype.kind == "i"', 'assert b.size < LIMIT',
                'assert isinstance(a, np.ndarray), type(a)', 'assert a.shape[-1] < LIMIT']
MESSAGES = ["batch sizes differ", "rows do not match", "x and h_prev disagree", "bad batch",
            "inputs must share N", "shape mismatch"]


def _helper(name, rng):
    """A helper of the copier's own: some checks of their choosing, in their order."""
    body = [line.replace("LIMIT", str(rng.randint(100, 10 ** 6)))
            for line in rng.sample(HELPER_LINES, rng.randint(2, 4))]
    message = f"{rng.choice(MESSAGES)} ({rng.randint(1, 999)})"
    return (f"def {name}(a, b):\n" + "".join(f"    {line}\n" for line in body)
            ).replace("MESSAGE", message) + "\n\n"


def extra_helper(src, rng, state=None):
    """A helper function of the copier's own (written once, in the first cell that calls
    it), called at the start of each function."""
    state = {} if state is None else state
    name = state.setdefault("name", rng.choice(["_check_same_rows", "_same_batch", "_rows_ok",
                                                "_validate", "_check"]) + str(rng.randint(0, 99)))
    tree = ast.parse(src)
    lines = src.splitlines(keepends=True)
    for fn in sorted((n for n in tree.body if isinstance(n, ast.FunctionDef)),
                     key=lambda n: -n.lineno):
        first = fn.body[0]
        if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
            first = fn.body[1] if len(fn.body) > 1 else first
        indent = " " * first.col_offset
        args = [a.arg for a in fn.args.args]
        if len(args) >= 2:
            lines.insert(first.lineno - 1, f"{indent}{name}({args[0]}, {args[1]})\n")
    if len(lines) == len(src.splitlines(keepends=True)) or state.get("written"):
        return "".join(lines)
    state["written"] = True
    return _helper(name, rng) + "".join(lines)


DISGUISES = {"rename": rename, "recomment": recomment, "reorder": reorder, "helper": extra_helper}


def disguise(answers, kinds, seed=0):
    """``answers`` ({exercise: source}) after each disguise in ``kinds``, in order."""
    rng = random.Random(seed)
    out = dict(answers)
    for kind in kinds:
        helpers, state = {}, {}
        for ex, src in out.items():
            if kind == "rename":
                out[ex] = rename(src, rng, helpers)
            elif kind == "helper":
                out[ex] = extra_helper(src, rng, state)
            else:
                out[ex] = DISGUISES[kind](src, rng)
    return out


def mixed(style_by_exercise):
    """A learner who wrote each exercise in the style named for it."""
    return {ex: STYLES[style][ex] for ex, style in style_by_exercise.items()}


# --------------------------------------------------------------------------- a large cohort

CHECKS = ['assert x.ndim == 2, "x must be (N, D)"', 'assert h_prev.ndim == 2',
          'assert x.shape[0] == h_prev.shape[0]', 'x = np.asarray(x, dtype=float)',
          'h_prev = np.asarray(h_prev, dtype=float)', 'N = x.shape[0]', 'H = h_prev.shape[1]',
          'D = x.shape[1]', 'assert len(params) >= 9',
          'assert np.all(np.isfinite(x))', 'assert not np.isnan(h_prev).any()',
          'dtype = np.result_type(x, h_prev)', 'assert x.shape[0] < LIMIT, "batch too large"',
          'assert h_prev.size <= LIMIT', 'scale = LIMIT', 'assert x.shape[1] < LIMIT']


def individual(answers, rng, share=0.7):
    """What makes one learner's code their own: checks of their choosing, here and there
    in each function that takes ``x`` and ``h_prev`` (so their code is rare as a whole)."""
    out = {}
    for ex, src in answers.items():
        lines, result, inside = src.splitlines(keepends=True), [], False
        for i, line in enumerate(lines):
            if line.startswith("def "):
                inside = "h_prev" in line
            prev = lines[i - 1].rstrip() if i else ""
            if (inside and line.startswith("    ") and not line.startswith("     ")
                    and not line.strip().startswith('"""') and not prev.startswith("def ")
                    and not prev.endswith((",", "(", "[", "\\", ":")) and rng.random() < share):
                check = rng.choice(CHECKS).replace("LIMIT", str(rng.randint(100, 10 ** 6)))
                result.append(f"    {check}\n")
            result.append(line)
        out[ex] = "".join(result)
    return out


def synthetic_cohort(n, seed=0, copy_share=0.02, usual=None):
    """{student: {exercise: source}} of ``n`` learners of 01_gates, each exercise in one of
    the styles (or ``usual``, the course's own solution, for about a third), individualized;
    ``copy_share`` of them copy another learner with random disguises. Returns
    (answers, planted pairs)."""
    rng = random.Random(seed)
    names = list(STYLES)
    answers, planted = {}, set()
    n_copies = int(n * copy_share)
    for i in range(n - n_copies):
        own = {}
        for ex in STYLES[names[0]]:
            if usual is not None and rng.random() < 0.35:
                own[ex] = usual[ex]
            else:
                own[ex] = STYLES[rng.choice(names)][ex]
        answers[f"s{i:04d}"] = individual(own, rng)
    originals = list(answers)
    for j in range(n_copies):
        source = rng.choice(originals)
        kinds = rng.sample(list(DISGUISES), rng.randint(1, 4))
        who = f"c{j:04d}"
        answers[who] = disguise(answers[source], kinds, seed=rng.randrange(10 ** 6))
        planted.add(frozenset((who, source)))
    return answers, planted
