"""A dataset laid out for fitting: splits in long format, fit units, input scales.

Every (group, target) pair is one fit unit with its own parameters: a law is one form shared
by all groups and targets. Rows of a multi-target split are stacked target after target
("long" format); :meth:`Rows.wide` turns long predictions back into (rows, targets).

Inputs are divided by a power-of-ten scale taken from the training data (the search works on
``N / 1e8`` rather than ``N``); this only reparametrises laws and keeps the fitter well
conditioned. Scales are part of a run's record and of every exported formula.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from discover.data import Dataset, Split


@dataclass(frozen=True)
class Rows:
    X: dict[str, np.ndarray]  # scaled inputs, long format
    y: np.ndarray  # long
    unit: np.ndarray  # long, target_index * n_groups + group
    n: int  # rows per target (wide rows)
    n_targets: int

    def wide(self, long: np.ndarray) -> np.ndarray:
        return np.asarray(long, dtype=float).reshape(self.n_targets, self.n).T

    @property
    def Y(self) -> np.ndarray:
        return self.wide(self.y)


@dataclass(frozen=True)
class Problem:
    """What the search sees: fit and validation rows carved from train (never the test)."""

    symbols: tuple[str, ...]
    targets: tuple[str, ...]
    groups: tuple[str, ...]
    scales: dict[str, float]
    fit: Rows  # train minus validation: parameters are fitted here during search
    val: Rows  # validation, the held-out largest-scale training rows: selection uses these
    train: Rows  # all train: final refit
    probe: Rows | None = None  # validation rows pushed further out along the holdout rule's inputs
    inside: Rows | None = None  # mixes of the shares inputs (see shares_probe) a law must stay finite on
    edges: Rows | None = None  # training rows with one input moved past its range (see edge_probe)
    folds: tuple[tuple[Rows, Rows], ...] = ()  # earlier (fit, validation) folds, see selection_folds
    in_val: np.ndarray | None = None  # (train rows,) bool: the training rows of the validation slice

    @property
    def n_units(self) -> int:
        return len(self.groups) * len(self.targets)

    def search_rows(self, max_params: int, two_steps: bool = True) -> tuple[Rows, Rows | None]:
        """Where the search fits its laws (of up to ``max_params`` parameters), and the rows it
        scores them on besides validation. Below the first selection fold when that fold keeps
        SEARCH_ROWS_PER_PARAM rows per parameter in every unit: each law is then scored on the
        fold's validation rows and on the validation slice a step further out
        (evaluate.search_score). Otherwise on the fit rows, scored on validation alone (None).
        One answer for every law of a run, so all are ranked alike. ``two_steps`` False: always
        the fit rows (a run recorded before the search scored two steps out)."""
        enough = SEARCH_ROWS_PER_PARAM * max_params
        if two_steps and self.folds and fewest_rows(self.folds[0][0], self.n_units) >= enough:
            return self.folds[0]
        return self.fit, None

    def unit_name(self, u: int) -> str:
        g, t = self.groups[u % len(self.groups)], self.targets[u // len(self.groups)]
        return g if len(self.targets) == 1 else f"{g} / {t}"


SEARCH_ROWS_PER_PARAM = 2  # fit rows per parameter the first fold must keep for the search to fit below it


def fewest_rows(rows: Rows, n_units: int) -> int:
    """The rows of the smallest unit: the most parameters a law fitted on ``rows`` may have."""
    return int(np.bincount(rows.unit, minlength=n_units).min())


def input_scales(split: Split) -> dict[str, float]:
    """A power of ten near each positive input's median magnitude (1 where values are <= 0)."""
    scales = {}
    for name, x in split.X.items():
        x = np.asarray(x, dtype=float)
        pos = x[x > 0]
        if len(pos) == len(x) and len(x):
            scales[name] = 10.0 ** math.floor(math.log10(float(np.median(pos))))
        else:
            scales[name] = 1.0
    return scales


def rows(split: Split, n_groups: int, scales: dict[str, float] | None = None) -> Rows:
    """Long-format rows of a split; inputs divided by ``scales`` when given."""
    T = split.Y.shape[1]
    X = {k: np.tile(np.asarray(v, dtype=float) / (scales or {}).get(k, 1.0), T) for k, v in split.X.items()}
    unit = np.concatenate([t * n_groups + split.group for t in range(T)]).astype(np.int64)
    return Rows(X=X, y=split.Y.T.reshape(-1).astype(float), unit=unit, n=len(split), n_targets=T)


# Rows the search fits on, at most. 1000 until session 15: on lr_bsz (2655 fit rows, the only
# SLDBench task above 1000) the sample dropped most rows of the largest-scale cells; fitting on all
# of them raised its development R2 from 0.332 to 0.537 over 5 seeds, with half as many candidates
# (benchmarks/results/2026-12-01-session15-dev-selection-headroom.md).
MAX_FIT_ROWS = 3000


def make_problem(ds: Dataset, seed: int = 0, max_fit_rows: int = MAX_FIT_ROWS) -> Problem:
    """Carve validation from train by the task's validation rule; the test split is not used.

    During search, parameters are fitted on at most ``max_fit_rows`` of the remaining
    training rows (a seeded random subset, the same share from every group): fitting cost
    grows with rows. Validation and the final refit use all rows."""
    from discover.holdout import holdout_mask, parse_rule

    symbols = ds.task.symbols
    mask = holdout_mask(ds.task.validation, ds.train, symbols, seed=seed)
    scales = input_scales(ds.train)
    G = len(ds.groups)
    val = rows(ds.train.take(mask), G, scales)
    train = rows(ds.train, G, scales)
    _check_spread(ds.train, ds.task.targets, "train", "")
    _check_spread(ds.train.take(mask), ds.task.targets,
                  f"the validation slice carved from train ({ds.task.validation!r})",
                  "; hold out more training rows for validation (with --csv: --validation, e.g. a larger share)")
    axes = sorted({s.name for c in parse_rule(ds.task.validation, symbols) if c.expr is not None
                   for s in c.expr.free_symbols})
    share_names = shares(ds.train)
    return Problem(
        symbols=tuple(symbols),
        targets=tuple(ds.task.targets),
        groups=tuple(ds.groups),
        scales=scales,
        fit=rows(_subsample(ds.train.take(~mask), max_fit_rows, seed), G, scales),
        val=val,
        train=train,
        probe=extrapolation_probe(val, train, axes),
        inside=shares_probe(ds.train, share_names, G, scales, seed),
        edges=edge_probe(train, share_names, seed),
        folds=selection_folds(ds, ~mask, scales, seed, max_fit_rows=max_fit_rows),
        in_val=mask,
    )


def _check_spread(part: Split, targets: tuple[str, ...], what: str, hint: str) -> None:
    """UserError when a target takes a single value over ``part`` (data.flat_targets)."""
    from discover.data import flat_targets
    from discover.errors import UserError

    flat = flat_targets(part, targets)
    if flat:
        raise UserError(f"{what} has {len(part)} row(s) and {flat[0]!r} takes a single value there: "
                        f"a law's error cannot be scored against its spread{hint}")


SELECTION_FOLDS = 4


def selection_folds(ds: Dataset, rest: np.ndarray, scales: dict[str, float], seed: int,
                    k: int = SELECTION_FOLDS, max_fit_rows: int = MAX_FIT_ROWS) -> tuple[tuple[Rows, Rows], ...]:
    """Forward-chaining folds inside the rows left after validation: the validation rule
    applied again to those rows holds out the next slice (the next-largest scale, or another
    random share); parameters are fitted on what lies below it. ``k`` folds at most; fewer
    when the rule runs out of rows, when a fold would be fitted on half the rows the search
    fits on or fewer (a fold that far down judges a smaller problem than the one the law is
    reported for), or when a fold's fit rows would hold fewer distinct values of an input
    than the rows before (up to 3): a fold fitted on a single value of an input cannot judge
    any law in that input. Fit rows are capped at ``max_fit_rows`` as in the search (see
    make_problem). Used to choose the law to report (select.py)."""
    from discover.errors import UserError
    from discover.holdout import holdout_mask

    G = len(ds.groups)
    idx = np.flatnonzero(rest)
    half = len(idx) / 2  # of the rows the search fits on
    out = []
    for i in range(k):
        try:
            held = holdout_mask(ds.task.validation, ds.train.take(idx), ds.task.symbols, seed=seed + 1 + i)
        except UserError:
            break
        fit_idx = idx[~held]
        if len(fit_idx) <= half:
            break  # too far below the rows the search fits on
        if len(np.unique(ds.train.group[fit_idx])) < G:
            break  # a group would have no rows to fit
        if _too_narrow(ds.train, fit_idx, idx):
            break  # an input would lose the spread that identifies its terms
        fit_split = _subsample(ds.train.take(fit_idx), max_fit_rows, seed + 1 + i)
        out.append((rows(fit_split, G, scales), rows(ds.train.take(idx[held]), G, scales)))
        idx = fit_idx
    return tuple(out)


def _too_narrow(split: Split, fit_idx: np.ndarray, before: np.ndarray, enough: int = 3) -> bool:
    """Whether some input has fewer distinct values in ``fit_idx`` than min(enough, in ``before``)."""
    return any(len(np.unique(v[fit_idx])) < min(enough, len(np.unique(v[before]))) for v in split.X.values())


def _subsample(split: Split, cap: int, seed: int) -> Split:
    if len(split) <= cap:
        return split
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(split), dtype=bool)
    share = cap / len(split)
    for g in np.unique(split.group):
        idx = np.flatnonzero(split.group == g)
        take = min(len(idx), max(20, int(round(share * len(idx)))))
        keep[rng.choice(idx, size=take, replace=False)] = True
    return split.take(keep)


PROBE_FACTOR = 4.0


def extrapolation_probe(val: Rows, train: Rows, axes: list[str]) -> Rows | None:
    """The validation rows moved further out along ``axes``, the inputs the holdout rule
    extrapolates in: positive inputs ×4, others shifted by their training range. A law meant
    to extrapolate should stay finite there (there is no truth to score against)."""
    if not axes or val.n == 0:
        return None
    X = dict(val.X)
    for a in axes:
        x = train.X[a]
        X[a] = X[a] * PROBE_FACTOR if np.all(x > 0) else X[a] + (x.max() - x.min())
    return Rows(X=X, y=val.y, unit=val.unit, n=val.n, n_targets=val.n_targets)


def shares(split: Split) -> tuple[str, ...]:
    """The largest set of (two or more) non-negative, varying inputs whose sum is the same on
    every row: shares of a whole, such as the proportions of a data mixture. () if none."""
    names = [k for k, v in split.X.items() if len(v) and v.min() >= 0 and np.ptp(v) > 0]
    if len(names) > 12:
        return ()  # too many subsets to try; no share detection
    for size in range(len(names), 1, -1):
        for subset in itertools.combinations(names, size):
            total = np.sum([split.X[k] for k in subset], axis=0)
            if total.mean() > 0 and np.ptp(total) <= 1e-9 * total.mean():
                return subset
    return ()


SHARE_MIXES = 200


def shares_probe(split: Split, names: tuple[str, ...], n_groups: int, scales: dict[str, float], seed: int,
                 count: int = SHARE_MIXES) -> Rows | None:
    """Training rows with their shares inputs (``names``, see shares) replaced by other mixes
    of the same whole.

    Each share is drawn within its training range, the sum kept, and often set to the lowest
    or highest value the others leave it (a share absent from a mix, say). The next mix a user
    asks about may be any of these, so a law must stay finite on all of them, not only between
    the mixes it was fitted on. The other inputs keep the values of the row they replace.
    The corners of that set of mixes (corners) come too, each for every group: a law
    linear in the shares inside a power or a log is lowest at one of them, and 200 random
    mixes rarely meet a given corner (domain_mixture seed 1 reported a law that was not
    finite on two)."""
    if not names:
        return None
    rng = np.random.default_rng(seed)
    lo = np.array([split.X[k].min() for k in names])
    hi = np.array([split.X[k].max() for k in names])
    whole = float(np.mean(np.sum([split.X[k] for k in names], axis=0)))
    mixes = np.array([_mix(lo, hi, whole, rng) for _ in range(count)])
    picked = rng.integers(0, len(split), count)
    ends = corners(lo, hi, whole)
    if len(ends) > MAX_CORNERS:
        ends = ends[rng.choice(len(ends), MAX_CORNERS, replace=False)]
    groups = np.unique(split.group)
    one_row = [int(rng.choice(np.flatnonzero(split.group == g))) for g in groups]  # a row of each group
    mixes = np.vstack([mixes, np.tile(ends, (len(groups), 1))])
    base = split.take(np.concatenate([picked, np.repeat(one_row, len(ends))]))
    X = dict(base.X)
    X.update({k: mixes[:, i] for i, k in enumerate(names)})
    return rows(type(split)(X=X, Y=base.Y, group=base.group), n_groups, scales)


MAX_CORNERS = 256


def corners(lo: np.ndarray, hi: np.ndarray, whole: float) -> np.ndarray:
    """The corners of the mixes with lo <= x <= hi and sum(x) == whole: every share but one at
    its lowest or highest, that one taking what is left (where that lies within its range)."""
    n = len(lo)
    tol = 1e-9 * max(abs(whole), 1.0)
    out = []
    for free in range(n):
        others = [i for i in range(n) if i != free]
        for bits in itertools.product((False, True), repeat=n - 1):
            x = np.empty(n)
            x[others] = np.where(bits, hi[others], lo[others])
            x[free] = whole - x[others].sum()
            if lo[free] - tol <= x[free] <= hi[free] + tol:
                out.append(np.clip(x, lo, hi))
    return np.unique(np.round(np.array(out), 12), axis=0) if out else np.empty((0, n))


def _mix(lo: np.ndarray, hi: np.ndarray, whole: float, rng: np.random.Generator) -> np.ndarray:
    """A random point with lo <= x <= hi and sum(x) == whole (coordinates in random order)."""
    x = np.empty(len(lo))
    left = whole
    order = rng.permutation(len(lo))
    for j, i in enumerate(order[:-1]):
        rest = order[j + 1:]
        a, b = max(lo[i], left - hi[rest].sum()), min(hi[i], left - lo[rest].sum())
        u = rng.random()
        x[i] = a if u < 0.3 else max(a, b) if u < 0.5 else rng.uniform(a, max(a, b))
        left -= x[i]
    x[order[-1]] = left
    return x


EDGE_ROWS = 100


def edge_probe(train: Rows, skip: tuple[str, ...] = (), seed: int = 0, count: int = EDGE_ROWS) -> Rows | None:
    """Training rows with one input at a time moved past the edge of its range: positive
    inputs to half their minimum and twice their maximum, others by half their range either
    way (``skip``, the shares inputs, stay). The next run a user asks about often lies just
    there; select.py prefers laws that stay finite on these rows."""
    names = [k for k, v in train.X.items() if k not in skip and np.ptp(v) > 0]
    if not names or train.n == 0:
        return None
    rng = np.random.default_rng(seed)
    wide = rng.choice(train.n, min(count, train.n), replace=False)
    idx = np.concatenate([wide + t * train.n for t in range(train.n_targets)])  # the same rows of every target
    parts = []
    for k in names:
        v = train.X[k]
        ends = (v.min() / 2, v.max() * 2) if v.min() > 0 else (v.min() - np.ptp(v) / 2, v.max() + np.ptp(v) / 2)
        for end in ends:
            parts.append({**{j: x[idx] for j, x in train.X.items()}, k: np.full(len(idx), end)})
    X = {j: np.concatenate([p[j] for p in parts]) for j in train.X}
    unit = np.tile(train.unit[idx], len(parts))
    # laid out as one target: only finiteness is checked here, never a score
    return Rows(X=X, y=np.zeros(len(unit)), unit=unit, n=len(unit), n_targets=1)


NEAR_WEIGHT = 8  # times the validation slice counts in the final refit (see refit_rows)


def refit_rows(problem: Problem, weight: int = NEAR_WEIGHT) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The rows of the final refit, as (X, y, unit): all of train, with the validation slice
    counted ``weight`` times when the validation rule holds out along some input (it then has
    an extrapolation probe): those are the largest scales of train, the rows nearest the runs
    the law is asked about. A law is an approximation, and fitted to be closest where the data
    ends it extrapolates from there better. A random rule has no such end: every row counts
    once. Chosen on the development split, never the test split: refitting the laws 78 runs
    reported with weights 1, 4, 8, 16, 32 (benchmarks/results/2026-11-30-session11-dev-refit-weight.md)."""
    if problem.probe is None:
        return problem.train.X, problem.train.y, problem.train.unit
    return weighted_rows(problem.train, problem.val, weight)


def weighted_rows(train: Rows, val: Rows, weight: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(X, y, unit) of ``train`` with the rows ``val`` (a part of it) counted ``weight`` times."""
    if weight <= 1 or val.n == 0:
        return train.X, train.y, train.unit
    extra = weight - 1
    X = {k: np.concatenate([x] + [val.X[k]] * extra) for k, x in train.X.items()}
    return X, np.concatenate([train.y] + [val.y] * extra), np.concatenate([train.unit] + [val.unit] * extra)
