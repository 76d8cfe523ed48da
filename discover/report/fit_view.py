"""The recommended law against the data: its predictions on every train and test row, and its
curves over the main scaling variable (with the range of the laws the run could not tell apart),
for the report's fit and predicted-vs-observed plots."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from discover.final import FinalLaw

if TYPE_CHECKING:
    from discover.report.content import LawView

MAX_CURVES = 8  # more distinct settings of the other inputs than this in a group: no curves, markers only
CURVE_POINTS = 60


@dataclass(frozen=True)
class Curve:
    unit: int
    label: str  # the other inputs' values it is drawn at ("" for one-input laws)
    x: tuple[float, ...]
    y: tuple[float, ...]
    low: tuple[float, ...] = ()  # lowest and highest prediction of the admitted laws (see
    high: tuple[float, ...] = ()  # select.admitted) at each x; () when the run kept none


@dataclass(frozen=True, eq=False)
class FitData:
    """The recommended law against the data, per fit unit, over the main scaling variable."""

    law: str  # label of the law (L3)
    main: str  # the input on the x axis
    why: str  # how it was chosen
    log_x: bool
    units: tuple[str, ...]
    x: np.ndarray  # raw units, long format (rows × targets)
    observed: np.ndarray
    predicted: np.ndarray
    unit: np.ndarray
    is_test: np.ndarray
    curves: tuple[Curve, ...]
    train_range: dict[int, tuple[float, float]]  # per unit: main variable's train min and max
    note: str = ""
    admitted: int = 0  # laws behind the admitted range (select.admitted); 0: none drawn
    low: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per row (like predicted): lowest and highest
    high: np.ndarray = field(default_factory=lambda: np.zeros(0))  # prediction of the admitted laws; empty if none

    @property
    def extrapolates(self) -> bool:
        """True when some test rows lie outside their unit's training range of the main variable."""
        return any(self._outside(u).any() for u in self.train_range)

    def _outside(self, u: int) -> np.ndarray:
        lo, hi = self.train_range[u]
        sel = (self.unit == u) & self.is_test
        return (self.x[sel] > hi) | (self.x[sel] < lo)


def main_variable(symbols: tuple[str, ...], X: dict[str, np.ndarray], rule: str) -> tuple[str, str, bool]:
    """The x axis: the input the validation rule names (the widest-ranging one if it names several),
    else the input with the widest log range. Returns (symbol, why, log axis)."""
    named = [s for s in symbols if re.search(rf"(?<![A-Za-z0-9_]){re.escape(s)}(?![A-Za-z0-9_])", rule)]
    pool = named or list(symbols)

    def spread(s: str) -> tuple[int, float]:
        x = np.asarray(X[s], dtype=float)
        x = x[np.isfinite(x)]
        if len(x) and x.min() > 0:
            return 1, float(np.log10(x.max() / x.min()))
        return 0, float(x.max() - x.min()) if len(x) else 0.0

    main = max(pool, key=spread)
    positive, decades = spread(main)
    if len(named) == 1:
        why = f"the input the validation rule ({rule}) holds out by"
    elif named:
        why = f"of the inputs the validation rule ({rule}) names, the one with the widest range"
    else:
        why = "the input with the widest range (log10 max/min)"
    return main, why, bool(positive and decades >= math.log10(4))


def fit_view(law: LawView, ds: Any, symbols: tuple[str, ...], scales: dict[str, float], rule: str,
             admitted: tuple[FinalLaw, ...] = ()) -> FitData:
    """Predictions of ``law`` (its per-unit parameters) on every train and test row, and along
    its curves the range of the ``admitted`` laws' predictions (where there are two or more)."""
    from discover.expr import parse
    from discover.fit import analyse, predict
    from discover.problem import rows

    structure = analyse(parse(law.text, list(symbols)))
    params = np.array(law.params, dtype=float)
    G = len(ds.groups)
    train, test = rows(ds.train, G, scales), rows(ds.test, G, scales)
    raw = {s: np.concatenate([ds.train.X[s], ds.test.X[s]]) for s in symbols}
    main, why, log_x = main_variable(symbols, raw, rule)
    scale = scales.get(main, 1.0)
    parts = []
    for r, is_test in ((train, False), (test, True)):
        pred = predict(structure, params, r.X, r.unit) if r.n else np.zeros(0)
        parts.append((r.X[main] * scale, r.y, pred, r.unit, np.full(len(r.y), is_test)))
    x, obs, pred, unit, flag = (np.concatenate(a) for a in zip(*parts, strict=True))
    train_range = {}
    for u in np.unique(unit[~flag]):
        xs = x[(unit == u) & ~flag]
        train_range[int(u)] = (float(xs.min()), float(xs.max()))
    others = [s for s in symbols if s != main]
    band = [(analyse(parse(w.text, list(symbols))), np.array(w.params, dtype=float)) for w in admitted if w.params]
    band = band if len(band) > 1 else []
    curves = _curves(structure, params, train, test, main, others, scales, log_x, band)
    with np.errstate(all="ignore"):
        low, high = (np.array(v) for v in _band([_on_rows(st, p, (train, test)) for st, p in band]))
    note = ""
    if not curves and others:
        note = (f"Each group has more than {MAX_CURVES} settings of {', '.join(others)}: predictions are drawn as "
                "markers at the observed rows")
    return FitData(law=law.label, main=main, why=why, log_x=log_x, units=law.units, x=x, observed=obs, predicted=pred,
                   unit=unit, is_test=flag, curves=curves, train_range=train_range, note=note, admitted=len(band),
                   low=low, high=high)


def _on_rows(structure, params: np.ndarray, parts) -> np.ndarray:
    """The law's predictions on the rows of each of ``parts`` (Rows), one after the other."""
    from discover.fit import predict

    return np.concatenate([predict(structure, params, r.X, r.unit) if r.n else np.zeros(0) for r in parts])


def _curves(structure, params, train, test, main, others, scales, log_x, band=()) -> tuple[Curve, ...]:
    """Per unit and per setting of the other inputs: the law over the main variable's range, and
    the lowest and highest finite prediction of the ``band`` laws ((structure, params) pairs)."""
    from discover.fit import predict

    X = {s: np.concatenate([train.X[s], test.X[s]]) for s in train.X}
    unit = np.concatenate([train.unit, test.unit])
    out: list[Curve] = []
    for u in np.unique(unit):
        sel = unit == u
        combos = sorted({tuple(float(X[s][i]) for s in others) for i in np.flatnonzero(sel)})
        if len(combos) > MAX_CURVES:
            return ()
        xs = X[main][sel]
        lo, hi = float(xs.min()), float(xs.max())
        grid = np.geomspace(lo, hi, CURVE_POINTS) if log_x and lo > 0 else np.linspace(lo, hi, CURVE_POINTS)
        for combo in combos:
            env = {main: grid, **{s: np.full(CURVE_POINTS, v) for s, v in zip(others, combo, strict=True)}}
            at = np.full(CURVE_POINTS, u, dtype=np.int64)
            with np.errstate(all="ignore"):
                y = predict(structure, params, env, at)
                low, high = _band([predict(st, p, env, at) for st, p in band])
            label = ", ".join(f"{s}={v * scales.get(s, 1.0):.3g}" for s, v in zip(others, combo, strict=True))
            scale = scales.get(main, 1.0)
            out.append(Curve(int(u), label, tuple(float(v) for v in grid * scale), tuple(float(v) for v in y),
                             low, high))
    return tuple(out)


def _band(ys: list[np.ndarray]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """predict.finite_range of ``ys`` (NaN where no law is finite: not drawn) as tuples; () for no laws."""
    from discover.predict import finite_range

    if not ys:
        return (), ()
    low, high = finite_range(np.array(ys))
    return tuple(float(v) for v in low), tuple(float(v) for v in high)
