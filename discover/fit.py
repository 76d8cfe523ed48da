"""Fitting a law's parameters, per fit unit (a group × target), all units in one solve.

Rows of every unit are stacked; parameter ``j`` of unit ``u`` is ``theta[u, j]``. Because a
row's residual depends only on its own unit's parameters, the Jacobian is block-diagonal and
one finite-difference step per parameter serves every unit at once, so 42 groups cost about
what one does.

Parameters that enter linearly are solved exactly for every trial value of the others
(variable projection): the law is ``f0(x; θ) + Σ c_i·b_i(x; θ)`` and, per unit, ``c`` is the
least-squares solution given ``θ``. The nonlinear ``θ`` are fitted by
Levenberg-Marquardt, batched over units (``FitConfig.method="scipy"`` runs
``scipy.optimize.least_squares`` instead: same answers, slower with many units), from several
starts spread over magnitudes and signs; the
best parameters seen for each unit in any evaluation are kept, which also makes the time
limit safe: when it strikes, the solver is interrupted and the best so far is returned.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import sympy as sp
from scipy.optimize import least_squares

from discover.errors import ExprError
from discover.expr import Evaluator, compile_expr, params_of, with_logs

# Rows of one pass of the finite-difference Jacobian over copies of the rows, at most (see
# _Problem.jacobian): past this, one pass per parameter is as fast (measured on SLDBench).
JACOBIAN_ROWS = 16384
PENALTY = 1e6  # residual used where the law is not finite (scaled by the target's spread)
# Fits after the search (final refit, selection folds, human laws) are bounded by their evaluations
# (starts x max_nfev), so what a run reports does not depend on how busy the machine was; this
# time limit only stops a runaway one. The largest of them takes a few seconds on SLDBench.
SAFETY_SECONDS = 600.0


@dataclass(frozen=True)
class FitConfig:
    starts: int = 8
    max_nfev: int = 300  # residual evaluations per start
    time_limit: float = 10.0  # seconds per fit, all starts and units together
    loss: str = "linear"  # or a robust loss of least_squares: "soft_l1", "huber", "cauchy"
    seed: int = 0
    patience: int = 3  # method "scipy": stop after this many starts that improve no unit
    method: str = "lm"  # "lm": batched Levenberg-Marquardt; "scipy": scipy.optimize.least_squares per start


@dataclass(frozen=True)
class Structure:
    """A law prepared for fitting: which parameters are linear, and compiled evaluators."""

    expr: sp.Expr
    names: tuple[str, ...]  # all parameters, p0..pk order
    linear: tuple[str, ...]
    nonlinear: tuple[str, ...]
    full: Evaluator
    offset: Evaluator  # the law with every linear parameter set to 0
    basis: tuple[Evaluator, ...]  # d law / d c_i, free of every linear parameter


@dataclass(frozen=True)
class FitResult:
    ok: bool
    reason: str
    names: tuple[str, ...]
    params: np.ndarray  # (units, len(names))
    sse: np.ndarray  # (units,)
    seconds: float
    nfev: int
    timed_out: bool = False
    extra: dict = field(default_factory=dict)


@lru_cache(maxsize=4096)
def analyse(expr: sp.Expr) -> Structure:
    """Split parameters into linear and nonlinear ones and compile what the fitter needs."""
    params = params_of(expr)
    linear: list[sp.Symbol] = []
    derivs: dict[sp.Symbol, sp.Expr] = {}
    basis: list[Evaluator] = []
    for p in params:
        d = _derivative(expr, p)
        if d is None or p in d.free_symbols or any(q in d.free_symbols for q in linear):
            continue
        if any(p in derivs[q].free_symbols for q in linear):
            continue
        try:
            basis.append(compile_expr(d))
        except ExprError:
            continue
        linear.append(p)
        derivs[p] = d
    offset = expr.xreplace({p: 0 for p in linear})
    return Structure(
        expr=expr,
        names=tuple(p.name for p in params),
        linear=tuple(p.name for p in linear),
        nonlinear=tuple(p.name for p in params if p not in linear),
        full=compile_expr(expr),
        offset=compile_expr(offset),
        basis=tuple(basis),
    )


def _derivative(expr: sp.Expr, p: sp.Symbol) -> sp.Expr | None:
    """d expr / d p, or None where ``p`` certainly enters nonlinearly (see _surely_nonlinear).
    The usual linear case, ``p`` a plain factor of one additive term and nowhere else, is
    read off the tree; sympy differentiates the rest (diff was 95% of analyse)."""
    holders = [t for t in (expr.args if isinstance(expr, sp.Add) else (expr,)) if p in t.free_symbols]
    if len(holders) == 1:
        term = holders[0]
        if term == p:
            return sp.Integer(1)
        if isinstance(term, sp.Mul):
            rest = [f for f in term.args if f != p]
            if len(rest) == len(term.args) - 1 and not any(p in f.free_symbols for f in rest):
                return sp.Mul(*rest)
    return None if _surely_nonlinear(expr, p) else sp.diff(expr, p)


def _surely_nonlinear(node: sp.Expr, p: sp.Symbol) -> bool:
    """Whether ``p`` sits in a power (other than 1) or in the argument of a function other
    than log, with no log above it: its derivative then keeps ``p`` (exp(g)' = exp(g)·g',
    (x**g)' = x**g·log(x)·g', (g**2)' = 2·g·g'...). Under a log it may not: log(x**p) is
    p·log(x)."""
    if isinstance(node, sp.log) or p not in node.free_symbols:
        return False
    if isinstance(node, sp.Pow):  # in the exponent, or in the base of a power other than 1: (p + x)**2, 1/(p + x)
        if p in node.exp.free_symbols or not (node.exp.is_Number and float(node.exp) in (0, 1)):
            return True
    if isinstance(node, sp.Function):
        return True
    return any(_surely_nonlinear(a, p) for a in node.args)


def predict(structure: Structure, params: np.ndarray, X: dict[str, np.ndarray], unit: np.ndarray) -> np.ndarray:
    """Evaluate the law on rows whose unit indices are ``unit``, with per-unit ``params``."""
    env = dict(X)
    for j, name in enumerate(structure.names):
        env[name] = params[unit, j]
    n = len(unit)
    return np.broadcast_to(structure.full(env), (n,)).astype(float)


class _Deadline(Exception):
    pass


def _take_rows(X: dict[str, np.ndarray], idx: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """The rows ``idx`` of every per-row column of ``X`` (arrays of length ``n``); other entries as they are."""
    return {k: v[idx] if np.ndim(v) == 1 and len(v) == n else v for k, v in X.items()}


class _Problem:
    """The stacked least-squares problem over all units, with per-unit best tracking.

    Per-unit arrays are laid out (U, k, R): unit, component, row slot. When every unit has
    the same number of rows (one group, or the starts of one fit stacked) that is a view of
    the rows; otherwise rows are padded with zeros. Per-unit solves are then batched matrix
    products."""

    def __init__(self, s: Structure, X: dict[str, np.ndarray], y: np.ndarray, unit: np.ndarray, n_units: int,
                 deadline: float, spread: float):
        self.n = len(y)
        if np.any(np.diff(unit) < 0):  # rows sorted by unit: padding is then often a plain reshape
            order = np.argsort(unit, kind="stable")
            X = _take_rows(X, order, self.n)
            y, unit = y[order], unit[order]
        self.s, self.X, self.y, self.unit, self.U = s, with_logs(X), y, unit, n_units
        self.m = len(s.nonlinear)
        self.L = len(s.linear)
        self.deadline = deadline
        self.penalty = PENALTY * spread
        self.f_scale = 0.01 * spread  # residual size where robust losses start to discount
        # padded layout for the per-unit solves: row i sits at (unit[i], slot[i])
        counts = np.bincount(unit, minlength=n_units)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        slot = np.arange(self.n) - np.repeat(starts, counts)
        self.slot, self.R = slot, int(counts.max()) if self.n else 0
        self.even = self.R * n_units == self.n  # every unit has R rows, in unit order
        self.best_sse = np.full(n_units, np.inf)
        self.best_theta = np.zeros((n_units, self.m))
        self.best_c = np.zeros((n_units, self.L))
        self.nfev = 0
        self._copies: _Problem | None = None  # see copies()

    def evaluate(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residuals (n,) and linear coefficients (U, L) for nonlinear params theta (U, m); the
        best parameters seen for each unit are kept."""
        r, c, sse = self.residuals(theta)
        self.keep_best(theta, c, sse)
        return r, c

    def residuals(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Residuals (n,), linear coefficients (U, L) and sum of squares (U,) at theta (U, m)."""
        if time.monotonic() > self.deadline:
            raise _Deadline
        self.nfev += 1
        env = dict(self.X)
        for j, name in enumerate(self.s.nonlinear):
            env[name] = self.per_row(theta[:, j])
        with np.errstate(all="ignore"):
            f0 = np.broadcast_to(self.s.offset(env), (self.n,))
            target = self.y - f0
            if self.L:
                B = np.empty((self.L, self.n))
                for i, b in enumerate(self.s.basis):
                    B[i] = b(env)
                c = self._solve(B, target)
                r = target - self.rows_of(c[:, None, :] @ self.pad(B))
            else:
                c = np.zeros((self.U, 0))
                r = target
        bad = ~np.isfinite(r)
        if bad.any():
            r = np.where(bad, self.penalty, r)
        with np.errstate(all="ignore"):
            sse = self.unit_sum(r * r)
        return r, c, sse

    def keep_best(self, theta: np.ndarray, c: np.ndarray, sse: np.ndarray) -> None:
        better = sse < self.best_sse
        if better.any():
            self.best_sse[better] = sse[better]
            self.best_theta[better] = theta[better]
            self.best_c[better] = c[better]

    def _solve(self, B: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Per-unit least squares for the linear coefficients (bases ``B`` as (L, n)), by normal
        equations on column-scaled bases (tiny ridge for stability); pinv where those are singular."""
        if not (np.isfinite(B).all() and np.isfinite(target).all()):
            ok = np.isfinite(B).all(axis=0) & np.isfinite(target)
            B, target = np.where(ok, B, 0.0), np.where(ok, target, 0.0)
        Bp = self.pad(B)
        G = Bp @ Bp.transpose(0, 2, 1)
        b = (Bp @ self.pad(target[None]).transpose(0, 2, 1))[..., 0]
        d = np.sqrt(np.einsum("ujj->uj", G))
        d[~(d > 0) | ~np.isfinite(d)] = 1.0
        Gs = G / d[:, :, None] / d[:, None, :]
        bs = b / d
        c = solve_units(Gs + 1e-12 * np.eye(self.L), bs)
        c = c / d
        return np.where(np.isfinite(c), c, 0.0)

    def per_row(self, v: np.ndarray) -> np.ndarray:
        """A per-unit value (U,) on every row (n,)."""
        return np.repeat(v, self.R) if self.even else v[self.unit]

    def unit_sum(self, v: np.ndarray) -> np.ndarray:
        """Sum of a per-row value (n,) over each unit's rows (U,)."""
        if self.even and self.R:
            return v.reshape(self.U, self.R).sum(axis=1)
        return np.bincount(self.unit, weights=v, minlength=self.U)

    def pad(self, a: np.ndarray) -> np.ndarray:
        """Components of rows (k, n) in the per-unit layout (U, k, R), zeros where a unit has fewer rows."""
        if self.even:
            return a.reshape(len(a), self.U, self.R).transpose(1, 0, 2)
        out = np.zeros((self.U, len(a), self.R))
        out[self.unit, :, self.slot] = a.T
        return out

    def rows_of(self, a: np.ndarray) -> np.ndarray:
        """One component in the per-unit layout (U, 1, R) back as rows (n,)."""
        return a.reshape(-1) if self.even else a[self.unit, 0, self.slot]

    def jacobian(self, theta: np.ndarray, r0: np.ndarray) -> np.ndarray:
        """d residual_i / d theta[unit_i, j] as (m, n): forward differences, one step per
        parameter serving every unit at once (a row depends only on its own unit). On small
        problems the m stepped points go in one pass over m copies of the rows (see copies):
        the same numbers as one pass each, without the per-pass overhead that dominates there."""
        m, U = self.m, self.U
        h = 1e-7 * np.maximum(np.abs(theta), 1e-3)  # (U, m)
        if m == 1 or m * self.n > JACOBIAN_ROWS:
            J = np.empty((m, self.n))
            for j in range(m):
                t = theta.copy()
                t[:, j] += h[:, j]
                J[j] = (self.evaluate(t)[0] - r0) / self.per_row(h[:, j])
            return J
        stepped = np.repeat(theta[None], m, axis=0)  # (m, U, m): copy j has parameter j stepped
        stepped[np.arange(m), :, np.arange(m)] += h.T
        rep = self.copies(m)
        r, c, sse = rep.residuals(stepped.reshape(m * U, m))
        self.nfev += m  # one evaluation per stepped point, as one pass each would count
        # keep a stepped point that beats the best so far, as evaluate does (the first of equals)
        first = np.argmin(sse.reshape(m, U), axis=0)
        units = np.arange(U)
        self.keep_best(stepped[first, units], c[first * U + units], sse[first * U + units])
        return (r.reshape(m, self.n) - r0) / rep.per_row(h.T.reshape(-1)).reshape(m, self.n)

    def copies(self, k: int) -> _Problem:
        """The problem over ``k`` copies of its rows (copy i's units numbered i*U + u), made once."""
        rep = self._copies
        if rep is None or rep.U != k * self.U:
            idx = np.tile(np.arange(self.n), k)
            rep = self._on_rows(idx, np.repeat(np.arange(k), self.n) * self.U + self.unit[idx], k * self.U)
            self._copies = rep
        rep.deadline = self.deadline
        return rep

    rtol = 1e-8  # a unit stops when an accepted step improves its loss by less than this (relative)

    def levenberg_marquardt(self, theta: np.ndarray, max_nfev: int, loss: str) -> None:
        """Batched Levenberg-Marquardt: every unit takes its own damped steps, in one pass."""
        with np.errstate(all="ignore"):  # diverging trial steps are rejected, not reported
            self._lm(theta, max_nfev, loss)

    def _lm(self, theta: np.ndarray, max_nfev: int, loss: str) -> None:
        r, _ = self.evaluate(theta)
        self._lm_from(theta, r, self._unit_sse(r, loss), np.full(self.U, 1e-3), max_nfev, loss)

    def _lm_from(self, theta: np.ndarray, r: np.ndarray, sse: np.ndarray, lam: np.ndarray, max_nfev: int,
                 loss: str) -> None:
        """Levenberg-Marquardt iterations from this state (per unit: parameters, loss, damping).
        Once half the units have stopped, the others go on in a problem of their own rows (the
        units are independent, so their steps are the same; each evaluation then costs less)."""
        start = self.nfev
        active = np.isfinite(sse)
        while self.nfev - start < max_nfev and active.any():
            if 1 < self.U and active.sum() <= self.U // 2:
                keep = np.flatnonzero(active)
                sub = self.subset(keep)
                try:
                    sub._lm_from(theta[keep], r[sub.rows], sse[keep], lam[keep], max_nfev - (self.nfev - start), loss)
                finally:
                    self.absorb(sub, keep)
                return
            J = self.jacobian(theta, r)
            if loss != "linear":
                w = np.sqrt(self._weights(r, loss))
                J, rw = J * w, r * w
            else:
                rw = r
            Jp = self.pad(J)
            JtJ = Jp @ Jp.transpose(0, 2, 1)
            Jtr = (Jp @ self.pad(rw[None]).transpose(0, 2, 1))[..., 0]
            diag = np.einsum("ujj->uj", JtJ).copy()
            diag[diag <= 0] = 1.0
            A = JtJ + (lam[:, None] * diag)[:, :, None] * np.eye(self.m)
            step = solve_units(A, -Jtr)
            step = np.where(np.isfinite(step) & active[:, None], step, 0.0)
            trial = theta + step
            r_new, _ = self.evaluate(trial)
            sse_new = self._unit_sse(r_new, loss)
            accept = (sse_new < sse) & active
            improvement = np.where(accept, (sse - sse_new) / np.maximum(sse, 1e-300), 0.0)
            theta = np.where(accept[:, None], trial, theta)
            r = np.where(self.per_row(accept), r_new, r)
            sse = np.where(accept, sse_new, sse)
            lam = np.where(accept, np.maximum(lam / 3, 1e-12), lam * 4)
            small_step = np.abs(step).max(axis=1) <= 1e-10 * (np.abs(theta).max(axis=1) + 1e-10)
            converged = (accept & (improvement < self.rtol)) | (lam > 1e10) | small_step | (sse == 0)
            active &= ~converged

    def subset(self, keep: np.ndarray) -> _Problem:
        """The same problem on the units ``keep`` only (renumbered 0..), starting from their best so far."""
        rows = np.isin(self.unit, keep)
        renumber = np.zeros(self.U, dtype=int)
        renumber[keep] = np.arange(len(keep))
        sub = self._on_rows(rows, renumber[self.unit[rows]], len(keep))
        sub.rows = rows
        sub.best_sse, sub.best_theta, sub.best_c = self.best_sse[keep], self.best_theta[keep], self.best_c[keep]
        return sub

    def _on_rows(self, idx: np.ndarray, unit: np.ndarray, n_units: int) -> _Problem:
        """The same law and settings on the rows ``idx`` (a mask or indices, in unit order) of
        this problem, their units numbered ``unit`` in [0, n_units); no evaluation nor best yet."""
        new = object.__new__(_Problem)
        new.__dict__.update(self.__dict__)
        new.X = _take_rows(self.X, idx, self.n)
        new.y, new.slot, new.unit = self.y[idx], self.slot[idx], unit
        new.n, new.U = len(unit), n_units
        new.R = int(np.bincount(unit, minlength=n_units).max()) if new.n else 0
        new.even = new.R * new.U == new.n
        new.best_sse = np.full(n_units, np.inf)
        new.best_theta, new.best_c = np.zeros((n_units, self.m)), np.zeros((n_units, self.L))
        new.nfev, new._copies = 0, None
        return new

    def absorb(self, sub: _Problem, keep: np.ndarray) -> None:
        """Take back the best parameters and the evaluations of ``sub = self.subset(keep)``."""
        self.best_sse[keep], self.best_theta[keep], self.best_c[keep] = sub.best_sse, sub.best_theta, sub.best_c
        self.nfev += sub.nfev

    def scipy_least_squares(self, theta: np.ndarray, max_nfev: int, loss: str) -> None:
        """The same problem through scipy's trust-region solver (dense block-diagonal Jacobian)."""
        shape, cols = theta.shape, self.unit[:, None] * self.m + np.arange(self.m)

        def jac(x: np.ndarray) -> np.ndarray:
            t = x.reshape(shape)
            J = np.zeros((self.n, self.U * self.m))
            J[np.arange(self.n)[:, None], cols] = self.jacobian(t, self.evaluate(t)[0]).T
            return J

        r0 = self.evaluate(theta)[0]
        if np.all(np.abs(r0) >= self.penalty):
            return
        try:
            least_squares(lambda x: self.evaluate(x.reshape(shape))[0], theta.ravel(), jac=jac, method="trf",
                          loss=loss, f_scale=self.f_scale, x_scale="jac", max_nfev=max_nfev)
        except (ValueError, np.linalg.LinAlgError):
            pass  # the best point seen so far is kept by evaluate()

    def _weights(self, r: np.ndarray, loss: str) -> np.ndarray:
        if loss == "linear":
            return np.ones_like(r)
        z = (r / self.f_scale) ** 2
        if loss == "soft_l1":
            return 1 / np.sqrt(1 + z)
        if loss == "huber":
            return np.where(z <= 1, 1.0, 1 / np.sqrt(np.maximum(z, 1)))
        if loss == "cauchy":
            return 1 / (1 + z)
        raise ValueError(f"unknown loss {loss!r}")

    def _unit_sse(self, r: np.ndarray, loss: str) -> np.ndarray:
        with np.errstate(all="ignore"):
            return self._unit_loss(r, loss)

    def _unit_loss(self, r: np.ndarray, loss: str) -> np.ndarray:
        if loss == "linear":
            rho = r * r
        else:
            z = (r / self.f_scale) ** 2
            rho = self.f_scale**2 * {"soft_l1": lambda: 2 * (np.sqrt(1 + z) - 1),
                                     "huber": lambda: np.where(z <= 1, z, 2 * np.sqrt(z) - 1),
                                     "cauchy": lambda: np.log1p(z)}[loss]()
        return self.unit_sum(rho)


def solve_units(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with A[u] @ x[u] = b[u] for each unit: the least-norm solution where A[u] is singular,
    zeros where the system is not finite (a diverged start, say)."""
    if np.isfinite(A).all() and np.isfinite(b).all():  # the usual case, without per-unit checks and copies
        try:
            return np.linalg.solve(A, b[..., None])[..., 0]
        except np.linalg.LinAlgError:
            pass
    x = np.zeros(b.shape)
    good = np.isfinite(A).all(axis=(1, 2)) & np.isfinite(b).all(axis=1)
    try:
        x[good] = np.linalg.solve(A[good], b[good][..., None])[..., 0]
    except np.linalg.LinAlgError:
        for u in np.flatnonzero(good):
            try:
                x[u] = np.linalg.lstsq(A[u], b[u], rcond=None)[0]
            except np.linalg.LinAlgError:
                pass  # stays zero
    return x


def start_points(m: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Starting values for ``m`` nonlinear parameters: a few fixed patterns, then random
    magnitudes (10^-1.5..10^0.7) with random signs, mostly positive."""
    fixed = [np.full(m, 0.5), np.full(m, -0.5), np.full(m, 1.0), np.full(m, 0.1)]
    pts = fixed[: max(1, min(count, len(fixed)))]
    while len(pts) < count:
        mag = 10 ** rng.uniform(-1.5, 0.7, size=m)
        sign = np.where(rng.random(m) < 0.75, 1.0, -1.0)
        pts.append(mag * sign)
    return np.array(pts[:count])


def fit(structure: Structure, X: dict[str, np.ndarray], y: np.ndarray, unit: np.ndarray, n_units: int,
        config: FitConfig = FitConfig(), init: np.ndarray | None = None,
        sound: Callable[[np.ndarray], np.ndarray] | None = None) -> FitResult:
    """Fit the law per unit on rows (X, y) with unit indices ``unit`` in [0, n_units).

    ``init`` (units, all parameters), e.g. an earlier fit on fewer rows, is tried first.
    ``sound(params)`` (units,) bool, where given, says which units' parameters pass a check
    every law must pass (see evaluate.sound_units): each unit then keeps its best start that
    passes, and its best start overall only when none does."""
    t0 = time.monotonic()
    names = structure.names
    k = len(names)
    counts = np.bincount(unit, minlength=n_units)
    if (counts[counts > 0] < k).any():
        u = int(np.flatnonzero((counts > 0) & (counts < k))[0])
        return _failed(names, n_units, t0, f"fewer rows ({counts[u]}) than parameters ({k}) in a group")
    deadline = t0 + config.time_limit
    spread = float(np.std(y)) or 1.0
    m = len(structure.nonlinear)
    timed_out = False
    if m == 0:
        best = _Problem(structure, X, y, unit, n_units, deadline, spread)
        try:
            best.evaluate(np.zeros((n_units, 0)))
        except _Deadline:
            timed_out = True
        sse, theta, c, nfev = best.best_sse[None], best.best_theta[None], best.best_c[None], best.nfev
    else:
        key = hashlib.sha256(f"{config.seed}:{structure.expr}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(key[:8], "little"))
        starts = [np.tile(x0, (n_units, 1)) for x0 in start_points(m, config.starts, rng)]
        if init is not None and np.isfinite(init).all():
            cols = [names.index(n) for n in structure.nonlinear]
            starts.insert(0, np.asarray(init, dtype=float)[:, cols])
        if config.method == "scipy":
            sse, theta, c, nfev, timed_out = _scipy_starts(structure, X, y, unit, n_units, deadline, spread, starts,
                                                           config)
        else:
            sse, theta, c, nfev, timed_out = _stacked_starts(structure, X, y, unit, n_units, deadline, spread, starts,
                                                             config)
    usable = np.isfinite(sse) & (sse < (PENALTY * spread) ** 2)  # (starts, units)
    pick = _pick_starts(structure, sse, theta, c, usable, sound)
    cols = np.arange(n_units)
    sse, params = sse[pick, cols], _params(structure, theta[pick, cols], c[pick, cols])
    seconds = time.monotonic() - t0
    if not usable.any(axis=0).all():
        reason = ("time limit reached before any usable fit" if timed_out else
                  f"no start gave a usable fit (predictions finite on every row, within {PENALTY:.0e} times the "
                  "target's spread of it)")
        return _failed(names, n_units, t0, reason, timed_out=timed_out)
    return FitResult(ok=True, reason="", names=names, params=params, sse=sse.copy(), seconds=seconds, nfev=nfev,
                     timed_out=timed_out)


def _params(structure: Structure, theta: np.ndarray, c: np.ndarray) -> np.ndarray:
    """All parameters (units, names) from the nonlinear ``theta`` and the linear ``c``."""
    params = np.zeros((len(theta), len(structure.names)))
    for j, name in enumerate(structure.nonlinear):
        params[:, structure.names.index(name)] = theta[:, j]
    for j, name in enumerate(structure.linear):
        params[:, structure.names.index(name)] = c[:, j]
    return params


def _pick_starts(structure: Structure, sse: np.ndarray, theta: np.ndarray, c: np.ndarray, usable: np.ndarray,
                 sound: Callable[[np.ndarray], np.ndarray] | None) -> np.ndarray:
    """Per unit, the start (row of ``sse``) to keep: the least error among usable starts; with
    ``sound``, among those whose parameters pass it, where any does."""
    cost = np.where(usable, sse, np.inf)
    best = np.argmin(cost, axis=0)
    if sound is None or len(sse) == 1:
        return best
    cols = np.arange(sse.shape[1])
    if sound(_params(structure, theta[best, cols], c[best, cols])).all():
        return best  # the usual case: one check
    passes = usable & np.array([sound(_params(structure, theta[s], c[s])) for s in range(len(sse))])
    guarded = np.argmin(np.where(passes, cost, np.inf), axis=0)
    return np.where(passes.any(axis=0), guarded, best)


def _stacked_starts(structure, X, y, unit, n_units, deadline, spread, starts, config):
    """All starts at once: start ``s`` of unit ``u`` is unit ``s*U + u`` of one stacked problem, so each
    residual evaluation advances every start (the per-call overhead, not the row count, dominates)."""
    S = len(starts)
    big_unit = (np.arange(S)[:, None] * n_units + unit[None, :]).ravel()
    big = _Problem(structure, {k: np.tile(v, S) for k, v in X.items()}, np.tile(y, S), big_unit, S * n_units,
                   deadline, spread)
    timed_out = False
    try:
        big.levenberg_marquardt(np.concatenate(starts), config.max_nfev, config.loss)
    except _Deadline:
        timed_out = True
    sse = big.best_sse.reshape(S, n_units)
    return sse, big.best_theta.reshape(S, n_units, -1), big.best_c.reshape(S, n_units, -1), big.nfev, timed_out


def _scipy_starts(structure, X, y, unit, n_units, deadline, spread, starts, config):
    """One start after the other through scipy.optimize.least_squares, stopping when starts stop
    helping; only the best parameters seen are kept (one row: ``sound`` has no other start to pick)."""
    prob = _Problem(structure, X, y, unit, n_units, deadline, spread)
    stale, timed_out = 0, False
    try:
        for theta0 in starts:
            before = prob.best_sse.copy()
            prob.scipy_least_squares(theta0, config.max_nfev, config.loss)
            stale = 0 if prob.best_sse.sum() < before.sum() * (1 - 1e-4) else stale + 1
            if stale >= config.patience:
                break
    except _Deadline:
        timed_out = True
    return prob.best_sse[None], prob.best_theta[None], prob.best_c[None], prob.nfev, timed_out


def _failed(names, n_units, t0, reason, timed_out=False) -> FitResult:
    return FitResult(ok=False, reason=reason, names=names, params=np.full((n_units, len(names)), np.nan),
                     sse=np.full(n_units, np.inf), seconds=time.monotonic() - t0, nfev=0, timed_out=timed_out)
