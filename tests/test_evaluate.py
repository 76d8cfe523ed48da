"""How the search scores a candidate: fitted below the first selection fold, judged two steps out."""

import dataclasses
import json
import math

import pytest

from discover.data import load_dataset
from discover.evaluate import Candidate, Evaluation, evaluate, search_score
from discover.expr import parse
from discover.fit import FitConfig
from discover.problem import Rows, make_problem
from discover.tasks import find_task

LAW = "p0 + p1*non_vocab_parameters**p2 + p3*num_characters**p4 + p5*vocab_size**p6"
CONFIG = FitConfig(starts=4, time_limit=5)


@pytest.fixture(scope="module")
def vocab(sldbench_dir):
    return make_problem(load_dataset(find_task("vocab"), sldbench_dir))


def run(problem, text=LAW) -> Evaluation:
    return evaluate(Candidate(expr=parse(text, problem.symbols), origin="user"), problem, CONFIG, id=0, max_params=12)


def test_with_folds_a_law_is_fitted_below_the_first_and_scored_on_both_steps(vocab):
    fold_fit, fold_val = vocab.folds[0]
    r = run(vocab)
    assert r.ok and r.fold is not None
    assert r.fit.nmse < 0.1 and r.fold.nmse < 1.0 and r.val.nmse < 1.0
    # scored on the rows it was fitted on: the fold's, fewer than the search's fit rows
    assert fold_fit.n < vocab.fit.n
    assert r.val_nmse == pytest.approx(math.sqrt(r.val.nmse * r.fold.nmse))
    # the slice a step further out is harder than the fold's own validation rows, from the same fit
    alone = run(dataclasses.replace(vocab, folds=()))
    assert alone.fold is None and alone.val_nmse == alone.val.nmse
    assert alone.val.nmse < r.val.nmse  # fitted closer to the slice, it meets it more easily


def test_without_two_fit_rows_per_parameter_in_the_fold_every_law_is_fitted_on_the_fit_rows(vocab):
    # one answer per run (from the cap on parameters), so every law is ranked alike
    fit, val = vocab.folds[0]
    tiny = Rows(X={k: v[:20] for k, v in fit.X.items()}, y=fit.y[:20], unit=fit.unit[:20], n=20, n_targets=1)
    problem = dataclasses.replace(vocab, folds=((tiny, val), *vocab.folds[1:]))
    assert problem.search_rows(12) == (problem.fit, None) and problem.search_rows(10) == (tiny, val)
    no_folds = dataclasses.replace(vocab, folds=())
    for law in (LAW, "p0 + p1*non_vocab_parameters**p2"):  # 7 parameters and 3: both on the fit rows
        r = run(problem, law)
        assert r.ok and r.fold is None and r.val_nmse == r.val.nmse
        assert r.val == run(no_folds, law).val


def test_a_law_that_wins_one_step_by_luck_ranks_below_one_that_holds_on_both():
    assert search_score(0.01, 1.0) > search_score(0.05, 0.05)  # 0.1 against 0.05
    assert search_score(0.3) == 0.3  # no fold: the validation NMSE alone


def test_the_fold_score_survives_a_round_trip_through_candidates_jsonl(vocab):
    r = run(vocab)
    back = Evaluation.from_json(json.loads(json.dumps(r.to_json())))
    assert back.fold == r.fold and back.val_nmse == r.val_nmse
    old = {k: v for k, v in r.to_json().items() if k != "fold"}  # a run written before the fold score
    assert Evaluation.from_json(old).fold is None


def test_a_run_recorded_before_two_step_scoring_is_resumed_on_one_slice(vocab):
    # its candidates.jsonl holds one-slice scores: new candidates must be ranked the same way
    from discover.runner import search_config_from_dict, search_config_to_dict
    from discover.search.loop import SearchConfig

    recorded = search_config_to_dict(SearchConfig())
    assert search_config_from_dict(recorded).two_steps is True
    del recorded["two_steps"]  # config.json of a run from before
    config = search_config_from_dict(recorded)
    assert config.two_steps is False
    r = evaluate(Candidate(expr=parse(LAW, vocab.symbols), origin="user"), vocab, CONFIG, id=0, max_params=12,
                 two_steps=config.two_steps)
    assert r.ok and r.fold is None and r.val == run(dataclasses.replace(vocab, folds=())).val
