"""The search's view of a dataset: splits, units, scales, and what it never sees."""

import dataclasses

import numpy as np

from discover.data import load_dataset
from discover.evaluate import inside_problem, sound_units
from discover.expr import parse
from discover.fit import analyse, predict
from discover.problem import corners, make_problem, shares
from discover.tasks import find_task


def test_validation_is_carved_from_train_and_test_is_absent(sldbench_dir):
    ds = load_dataset(find_task("vocab"), sldbench_dir)
    p = make_problem(ds)
    assert p.fit.n + p.val.n == len(ds.train) == p.train.n
    # validation holds the largest vocabulary of train, fitting never sees it
    v = "vocab_size"
    assert p.val.X[v].min() * p.scales[v] == ds.train.X[v].max()
    assert p.fit.X[v].max() < p.val.X[v].min()
    assert not hasattr(p, "test")


def test_units_are_group_by_target(sldbench_dir):
    ds = load_dataset(find_task("domain_mixture"), sldbench_dir)
    p = make_problem(ds)
    assert p.n_units == 4 * 5
    assert set(np.unique(p.train.unit)) == set(range(20))
    np.testing.assert_array_equal(p.train.Y, ds.train.Y)


def test_scales_are_powers_of_ten_and_only_reparametrise(sldbench_dir):
    ds = load_dataset(find_task("lr_bsz"), sldbench_dir)
    p = make_problem(ds)
    for s, scale in p.scales.items():
        assert np.isclose(np.log10(scale), round(np.log10(scale)))
        np.testing.assert_allclose(p.train.X[s] * scale, ds.train.X[s])


def test_search_fits_on_a_capped_subsample_but_validates_on_all(sldbench_dir):
    ds = load_dataset(find_task("lr_bsz"), sldbench_dir)
    p = make_problem(ds, max_fit_rows=500)
    assert 450 <= p.fit.n <= 550
    assert p.val.n == 47
    assert make_problem(ds, max_fit_rows=500).fit.X["lr"].tolist() == p.fit.X["lr"].tolist()


def test_extrapolation_probe_pushes_the_holdout_axis_only(sldbench_dir):
    ds = load_dataset(find_task("vocab"), sldbench_dir)
    p = make_problem(ds)
    np.testing.assert_allclose(p.probe.X["vocab_size"], 4 * p.val.X["vocab_size"])
    np.testing.assert_allclose(p.probe.X["num_characters"], p.val.X["num_characters"])
    mix = make_problem(load_dataset(find_task("domain_mixture"), sldbench_dir))
    assert mix.probe is None  # a random holdout names no axis to extrapolate along


def test_selection_folds_chain_forward_below_the_validation_slice(sldbench_dir):
    ds = load_dataset(find_task("vocab"), sldbench_dir)
    p = make_problem(ds)
    v = "vocab_size"
    sizes = np.unique(ds.train.X[v]) / p.scales[v]
    # a fourth fold would be fitted on 480 of the 960 rows the search fits on: not taken
    assert p.fit.n == 960 and len(p.folds) == 3 and p.folds[-1][0].n == 600
    for k, (fit_rows, val_rows) in enumerate(p.folds):
        # fold k holds out the (k+2)-th largest vocabulary and fits on everything below it
        np.testing.assert_allclose(np.unique(val_rows.X[v]), [sizes[-(k + 2)]])
        assert fit_rows.X[v].max() < val_rows.X[v].min()
        assert fit_rows.n + val_rows.n == (p.fit.n if k == 0 else p.folds[k - 1][0].n)


def test_random_rules_give_other_random_folds(sldbench_dir):
    ds = load_dataset(find_task("domain_mixture"), sldbench_dir)
    p = make_problem(ds)
    assert len(p.folds) == 2

    def keyed(rows):  # (group, mixture) of each row
        return {tuple(r) for r in np.column_stack([rows.unit[: rows.n]] + [rows.X[s][: rows.n] for s in p.symbols])}

    first, second = keyed(p.val), keyed(p.folds[0][1])
    assert first and second and not first & second  # disjoint slices of the training rows


def test_no_fold_is_fitted_on_too_few_values_of_an_input(sldbench_dir):
    # parallel: train holds parallel sizes 1, 2, 4; validation takes 4, a fold below it would be
    # fitted on size 1 alone and could not judge any law in parallel_size: no such fold
    parallel = make_problem(load_dataset(find_task("parallel"), sldbench_dir))
    assert len(np.unique(parallel.fit.X["parallel_size"])) == 2
    assert parallel.folds == ()
    for name in ("vocab", "moe", "lr_bsz"):
        problem = make_problem(load_dataset(find_task(name), sldbench_dir))
        assert problem.folds
        for fit, _ in problem.folds:
            for s in problem.symbols:
                assert len(np.unique(fit.X[s])) >= min(3, len(np.unique(problem.fit.X[s])))


def test_fold_fit_rows_are_capped_as_in_the_search_and_validation_rows_are_not(sldbench_dir):
    ds = load_dataset(find_task("lr_bsz"), sldbench_dir)
    full, capped = make_problem(ds), make_problem(ds, max_fit_rows=500)
    assert capped.fit.n <= 500 and len(capped.folds) == len(full.folds) >= 2
    for (fit, val), (full_fit, full_val) in zip(capped.folds, full.folds, strict=True):
        assert 0 < fit.n <= 500 < full_fit.n  # fitted on a sample of the rows below the slice...
        np.testing.assert_array_equal(val.y, full_val.y)  # ...and scored on every row of it


def test_mixture_proportions_are_shares_and_their_probe_holds_other_mixes(sldbench_dir):
    ds = load_dataset(find_task("domain_mixture"), sldbench_dir)
    names = tuple(f"proportion_domain_{i}" for i in range(1, 6))
    assert shares(ds.train) == names
    assert shares(load_dataset(find_task("vocab"), sldbench_dir).train) == ()
    inside = make_problem(ds).inside
    mixes = np.column_stack([inside.X[k] for k in names])
    np.testing.assert_allclose(mixes.sum(axis=1), 1.0)
    train = np.column_stack([ds.train.X[k] for k in names])
    assert np.all(mixes >= train.min(axis=0) - 1e-12) and np.all(mixes <= train.max(axis=0) + 1e-12)
    seen = {tuple(r) for r in train.round(9)}
    assert sum(tuple(r) not in seen for r in mixes.round(9)) > len(mixes) // 2  # mostly new mixes
    assert all(np.any(mixes[:, i] == 0) for i in range(5))  # each share is sometimes absent
    assert make_problem(load_dataset(find_task("vocab"), sldbench_dir)).inside is None
    # every group meets every corner of the training mixes (where a law linear in the shares is lowest)
    p = make_problem(ds)
    ends = corners(train.min(axis=0), train.max(axis=0), 1.0)
    assert len(ends) >= 10
    met = {(int(u) % len(p.groups), tuple(m)) for u, m in zip(inside.unit, mixes.round(9), strict=True)}
    assert all((g, tuple(c)) in met for g in range(len(p.groups)) for c in ends.round(9))


def test_the_corners_of_a_set_of_mixes_are_its_vertices():
    # shares within [0, .5], [0, .5], [0, 1] summing to 1
    got = corners(np.zeros(3), np.array([0.5, 0.5, 1.0]), 1.0)
    assert {tuple(c) for c in got} == {(0, 0, 1), (0, 0.5, 0.5), (0.5, 0, 0.5), (0.5, 0.5, 0)}
    assert len(corners(np.zeros(3), np.ones(3), 1.0)) == 3  # the simplex: one share takes the whole


def test_a_law_that_breaks_on_other_mixes_is_rejected(sldbench_dir):
    p = make_problem(load_dataset(find_task("domain_mixture"), sldbench_dir))
    # finite on every training mix (proportion 4 + 5 >= 0.25 there), not where the others are at their highest
    law = analyse(parse("log(proportion_domain_4 + proportion_domain_5 - p0)", p.symbols))
    params = np.full((p.n_units, 1), 0.23)
    assert np.all(np.isfinite(predict(law, params, p.train.X, p.train.unit)))
    assert "other mixes" in inside_problem(law, params, p)
    assert inside_problem(law, np.full((p.n_units, 1), 0.1), p) == ""
    # the fitter's per-unit view of the same checks: only unit 3 breaks
    params = np.full((p.n_units, 1), 0.1)
    params[3] = 0.23
    np.testing.assert_array_equal(sound_units(law, p)(params), np.arange(p.n_units) != 3)
    assert sound_units(law, dataclasses.replace(p, inside=None)) is None
    # the probe further out along the holdout inputs is the search's rejection, not the fitter's preference
    vocab = make_problem(load_dataset(find_task("vocab"), sldbench_dir))
    assert vocab.probe is not None and sound_units(analyse(parse("p0*vocab_size**p1", vocab.symbols)), vocab) is None


def test_edge_probe_moves_one_input_at_a_time_past_its_range(sldbench_dir):
    p = make_problem(load_dataset(find_task("vocab"), sldbench_dir))
    e = p.edges
    moved = {k: (e.X[k] < p.train.X[k].min()) | (e.X[k] > p.train.X[k].max()) for k in p.symbols}
    assert np.all(sum(m.astype(int) for m in moved.values()) == 1)  # exactly one input off range per row
    for k in p.symbols:
        assert set(np.unique(e.X[k][moved[k]])) == {p.train.X[k].min() / 2, p.train.X[k].max() * 2}
    mix = make_problem(load_dataset(find_task("domain_mixture"), sldbench_dir)).edges
    assert mix is None  # its only inputs are shares, probed as other mixes instead
