"""`discover fit`: the user's own law, parameters by name in the data's units, fitted and
scored as a run fits and scores the laws it finds."""

import json
import math

import pytest
from test_cli import assert_clean_error, discover, write

from discover.data import load_dataset
from discover.display import raw_units
from discover.errors import UserError
from discover.own_law import fit_own_law, own_expr, parameter_names
from discover.tasks import csv_task

# a Chinchilla-like table: loss = E + A/(N/1e9)**alpha + B/(D/1e10)**beta, two model families
TRUE = {"a": (1.7, 0.5, 0.3, 0.8, 0.25), "b": (1.9, 0.6, 0.3, 0.8, 0.25)}


def _table() -> str:
    lines = ["family,N,D,loss"]
    for fam, (E, A, alpha, B, beta) in TRUE.items():
        for n in (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9):
            for d in (2e9, 8e9, 3.2e10):
                lines.append(f"{fam},{n:g},{d:g},{E + A / (n / 1e9) ** alpha + B / (d / 1e10) ** beta!r}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return write(tmp_path_factory.mktemp("own"), "runs.csv", _table())


def test_parameters_are_the_names_that_are_not_inputs_in_order_of_appearance():
    assert parameter_names("E + A/N^alpha + B*log(D)**beta*pi + tanh(c0)", ("N", "D")) == ["E", "A", "alpha", "B",
                                                                                          "beta", "c0"]
    expr, names = own_expr("p1*N**p0 + p2", ("N",))
    assert names == ("p0", "p1", "p2") and str(expr) == "N**p0*p1 + p2"
    for formula, needle in [("E + A/M**alpha", "does not depend on any input (inputs: N, D; other names"),
                            ("p0 + A*N", "not both"), ("E + A*N**(alpha", "never closed"),
                            ("E + A*foo(N)", "function not allowed: foo")]:
        with pytest.raises(UserError, match=needle.replace("(", r"\(")):
            own_expr(formula, ("N", "D"))


def test_a_law_with_fixed_constants_in_data_units_recovers_its_parameters(table):
    """The search fits in scaled inputs (N/1e8); the user's constants (N/1e9) are in the data's
    units, and the fitted parameters are the user's, per group."""
    ds = load_dataset(csv_task(table, ["N", "D"], ["loss"], ["family"], "top value of N per group"))
    law = fit_own_law("E + A/(N/1e9)**alpha + B/(D/1e10)**beta", ds, max_params=12)
    assert law.names == ("E", "A", "alpha", "B", "beta") and law.search.ok
    assert law.final.names == ("p0", "p1", "p2", "p3", "p4")
    for g, row in zip(ds.groups, law.final.params, strict=True):
        assert row == pytest.approx(TRUE[g], rel=1e-5)
    assert law.final.test.r2 > 0.999999 and law.search.val.r2 > 0.999999


def test_scores_are_those_a_run_gives_the_same_law(table, tmp_path):
    code, _, err = discover("run", "--csv", table, "--inputs", "N,D", "--target", "loss", "--group", "family",
                            "--holdout", "top value of N per group", "--max-evals", "40", "--out",
                            str(tmp_path / "run"), "--quiet")
    assert code == 0, err
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    final = json.loads((tmp_path / "run" / "final.json").read_text())
    ds = load_dataset(csv_task(table, ["N", "D"], ["loss"], ["family"], "top value of N per group"))
    for found in final["laws"][:3]:
        if not found["params"]:
            continue
        mine = fit_own_law(raw_units(found["text"], cfg["symbols"], cfg["scales"]), ds, max_params=12)
        assert mine.search.val.r2 == pytest.approx(found["val"]["r2"], abs=1e-6), found["text"]
        assert mine.final.test.r2 == pytest.approx(found["test"]["r2"], abs=1e-6), found["text"]


def test_cli_prints_the_scores_and_the_parameters_by_name(table, tmp_path):
    code, out, err = discover("fit", "--csv", table, "--inputs", "N,D", "--target", "loss", "--group", "family",
                              "--holdout", "top value of N per group", "--law", "E + A/N**alpha + B/D**beta")
    assert code == 0, err
    assert "parameters: E, A, alpha, B, beta" in out and "validation R² 1.0000, test R² 1.0000" in out
    header = next(line for line in out.splitlines() if "alpha" in line and "group" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == ["group", "E", "A", "alpha", "B", "beta"]
    row = next(line for line in out.splitlines() if line.startswith("│ a "))
    assert float(row.split("│")[2]) == pytest.approx(1.7, rel=1e-4)  # E of family a
    code, _, err = discover("fit", "--csv", table, "--inputs", "N,D", "--target", "loss", "--law", "E + A/M**alpha")
    assert_clean_error(code, err, "does not depend on any input")
    code, _, err = discover("fit", "--law", "E + A/N**alpha")
    assert_clean_error(code, err, "--task")


def test_a_law_far_off_the_data_says_why_it_could_not_be_fitted(table):
    """A law with nothing to fit whose predictions are finite but absurd (here N itself, 1e8 and
    up, against losses near 2) is refused with the fitter's real reason, not 'not finite'."""
    ds = load_dataset(csv_task(table, ["N", "D"], ["loss"], ["family"], "top value of N per group"))
    law = fit_own_law("3 + N + 0*D", ds, max_params=12)
    assert not law.search.ok and "finite on every row, within 1e+06 times the target's spread" in law.search.reason
    assert law.final.test.r2 == -1.0


@pytest.mark.parametrize("formula, k", [("E + A*exp(-N*k) + B*log(D)", 1e-9), ("E + A*exp(-N/s) + B*log(D)", 1e9)])
def test_a_rate_in_the_data_units_is_fitted_and_reported_in_them(tmp_path, formula, k):
    """``exp(-N*k)`` with k = 1e-9 per parameter: fitted as the search writes it (a rate of order
    0.01 in scaled inputs, within the fitter's starts), reported in the user's units."""
    lines = ["N,D,loss"] + [f"{n:g},{d:g},{1.5 + 0.8 * math.exp(-n / 1e9) + 0.2 * math.log(d / 1e9)!r}"
                            for n in (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9) for d in (2e9, 8e9, 3.2e10, 1.28e11)]
    ds = load_dataset(csv_task(write(tmp_path, "rate.csv", "\n".join(lines) + "\n"), ["N", "D"], ["loss"], None,
                               "top value of N"))
    law = fit_own_law(formula, ds, max_params=12)
    (row,) = law.final.params
    assert row == pytest.approx((1.5 - 0.2 * math.log(1e9), 0.8, k, 0.2), rel=1e-6)
    assert law.final.test.r2 > 0.999999 and law.search.val.r2 > 0.999999


def test_several_laws_are_fitted_alike_and_set_side_by_side(table):
    args = ("fit", "--csv", table, "--inputs", "N,D", "--target", "loss", "--group", "family", "--holdout",
            "top value of N per group")
    code, out, err = discover(*args, "--law", "E + A/N**alpha + B/D**beta", "--law", "E + A/N**alpha")
    assert code == 0, err
    side = out[out.index("your laws, side by side"):]
    rows = [[c.strip() for c in line.strip("│ ").split("│")] for line in side.splitlines() if line.startswith("│")]
    assert [(r[0], r[1], r[5]) for r in rows] == [("1", "5", "E + A/N**alpha + B/D**beta"),
                                                  ("2", "3", "E + A/N**alpha")]
    assert float(rows[0][3]) > 0.9999 and float(rows[1][3]) < float(rows[0][3])  # the true law validates best
    code, out, err = discover(*args, "--law", "E + A/N**alpha", "--law", "E + A/M**alpha")
    assert_clean_error(code, err, "--law 'E + A/M**alpha': the formula does not depend on any input")
    assert out == ""  # checked before the first law is fitted
