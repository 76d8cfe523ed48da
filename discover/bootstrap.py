"""Resampled refits of a run's law: how far its predictions move with the training runs.

The law's form is kept; its parameters are refitted as the final refit fits them (all of
train, the validation slice weighted as the run weighted it; final.finalize) on resamples of
the training rows, drawn with replacement within each group and warm-started from the run's
own fit. The central share (``level``) of the resampled predictions at a point is its *fit
range*: the spread that the noise and the particular runs in the table put on the
parameters. It says nothing of whether the form is right (the admitted range shows how much
laws that validation could not tell apart disagree), and past the training range it widens
only as far as the form lets it.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from discover.data import Dataset
from discover.errors import UserError
from discover.final import refit_config
from discover.fit import FitConfig, fit, predict
from discover.predict import RunLaw, law_structure
from discover.problem import make_problem, rows, weighted_rows
from discover.runner import recorded_refit_weight

LEVEL = 0.9  # the central share of the resampled predictions reported
FIT_LOW, FIT_HIGH = "fit_low_", "fit_high_"  # output columns of predict: the fit range of each target


@dataclass(frozen=True)
class Spread:
    """The fit range of a law's predictions at some points (arrays: targets x points)."""

    low: np.ndarray
    high: np.ndarray
    fits: int  # resamples whose refit gave finite parameters
    draws: int
    level: float


def refits(law: RunLaw, cfg: dict, ds: Dataset, draws: int = 100, seed: int = 0,
           on_draw: Callable[[int], None] | None = None) -> Iterator[np.ndarray | None]:
    """The law's parameters (units x parameters) refitted on each of ``draws`` resamples of the
    training rows, as the final refit fits them; None for a resample whose refit failed."""
    if draws < 2:
        raise UserError("--bootstrap needs at least 2 resamples")
    search = cfg["search"]
    problem = make_problem(ds, seed=int(search.get("seed", 0)))
    weight = recorded_refit_weight(search) if problem.probe is not None else 1
    structure = law_structure(law)
    config = dataclasses.replace(refit_config(FitConfig(**search.get("fit", {}))), starts=2)
    G, T = len(law.groups), len(law.targets)
    rng = np.random.default_rng(seed)
    by_group = [np.flatnonzero(ds.train.group == g) for g in range(G)]
    for b in range(draws):
        idx = np.concatenate([rng.choice(g_rows, size=len(g_rows)) for g_rows in by_group if len(g_rows)])
        sample = ds.train.take(idx)
        X_fit, y, unit = weighted_rows(rows(sample, G, law.scales),
                                       rows(sample.take(problem.in_val[idx]), G, law.scales), weight)
        result = fit(structure, X_fit, y, unit, G * T, config, init=law.params)
        yield result.params if result.ok else None
        if on_draw is not None:
            on_draw(b + 1)


def central(values: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The central ``level`` share of ``values`` over the first axis (one row per resample),
    ignoring non-finite ones; NaN where none is finite."""
    a = np.array(values, dtype=float)
    a[~np.isfinite(a)] = np.nan
    tail = (1 - level) / 2 * 100
    with warnings.catch_warnings():  # a point where every resample is NaN: its range is NaN (said by the caller)
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(a, tail, axis=0), np.nanpercentile(a, 100 - tail, axis=0)


def fit_spread(law: RunLaw, cfg: dict, ds: Dataset, X: dict[str, np.ndarray], group: np.ndarray, draws: int = 100,
               seed: int = 0, level: float = LEVEL, on_draw: Callable[[int], None] | None = None) -> Spread:
    """The fit range of ``law`` at points ``X`` (input columns by symbol, raw units) of groups
    ``group`` (indices into law.groups), from ``draws`` resampled refits."""
    structure = law_structure(law)
    G, T = len(law.groups), len(law.targets)
    scaled = {s: np.asarray(X[s], dtype=float) / law.scales.get(s, 1.0) for s in law.symbols}
    out = np.full((draws, T, len(group)), np.nan)
    fits = 0
    for b, params in enumerate(refits(law, cfg, ds, draws, seed, on_draw)):
        if params is not None:
            fits += 1
            with np.errstate(all="ignore"):
                for t in range(T):
                    out[b, t] = predict(structure, params, scaled, t * G + group)
    low, high = central(out, level)
    return Spread(low=low, high=high, fits=fits, draws=draws, level=level)


def with_fit_range(table: pd.DataFrame, law: RunLaw, cfg: dict, ds: Dataset, draws: int, seed: int = 0,
                   on_draw: Callable[[int], None] | None = None) -> tuple[pd.DataFrame, Spread]:
    """A predict.predictions table with each target's fit range (``fit_low_<target>``,
    ``fit_high_<target>``) after its prediction columns."""
    from discover.predict import group_column

    X = {s: table[c].to_numpy(dtype=float) for s, c in zip(law.symbols, law.inputs, strict=True)}
    group = np.array([law.groups.index(v) for v in table[group_column(law)]], dtype=np.int64)
    spread = fit_spread(law, cfg, ds, X, group, draws=draws, seed=seed, on_draw=on_draw)
    out = table.copy()
    for t, target in enumerate(law.targets):
        out[FIT_LOW + target], out[FIT_HIGH + target] = spread.low[t], spread.high[t]
    return out, spread
