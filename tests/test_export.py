"""`discover export`: a run's law as a Python module, LaTeX or JSON, which give what
`discover predict` gives (same parameters, the data's own units)."""

import importlib.util
import json
import math

import numpy as np
import pandas as pd
import pytest
from test_cli import assert_clean_error, discover
from test_predict import copy_run_without_its_end, run  # noqa: F401  (the finished run, a fixture)

from discover.export import Exported, load
from discover.export.json_law import law_dict, to_json
from discover.export.latex import number, text, to_latex
from discover.export.python_code import argument_names, to_python
from discover.expr import compile_expr, parse
from discover.final import FinalLaw
from discover.predict import PREFIX, RunLaw, load_law, predictions, with_groups
from discover.report.math import render
from discover.score import Scores


def module_from(source: str, tmp_path, name: str = "law"):
    """Import the exported module as a user would (from its file)."""
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def exported(text: str, inputs, symbols, params, groups=("all",), targets=("loss",), scales=None) -> Exported:
    """A law as a run would record it, without running a search."""
    s = Scores(r2=0.9, r2_raw=0.9, nmse=0.1, nmae=0.2)
    law = RunLaw(id=7, text=text, recommended=True, inputs=tuple(inputs), symbols=tuple(symbols),
                 targets=tuple(targets), groups=tuple(groups), group_columns=("model",) if len(groups) > 1 else (),
                 scales=dict(scales or {s_: 1.0 for s_ in symbols}), params=np.array(params, dtype=float),
                 ranges={g: {c: (1.0, 2.0) for c in inputs} for g in groups})
    scores = FinalLaw(id=7, text=text, complexity=9, n_params=len(params[0]), origin="motif",
                      names=tuple(f"p{i}" for i in range(len(params[0]))), params=tuple(map(tuple, params)), train=s,
                      val=s, test=s, recommended=True)
    return Exported(law=law, scores=scores, run="runs/x/run", task="x", split="test")


def test_the_python_module_predicts_what_discover_predict_does(run, tmp_path):  # noqa: F811
    path, _ = run
    ex = load(path)
    mod = module_from(to_python(ex), tmp_path)
    law = load_law(path)
    points = pd.DataFrame({"N": [1e8, 6.4e9, 3e8], "D": [1e9, 1e11, 2e9]})
    expected = predictions(law, with_groups(points, law))
    assert set(mod.GROUPS) == {"small", "big"} and mod.TARGETS == ("loss", "error")
    for target in mod.TARGETS:
        for group in mod.GROUPS:
            want = expected.loc[expected["model"] == group, PREFIX + target].to_numpy()
            got = mod.predict(points["N"].to_numpy(), points["D"].to_numpy(), group=group, target=target)
            assert np.allclose(got, want, rtol=1e-12, atol=0)
            assert mod.predict(1e8, 1e9, group=group, target=target) == pytest.approx(want[0], rel=1e-12)
    cfg = json.loads((path / "config.json").read_text())
    assert {g: {c: list(r) for c, r in span.items()} for g, span in mod.TRAIN_RANGES.items()} == cfg["ranges"]
    with pytest.raises(ValueError, match="no parameters for target 'loss' and group 'medium'"):
        mod.predict(1e8, 1e9, group="medium", target="loss")


def test_the_python_module_renames_inputs_that_clash_and_keeps_every_function(tmp_path):
    """Columns that are not identifiers, or that the module's own names would shadow, still work;
    so do the whitelist's functions (max prints through functools.reduce)."""
    inputs, symbols = ("model size", "group", "numpy"), ("model_size", "group", "numpy")
    text_ = "p0 + p1*log(model_size)**2 + max(group, numpy)**p2 - abs(numpy)*tanh(group)/sqrt(model_size) + exp(-p3)"
    ex = exported(text_, inputs, symbols, [[1.0, 0.5, -0.3, 2.0], [1.5, 0.4, -0.2, 1.0]], groups=("a", "b"),
                  scales={"model_size": 1e8, "group": 1.0, "numpy": 10.0})
    source = to_python(ex)
    assert "import functools" in source and "def law(model_size, group_, numpy_, p0, p1, p2, p3)" in source
    mod = module_from(source, tmp_path)
    assert mod.INPUTS == {"model_size": "model size", "group_": "group", "numpy_": "numpy"}
    frame = pd.DataFrame({"model size": [1e8, 3e9], "group": [2.0, 0.5], "numpy": [3.0, 40.0], "model": ["b", "b"]})
    want = predictions(ex.law, with_groups(frame, ex.law))[PREFIX + "loss"].to_numpy()
    got = mod.predict(frame["model size"].to_numpy(), frame["group"].to_numpy(), frame["numpy"].to_numpy(), group="b")
    assert np.allclose(got, want, rtol=1e-12)
    assert argument_names(("group", "group_")) == {"group": "group__", "group_": "group_"}


def test_the_python_module_keeps_undefined_values_and_odd_parameters(tmp_path):
    """NaN where the law is undefined (a log of a negative input), as discover gives it; a
    parameter the fit left NaN is written as such; a one-parameter law is a one-element tuple."""
    mod = module_from(to_python(exported("p0*log(N)", ["N"], ["N"], [[2.0]])), tmp_path, "one")
    assert mod.PARAMS == {("loss", "all"): (2.0,)} and mod.predict(math.e) == pytest.approx(2.0)
    assert np.isnan(mod.predict(-1.0))
    mod = module_from(to_python(exported("p0 + N**p1", ["N"], ["N"], [[float("nan"), 1.0]])), tmp_path, "nan")
    assert np.isnan(mod.PARAMS[("loss", "all")][0])
    odd = exported("p0 + N", ["N"], ["N"], [[1.0]])
    odd = Exported(law=odd.law, scores=odd.scores, run='C:\\runs\\"""x', task="x", split="test")
    assert module_from(to_python(odd), tmp_path, "odd").__doc__.startswith('Scaling law found by discover')


def test_latex_gives_the_formula_in_data_units_and_every_parameter():
    ex = exported("p0 + p1*N**p2", ["N"], ["N"], [[1.5, 2.0e43, -0.25], [1.25, 3.0, -0.5]], groups=("a_b & c", "d"),
                  scales={"N": 1e8})
    out = to_latex(ex)
    equation = out.split("\\begin{equation}\n")[1].split("\n\\end{equation}")[0].strip()
    assert "10^{-8}" in equation and equation.startswith(r"\mathrm{loss} = ")
    render(equation)  # mathtext typesets it (raises if not)
    rows = [line for line in out.splitlines() if line.endswith(r"\\")]
    assert rows[0] == r"group & $p_{0}$ & $p_{1}$ & $p_{2}$ \\"
    assert rows[1] == r"a\_b \& c & 1.5 & $2\times10^{43}$ & $-0.25$ \\"
    assert rows[2].startswith("d & 1.25 & 3 & ")
    assert text("50% of $x_1 {#}") == r"50\% of \$x\_1 \{\#\}"
    assert (number(-1.5e-7), number(float("inf")), number(123456.0)) == (r"$-1.5\times10^{-7}$", "---", "123456")


def test_json_holds_the_fit_and_its_law_in_data_units_evaluates_to_the_prediction(run):  # noqa: F811
    path, _ = run
    ex = load(path)
    d = json.loads(to_json(ex))
    final = json.loads((path / "final.json").read_text())
    rec = next(w for w in final["laws"] if w["recommended"])
    assert d["law_id"] == rec["id"] and d["law"] == rec["text"] and d["scores"]["test_r2"] == rec["test"]["r2"]
    groups, targets = d["groups"], d["targets"]
    for i, t in enumerate(targets):
        for j, g in enumerate(groups):
            assert list(d["params"][t][g].values()) == rec["params"][i * len(groups) + j]
    law = load_law(path)
    points = pd.DataFrame({"N": [2e8, 5e9], "D": [4e9, 1e11]})
    want = predictions(law, with_groups(points, law))
    raw = compile_expr(parse(d["law_in_data_units"], list(d["inputs"]), max_params=None))
    for t in targets:
        for g in groups:
            env = {"N": points["N"].to_numpy(), "D": points["D"].to_numpy(),
                   **{k: np.full(2, v) for k, v in d["params"][t][g].items()}}
            assert np.allclose(raw(env), want.loc[want["model"] == g, PREFIX + t].to_numpy(), rtol=1e-9)
    nan = exported("p0 + N**p1", ["N"], ["N"], [[float("nan"), 1.0]])
    assert law_dict(nan)["params"]["loss"]["all"] == {"p0": None, "p1": 1.0}
    json.loads(to_json(nan))  # strict JSON: no NaN


def test_cli_exports_to_a_file_or_prints_and_errors_are_one_line(run, tmp_path):  # noqa: F811
    path, _ = run
    code, out, err = discover("export", str(path), "-o", str(tmp_path / "law.py"))
    assert code == 0, err
    assert "written" in out and module_from((tmp_path / "law.py").read_text(), tmp_path, "law2").PARAMS
    code, out, err = discover("export", str(path), "--to", "latex")
    assert code == 0, err
    assert out.startswith("% Scaling law found by discover") and "\\begin{tabular}" in out
    code, out, err = discover("show", str(path))
    assert code == 0, err
    assert f"discover export {path} -o law.py" in out  # where a finished run points its user
    code, _, err = discover("export", str(path), "--law", "999999")
    assert_clean_error(code, err, "no law with id 999999")
    unfinished = copy_run_without_its_end(path, tmp_path / "unfinished")
    code, _, err = discover("export", str(unfinished))
    assert_clean_error(code, err, "has not finished")
    code, _, err = discover("export", str(path), "-o", str(tmp_path / "new" / "law.py"))  # its folder is made
    assert code == 0 and (tmp_path / "new" / "law.py").read_text().startswith('"""'), err
    code, _, err = discover("export", str(path), "-o", str(tmp_path / "new" / "law.py" / "law.py"))
    assert_clean_error(code, err, "cannot write")
