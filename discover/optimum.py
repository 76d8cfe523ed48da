"""Where a run's law puts the best run: its optimum over some inputs, the others held fixed.

Two questions researchers put to a scaling law: which learning rate and batch size give the
lowest loss for a model of this size on this many tokens (``over`` lr, bsz; the rest fixed),
and how to split a compute budget between parameters and tokens (``over`` N, with D given by
a formula of N: ``where`` D = C/(6*N)). The law is minimised (or maximised) per group inside a
box, by default each input's training range in that group: on a grid (in log scale where the
box is positive), then polished with L-BFGS-B from the grid's best point.

Two things say how far to trust the answer. An optimum on the edge of the box is not one: the
law keeps improving past the edge, and past the training range it is extrapolating. And the
laws the run could not tell apart on validation (``select.admitted``) may put the optimum
elsewhere: the range of their optima is given beside the law's.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from discover.data import Dataset
from discover.errors import ExprError, UserError
from discover.expr import compile_expr, params_of, parse
from discover.fit import predict
from discover.predict import BEYOND, RunLaw, beyond, group_column, input_column, law_structure, setting_group

GRID_POINTS = 20_000  # grid size over all the inputs optimised together
EDGE = 1e-3  # an optimum this close to a bound (as a share of the box's width, in its scale) is on the edge
LOW_EDGE, HIGH_EDGE = "low", "high"
VALUE = "optimal_"  # output column of the target's value at the optimum: optimal_<target>
EDGE_COLUMN = "on_edge"  # output column: the inputs whose optimum is on the edge of the box
ADMITTED_LOW, ADMITTED_HIGH = "admitted_low_", "admitted_high_"  # the admitted laws' optima, per input and target
ADMITTED_COUNT = "admitted_laws"  # how many admitted laws have a finite optimum
ADMITTED_EDGES = "admitted_on_edge"  # how many of those have it on the edge of the box


@dataclass(frozen=True)
class Box:
    """The range an input is searched over (in data units), in log scale when positive."""

    column: str
    low: float
    high: float

    @property
    def log(self) -> bool:
        return self.low > 0

    def at(self, u: np.ndarray) -> np.ndarray:
        """Values at positions ``u`` in [0, 1] across the box."""
        if self.log:
            return np.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)


@dataclass(frozen=True)
class Question:
    """What to optimise: the inputs searched (their boxes), the inputs held fixed, the inputs
    given by formulas of the others, the target and its direction."""

    boxes: tuple[Box, ...]  # in one group (boxes_for); () for the question before its groups
    fixed: Mapping[str, float]  # column -> value
    derived: Mapping[str, str]  # column -> formula in the law's names for the inputs
    target: str
    maximize: bool = False
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # column -> box given (--range)


@dataclass(frozen=True)
class Best:
    """The optimum of one law in one group."""

    point: Mapping[str, float]  # every input column, in data units
    value: float  # the law's prediction of the target there (NaN: not finite anywhere in the box)
    edges: tuple[tuple[str, str], ...]  # (column, "low" | "high") for each searched input on the box's edge


def boxes_for(law: RunLaw, over: Sequence[str], group: str,
              given: Mapping[str, tuple[float, float]]) -> tuple[Box, ...]:
    """The box of each input of ``over`` in ``group``: ``given`` (column -> (low, high)), else its
    training range there; UserError where there is none to search."""
    out = []
    for col in over:
        if col in given:
            lo, hi = given[col]
        elif law.ranges is None:
            raise UserError(f"this run did not record its training ranges: give the range of {col} to search "
                            f"with --range {col}=LOW:HIGH")
        elif col in law.ranges.get(group, {}):
            lo, hi = law.ranges[group][col]
        else:
            raise UserError(f"no training range of {col} is recorded for group {group!r}: give the range to "
                            f"search with --range {col}=LOW:HIGH")
        if not lo < hi:
            raise UserError(f"{col} takes one value ({lo:g}) in the training runs of group {group!r}: there is "
                            f"nothing to search; give a range with --range {col}=LOW:HIGH")
        out.append(Box(col, float(lo), float(hi)))
    return tuple(out)


def question(law: RunLaw, over: Sequence[str], fixed: Mapping[str, float], derived: Mapping[str, str],
             target: str | None, maximize: bool = False,
             ranges: Mapping[str, tuple[float, float]] | None = None) -> tuple[list[str], Question]:
    """The input columns to search (``over`` by column or law name) and the question without its
    boxes (see boxes_for), checked: every input is searched, fixed or derived, exactly once;
    formulas use only searched and fixed inputs; the target is one of the law's; each of
    ``ranges`` (input -> (low, high)) is a searched input's finite low < high. UserError otherwise."""
    spans = checked_ranges(ranges or {}, law)
    cols = [_column(name, law, "--over") for name in over]
    where = {_column(name, law, "--where"): text for name, text in derived.items()}
    if not cols:
        raise UserError("give the input(s) to optimise with --over, e.g. --over " + law.inputs[0])
    seen: dict[str, str] = {}
    for col, flag in [*((c, "--over") for c in cols), *((c, "--at") for c in fixed), *((c, "--where") for c in where)]:
        if col in seen:
            raise UserError(f"{col} is given by both {seen[col]} and {flag}" if seen[col] != flag
                            else f"{col} is given twice in {flag}")
        seen[col] = flag
    missing = [c for c in law.inputs if c not in seen]
    if missing:
        raise UserError(f"{', '.join(missing)}: give every input of the law, either to optimise (--over), "
                        "at a value (--at NAME=VALUE) or by a formula of the others (--where NAME=FORMULA)")
    for col, text in where.items():
        _formula(text, col, law, [*cols, *fixed])
    if target is None:
        if len(law.targets) > 1:
            raise UserError(f"the law predicts {', '.join(law.targets)}: say which to optimise with --target")
        target = law.targets[0]
    elif target not in law.targets:
        raise UserError(f"--target {target!r}: the law predicts {', '.join(law.targets)}")
    unknown = [c for c in spans if c not in cols]
    if unknown:
        raise UserError(f"--range {unknown[0]}: only the inputs searched (--over) have a range")
    return cols, Question((), dict(fixed), where, target, maximize, spans)


def best(law: RunLaw, group: str, q: Question) -> Best:
    """The law's optimum in ``group`` over ``q``'s boxes: the best point of a grid, polished."""
    k = len(q.boxes)
    side = max(3, int(round(GRID_POINTS ** (1 / k))))
    axes = np.meshgrid(*[np.linspace(0.0, 1.0, side)] * k, indexing="ij")
    grid = np.stack([a.ravel() for a in axes], axis=1)
    objective = _objective(law, group, q)
    searched = {b.column for b in q.boxes}
    values = objective(grid)
    if not np.isfinite(values).any():
        nowhere = _point(q, grid[:1], law)[0]
        return Best({c: math.nan if c in searched or c in q.derived else v for c, v in nowhere.items()}, math.nan, ())
    start = grid[int(np.nanargmin(values))]
    polished = minimize(lambda u: float(objective(u[None])[0]), start, method="L-BFGS-B", bounds=[(0.0, 1.0)] * k)
    u = polished.x if np.isfinite(polished.fun) and polished.fun <= values.min() else start
    point = _point(q, u[None], law)[0]
    value = float(objective(u[None])[0]) * (-1 if q.maximize else 1)
    edges = tuple((b.column, LOW_EDGE if x < EDGE else HIGH_EDGE) for b, x in zip(q.boxes, u, strict=True)
                  if x < EDGE or x > 1 - EDGE)
    return Best(point, value, edges)


def optimum_table(law: RunLaw, over: Sequence[str], q: Question, groups: Sequence[str] | None = None,
                  admitted: Sequence[RunLaw] | None = None) -> pd.DataFrame:
    """The answer to ``q`` over the input columns ``over`` (see question), one row per group
    (``groups``, default all the law's): every input at the law's optimum, the target there
    (``optimal_<target>``), the searched inputs on the edge of their box
    (``on_edge``), how far past the training range the optimum lies (``beyond_train``) and, given
    the ``admitted`` laws, the lowest and highest of their optima per searched input and of
    their values there (``admitted_low_<name>``, ``admitted_high_<name>``), how many have a
    finite one (``admitted_laws``) and how many of those lie on the edge (``admitted_on_edge``).
    Input columns: the searched ones, the derived ones, then the fixed ones."""
    cols = list(over)
    rows = []
    for group in groups if groups is not None else law.groups:
        here = dataclasses.replace(q, boxes=boxes_for(law, cols, group, q.ranges))
        found = best(law, group, here)
        order = [*cols, *q.derived, *(c for c in law.inputs if c not in cols and c not in q.derived)]
        row: dict[str, object] = {group_column(law): group, **{c: found.point[c] for c in order},
                                  VALUE + q.target: found.value,
                                  EDGE_COLUMN: "; ".join(f"{c} at its {side}est" for c, side in found.edges)}
        row[BEYOND] = beyond(law, group, dict(found.point)) if np.isfinite(found.value) else ""
        if admitted:
            others = [best(w, group, here) for w in admitted]
            ok = [b for b in others if np.isfinite(b.value)]
            for name in [*cols, VALUE + q.target]:
                vals = [b.value if name.startswith(VALUE) else b.point[name] for b in ok]
                row[ADMITTED_LOW + name] = min(vals) if vals else math.nan
                row[ADMITTED_HIGH + name] = max(vals) if vals else math.nan
            row[ADMITTED_COUNT] = len(ok)
            row[ADMITTED_EDGES] = sum(bool(b.edges) for b in ok)
        rows.append(row)
    return pd.DataFrame(rows)


def with_fit_range(table: pd.DataFrame, law: RunLaw, over: Sequence[str], q: Question, cfg: dict, ds: Dataset,
                   draws: int, seed: int = 0, on_draw: Callable[[int], None] | None = None) -> tuple[pd.DataFrame, int]:
    """An optimum_table with the fit range of each group's optimum: the law refitted on ``draws``
    resamples of the run's training rows (bootstrap.refits), each refit's optimum found alike,
    and the central 90% of them per searched input and of the value there (``fit_low_<name>``,
    ``fit_high_<name>``); and how many refits succeeded."""
    from discover.bootstrap import FIT_HIGH, FIT_LOW, central, refits

    groups = list(table[group_column(law)])
    boxes = {g: boxes_for(law, over, g, q.ranges) for g in groups}
    names = [*over, VALUE + q.target]
    found = np.full((draws, len(groups), len(names)), np.nan)
    fits = 0
    for b, params in enumerate(refits(law, cfg, ds, draws, seed, on_draw)):
        if params is None:
            continue
        fits += 1
        refit = dataclasses.replace(law, params=params)
        for i, g in enumerate(groups):
            r = best(refit, g, dataclasses.replace(q, boxes=boxes[g]))
            found[b, i] = [*(r.point[c] for c in over), r.value]
    low, high = central(found)
    out = table.copy()
    for j, name in enumerate(names):
        out[FIT_LOW + name], out[FIT_HIGH + name] = low[:, j], high[:, j]
    return out, fits


def _objective(law: RunLaw, group: str, q: Question):
    """The function of positions ``u`` (points, searched inputs) in the boxes that the search
    minimises: the law's target there (negated to maximise), +inf where it is not finite."""
    structure = law_structure(law)
    g = law.groups.index(group)
    t = law.targets.index(q.target)
    sign = -1.0 if q.maximize else 1.0

    def f(u: np.ndarray) -> np.ndarray:
        X = _inputs(q, u, law)
        scaled = {s: X[c] / law.scales.get(s, 1.0) for s, c in zip(law.symbols, law.inputs, strict=True)}
        unit = np.full(len(u), t * len(law.groups) + g, dtype=np.int64)
        with np.errstate(all="ignore"):
            y = sign * predict(structure, law.params, scaled, unit)
        return np.where(np.isfinite(y), y, np.inf)

    return f


def _inputs(q: Question, u: np.ndarray, law: RunLaw) -> dict[str, np.ndarray]:
    """Every input column at positions ``u``: searched, fixed, then derived (NaN where a formula is not finite)."""
    n = len(u)
    X = {b.column: b.at(u[:, i]) for i, b in enumerate(q.boxes)}
    X.update({c: np.full(n, v, dtype=float) for c, v in q.fixed.items()})
    known = list(X)
    for col, text in q.derived.items():
        env = {_symbol(c, law): X[c] for c in known}
        with np.errstate(all="ignore"):
            v = np.broadcast_to(_formula(text, col, law, known)(env), (n,)).astype(float)
        X[col] = np.where(np.isfinite(v), v, np.nan)
    return X


def _point(q: Question, u: np.ndarray, law: RunLaw) -> list[dict[str, float]]:
    X = _inputs(q, u, law)
    return [{c: float(X[c][i]) for c in law.inputs} for i in range(len(u))]


def _formula(text: str, col: str, law: RunLaw, known: Sequence[str]):
    """The compiled formula giving input ``col`` from the inputs ``known`` (in the law's names for them)."""
    names = tuple(_symbol(c, law) for c in known)
    try:
        return _compiled_formula(text, names)
    except ExprError as exc:
        raise UserError(f"--where {col}={text}: {exc} (it may use {', '.join(names) or 'no input'}: the inputs "
                        "searched or held fixed)") from None


@functools.lru_cache(maxsize=64)
def _compiled_formula(text: str, names: tuple[str, ...]):
    """A --where formula parsed and compiled once, not at every evaluation of the objective."""
    expr = parse(text, names)
    if params_of(expr):
        raise ExprError(f"{params_of(expr)[0]} is a parameter name; a formula here has only inputs and numbers")
    return compile_expr(expr)


def _value(value: float | str, col: str) -> float:
    """A fixed input's value as a finite number; UserError otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"--at {col}: {value!r} is not a number") from None
    if not math.isfinite(v):
        raise UserError(f"--at {col}: {value!r} is not a finite number")
    return v


def _symbol(col: str, law: RunLaw) -> str:
    return law.symbols[law.inputs.index(col)]


def _column(name: str, law: RunLaw, flag: str) -> str:
    col = input_column(name, law)
    if col is None:
        raise UserError(f"{flag} {name}: not an input of this law; its inputs: {', '.join(law.inputs)}")
    return col


def parse_ranges(items: Sequence[str], law: RunLaw) -> dict[str, tuple[float, float]]:
    """``NAME=LOW:HIGH`` items as {column: (low, high)}; UserError for one that is not written so
    (``question`` checks the values)."""
    out: dict[str, tuple[float, float]] = {}
    for item in items:
        name, eq, span = (t.strip() for t in item.partition("="))
        lo, colon, hi = (t.strip() for t in span.partition(":"))
        if not (eq and colon):
            raise UserError(f"--range {item!r}: write NAME=LOW:HIGH, e.g. {law.inputs[0]}=1e8:1e10")
        try:
            low, high = float(lo), float(hi)
        except ValueError:
            raise UserError(f"--range {item!r}: LOW and HIGH must be numbers") from None
        col = _column(name, law, "--range")
        if col in out:
            raise UserError(f"--range: {col} is given twice")
        out[col] = (low, high)
    return out


def checked_ranges(ranges: Mapping[str, tuple[float, float]], law: RunLaw) -> dict[str, tuple[float, float]]:
    """{input (by column or law name): (low, high)} as {column: (low, high)}; UserError unless
    each is a finite low < high."""
    out = {}
    for name, (low, high) in ranges.items():
        col = _column(name, law, "--range")
        low, high = float(low), float(high)
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise UserError(f"--range {col}={low:g}:{high:g}: need finite LOW < HIGH")
        out[col] = (low, high)
    return out


def answer(law: RunLaw, over: Sequence[str], settings: Mapping[str, float | str], derived: Mapping[str, str],
           ranges: Mapping[str, tuple[float, float]], group: str | None, target: str | None, maximize: bool,
           admitted: Sequence[RunLaw] | None) -> tuple[list[str], Question, pd.DataFrame]:
    """The optimum_table for the command line and the Python interface: ``settings`` (column ->
    value; a group column's value names the group, see predict.setting_group), checked."""
    settings = dict(settings)
    group = setting_group(settings, law, group)
    fixed = {c: _value(v, c) for c, v in settings.items()}
    cols, q = question(law, over, fixed, derived, target, maximize, ranges)
    table = optimum_table(law, cols, q, None if group is None else [group], admitted)
    return cols, q, table


def parse_formulas(items: Sequence[str]) -> dict[str, str]:
    """``NAME=FORMULA`` items as {name: formula}."""
    out = {}
    for item in items:
        name, eq, text = (t.strip() for t in item.partition("="))
        if not (eq and name and text):
            raise UserError(f"--where {item!r}: write NAME=FORMULA, e.g. D=1e21/(6*N)")
        out[name] = text
    return out
