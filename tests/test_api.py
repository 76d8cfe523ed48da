"""The Python interface (discover.find_law, discover.open_run): what `discover run --csv`,
`predict` and `export` do, from a notebook, in the same run folders."""

import json

import numpy as np
import pandas as pd
import pytest
from test_cli import discover as cli
from test_predict import _table

import discover
from discover.errors import UserError
from discover.predict import PREFIX


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "runs.csv"
    path.write_text(_table())
    return pd.read_csv(path)


@pytest.fixture(scope="module")
def found(frame, tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "run"
    return discover.find_law(frame, inputs=["N", "D"], target="loss, error", group="model",
                             holdout="top value of N per group", max_evals=60, seed=1, out=out, quiet=True)


def test_a_dataframe_is_searched_as_the_same_table_given_as_a_csv(found, frame, tmp_path):
    """Same rows, seed and end point: the same laws, scores and parameters as `discover run --csv`."""
    frame.to_csv(tmp_path / "runs.csv", index=False)
    code, _, err = cli("run", "--csv", str(tmp_path / "runs.csv"), "--inputs", "N,D", "--target", "loss,error",
                       "--group", "model", "--holdout", "top value of N per group", "--max-evals", "60", "--seed", "1",
                       "--out", str(tmp_path / "cli"), "--quiet")
    assert code == 0, err
    by_cli = discover.open_run(tmp_path / "cli")
    assert [(w.text, w.test.r2, w.params) for w in found.laws] == [(w.text, w.test.r2, w.params) for w in by_cli.laws]
    assert found.recommended is not None and found.test_r2 == found.recommended.test.r2
    assert (found.path / "table.csv").is_file()  # the run folder holds its data: show, report, resume work
    code, out, err = cli("show", str(found.path))
    assert code == 0 and "recommended law" in out, err
    assert f"each target = {found.law}" in out  # the law in the data's units, as show prints it


def test_predict_takes_a_dict_or_a_frame_and_gives_what_discover_predict_gives(found, tmp_path):
    points = pd.DataFrame({"N": [6.4e9, 2e8], "D": [1e11, 4e9], "model": ["big", "small"]})
    points.to_csv(tmp_path / "points.csv", index=False)
    code, _, err = cli("predict", str(found.path), "--csv", str(tmp_path / "points.csv"), "-o", str(tmp_path / "p.csv"))
    assert code == 0, err
    want = pd.read_csv(tmp_path / "p.csv")
    got = found.predict(points)
    assert got.columns.tolist() == want.columns.tolist()
    assert np.allclose(got[PREFIX + "loss"], want[PREFIX + "loss"], rtol=1e-12)
    assert got["beyond_train"].tolist() == want["beyond_train"].fillna("").tolist()  # "" inside the range
    one = found.predict({"N": np.array([6.4e9]), "D": 1e11}, group="big")
    assert one[PREFIX + "error"].item() == pytest.approx(want[PREFIX + "error"][0], rel=1e-12)
    ranged = found.predict(points, bootstrap=5)
    assert {"fit_low_loss", "fit_high_loss", "fit_low_error", "fit_high_error"} <= set(ranged.columns)
    assert (ranged["fit_low_loss"] <= ranged["fit_high_loss"]).all()
    for points, needle in [({"N": [1e9]}, "no column 'D'"), ({"N": [1e9, 2e9], "D": [1e10]}, "same number"),
                           ({"N": ["x"], "D": [1e10]}, "not a finite number on row 0")]:
        with pytest.raises(UserError, match=needle):
            found.predict(points)


def test_export_and_open_run(found):
    d = json.loads(found.export("json"))
    assert d["law_id"] == found.recommended.id and d["groups"] == ["small", "big"]
    assert "def predict(" in found.export()
    with pytest.raises(UserError, match="one of python, latex, json"):
        found.export("excel")
    assert repr(discover.open_run(found.path)).startswith(f"Run({str(found.path)!r}: loss, error = ")


def test_bad_arguments_raise_the_command_lines_errors(frame, tmp_path):
    with pytest.raises(UserError, match="unknown column 'V'"):
        discover.find_law(frame, inputs="N,V", target="loss", out=tmp_path / "a", max_evals=5, quiet=True)
    assert not (tmp_path / "a").exists()  # no half-made run folder is left behind
    twice = pd.concat([frame, frame[["N"]] * 2], axis=1)
    with pytest.raises(UserError, match="^table: column 'N' is named more than once"):
        discover.find_law(twice, inputs="N,D", target="loss", out=tmp_path / "c", max_evals=5, quiet=True)
    assert not (tmp_path / "c").exists()
    with pytest.raises(UserError, match="--name 'a b'"):
        discover.find_law(frame, inputs="N", target="loss", name="a b", max_evals=5, quiet=True)
    with pytest.raises(UserError, match="has not finished"):
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "config.json").write_text("{}")
        discover.open_run(tmp_path / "b")
    with pytest.raises(AttributeError):
        discover.no_such_thing  # noqa: B018
