"""`discover predict`: a finished run's law at new points, per group and target, with points
past the training range flagged; bad input ends in one clear line."""

import json

import numpy as np
import pandas as pd
import pytest
from test_cli import assert_clean_error, discover, write

from discover.predict import (
    BEYOND,
    COUNT,
    HIGH,
    LOW,
    PREFIX,
    load_admitted,
    load_law,
    predictions,
    read_points,
    with_groups,
)
from discover.score import score

# two groups with their own constants, two targets: each law has 4 parameter sets (target x group)
ROWS = [(g, n, d) for g in ("small", "big") for n in (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9) for d in (1e9, 4e9, 1.6e10)]


def _table() -> str:
    lines = ["model,N,D,loss,error"]
    for g, n, d in ROWS:
        k = 1.0 if g == "small" else 1.5
        lines.append(f"{g},{n:g},{d:g},{2 + k * 30 / n ** 0.15 + 40 / d ** 0.12},{0.1 + k * 5 / n ** 0.1}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished run on a table with a group column and two targets."""
    tmp = tmp_path_factory.mktemp("predict")
    p = write(tmp, "runs.csv", _table())
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N,D", "--target", "loss,error", "--group", "model",
                            "--holdout", "top value of N per group", "--max-evals", "60", "--seed", "1",
                            "--out", str(tmp / "run"), "--quiet")
    assert code == 0, err
    return tmp / "run", p


def test_predictions_on_the_training_rows_give_the_fit_the_run_reported(run):
    """Every group's and target's own parameters, in the law's scaled units: the run's train
    score of the recommended law comes back from the predictions at its training rows."""
    path, csv = run
    law = load_law(path)
    final = json.loads((path / "final.json").read_text())
    reported = next(w for w in final["laws"] if w["recommended"])
    cfg = json.loads((path / "config.json").read_text())
    table = pd.read_csv(csv)
    test_n = table.groupby("model")["N"].transform("max") == table["N"]  # the run's holdout: top N per group
    train = table[~test_n]
    out = predictions(law, with_groups(read_points_frame(train), law))
    pred = out[[PREFIX + "loss", PREFIX + "error"]].to_numpy()
    assert cfg["targets"] == ["loss", "error"] and law.groups == tuple(cfg["groups"])
    assert score(train[["loss", "error"]].to_numpy(), pred).r2 == pytest.approx(reported["train"]["r2"], abs=1e-9)
    assert (out[BEYOND] == "").all()  # training rows lie inside their group's range


def read_points_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["model", "N", "D"]].reset_index(drop=True)


def test_points_past_the_training_range_are_flagged_per_group(run):
    path, _ = run
    law = load_law(path)
    points = pd.DataFrame({"N": [6.4e9, 2e8, 5e7, 1.6004e9], "D": [1.6e10, 1e11, 1e9, 1e9],
                           "model": ["big", "small", "small", "big"]})
    out = predictions(law, with_groups(points, law))
    # train's largest N is 1.6e9 in each group (3.2e9 is the test's); D is 1e9..1.6e10
    assert out[BEYOND].tolist() == ["N 4x above train", "D 6.25x above train", "N 2x below train",
                                    "N 1.0003x above train"]  # just past: not "1x"
    assert np.isfinite(out[PREFIX + "loss"]).all()


def test_points_without_a_group_are_predicted_for_every_group(run):
    path, _ = run
    law = load_law(path)
    out = predictions(law, with_groups(pd.DataFrame({"N": [1e9], "D": [1e10]}), law))
    assert sorted(out["model"]) == ["big", "small"]
    big, small = (out.loc[out["model"] == g, PREFIX + "loss"].item() for g in ("big", "small"))
    assert big > small  # the big group's constant is larger, and its own parameters were used


def test_cli_predicts_points_and_writes_them_with_the_columns_given(run, tmp_path):
    path, _ = run
    points = write(tmp_path, "planned.csv", "N,D,model,note\n6.4e9,6.4e10,big,next run\n")
    # the folder of -o is made when missing
    code, out, err = discover("predict", str(path), "--csv", str(points), "-o", str(tmp_path / "out" / "p.csv"))
    assert code == 0, err
    assert "recommended law" in out and "past the training runs' range" in out
    written = pd.read_csv(tmp_path / "out" / "p.csv")
    assert written.columns.tolist() == ["N", "D", "model", "note", PREFIX + "loss", PREFIX + "error",
                                        LOW + "loss", HIGH + "loss", LOW + "error", HIGH + "error", COUNT, BEYOND]
    assert written["note"].item() == "next run" and written[BEYOND].item() == "N 4x above train; D 4x above train"
    code, out, err = discover("predict", str(path), "--at", "N=1e9,D=1e10", "--group", "small")
    assert code == 0, err
    assert "small" in out and "big" not in out.split("recommended law")[1].split("\n", 1)[1]


@pytest.mark.parametrize("args, needle", [
    (["--at", "N=1e9"], "missing D"),
    (["--at", "N=1e9,D=1e10,V=3"], "'V' is not an input"),
    (["--at", "N=1e9,D=lots"], "not a number"),
    (["--at", "N=1e9,D=1e10", "--group", "huge"], "unknown group 'huge'"),
    (["--at", "N=1e9,D=1e10", "--law", "999999"], "no law with id 999999"),
    ([], "--at"),
])
def test_cli_bad_points_end_in_one_clear_line(run, args, needle):
    path, _ = run
    code, _, err = discover("predict", str(path), *args)
    assert_clean_error(code, err, needle)


def test_csv_points_are_checked(run, tmp_path):
    path, _ = run
    law = load_law(path)
    for text, needle in [("N,D\n1e9,oops\n", "line 2 ('oops')"), ("N,D\n1e9,1e10\n2e9,\n", "line 3 (empty)"),
                         ("N\n1e9\n", "no column 'D'"), ("N,D\n", "no rows"),
                         ("N,D,model\n1e9,1e10,medium\n", "unknown group 'medium'"),
                         ("N,D,N\n1e9,1e10,2e9\n", "column 'N' is named more than once")]:
        p = write(tmp_path, "points.csv", text)
        code, _, err = discover("predict", str(path), "--csv", str(p))
        assert_clean_error(code, err, needle)
    assert read_points(write(tmp_path, "ok.csv", "D,N\n1e10,1e9\n"), law)[["N", "D"]].values.tolist() == [[1e9, 1e10]]
    for name, text in [("semi.csv", "D;N\n1e10;1e9\n"), ("tabs.tsv", "D\tN\n1e10\t1e9\n")]:
        assert read_points(write(tmp_path, name, text), law)[["N", "D"]].values.tolist() == [[1e9, 1e10]]


def copy_run_without_its_end(path, dest):
    """A copy of the run's config and candidates, without final.json: a run that has not finished."""
    dest.mkdir()
    for name in ("config.json", "candidates.jsonl"):
        (dest / name).write_bytes((path / name).read_bytes())
    return dest


def test_an_unfinished_run_says_how_to_finish_it(run, tmp_path):
    path, _ = run
    unfinished = copy_run_without_its_end(path, tmp_path / "unfinished")
    code, _, err = discover("predict", str(unfinished), "--at", "N=1e9,D=1e10")
    assert_clean_error(code, err, "has not finished", "--resume")
    code, out, err = discover("show", str(unfinished))  # its search-time frontier, not an error
    assert code == 0, err
    assert "has not finished" in out and "--resume" in out and "recommended law" not in out


def test_the_admitted_range_spans_the_predictions_of_the_laws_the_choice_could_not_tell_apart(run):
    """final.json keeps the laws within one standard error of the best (the recommended first),
    each refitted on all of train; their range brackets every one of their predictions."""
    path, _ = run
    final = json.loads((path / "final.json").read_text())
    ids = final["selection"]["admitted"]
    rec = next(w["id"] for w in final["laws"] if w["recommended"])
    assert ids[0] == rec and len(set(ids)) == len(ids)
    kept = {w["id"] for w in final["laws"]} | {w["id"] for w in final["admitted"]}
    assert set(ids) <= kept and not {w["id"] for w in final["admitted"]} & {w["id"] for w in final["laws"]}
    law, admitted = load_law(path), load_admitted(path)
    assert [w.id for w in admitted] == ids
    points = with_groups(pd.DataFrame({"N": [1e8, 6.4e9], "D": [1e9, 1e11]}), law)
    out = predictions(law, points, admitted)
    for target in law.targets:
        each = np.array([predictions(w, points)[PREFIX + target] for w in admitted])
        assert np.allclose(out[LOW + target], each.min(axis=0)) and np.allclose(out[HIGH + target], each.max(axis=0))
        assert (out[LOW + target] <= out[PREFIX + target]).all() and (out[PREFIX + target] <= out[HIGH + target]).all()
    assert (out[COUNT] == len(admitted)).all()


def test_a_run_that_kept_no_admitted_laws_predicts_without_a_range(run, tmp_path):
    path, _ = run
    old = copy_run_without_its_end(path, tmp_path / "old")
    final = json.loads((path / "final.json").read_text())
    del final["admitted"], final["selection"]["admitted"]
    (old / "final.json").write_text(json.dumps(final))
    assert load_admitted(old) is None
    code, out, err = discover("predict", str(old), "--at", "N=1e9,D=1e10")
    assert code == 0, err
    assert "no admitted range" in out and LOW not in out


def test_a_run_recorded_with_its_group_column_as_text_still_predicts(run, tmp_path):
    """Runs before groups of several columns recorded ``"group": "model"``; they predict as before."""
    path, _ = run
    old = copy_run_without_its_end(path, tmp_path / "old")
    (old / "final.json").write_bytes((path / "final.json").read_bytes())
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["task"]["group"] == ["model"]
    cfg["task"]["group"] = "model"
    (old / "config.json").write_text(json.dumps(cfg))
    law = load_law(old)
    assert law.group_columns == ("model",)
    out = predictions(law, with_groups(pd.DataFrame({"N": [1e9], "D": [1e10], "model": ["big"]}), law))
    assert out["model"].tolist() == ["big"]


@pytest.fixture(scope="module")
def two_column_run(tmp_path_factory):
    """A finished run grouped by two columns: each (model, data) pair has its own constant."""
    tmp = tmp_path_factory.mktemp("predict2")
    lines = ["model,data,N,loss"]
    for (m, d), k in {("s", "web"): 1.0, ("s", "code"): 1.3, ("l", "web"): 1.6, ("l", "code"): 2.0}.items():
        lines += [f"{m},{d},{n:g},{2 + k * 30 / n ** 0.15}" for n in (1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9)]
    p = write(tmp, "runs.csv", "\n".join(lines) + "\n")
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N", "--target", "loss", "--group", "model, data",
                            "--holdout", "top value of N per group", "--max-evals", "40", "--out", str(tmp / "run"),
                            "--quiet")
    assert code == 0, err
    return tmp / "run"


def test_several_group_columns_are_named_by_their_joined_values(two_column_run, tmp_path):
    law = load_law(two_column_run)
    assert law.group_columns == ("model", "data") and law.groups == ("s / web", "s / code", "l / web", "l / code")
    points = pd.DataFrame({"N": [1e9, 1e9], "model": ["l", "s"], "data": ["code", "web"]})
    out = predictions(law, with_groups(points, law))
    assert out["group"].tolist() == ["l / code", "s / web"] and out[["model", "data"]].equals(points[["model", "data"]])
    high, low = out[PREFIX + "loss"]
    assert high > low  # each pair's own constant: l / code has the largest, s / web the smallest
    by_name = predictions(law, with_groups(points[["N"]], law, "l / code"))
    assert by_name[PREFIX + "loss"].tolist() == pytest.approx([high] * 2)
    code, out_text, err = discover("predict", str(two_column_run), "--at", "N=1e9", "--group", "l / code")
    assert code == 0, err
    assert "l / code" in out_text
    for text, needle in [("N,model\n1e9,l\n", "give group column(s) model but not data"),
                         ("N,model,data\n1e9,l,text\n", "unknown group 'l / text'")]:
        p = write(tmp_path, "points.csv", text)
        code, _, err = discover("predict", str(two_column_run), "--csv", str(p))
        assert_clean_error(code, err, needle)


def test_at_points_may_name_their_group_by_its_columns(run, two_column_run):
    path, _ = run
    code, out, err = discover("predict", str(path), "--at", "N=1e9,D=1e10,model=big",
                              "--at", "N=1e9,D=1e10,model=small")
    assert code == 0, err
    law = load_law(path)
    want = predictions(law, with_groups(pd.DataFrame({"N": [1e9], "D": [1e10]}), law))
    for g in ("big", "small"):
        value = want.loc[want["model"] == g, PREFIX + "loss"].item()
        assert any(g in line and f"{value:.6g}"[:5] in line for line in out.splitlines()), out
    code, out, err = discover("predict", str(two_column_run), "--at", "N=1e9,model=l,data=code")
    assert code == 0, err
    assert "l / code" in out and "s / web" not in out
    for args, needle in [(["--at", "N=1e9,D=1e10,model=big", "--at", "N=1e9,D=1e10"], "no model (name the group"),
                         (["--at", "N=1e9,D=1e10,model=big", "--group", "small"], "name their group already"),
                         (["--at", "N=1e9,D=1e10,model=huge"], "unknown group 'huge'"),
                         (["--at", "N=1e9,D=1e10,size=3"], "(and group column(s) model)")]:
        code, _, err = discover("predict", str(path), *args)
        assert_clean_error(code, err, needle)
    code, _, err = discover("predict", str(two_column_run), "--at", "N=1e9,model=l")
    assert_clean_error(code, err, "give group column(s) model but not data")
