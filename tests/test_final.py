"""The reported laws: refitted on all of train, with the search fit kept where the refit breaks."""

import dataclasses

import numpy as np

from discover import final
from discover.data import load_dataset
from discover.evaluate import Candidate, evaluate
from discover.expr import parse
from discover.fit import FitConfig, FitResult
from discover.problem import make_problem
from discover.tasks import find_task


def vocab_record(sldbench_dir, text: str, id: int):
    """The vocab dataset, its problem, and ``text`` evaluated there as the search would."""
    ds = load_dataset(find_task("vocab"), sldbench_dir)
    problem = make_problem(ds)
    record = evaluate(Candidate(parse(text, problem.symbols), "user"), problem, FitConfig(starts=4, time_limit=5),
                      id=id, max_params=12)
    assert record.ok
    return ds, problem, record


def refit_returns(monkeypatch, refit: np.ndarray) -> None:
    """Make the final refit return ``refit`` (read at each call: the test may change it in place)."""

    def fake_fit(structure, X, y, unit, n_units, config, init=None, sound=None):
        return FitResult(ok=True, reason="", names=("p0", "p1", "p2"), params=refit.copy(),
                         sse=np.zeros(n_units), seconds=0.0, nfev=1)

    monkeypatch.setattr(final, "fit", fake_fit)


def test_a_refit_that_breaks_just_past_the_data_gives_way_to_the_search_fit(sldbench_dir, monkeypatch):
    ds, problem, record = vocab_record(sldbench_dir, "p0 + p1*log(vocab_size - p2)", 7)
    record = dataclasses.replace(record, params=tuple((p0, p1, 0.0) for p0, p1, _ in record.params))
    lo = problem.train.X["vocab_size"].min()
    refit = np.array([[p0, p1, 0.9 * lo] for p0, p1, _ in record.params])  # undefined at half the smallest vocabulary
    refit_returns(monkeypatch, refit)
    [law_out] = final.finalize([record], 7, problem, ds, FitConfig())
    assert law_out.params == record.params and "search fit kept" in law_out.reason
    assert np.isfinite(law_out.test.nmse)

    refit[:, 2] = 0.0  # a refit that stays finite is kept
    [law_out] = final.finalize([record], 7, problem, ds, FitConfig())
    assert law_out.reason == "" and law_out.params == tuple(tuple(r) for r in refit)


def test_a_refit_that_diverges_further_out_gives_way_only_where_the_search_fit_held(sldbench_dir, monkeypatch):
    ds, problem, record = vocab_record(sldbench_dir, "p0 + p1*vocab_size**p2", 3)
    refit = np.array(record.params)
    refit[:, 1], refit[:, 2] = 1.0, 8.0  # a steep power: far past the training targets at 4x the largest vocabulary
    refit_returns(monkeypatch, refit)
    [law_out] = final.finalize([record], 3, problem, ds, FitConfig())
    assert law_out.params == record.params
    assert law_out.reason.startswith("diverges when extrapolated further along the holdout inputs")

    # a search fit that diverges there too is no better: the refit stands
    record = dataclasses.replace(record, params=tuple(tuple(r) for r in refit * [1, 1, 0.9]))
    [law_out] = final.finalize([record], 3, problem, ds, FitConfig())
    assert law_out.reason == "" and law_out.params == tuple(tuple(r) for r in refit)
