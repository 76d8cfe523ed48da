"""SLDBench's scoring rules."""

import numpy as np
import pytest

from discover.score import clip_r2, log_mean_se, mean_over_runs, score


def test_r2_nmse_nmae_single_target():
    t = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.1, 1.9, 3.2, 3.8])
    s = score(t, p)
    nmse = np.mean((p - t) ** 2) / np.var(t)
    nmae = np.mean(np.abs(p - t)) / np.mean(np.abs(t - t.mean()))
    assert np.isclose(s.nmse, nmse) and np.isclose(s.r2, 1 - nmse) and np.isclose(s.nmae, nmae)


def test_multi_target_r2_is_one_minus_mean_nmse():
    t = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 35.0]])
    p = t + np.array([[0.1, 1.0], [0.0, -2.0], [-0.1, 0.0]])
    s = score(t, p)
    per = [np.mean((p[:, j] - t[:, j]) ** 2) / np.var(t[:, j]) for j in range(2)]
    assert np.isclose(s.r2, 1 - np.mean(per))


def test_non_finite_predictions_score_minus_one_and_clipping():
    t = np.array([1.0, 2.0, 3.0])
    assert score(t, np.array([1.0, np.nan, 3.0])).r2 == -1.0
    assert score(t, np.array([1.0, np.inf, 3.0])).r2_raw == -1.0
    bad = score(t, np.array([100.0, -50.0, 30.0]))
    assert bad.r2 == -1.0 and bad.r2_raw < -1.0
    assert clip_r2(float("nan")) == -1.0 and clip_r2(None) == -1.0 and clip_r2(0.5) == 0.5


def test_mean_over_runs_counts_failed_and_missing_runs_as_minus_one():
    assert np.isclose(mean_over_runs([0.9, None, 0.8, 0.7, 0.6]), 0.4)
    assert np.isclose(mean_over_runs([0.9, 0.8], runs=4), (0.9 + 0.8 - 2) / 4)
    assert np.isclose(mean_over_runs([-5.0, 1.0]), 0.0)


def test_one_target_scores_alike_in_either_layout_and_mismatched_shapes_are_an_error():
    t = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.1, 1.9, 3.2, 3.8])
    assert score(t[:, None], p) == score(t, p) == score(t[:, None], p[:, None])
    with pytest.raises(ValueError, match="shape"):
        score(t[:3], p)
    with pytest.raises(ValueError, match="shape"):
        score(np.column_stack([t, t]), p)


def test_standard_error_of_a_mean_log_nmse_over_slices():
    nmse, se = np.array([0.1, 0.4]), np.array([0.005, 0.02])
    rng = np.random.default_rng(0)
    draws = np.log(nmse + se * rng.standard_normal((20000, 2))).mean(axis=1)  # the NMSEs as their rows could have given
    assert log_mean_se(nmse, se) == pytest.approx(draws.std(), rel=0.03)
    assert log_mean_se([0.1], [0.01]) == pytest.approx(0.1)
    assert log_mean_se([0.1, 0.2], [0.01, float("inf")]) == float("inf")  # a slice with one row: not known
