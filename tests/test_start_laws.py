"""`discover run --start LAW`: the search starts from laws the user writes (data units, parameters
by name), scores them as any candidate and varies them."""

import json

import numpy as np
import pandas as pd
import pytest
import sympy as sp
from test_cli import assert_clean_error, discover, write

import discover as api
from discover import open_run
from discover.expr import params_of, parse
from discover.predict import laws_as_written
from discover.rescale import rescale, without_scales

LAW = "E + A/N**alpha + B/D**beta"  # the table's own law, in the data's units


def _table() -> str:
    lines = ["N,D,loss"]
    for n in (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9):
        for d in (2e9, 8e9, 3.2e10, 1.28e11):
            lines.append(f"{n:g},{d:g},{1.5 + 0.5 / (n / 1e9) ** 0.3 + 0.8 / (d / 1e10) ** 0.25!r}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return write(tmp_path_factory.mktemp("start"), "runs.csv", _table())


def run_args(table, *more):
    return ("run", "--csv", table, "--inputs", "N,D", "--target", "loss", "--holdout", "top value of N", *more)


@pytest.mark.parametrize("scaled, unscaled", [
    ("p0 + p1/(1e7*N)**p2 + p3/(1e10*D)**p4", "p0 + p1*N**p2 + p3*D**p4"),  # power laws: the factor absorbs it
    ("p0*(1e7*N)**p1*(1e10*D)**p2 + p3", "p0*N**p1*D**p2 + p3"),
    ("p0 + p1*log(1e7*N) + p2*log(1e10*D)", "p0 + p1*log(N) + p2*log(D)"),  # the offset absorbs p*log(c)
    ("p0 + p1*exp(-1e7*N*p2)", "p0 + p1*exp(N*p2)"),  # a rate in the data's units, rescaled
    ("p0 + p1*exp(-1e7*N/p2)", "p0 + p1*exp(N/p2)"),  # a divisor too
    ("p0 + 3 + p1*N", "p0 + p1*N"),  # a free offset takes in the numbers beside it
    ("p0 + p1*(1e7*N)**(-0.34)", "p0 + p1*N**(-0.34)"),  # a fixed exponent stays fixed
    ("p0*(1e7*N)**p1 + p0", "p0*(1e7*N)**p1 + p0"),  # p0 is not free: kept
    ("(1e7*N)**p1 + p0", "(1e7*N)**p1 + p0"),  # no factor to absorb it: kept
    ("p1*log(1e7*N)**2 + p0", "p1*log(1e7*N)**2 + p0"),  # the offset cannot absorb a square: kept
    ("p0 + p1*D*log(1e7*N)", "p0 + p1*D*log(1e7*N)"),  # nor p1*D*log(c), which varies with D
    ("p0*(1e7*N)**D + p1", "p0*(1e7*N)**D + p1"),  # nor can p0 absorb 1e7**D
])
def test_scale_factors_that_a_free_parameter_absorbs_are_taken_out(scaled, unscaled):
    assert without_scales(parse(scaled, ["N", "D"])) == parse(unscaled, ["N", "D"])


def test_a_run_starts_from_the_users_law_and_records_it(table, tmp_path):
    run = tmp_path / "run"
    code, out, err = discover(*run_args(table, "--start", LAW, "--max-evals", "4", "--out", str(run)))
    assert code == 0, err
    assert "starting from 1 law(s) of yours" in err
    assert f"your law {LAW}: candidate #0, val R² 1.0000" in out  # how it fared, at the end
    first = json.loads((run / "candidates.jsonl").read_text().splitlines()[0])
    assert (first["origin"], first["note"], first["ok"]) == ("user", LAW, True)
    assert json.loads((run / "config.json").read_text())["search"]["start_laws"] == [LAW]
    assert first["val"]["r2"] > 0.9999  # fitted as written, in the data's units
    final = json.loads((run / "final.json").read_text())
    best = next(law for law in final["laws"] if law["recommended"])
    assert best["test"]["r2"] > 0.9999  # the user's law, or a law of its family as simple
    code, out, err = discover("run", "--resume", str(run), "--max-evals", "8")  # a resumed run keeps its starts
    assert code == 0, err
    assert len((run / "candidates.jsonl").read_text().splitlines()) == 8
    code, out, err = discover("show", str(run))
    assert code == 0 and "origins: {'user': 1," in out, err
    assert f"your law {LAW}: candidate #0, val R² 1.0000" in out
    for fmt, needle in [("md", f"- your law {LAW}: candidate #0"), ("html", "laws it started from (--start)")]:
        code, _, err = discover("report", str(run), "--format", fmt, "-o", str(tmp_path / f"report.{fmt}"))
        assert code == 0 and needle in (tmp_path / f"report.{fmt}").read_text(), err


def test_from_python_too(table, tmp_path):
    found = api.find_law(pd.read_csv(table), inputs="N,D", target="loss", holdout="top value of N", start=LAW,
                         max_evals=2, out=tmp_path / "py", quiet=True)
    first = json.loads((found.path / "candidates.jsonl").read_text().splitlines()[0])
    assert (first["origin"], first["note"]) == ("user", LAW) and found.test_r2 > 0.9999


@pytest.mark.parametrize("more, needle", [
    (("--start", "E + A/N**(alpha"), "--start 'E + A/N**(alpha': "),
    (("--start", "E + A/M**a"), "does not depend on any input (inputs: N, D"),
    (("--start", "a + b*N**c + d*D**e", "--max-params", "4"), "5 parameters, more than the run's cap of 4"),
    (("--start", "E + A*foo(N)"), "function not allowed: foo"),
])
def test_a_bad_start_law_is_refused_before_the_search(table, tmp_path, more, needle):
    code, _, err = discover(*run_args(table, *more, "--out", str(tmp_path / "x")))
    assert_clean_error(code, err, needle)
    assert not (tmp_path / "x").exists()


def test_a_resumed_run_refuses_new_start_laws(table, tmp_path):
    run = tmp_path / "run"
    code, _, err = discover(*run_args(table, "--max-evals", "2", "--out", str(run), "--quiet"))
    assert code == 0, err
    code, _, err = discover("run", "--resume", str(run), "--start", LAW)
    assert_clean_error(code, err, "--start: for new runs only")


def test_a_start_law_that_cannot_be_fitted_is_said_so_at_the_end(table, tmp_path):
    code, out, err = discover(*run_args(table, "--start", "E + A*exp(N)", "--max-evals", "3", "--out",
                                        str(tmp_path / "run"), "--quiet"))
    assert code == 0, err
    assert "your law E + A*exp(N): not usable (" in out


@pytest.mark.parametrize("scaled", ["p0 + p1/(1e7*N)**p2 + p3/(1e10*D)**p4", "p0 + 2*p1*log(1e7*N) - p2*log(1e10*D)",
                                    "p0 + p1*exp(-1e7*N*p2)", "p3 + p0*(1e7*N)**(p1 - 1)*(1e10*D)**p2",
                                    "p0 + p1*exp(-2e7*N/p2)/(1e10*D)**0.5", "p0 - 2.5 + p1*log(1e7*N)"])
def test_the_parameters_as_written_give_the_same_law(scaled):
    """For any parameters of the rewritten law, the law as written with ``as_written``'s
    parameters has the same values: the rewrite is a change of parameters, nothing more."""
    written = parse(scaled, ["N", "D"])
    form = rescale(written)
    names = [p.name for p in params_of(written)]
    rng = np.random.default_rng(0)
    fitted = rng.uniform(0.2, 1.5, size=(3, len(names)))
    for row, back in zip(fitted, form.as_written(names, fitted), strict=True):
        for n, d in [(1.0, 1.0), (3.0, 0.2), (40.0, 7.0)]:
            point = {sp.Symbol("N"): n, sp.Symbol("D"): d}
            mine = form.expr.xreplace({**point, **{sp.Symbol(k): v for k, v in zip(names, row, strict=True)}})
            theirs = written.xreplace({**point, **{sp.Symbol(k): v for k, v in zip(names, back, strict=True)}})
            assert float(mine) == pytest.approx(float(theirs), rel=1e-9)


def test_a_finished_run_stands_for_the_laws_it_reported(table, tmp_path):
    """New rows came in: the search goes on from what an earlier run found (its reported laws, the
    recommended one first, in the data's units)."""
    before = tmp_path / "before"
    code, _, err = discover(*run_args(table, "--max-evals", "30", "--out", str(before), "--quiet"))
    assert code == 0, err
    symbols, texts = laws_as_written(before)
    assert symbols == ("N", "D") and texts[0] == str(open_run(before).law).split(" = ", 1)[-1]
    after = tmp_path / "after"
    code, out, err = discover(*run_args(table, "--start", str(before), "--max-evals", "40", "--out", str(after)))
    assert code == 0, err
    assert json.loads((after / "config.json").read_text())["search"]["start_laws"] == texts
    firsts = [json.loads(line) for line in (after / "candidates.jsonl").read_text().splitlines()[:len(texts)]]
    assert [(r["origin"], r["note"]) for r in firsts] == [("user", t) for t in texts]
    other = write(tmp_path, "other.csv", "N,M,loss\n" + "".join(f"{n},{e},{1 + 1 / n + e}\n" for n in (1, 2, 4, 8)
                                                                  for e in (1, 2)))
    code, _, err = discover("run", "--csv", str(other), "--inputs", "N,M", "--target", "loss", "--start", str(before))
    assert_clean_error(code, err, f"--start {before}: its law")
    assert "not an input here (inputs: N, M)" in err
