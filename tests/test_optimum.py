"""`discover optimum`: where a run's law puts the best run, per group, with optima on the edge of
the search range flagged and the admitted laws' optima beside the law's; bad input ends in one
clear line."""

import math

import numpy as np
import pandas as pd
import pytest
from test_cli import assert_clean_error, discover, write

from discover import open_run
from discover.bootstrap import FIT_HIGH, FIT_LOW
from discover.errors import UserError
from discover.optimum import (
    ADMITTED_COUNT,
    ADMITTED_EDGES,
    ADMITTED_HIGH,
    ADMITTED_LOW,
    EDGE_COLUMN,
    VALUE,
    answer,
    optimum_table,
    parse_ranges,
    question,
)
from discover.predict import BEYOND, PREFIX, RunLaw, load_law, predictions, with_groups
from discover.runstore import RunStore

VALLEY = "p0 + p1*(log(lr) - p2)**2 + p3*(log(bsz) - p4)**2"


def valley_law(params, groups=("a", "b"), ranges=None, text=VALLEY, id=1) -> RunLaw:
    """A law in lr and bsz (and a fixed N it ignores) with one parameter row per group."""
    ranges = ranges or {g: {"lr": (1e-4, 1e-1), "bsz": (16.0, 4096.0), "N": (1e8, 1e9)} for g in groups}
    return RunLaw(id=id, text=text, recommended=id == 1, inputs=("lr", "bsz", "N"), symbols=("lr", "bsz", "N"),
                  targets=("loss",), groups=tuple(groups), group_columns=("model",) if len(groups) > 1 else (),
                  scales={}, params=np.array(params, dtype=float), ranges=ranges)


def solve(law, over, at=None, where=None, ranges=None, group=None, target=None, maximize=False, admitted=None):
    return answer(law, over, at or {}, where or {}, ranges or {}, group, target, maximize, admitted)[2]


def test_the_optimum_of_a_valley_is_its_floor_in_every_group():
    floors = {"a": (3e-3, 256.0), "b": (1e-2, 64.0)}
    law = valley_law([[2.0, 0.3, math.log(floors["a"][0]), 0.1, math.log(floors["a"][1])],
                      [2.5, 0.2, math.log(floors["b"][0]), 0.05, math.log(floors["b"][1])]])
    table = solve(law, ["lr", "bsz"], at={"N": 5e8})
    assert table["model"].tolist() == ["a", "b"]
    for _, row in table.iterrows():
        lr, bsz = floors[row["model"]]
        assert row["lr"] == pytest.approx(lr, rel=1e-5) and row["bsz"] == pytest.approx(bsz, rel=1e-5)
        assert row["N"] == 5e8 and row[EDGE_COLUMN] == "" and row[BEYOND] == ""
    assert table[VALUE + "loss"].tolist() == pytest.approx([2.0, 2.5], abs=1e-9)
    assert list(table.columns[:4]) == ["model", "lr", "bsz", "N"]  # searched inputs first, then the fixed


def test_an_optimum_on_the_edge_of_the_range_is_flagged_and_lies_on_the_edge():
    law = valley_law([[2.0, 0.3, math.log(3e-3), 0.1, math.log(256.0)]], groups=("all",))
    table = solve(law, ["lr"], at={"bsz": 256, "N": 5e8}, ranges={"lr": (1e-4, 1e-3)})
    row = table.iloc[0]
    assert row["lr"] == pytest.approx(1e-3) and row[EDGE_COLUMN] == "lr at its highest"
    assert row[VALUE + "loss"] == pytest.approx(2.0 + 0.3 * math.log(1e-3 / 3e-3) ** 2)
    # the default range is the group's training range; a range past it is searched, and flagged
    law = valley_law([[2.0, 0.3, math.log(0.5), 0.1, math.log(256.0)]], groups=("all",))
    assert solve(law, ["lr"], at={"bsz": 256, "N": 5e8}).iloc[0][EDGE_COLUMN] == "lr at its highest"
    far = solve(law, ["lr"], at={"bsz": 256, "N": 5e8}, ranges={"lr": (1e-4, 10.0)}).iloc[0]
    assert far["lr"] == pytest.approx(0.5, rel=1e-5) and far[BEYOND] == "lr 5x above train"


def test_the_compute_optimal_split_matches_the_closed_form():
    """L = E + A/N**a + B/D**b with D = C/(6N) (Hoffmann et al. 2022, eq. 4): N* = G (C/6)**(b/(a+b)),
    G = (a A / (b B))**(1/(a+b)). Inputs are scaled as a run scales them (N / 1e8, D / 1e10)."""
    E, A, B, a, b, C = 1.69, 406.4, 410.7, 0.34, 0.28, 1e21
    # the law in scaled inputs: A/N**a = (A / 1e8**a) / (N/1e8)**a
    text = "p0 + p1/N**p2 + p3/D**p4"
    params = [[E, A / 1e8 ** a, a, B / 1e10 ** b, b]]
    law = RunLaw(id=1, text=text, recommended=True, inputs=("N", "D"), symbols=("N", "D"), targets=("loss",),
                 groups=("all",), group_columns=(), scales={"N": 1e8, "D": 1e10}, params=np.array(params),
                 ranges={"all": {"N": (1e7, 1e10), "D": (1e9, 1e10)}})
    row = solve(law, ["N"], where={"D": "1e21/(6*N)"}, ranges={"N": (1e7, 1e12)}).iloc[0]
    G = (a * A / (b * B)) ** (1 / (a + b))
    n_opt = G * (C / 6) ** (b / (a + b))
    assert row["N"] == pytest.approx(n_opt, rel=1e-4)
    assert row["D"] == pytest.approx(C / (6 * row["N"]))
    assert row[VALUE + "loss"] == pytest.approx(E + A / n_opt ** a + B / (C / (6 * n_opt)) ** b, rel=1e-9)
    assert row[BEYOND] == "D 9.14x above train"  # the budget's D (9.1e10) lies past the training runs' tokens


def test_maximize_finds_the_top_of_a_hill():
    law = valley_law([[0.8, -0.05, math.log(1e-2), -0.01, math.log(128.0)]], groups=("all",))
    low = solve(law, ["lr", "bsz"], at={"N": 1e8}).iloc[0]
    high = solve(law, ["lr", "bsz"], at={"N": 1e8}, maximize=True).iloc[0]
    assert high["lr"] == pytest.approx(1e-2, rel=1e-5) and high[VALUE + "loss"] == pytest.approx(0.8)
    assert low[EDGE_COLUMN] != "" and low[VALUE + "loss"] < 0.8


def test_the_admitted_range_spans_the_optima_of_the_admitted_laws():
    law = valley_law([[2.0, 0.3, math.log(3e-3), 0.1, math.log(256.0)]], groups=("all",))
    others = [valley_law([[2.0 + k, 0.3, math.log(lr), 0.1, math.log(256.0)]], groups=("all",), id=2 + i)
              for i, (k, lr) in enumerate([(0.01, 1e-3), (0.02, 5e-3), (0.0, 1e-5)])]
    row = solve(law, ["lr"], at={"bsz": 256, "N": 5e8}, admitted=[law, *others]).iloc[0]
    assert row[ADMITTED_LOW + "lr"] == pytest.approx(1e-4)  # the third's floor is below the range: its edge
    assert row[ADMITTED_HIGH + "lr"] == pytest.approx(5e-3, rel=1e-5)
    assert row[ADMITTED_LOW + VALUE + "loss"] == pytest.approx(2.0)
    assert row[ADMITTED_HIGH + VALUE + "loss"] == pytest.approx(2.0 + 0.3 * math.log(10) ** 2)  # the third's, at 1e-4
    assert row[ADMITTED_COUNT] == 4 and row[ADMITTED_EDGES] == 1


def test_a_law_not_finite_anywhere_in_the_range_has_no_optimum():
    law = valley_law([[2.0, 1.0]], groups=("all",), text="p0 + p1*log(-lr) + 0*bsz")
    row = solve(law, ["lr"], at={"bsz": 256, "N": 5e8}).iloc[0]
    assert math.isnan(row[VALUE + "loss"]) and math.isnan(row["lr"]) and row[BEYOND] == ""


@pytest.mark.parametrize("over, at, where, ranges, target, needle", [
    (["lr"], {"bsz": 1.0}, {}, {}, None, "N: give every input"),
    (["lr"], {"lr": 1.0, "bsz": 1.0, "N": 1.0}, {}, {}, None, "lr is given by both --over and --at"),
    (["lr", "lr"], {"bsz": 1.0, "N": 1.0}, {}, {}, None, "lr is given twice in --over"),
    (["depth"], {"bsz": 1.0, "N": 1.0}, {}, {}, None, "--over depth: not an input"),
    (["lr"], {"N": 1.0}, {"bsz": "2*depth"}, {}, None, "--where bsz=2*depth"),
    (["lr"], {"N": 1.0}, {"bsz": "2*p0"}, {}, None, "p0 is a parameter name"),
    (["lr"], {"bsz": 1.0, "N": 1.0}, {}, {"bsz": (1.0, 2.0)}, None, "--range bsz: only the inputs searched"),
    (["lr"], {"bsz": 1.0, "N": 1.0}, {}, {"lr": (2.0, 1.0)}, None, "need finite LOW < HIGH"),
    (["lr"], {"bsz": 1.0, "N": 1.0}, {}, {}, "accuracy", "--target 'accuracy'"),
    ([], {"bsz": 1.0, "N": 1.0}, {}, {}, None, "give the input(s) to optimise"),
])
def test_bad_questions_are_refused_with_a_clear_reason(over, at, where, ranges, target, needle):
    law = valley_law([[2.0, 0.3, -6.0, 0.1, 5.0]], groups=("all",))
    with pytest.raises(UserError) as err:
        solve(law, over, at=at, where=where, ranges=ranges, target=target)
    assert needle in str(err.value)


def test_a_law_of_several_targets_needs_the_target_named():
    law = RunLaw(id=1, text="p0 + p1*log(N)", recommended=True, inputs=("N",), symbols=("N",),
                 targets=("loss", "error"), groups=("all",), group_columns=(), scales={},
                 params=np.array([[2.0, -0.1], [1.0, 0.1]]), ranges={"all": {"N": (1e8, 1e9)}})
    with pytest.raises(UserError, match="say which to optimise with --target"):
        question(law, ["N"], {}, {}, None)
    cols, q = question(law, ["N"], {}, {}, "error")
    row = optimum_table(law, cols, q).iloc[0]
    assert row["N"] == pytest.approx(1e8) and row[VALUE + "error"] == pytest.approx(1.0 + 0.1 * math.log(1e8))


def test_an_input_with_one_training_value_needs_a_range():
    law = valley_law([[2.0, 0.3, -6.0, 0.1, 5.0]], groups=("all",),
                     ranges={"all": {"lr": (1e-3, 1e-3), "bsz": (16.0, 4096.0), "N": (1e8, 1e9)}})
    with pytest.raises(UserError, match=r"lr takes one value .* --range lr=LOW:HIGH"):
        solve(law, ["lr"], at={"bsz": 256, "N": 5e8})
    assert parse_ranges(["lr=1e-4:1e-2"], law) == {"lr": (1e-4, 1e-2)}
    assert solve(law, ["lr"], at={"bsz": 256, "N": 5e8}, ranges={"lr": (1e-4, 1e-2)}).iloc[0][EDGE_COLUMN] == ""
    unrecorded = valley_law([[2.0, 0.3, -6.0, 0.1, 5.0]], groups=("all",), ranges={"other": {}})
    with pytest.raises(UserError, match=r"no training range of lr is recorded for group 'all'"):
        solve(unrecorded, ["lr"], at={"bsz": 256, "N": 5e8})


# --- on a finished run, from the command line and from Python ------------------------------------

ROWS = [(g, n, lr) for g in ("small", "big") for n in (1e8, 2e8, 4e8, 8e8, 1.6e9)
        for lr in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished run on a table with a group column and a valley in lr."""
    tmp = tmp_path_factory.mktemp("optimum")
    lines = ["model,N,lr,loss"]
    for g, n, lr in ROWS:
        k = 1.0 if g == "small" else 1.4
        lines.append(f"{g},{n:g},{lr:g},{2 + k * 30 / n ** 0.15 + 0.05 * (math.log(lr / 2e-3)) ** 2}")
    p = write(tmp, "runs.csv", "\n".join(lines) + "\n")
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N,lr", "--target", "loss", "--group", "model",
                            "--holdout", "top value of N per group", "--max-evals", "60", "--seed", "1",
                            "--out", str(tmp / "run"), "--quiet")
    assert code == 0, err
    return tmp / "run"


def test_cli_optimum_is_the_lowest_prediction_in_the_range_and_matches_python(run, tmp_path):
    out_csv = tmp_path / "best.csv"
    code, out, err = discover("optimum", str(run), "--over", "lr", "--at", "N=3.2e9", "-o", str(out_csv))
    assert code == 0, err
    assert "minimum of loss, per group" in out and "held fixed: N=3.2e+09" in out
    table = pd.read_csv(out_csv, keep_default_na=False)
    assert table["model"].tolist() == ["small", "big"] and (table["N"] == 3.2e9).all()
    law = load_law(run)
    grid = pd.DataFrame({"N": 3.2e9, "lr": np.geomspace(1e-4, 1e-2, 400)})
    for _, row in table.iterrows():
        at_grid = predictions(law, with_groups(grid, law, row["model"]))[PREFIX + "loss"]
        at_best = predictions(law, with_groups(pd.DataFrame({"N": [3.2e9], "lr": [row["lr"]]}), law, row["model"]))
        assert at_best[PREFIX + "loss"].iloc[0] == pytest.approx(row[VALUE + "loss"], rel=1e-12)
        assert row[VALUE + "loss"] <= at_grid.min() + 1e-12
        assert row[BEYOND] == "N 4x above train"  # train reaches 8e8: 1.6e9 is held out
    from_python = open_run(run).optimum("lr", at={"N": 3.2e9})
    assert from_python[["lr", VALUE + "loss"]].to_numpy() == pytest.approx(table[["lr", VALUE + "loss"]].to_numpy())
    one = open_run(run).optimum(["lr"], at={"N": 3.2e9, "model": "big"})
    assert one["model"].tolist() == ["big"] and one["lr"].iloc[0] == pytest.approx(table["lr"].iloc[1])
    for at, needle in [({"N": "big"}, "--at N: 'big' is not a number"), ({"N": math.inf}, "not a finite number"),
                       ({"depth": 3}, "'depth' is not an input")]:
        with pytest.raises(UserError, match=needle):
            open_run(run).optimum("lr", at=at)


@pytest.mark.parametrize("args, needle", [
    (["--over", "lr"], "N: give every input"),
    (["--over", "lr", "--at", "N=1e9", "--group", "huge"], "unknown group 'huge'"),
    (["--over", "lr", "--at", "N=1e9,model=big", "--group", "big"], "names the group already"),
    (["--over", "lr", "--at", "N=1e9", "--range", "lr=1e-2"], "write NAME=LOW:HIGH"),
    (["--over", "lr", "--at", "N=big"], "'big' is not a number"),
    (["--over", "lr", "--where", "N=lr*"], "--where N=lr*"),
    (["--over", "lr", "--where", "N"], "write NAME=FORMULA"),
])
def test_cli_bad_questions_end_in_one_clear_line(run, args, needle):
    code, _, err = discover("optimum", str(run), *args)
    assert_clean_error(code, err, needle)


def _noisy_valley(tmp_path_factory):
    rng = np.random.default_rng(5)
    lines = ["N,lr,loss"]
    for n in (1e8, 2e8, 4e8, 8e8, 1.6e9):
        for lr in np.geomspace(1e-4, 1e-2, 7):
            loss = 2 + 30 / n ** 0.15 + 0.05 * (math.log(lr / 2e-3)) ** 2
            lines.append(f"{n:g},{lr:.6g},{loss * (1 + 0.01 * rng.standard_normal())!r}")
    tmp = tmp_path_factory.mktemp("noisy_valley")
    p = write(tmp, "runs.csv", "\n".join(lines) + "\n")
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N,lr", "--target", "loss",
                            "--holdout", "top value of N", "--max-evals", "60", "--seed", "1",
                            "--out", str(tmp / "run"), "--quiet")
    assert code == 0, err
    return tmp / "run"


def test_the_fit_range_of_an_exact_law_is_its_optimum(run):
    """Noiseless rows the law fits exactly: every resample refits the same law, so the fit range
    of the optimum is the optimum itself, here the table's true floor (lr = 2e-3)."""
    final = RunStore.open(run).final()
    rec = next(w for w in final["laws"] if w["recommended"])
    if rec["train"]["r2"] < 1 - 1e-12:
        pytest.skip(f"the search did not find the exact law ({rec['text']}, train R² {rec['train']['r2']})")
    table = open_run(run).optimum("lr", at={"N": 3.2e9}, bootstrap=8)
    assert table["lr"].to_numpy() == pytest.approx([2e-3, 2e-3], rel=1e-5)
    for name in ("lr", VALUE + "loss"):
        assert table[FIT_LOW + name].to_numpy() == pytest.approx(table[name].to_numpy(), rel=1e-5)
        assert table[FIT_HIGH + name].to_numpy() == pytest.approx(table[name].to_numpy(), rel=1e-5)


def test_noisy_rows_give_the_optimum_a_fit_range(tmp_path_factory, tmp_path):
    path = _noisy_valley(tmp_path_factory)
    out_csv = tmp_path / "best.csv"
    code, out, err = discover("optimum", str(path), "--over", "lr", "--at", "N=1.6e9", "--bootstrap", "20",
                              "-o", str(out_csv))
    assert code == 0, err
    assert "fit range: the central 90% of the optima of the law refitted on 20 resamples" in out
    row = pd.read_csv(out_csv, keep_default_na=False).iloc[0]
    assert row[FIT_LOW + "lr"] < row["lr"] < row[FIT_HIGH + "lr"]
    assert row[FIT_LOW + VALUE + "loss"] < row[FIT_HIGH + VALUE + "loss"]
    again = open_run(path).optimum("lr", at={"N": 1.6e9}, bootstrap=20)  # seeded: the same resamples
    assert again[FIT_LOW + "lr"].iloc[0] == pytest.approx(row[FIT_LOW + "lr"], rel=1e-9)
    code, _, err = discover("optimum", str(path), "--over", "lr", "--at", "N=1.6e9", "--data-dir", str(tmp_path))
    assert_clean_error(code, err, "--data-dir is for --bootstrap")
