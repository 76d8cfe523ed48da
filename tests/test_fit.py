"""The fitter recovers known parameters, per group, and fails cleanly."""

import time

import numpy as np
import pytest

from discover.expr import parse
from discover.fit import FitConfig, analyse, fit, predict, solve_units


def synthetic(rng, groups=1, n=60):
    N = 10 ** rng.uniform(-1, 1.5, n * groups)
    D = 10 ** rng.uniform(-1, 1.5, n * groups)
    unit = np.repeat(np.arange(groups), n)
    return N, D, unit


def test_linear_parameters_are_detected():
    s = analyse(parse("p0 + p1*N**(-p2) + p3*D**(-p4)", ["N", "D"]))
    assert set(s.linear) == {"p0", "p1", "p3"} and set(s.nonlinear) == {"p2", "p4"}
    s = analyse(parse("p0/(N**p1 + p2) + p3", ["N"]))
    assert set(s.linear) == {"p0", "p3"}


@pytest.mark.parametrize("text", [
    "p0 + p1*N**(-p2) + p3*D**(-p4)",
    "p0 + p1*log(N**p2) + p3*log(D**p4)**2",  # log(N**p2) is p2*log(N): p2 enters linearly
    "p0 + p1*(p2 + p3*log(N) + log(D))**1.0",
    "p0*(p1 + N)*D + p0*N",  # p0 in two terms, linearly
    "exp(p0*N) + tanh(p1 + D) + abs(p2*N)*p3 + (p4 + N)**2",
    "log(p0*N**p1*(p2*log(D) + 1)) + p3*(N**p4)**p5",
])
def test_linear_parameters_are_those_whose_derivative_is_free_of_them(text):
    import sympy as sp

    from discover.fit import _derivative

    expr = parse(text, ["N", "D"])
    for p in sorted(expr.free_symbols - {sp.Symbol("N"), sp.Symbol("D")}, key=lambda s: s.name):
        full = sp.diff(expr, p)
        quick = _derivative(expr, p)
        if quick is None:  # claimed nonlinear without differentiating
            assert p in full.free_symbols, p
        else:
            assert quick == full, p


@pytest.mark.parametrize("method", ["lm", "scipy"])
def test_recovers_chinchilla_like_parameters(method):
    rng = np.random.default_rng(1)
    N, D, unit = synthetic(rng)
    true = dict(E=1.69, A=4.1, a=0.34, B=2.2, b=0.28)
    y = true["E"] + true["A"] * N ** -true["a"] + true["B"] * D ** -true["b"]
    s = analyse(parse("p0 + p1*N**(-p2) + p3*D**(-p4)", ["N", "D"]))
    r = fit(s, {"N": N, "D": D}, y, unit, 1, FitConfig(method=method))
    assert r.ok
    got = dict(zip(r.names, r.params[0], strict=False))
    np.testing.assert_allclose([got["p0"], got["p1"], got["p2"], got["p3"], got["p4"]],
                               [true["E"], true["A"], true["a"], true["B"], true["b"]], rtol=1e-4)


def test_each_group_gets_its_own_parameters():
    rng = np.random.default_rng(2)
    G = 30
    N, _, unit = synthetic(rng, groups=G, n=10)
    A, alpha, C = rng.uniform(1, 3, G), rng.uniform(0.2, 0.7, G), rng.uniform(0.5, 2, G)
    y = C[unit] + A[unit] * N ** -alpha[unit]
    s = analyse(parse("p0 + p1*N**(-p2)", ["N"]))
    r = fit(s, {"N": N}, y, unit, G)
    assert r.ok
    np.testing.assert_allclose(r.params[:, r.names.index("p2")], alpha, rtol=1e-5)
    np.testing.assert_allclose(predict(s, r.params, {"N": N}, unit), y, rtol=1e-6)


def test_noise_robust_loss_downweights_outliers():
    rng = np.random.default_rng(3)
    N, _, unit = synthetic(rng, n=80)
    y = 2.0 + 3.0 * N**-0.5
    y[::10] += 5.0  # gross outliers
    s = analyse(parse("p0 + p1*N**(-p2)", ["N"]))
    robust = fit(s, {"N": N}, y, unit, 1, FitConfig(loss="soft_l1"))
    plain = fit(s, {"N": N}, y, unit, 1, FitConfig(loss="linear"))
    k = robust.names.index("p2")
    assert abs(robust.params[0, k] - 0.5) < abs(plain.params[0, k] - 0.5)
    assert abs(robust.params[0, k] - 0.5) < 0.05


def test_too_few_rows_is_a_clean_failure():
    s = analyse(parse("p0 + p1*N**p2 + p3*N", ["N"]))
    N = np.array([1.0, 2.0, 3.0])
    r = fit(s, {"N": N}, np.array([1.0, 2.0, 3.0]), np.zeros(3, dtype=int), 1)
    assert not r.ok and "fewer rows" in r.reason


def test_law_undefined_everywhere_is_rejected_with_a_reason():
    s = analyse(parse("p0 + p1*log(N - 100)", ["N"]))
    N = np.linspace(1, 10, 20)
    r = fit(s, {"N": N}, N, np.zeros(20, dtype=int), 1)
    assert not r.ok and r.reason


def test_time_limit_really_stops_the_fit():
    rng = np.random.default_rng(4)
    N, D, unit = synthetic(rng, groups=1, n=3000)
    y = 1 + N**-0.3 + np.sin(D)
    s = analyse(parse("p0 + p1*tanh(p2*N**p3 + p4*D**p5)*exp(p6*D**p7) + p8*(N + p9)**p10", ["N", "D"]))
    t0 = time.monotonic()
    r = fit(s, {"N": N, "D": D}, y, unit, 1, FitConfig(starts=200, max_nfev=5000, time_limit=0.5, patience=1000))
    assert time.monotonic() - t0 < 5.0  # its 200 starts would take minutes
    assert r.timed_out


def test_diverging_starts_do_not_spam_warnings():
    import warnings

    N = np.linspace(1, 300, 50)
    y = 1 + 2 * np.exp(-0.02 * N)
    s = analyse(parse("p0 + p1*exp(p2*N) + p3*N**p4", ["N"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = fit(s, {"N": N}, y, np.zeros(50, dtype=int), 1, FitConfig(starts=12))
    assert r.ok


def test_per_unit_solves_survive_singular_and_overflowing_systems():
    A = np.array([np.diag([2.0, 4.0]), [[1.0, 1.0], [1.0, 1.0]], [[np.inf, 0.0], [0.0, 1.0]]])
    b = np.array([[2.0, 4.0], [2.0, 2.0], [1.0, 1.0]])
    x = solve_units(A, b)  # one singular unit used to make the whole batch fall back to an SVD that can fail
    np.testing.assert_allclose(x[0], [1.0, 1.0])
    np.testing.assert_allclose(x[1], [1.0, 1.0])  # least-norm solution of x0 + x1 = 2
    np.testing.assert_array_equal(x[2], [0.0, 0.0])  # a diverged unit gets no step, not a crash


@pytest.mark.parametrize("k", [1, 2, 3])
def test_per_unit_solves_agree_with_numpy_on_badly_scaled_systems(k):
    rng = np.random.default_rng(k)
    J = rng.standard_normal((200, k, 30)) * 10.0 ** rng.uniform(-6, 6, (200, k, 1))  # Jacobians of any scale
    A = J @ J.transpose(0, 2, 1) + 1e-3 * np.eye(k)
    b = rng.standard_normal((200, k)) * 10.0 ** rng.uniform(-3, 3, (200, 1))
    x = solve_units(A, b)
    np.testing.assert_allclose(np.einsum("uij,uj->ui", A, x), b, rtol=1e-6, atol=1e-9 * np.abs(b).max())


def test_a_constant_law_fits_each_groups_mean():
    # 'p0' alone: its offset (p0 = 0) is a plain 0, which must still compile
    rng = np.random.default_rng(1)
    unit = np.repeat([1, 0, 2], 5)  # unsorted units, unequal means
    y = np.array([2.0, 1.0, 3.0])[unit] + 0.01 * rng.standard_normal(15)
    r = fit(analyse(parse("p0", ["x"])), {"x": np.arange(15.0)}, y, unit, 3)
    assert r.ok
    assert np.allclose(r.params[:, 0], [y[unit == u].mean() for u in range(3)])


def test_groups_with_unequal_row_counts_in_any_order_fit_alike():
    rng = np.random.default_rng(2)
    x = rng.uniform(1, 10, 40)
    unit = rng.permutation(np.r_[np.zeros(25, int), np.ones(15, int)])
    a, b = np.array([3.0, 5.0]), np.array([-0.5, -0.8])
    y = a[unit] * x ** b[unit] + 1.0
    r = fit(analyse(parse("p0 + p1*x**p2", ["x"])), {"x": x}, y, unit, 2)
    assert r.ok
    assert np.allclose(r.params[:, 2], b, atol=1e-4) and np.allclose(r.params[:, 1], a, atol=1e-3)


def test_fitting_groups_together_gives_each_the_fit_it_gets_alone():
    # units are independent: the batched solver (which drops units once they stop) must give
    # every group the parameters it gets when fitted on its own
    rng = np.random.default_rng(5)
    sizes = [30, 12, 25, 8, 40, 16]
    unit = np.repeat(np.arange(len(sizes)), sizes)
    x = rng.uniform(1, 50, len(unit))
    a, b, e = rng.uniform(1, 5, 6), rng.uniform(-1.2, -0.2, 6), rng.uniform(0.5, 2, 6)
    y = e[unit] + a[unit] * x ** b[unit] + rng.normal(0, 0.01, len(unit)) * (unit % 2)
    s = analyse(parse("p0 + p1*x**p2", ["x"]))
    together = fit(s, {"x": x}, y, unit, len(sizes))
    assert together.ok
    for u in range(len(sizes)):
        alone = fit(s, {"x": x[unit == u]}, y[unit == u], np.zeros(sizes[u], int), 1)
        np.testing.assert_allclose(together.params[u], alone.params[0], rtol=1e-6)


def test_a_sound_start_is_kept_over_a_better_fit_that_is_not():
    # y = x**2 on x > 0: (p0*x)**2 fits exactly with p0 = 1 or p0 = -1, and the starts reach both
    x = np.linspace(1.0, 3.0, 20)
    s = analyse(parse("(p0*x)**2", ["x"]))
    unit = np.repeat([0, 1], 20)
    X, y = {"x": np.tile(x, 2)}, np.tile(x**2, 2) * np.repeat([1.0, 1.0001], 20)

    def negative_for_unit_1(params):  # a check only unit 1's negative root passes
        return np.array([True, params[1, 0] < 0])

    free = fit(s, X, y, unit, 2)
    kept = fit(s, X, y, unit, 2, sound=negative_for_unit_1)
    assert free.ok and kept.ok and free.params[1, 0] > 0  # left alone, the first root found
    assert kept.params[1, 0] == pytest.approx(-np.sqrt(1.0001), rel=1e-4)
    np.testing.assert_array_equal(kept.params[0], free.params[0])  # units that pass keep their best fit
    impossible = fit(s, X, y, unit, 2, sound=lambda params: np.zeros(2, dtype=bool))
    assert impossible.ok and abs(impossible.params[1, 0]) == pytest.approx(np.sqrt(1.0001), rel=1e-4)


@pytest.mark.parametrize("method", ["lm", "scipy"])
def test_sharing_jacobian_passes_between_parameters_does_not_change_the_fit(monkeypatch, method):
    # small problems evaluate the stepped points of several parameters in one pass over copies
    # of the rows; the fit must be the one that one pass per parameter gives, to the bit
    import discover.fit as fit_module

    rng = np.random.default_rng(11)
    sizes = [30, 12, 25]
    unit = np.repeat(np.arange(3), sizes)
    N, D = 10 ** rng.uniform(-1, 1.5, len(unit)), 10 ** rng.uniform(-1, 1.5, len(unit))
    y = 1.5 + 4 * N ** -0.4 + (2 + unit) * D ** -0.25 + rng.normal(0, 0.01, len(unit))
    s = analyse(parse("p0 + p1*N**p2 + p3*(D + p4)**p5 + p6*log(N*D + p7)", ["N", "D"]))
    config = FitConfig(method=method, time_limit=60)
    monkeypatch.setattr(fit_module, "JACOBIAN_ROWS", 10**9)
    shared = fit(s, {"N": N, "D": D}, y, unit, 3, config)
    monkeypatch.setattr(fit_module, "JACOBIAN_ROWS", 1)
    alone = fit(s, {"N": N, "D": D}, y, unit, 3, config)
    assert shared.ok and alone.ok and shared.nfev == alone.nfev
    np.testing.assert_array_equal(shared.params, alone.params)
    np.testing.assert_array_equal(shared.sse, alone.sse)
