"""docs/notation.md: in the repository, linked from the README, in step with the notebooks."""
import re

import nbformat

from grader import course

ROOT = course.ROOT
NOTATION = ROOT / "docs" / "notation.md"
OUTSIDE = ("../shared", "course-contract")


def _flat(text):
    """LaTeX without spacing, for comparing formulas written with different spacing."""
    return re.sub(r"\s+|\\,|&", "", text)


def _markdown_cells(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def _texts():
    """Every text a reader of the repository follows: README, docs, notebooks."""
    yield ROOT / "README.md"
    yield from sorted((ROOT / "docs").rglob("*.md"))
    for folder in ("notebooks", "solutions"):
        yield from sorted((ROOT / folder).rglob("*.ipynb"))


def test_nothing_links_outside_the_repository():
    for path in _texts():
        text = path.read_text(encoding="utf-8")
        for needle in OUTSIDE:
            assert needle not in text, f"{path.relative_to(ROOT)} mentions {needle}"


def test_relative_links_resolve_inside_the_repository():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            resolved = (path.parent / target.split("#")[0]).resolve()
            assert resolved.is_relative_to(ROOT.resolve()), (path.name, target)
            assert resolved.exists(), (path.name, target)


def test_readme_links_the_notation():
    assert "](docs/notation.md)" in (ROOT / "README.md").read_text()


def test_notation_names_every_learner_function_as_the_notebooks_define_it():
    text = NOTATION.read_text()
    defined = {}
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for name, args in re.findall(r"^def (\w+)\((.*)\):", cell.source, re.M):
                if name in course.LEARNER_FUNCTIONS:
                    defined.setdefault(name, set()).add(f"{name}({args})")
    assert set(defined) == set(course.LEARNER_FUNCTIONS)
    for name, signatures in defined.items():
        for signature in signatures:
            assert f"`{signature}`" in text, signature
    assert "q1_answer" in text


def test_notation_has_the_parameter_names_and_shapes():
    from gru_reference import PARAM_KEYS

    text = NOTATION.read_text()
    for key in PARAM_KEYS:
        assert f"`{key}`" in text
    for shape in ("`(D, H)`", "`(H, H)`", "`(H,)`", "`(N, D)`", "`(N, H)`", "`(N, T, D)`",
                  "`(N, T, H)`"):
        assert shape in text


def test_equations_agree_with_the_notebooks():
    text = _flat(NOTATION.read_text())
    gates = "\n".join(_markdown_cells(ROOT / "solutions" / "01_gates" / "gru_gates.ipynb"))
    torch_doc = "\n".join(_markdown_cells(
        ROOT / "solutions" / "03_parameters" / "parameter_counting.ipynb"))
    course_forms = [r"z = \sigma\left(x W_{Fz} + h W_{Rz} + b_z\right)",
                    r"r = \sigma\left(x W_{Fr} + h W_{Rr} + b_r\right)",
                    r"\tilde h = \tanh\left(x W_{Fh} + (r \odot h)\, W_{Rh} + b_h\right)",
                    r"h' = (1 - z) \odot h + z \odot \tilde h"]
    for formula in course_forms:
        assert _flat(formula) in _flat(gates), formula          # the notebook's own
        assert _flat(formula) in text, formula
    # torch's flipped update gate, as the notebooks write it (with z named z_torch here)
    torch_mix = r"h' = (1 - z) \odot n + z \odot h"
    assert _flat(torch_mix) in _flat(torch_doc)
    assert _flat(torch_mix.replace("z", r"z_{\text{torch}}")) in text
    assert _flat(r"n = \tanh\left(W_{in} x + b_{in} + r \odot \left(W_{hn} h + b_{hn}\right)\right)") \
        in text
