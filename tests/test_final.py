"""The reported laws: refitted on all of train, with a fit that held kept where the refit breaks."""

import dataclasses

import numpy as np

import discover.evaluate as evaluate_module
import discover.fit as fit_module
from discover import final
from discover.data import load_dataset
from discover.evaluate import Candidate, evaluate
from discover.expr import parse
from discover.fit import FitConfig, FitResult
from discover.problem import NEAR_WEIGHT, make_problem, refit_rows
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
    """Make the final refit, and its fallback's fit, return ``refit`` (read at each call: the test
    may change it in place)."""

    def fake_fit(structure, X, y, unit, n_units, config, init=None, sound=None):
        return FitResult(ok=True, reason="", names=("p0", "p1", "p2"), params=refit.copy(),
                         sse=np.zeros(n_units), seconds=0.0, nfev=1)

    monkeypatch.setattr(final, "fit", fake_fit)
    monkeypatch.setattr(evaluate_module, "fit", fake_fit)  # and the fallback's fit (evaluate.fit_rows)


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


def test_a_law_scored_two_steps_out_falls_back_to_a_fit_on_train_without_validation(sldbench_dir, monkeypatch):
    ds, problem, record = vocab_record(sldbench_dir, "p0 + p1*log(vocab_size - p2)", 8)
    assert record.fold is not None  # the search fitted it below the first fold, on fewer rows than problem.fit
    real_fit = final.fit
    lo = problem.train.X["vocab_size"].min()
    calls = []

    def fit_breaking_on_all_of_train(structure, X, y, unit, n_units, config, init=None, sound=None):
        result = real_fit(structure, X, y, unit, n_units, config, init, sound)
        calls.append(len(y))
        if len(y) > problem.train.n:  # the refit on all of train (validation counted several times)
            return dataclasses.replace(result, params=np.array([[p0, p1, 0.9 * lo] for p0, p1, _ in result.params]))
        return result

    monkeypatch.setattr(final, "fit", fit_breaking_on_all_of_train)
    monkeypatch.setattr(evaluate_module, "fit", fit_breaking_on_all_of_train)  # evaluate.fit_rows: the fallback's fit
    [law_out] = final.finalize([record], 8, problem, ds, FitConfig(starts=4))
    assert calls == [len(refit_rows(problem)[1]), problem.fit.n]
    assert "fit without the validation slice kept" in law_out.reason
    expected = real_fit(final.analyse(parse(record.text, problem.symbols)), problem.fit.X, problem.fit.y,
                        problem.fit.unit, problem.n_units, FitConfig(starts=4), np.array(record.params))
    assert np.allclose(law_out.params, expected.params) and law_out.params != record.params
    # closer on the validation slice than the search fit made below the first fold
    structure = final.analyse(parse(record.text, problem.symbols))
    assert (final.score_rows(structure, np.array(law_out.params), problem.val).nmse
            < final.score_rows(structure, np.array(record.params), problem.val).nmse)


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


def test_the_final_refit_counts_the_largest_scales_of_train_several_times(sldbench_dir):
    ds, problem, record = vocab_record(sldbench_dir, "p0 + p1*log(vocab_size) + p2*log(non_vocab_parameters)", 5)
    X, y, unit = refit_rows(problem)
    extra = len(y) - problem.train.n
    assert extra == (NEAR_WEIGHT - 1) * problem.val.n > 0
    top = problem.train.X["vocab_size"].max()
    assert np.all(X["vocab_size"][problem.train.n:] == top)  # the copies: the validation slice, the largest vocabulary
    assert np.array_equal(y[:problem.train.n], problem.train.y)  # and every training row is there once

    # a law too simple for all of train is refitted to be closer at that end than a plain fit
    [law_out] = final.finalize([record], 5, problem, ds, FitConfig())
    structure = final.analyse(parse(record.text, problem.symbols))
    plain = final.fit(structure, problem.train.X, problem.train.y, problem.train.unit, problem.n_units, FitConfig())
    weighted = np.array(law_out.params)
    near = final.score_rows(structure, weighted, problem.val).nmse
    assert near < final.score_rows(structure, plain.params, problem.val).nmse
    assert law_out.train.nmse > final.score_rows(structure, plain.params, problem.train).nmse  # at some cost below it


def test_a_random_validation_rule_weighs_every_training_row_once(sldbench_dir):
    problem = make_problem(load_dataset(find_task("domain_mixture"), sldbench_dir))
    X, y, unit = refit_rows(problem)
    assert np.array_equal(y, problem.train.y) and np.array_equal(unit, problem.train.unit)


def test_a_run_recorded_before_the_refit_weight_keeps_every_row_alike():
    from discover.runner import search_config_from_dict, search_config_to_dict
    from discover.search.loop import SearchConfig

    recorded = search_config_to_dict(SearchConfig())
    assert search_config_from_dict(recorded).refit_weight == NEAR_WEIGHT
    del recorded["refit_weight"]  # config.json of a run from before the weight: it was refitted plainly
    assert search_config_from_dict(recorded).refit_weight == 1


def test_the_final_refit_does_not_depend_on_how_busy_the_machine_is(sldbench_dir, busy_clock):
    ds, problem, record = vocab_record(sldbench_dir, "p0 + p1*vocab_size**p2 + p3*non_vocab_parameters**p4", 6)
    idle = final.finalize([record], 6, problem, ds, final.refit_config(FitConfig()))
    busy_clock(fit_module)
    busy = final.finalize([record], 6, problem, ds, final.refit_config(FitConfig()))
    assert busy[0].params == idle[0].params and busy[0].test == idle[0].test
    # a refit limited in seconds (as before) would have stopped early and reported other parameters
    cut = final.finalize([record], 6, problem, ds, dataclasses.replace(final.refit_config(FitConfig()), time_limit=15))
    assert cut[0].params != idle[0].params


def test_a_refit_that_switches_a_term_off_with_a_huge_exponent_gives_way_where_new_mixes_explode(
        sldbench_dir, monkeypatch):
    ds = load_dataset(find_task("domain_mixture"), sldbench_dir)
    problem = make_problem(ds)
    text = "p0 + p1*exp(p2*(proportion_domain_1 + proportion_domain_3))"
    record = evaluate(Candidate(parse(text, problem.symbols), "user"), problem, FitConfig(starts=2, time_limit=5),
                      id=5, max_params=12)
    assert record.ok
    structure = final.analyse(parse(text, problem.symbols))
    assert not evaluate_module.implausible_problem(structure, np.array(record.params), problem)
    # a vanishing coefficient times exp(400 x): tiny on every training mix (x1 + x3 <= 0.5625 there),
    # about 1e3 on a new mix with x1 + x3 = 0.59375, which a loss of 1.2 to 3.9 cannot be
    on = problem.train.X["proportion_domain_1"] + problem.train.X["proportion_domain_3"]
    refit = np.array(record.params)
    i1, i2 = record.names.index("p1"), record.names.index("p2")
    refit[:, i2] = 400.0
    refit[:, i1] = 1e-2 * np.exp(-400.0 * on.max())
    assert np.isfinite(final.score_rows(structure, refit, problem.train).nmse)
    assert not final.inside_problem(structure, refit, problem)  # finite: the older checks let it through
    refit_returns(monkeypatch, refit)
    [law_out] = final.finalize([record], 5, problem, ds, FitConfig())
    assert law_out.params == record.params
    assert law_out.reason.startswith("beyond the training targets by more than their range on other mixes")
