"""The fit range of a prediction (`discover predict --bootstrap N`): the law refitted on
resamples of the training rows; wide where the rows are noisy, nil where they fit exactly."""

import numpy as np
import pandas as pd
import pytest
from test_cli import assert_clean_error, discover, write

from discover.bootstrap import FIT_HIGH, FIT_LOW, fit_spread, with_fit_range
from discover.errors import UserError
from discover.predict import PREFIX, load_law, predictions, with_groups
from discover.runner import recorded_dataset
from discover.runstore import RunStore


def _table(noise: float) -> str:
    rng = np.random.default_rng(3)
    lines = ["model,N,loss"]
    for m, k in (("s", 1.0), ("l", 1.4)):
        for n in np.geomspace(1e7, 3e9, 14):
            lines.append(f"{m},{n:.6g},{float((2 + k * 30 / n ** 0.15) * (1 + noise * rng.standard_normal()))!r}")
    return "\n".join(lines) + "\n"


def _run(tmp_path, noise: float):
    p = write(tmp_path, "runs.csv", _table(noise))
    out = tmp_path / "run"
    code, _, err = discover("run", "--csv", str(p), "--inputs", "N", "--target", "loss", "--group", "model",
                            "--holdout", "top 2 values of N per group", "--max-evals", "30", "--out", str(out),
                            "--quiet")
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("noisy"), 0.01)


@pytest.fixture(scope="module")
def exact(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("exact"), 0.0)


def _spread(path, points, draws=40, seed=0):
    law = load_law(path)
    cfg = RunStore.open(path).config
    table = predictions(law, with_groups(points, law))
    return law, with_fit_range(table, law, cfg, recorded_dataset(cfg), draws, seed=seed)


def test_noise_gives_a_range_around_the_prediction_that_widens_further_out(noisy):
    points = pd.DataFrame({"N": [1e8, 1e8, 1e11, 1e11], "model": ["s", "l", "s", "l"]})
    law, (table, spread) = _spread(noisy, points)
    assert spread.fits == spread.draws == 40 and spread.level == 0.9
    low, pred, high = table[FIT_LOW + "loss"], table[PREFIX + "loss"], table[FIT_HIGH + "loss"]
    assert (low < pred).all() and (pred < high).all()
    width = (high - low).to_numpy()
    assert (width[2:] > width[:2]).all()  # 1e11 lies 30x past the training runs; 1e8 inside them
    again = _spread(noisy, points)[1][1]
    assert np.array_equal(again.low, spread.low)  # seeded: the same resamples give the same range


def test_rows_the_law_fits_exactly_leave_no_range(exact):
    law = load_law(exact)
    final = RunStore.open(exact).final()
    rec = next(w for w in final["laws"] if w["recommended"])
    if rec["train"]["r2"] < 1 - 1e-12:
        pytest.skip(f"the search did not find the exact law ({rec['text']}, train R² {rec['train']['r2']})")
    _, (table, _) = _spread(exact, pd.DataFrame({"N": [5e8, 1e10], "model": ["s", "l"]}), draws=10)
    assert np.allclose(table[FIT_LOW + "loss"], table[PREFIX + "loss"], rtol=1e-6)
    assert np.allclose(table[FIT_HIGH + "loss"], table[PREFIX + "loss"], rtol=1e-6)
    assert law.groups == ("s", "l")


def test_cli_writes_the_range_and_refuses_what_it_cannot_do(noisy, tmp_path):
    code, out, err = discover("predict", str(noisy), "--at", "N=1e10,model=l", "--bootstrap", "20",
                              "-o", str(tmp_path / "p.csv"))
    assert code == 0, err
    written = pd.read_csv(tmp_path / "p.csv")
    assert {FIT_LOW + "loss", FIT_HIGH + "loss"} <= set(written.columns)
    assert written[FIT_LOW + "loss"].item() < written[PREFIX + "loss"].item() < written[FIT_HIGH + "loss"].item()
    assert "fit range of loss" in out and "20 resamples" in out and "bootstrap: 20/20 refits" in err
    code, _, err = discover("predict", str(noisy), "--at", "N=1e10", "--bootstrap", "1")
    assert_clean_error(code, err, "at least 2 resamples")
    code, _, err = discover("predict", str(noisy), "--at", "N=1e10", "--data-dir", str(tmp_path))
    assert_clean_error(code, err, "--data-dir is for --bootstrap")
    cfg = RunStore.open(noisy).config
    changed = tmp_path / "changed.csv"
    changed.write_text(_table(0.02))
    cfg["task"]["csv"] = str(changed)
    with pytest.raises(UserError, match="differ from the run's"):
        recorded_dataset(cfg)
    law = load_law(noisy)
    with pytest.raises(UserError, match="at least 2"):
        fit_spread(law, RunStore.open(noisy).config, recorded_dataset(RunStore.open(noisy).config), {"N": np.ones(1)},
                   np.zeros(1, dtype=np.int64), draws=1)
