"""A library of generic scaling-law motifs, instantiated on a task's inputs.

These are the shapes scaling laws are commonly built from: offset and shifted power laws,
sums and products of power laws, saturations, quadratics in log (optima and U-shapes),
broken power laws and exponential decays. They name no task and hold no task's published
law; the search starts from them and the GP and LLM proposers take it from there.
Motifs with logs or real powers of an input are only used where that input is positive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np
import sympy as sp

from discover.expr import PARAM_RE, collapse_constants, params_of, renumber


class _Params:
    """Hands out fresh parameter symbols p0, p1, ... for one motif."""

    def __init__(self):
        self.i = 0

    def __call__(self) -> sp.Symbol:
        self.i += 1
        return sp.Symbol(f"p{self.i - 1}")


Motif = Callable[[_Params, sp.Symbol], sp.Expr]

# one input x, positive
POSITIVE_1D: dict[str, Motif] = {
    "offset power law": lambda p, x: p() + p() * x ** p(),
    "shifted power law": lambda p, x: p() + p() * (x + p()) ** p(),
    "log-linear": lambda p, x: p() + p() * sp.log(x),
    "quadratic in log": lambda p, x: p() + p() * sp.log(x) + p() * sp.log(x) ** 2,
    "broken power law": lambda p, x: p() + p() * x ** p() * (1 + p() * x) ** p(),
    "exponential saturation": lambda p, x: p() + p() * (1 - sp.exp(-p() * x)),
    "stretched exponential": lambda p, x: p() + p() * sp.exp(p() * x ** p()),
    "sigmoid in log": lambda p, x: p() + p() * sp.tanh(p() * sp.log(x) + p()),
}

# one input x, any sign
ANY_1D: dict[str, Motif] = {
    "linear": lambda p, x: p() + p() * x,
    "quadratic": lambda p, x: p() + p() * x + p() * x**2,
    "exponential decay": lambda p, x: p() + p() * sp.exp(p() * x),
    "sigmoid": lambda p, x: p() + p() * sp.tanh(p() * x + p()),
}


def _additive_power(p: _Params, xs: Sequence[sp.Symbol]) -> sp.Expr:
    return p() + sum(p() * x ** p() for x in xs)


def _multiplicative_power(p: _Params, xs: Sequence[sp.Symbol]) -> sp.Expr:
    term = p()
    for x in xs:
        term = term * x ** p()
    return p() + term


def _log_linear(p: _Params, xs: Sequence[sp.Symbol]) -> sp.Expr:
    return p() + sum(p() * sp.log(x) for x in xs)


def _quadratic_logs(p: _Params, xs: Sequence[sp.Symbol]) -> sp.Expr:
    return p() + sum(p() * sp.log(x) + p() * sp.log(x) ** 2 for x in xs)


def _linear(p: _Params, xs: Sequence[sp.Symbol]) -> sp.Expr:
    return p() + sum(p() * x for x in xs)


def _shifted_additive(p: _Params, xs: Sequence[sp.Symbol]) -> sp.Expr:
    return p() + sum(p() * (x + p()) ** p() for x in xs)


def _power_of_sum(p: _Params, xs: Sequence[sp.Symbol]) -> sp.Expr:
    return p() + p() * (1 + sum(p() * x for x in xs)) ** p()


POSITIVE_ND: dict[str, Callable[[_Params, Sequence[sp.Symbol]], sp.Expr]] = {
    "additive power laws": _additive_power,
    "multiplicative power law": _multiplicative_power,
    "log-linear": _log_linear,
    "quadratic in logs": _quadratic_logs,
}
ANY_ND: dict[str, Callable[[_Params, Sequence[sp.Symbol]], sp.Expr]] = {
    "linear": _linear,
    "power of a linear sum": _power_of_sum,
}
NONNEG_ND = {"shifted additive power laws": _shifted_additive}


MAX_MOTIFS = 64


def motifs(symbols: Sequence[str], positive: dict[str, bool], nonnegative: dict[str, bool],
           max_params: int, most: int = MAX_MOTIFS) -> list[tuple[str, sp.Expr]]:
    """Motif instances for these inputs within the parameter cap, as (name, expr), most
    general first: motifs in all inputs, then interactions, then single inputs, then subsets
    of inputs from the largest down; at most ``most`` of them."""
    xs = [sp.Symbol(s) for s in symbols]
    out: list[tuple[str, sp.Expr]] = []

    def add(name: str, expr: sp.Expr) -> None:
        expr = collapse_constants(expr)
        if len(params_of(expr)) <= max_params:
            out.append((name, expr))

    def multi(sub: list[sp.Symbol]) -> None:
        label = ", ".join(x.name for x in sub)
        table = dict(ANY_ND)
        if all(positive[x.name] for x in sub):
            table.update(POSITIVE_ND)
        if all(nonnegative[x.name] for x in sub):
            table.update(NONNEG_ND)
        for name, make in table.items():
            add(f"{name} in {label}", make(_Params(), sub))

    if len(xs) >= 2:
        multi(xs)
    # products of a power law in one input with a motif in the others: interactions
    if len(xs) >= 2 and all(positive[x.name] for x in xs):
        for x in xs:
            rest = [y for y in xs if y is not x]
            p = _Params()
            scaled = p() + (p() + sum(p() * y ** p() for y in rest)) * x ** p()
            add(f"power law in {x.name} scaled by the others", scaled)
    for x in xs:
        table = {**ANY_1D, **(POSITIVE_1D if positive[x.name] else {})}
        for name, make in table.items():
            add(f"{name} in {x.name}", make(_Params(), x))
    for r in range(len(xs) - 1, 1, -1):
        for sub in combinations(xs, r):
            multi(list(sub))
    return out[:most]



def _shapes(best_1d: Sequence[sp.Expr]) -> list[tuple[sp.Symbol, sp.Expr]]:
    """(input, shape without its constant term) of each one-input law."""
    shapes = []
    for expr in best_1d:
        x = [s for s in expr.free_symbols if not PARAM_RE.match(s.name)]
        _, shape = expr.as_independent(*x, as_Add=True)
        if len(x) == 1 and shape != 0:
            shapes.append((x[0], shape))
    return shapes


def _fresh(shape: sp.Expr, p: _Params) -> sp.Expr:
    return shape.xreplace({q: p() for q in params_of(shape)})


def additive_compositions(best_1d: Sequence[sp.Expr], max_params: int) -> list[tuple[str, sp.Expr]]:
    """Sums of per-input shapes. ``best_1d`` holds each input's best one-input law (as
    fitted in generation 0), strongest first. Each shape loses its constant term; the sum of
    the first k shapes, plus one constant, is a candidate for k = 2 .. all inputs (within the
    parameter cap). A data-driven additive model that the search then refines."""
    out: list[tuple[str, sp.Expr]] = []
    p = _Params()
    total, used = p(), []
    for x, shape in _shapes(best_1d):
        fresh = _fresh(shape, p)
        if len(params_of(total + fresh)) > max_params:
            break
        total, used = total + fresh, used + [x.name]
        if len(used) >= 2:
            out.append((f"sum of per-input shapes in {', '.join(used)}", renumber(collapse_constants(total))))
    return out


def has_interior_optimum(expr: sp.Expr, x: str, names: Sequence[str], params: Sequence[Sequence[float]],
                         lo: float, hi: float) -> bool:
    """Whether a fitted one-input law has its minimum or maximum strictly inside [lo, hi]
    (log grid, positive x) for at least half of the fit units: an optimum, or a U, in x."""
    if not 0 < lo < hi or not params:
        return False
    from discover.expr import compile_expr

    f, grid = compile_expr(expr), np.geomspace(lo, hi, 41)
    hits = 0
    for unit in params:
        y = f({x: grid, **dict(zip(names, unit, strict=False))}) * np.ones_like(grid)
        if np.all(np.isfinite(y)) and np.ptp(y) > 0:
            hits += int(0 < np.argmin(y) < len(y) - 1 or 0 < np.argmax(y) < len(y) - 1)
    return hits * 2 >= len(params)


MOST_MOVING = 6


def moving_optima(best_1d: Sequence[sp.Expr], knobs: Sequence[str], max_params: int) -> list[tuple[str, sp.Expr]]:
    """The sum of per-input shapes in which each input with an optimum (``knobs``, see
    has_interior_optimum) gets one that moves as a power law of other inputs: its shape
    becomes ``c*(log(x) - d - e*log(y) ...)**2``.

    Optima that shift with scale are common (a best setting that depends on size); this is a
    generic interaction, built only for inputs whose fitted shape has an optimum. First
    every such input moving with all the other inputs, then one such input at a time, then each
    with one other input, within the parameter cap; at most ``MOST_MOVING`` candidates."""
    shapes = _shapes(best_1d)
    knobs = [x for x, _ in shapes if x.name in knobs]
    if len(shapes) < 2 or not knobs:
        return []
    others = [x for x, _ in shapes if x not in knobs] or [x for x, _ in shapes]
    plans: list[dict[sp.Symbol, list[sp.Symbol]]] = [{k: [y for y in others if y != k] for k in knobs}]
    if len(knobs) > 1:
        plans += [{k: [y for y in others if y != k]} for k in knobs]
    plans += [{k: [y]} for k in knobs for y in others if y != k]
    out: list[tuple[str, sp.Expr]] = []
    for plan in plans:
        if not any(plan.values()):
            continue
        p = _Params()
        total = p()
        for x, shape in shapes:
            if plan.get(x):
                center = p() + sum(p() * sp.log(y) for y in plan[x])
                total += p() * (sp.log(x) - center) ** 2
            else:
                total += _fresh(shape, p)
        if len(params_of(total)) <= max_params:
            moves = "; ".join(f"{k.name} with {', '.join(y.name for y in ys)}" for k, ys in plan.items() if ys)
            out.append((f"sum of per-input shapes, optimum of {moves}", renumber(total)))
    return out[:MOST_MOVING]


def joint_optima(X: dict[str, np.ndarray], y: np.ndarray, unit: np.ndarray, inputs: Sequence[str]) -> list[str]:
    """The inputs along which the target has an optimum with the other inputs held fixed.

    Per unit, a least-squares quadratic in the logs of all ``inputs`` (positive ones); an
    input has an optimum when the vertex of its parabola lies strictly inside the unit's range
    of it, for at least half of the units that have the rows for such a fit. Unlike a fit in
    one input alone (has_interior_optimum), this holds the other inputs fixed: on a grid where
    a setting is swept at several scales, the scales no longer bend the marginal curve."""
    if not inputs:
        return []
    hits, units = np.zeros(len(inputs), dtype=int), 0
    for u in np.unique(unit):
        at = unit == u
        n = int(at.sum())
        if n <= 2 * len(inputs) + 1:
            continue  # too few rows for the quadratic's 1 + 2 * len(inputs) coefficients
        logs = [np.log(np.asarray(X[x], dtype=float)[at]) for x in inputs]
        A = np.column_stack([np.ones(n)] + [c for v in logs for c in (v, v**2)])
        coef, *_ = np.linalg.lstsq(A, np.asarray(y, dtype=float)[at], rcond=None)
        units += 1
        for i, v in enumerate(logs):
            a, b = coef[1 + 2 * i], coef[2 + 2 * i]
            hits[i] += int(b != 0 and v.min() < -a / (2 * b) < v.max())
    return [x for x, h in zip(inputs, hits, strict=True) if units and h * 2 >= units]


def optimum_valleys(knobs: Sequence[str], scales: Sequence[str], max_params: int) -> list[tuple[str, sp.Expr]]:
    """Power laws in the ``scales`` plus a valley in the logs of the ``knobs`` whose floor
    moves as a power law of the scales: ``E + sum A*s**a + sum c_k*u_k**2`` with
    ``u_k = log(k) - d_k - sum e*log(s)``.

    The knobs' optima are joint optima (joint_optima), settings such as a learning rate or a
    batch size whose best value depends on size. First the tilted valley, where each knob's
    optimum also moves with the knobs before it (``u_k`` gains ``- g*log(j)`` for ``j`` before
    ``k``: a quadratic form in the logs with its cross terms), then the axis-aligned one;
    within the parameter cap."""
    if not knobs or not scales:
        return []
    ks, ss = [sp.Symbol(k) for k in knobs], [sp.Symbol(s) for s in scales]
    out = []
    for tilted in (True, False):
        if not tilted and len(ks) == 1:
            break
        p = _Params()
        total = p() + sum(p() * s ** p() for s in ss)
        for i, k in enumerate(ks):
            center = p() + sum(p() * sp.log(s) for s in ss) + (sum(p() * sp.log(j) for j in ks[:i]) if tilted else 0)
            total += p() * (sp.log(k) - center) ** 2
        if len(params_of(total)) <= max_params:
            label = "tilted valley" if tilted and len(ks) > 1 else "valley"
            out.append((f"power laws in {', '.join(scales)} with a {label} in {', '.join(knobs)}",
                        renumber(total)))
    return out
