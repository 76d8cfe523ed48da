"""Candidate -> fit -> score: the step every proposed law goes through during search.

A candidate is fitted per unit and scored on how it extrapolates, by its validation NMSE
(the held-out largest-scale training rows). Where the task has a selection fold with rows
enough, the law is fitted below it and scored two steps out: that fold's validation rows and
the validation slice beyond them (Problem.search_rows, search_score). One slice alone is a
noisy judge: a law can bend the right way there by luck, and a long search meets many such laws.
Nothing here sees the test split (see final.py for that).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from discover.errors import ExprError
from discover.expr import canonical_key, complexity, params_of, to_text
from discover.fit import FitConfig, FitResult, analyse, fit, predict
from discover.problem import Problem, Rows
from discover.score import FAILED, Scores, log_mean_se, score


@dataclass(frozen=True)
class Candidate:
    """A proposed law and where it came from."""

    expr: sp.Expr
    origin: str  # "motif", "gp:<operator>", "llm", "user"...
    parents: tuple[int, ...] = ()  # ids of the evaluations it was derived from
    note: str = ""


@dataclass(frozen=True)
class Evaluation:
    """The record of one evaluated candidate (one line of a run's candidates.jsonl)."""

    id: int
    text: str
    key: str
    complexity: int
    n_params: int
    origin: str
    parents: tuple[int, ...]
    ok: bool
    reason: str
    names: tuple[str, ...]
    params: tuple[tuple[float, ...], ...]  # per unit (group x target), fitted by Problem.search_rows
    fit: Scores  # on the rows it was fitted on
    val: Scores  # on the validation slice
    seconds: float  # spent evaluating this candidate
    note: str = ""
    t: float = 0.0  # seconds of search when it was finished (0 when not recorded)
    fold: Scores | None = None  # on the first selection fold's validation rows, when fitted below it

    @property
    def val_nmse(self) -> float:
        """The search's score (archive, frontier, parents, the selection's pool): the validation
        NMSE, combined with the first fold's when the law was fitted below it (search_score)."""
        if not self.ok:
            return float("inf")
        return search_score(self.val.nmse, None if self.fold is None else self.fold.nmse)

    @property
    def val_nmse_se(self) -> float:
        """Standard error of val_nmse over the rows scored (delta method; inf when not known)."""
        if self.fold is None:
            return self.val.nmse_se
        return self.val_nmse * log_mean_se((self.val.nmse, self.fold.nmse), (self.val.nmse_se, self.fold.nmse_se))

    def to_json(self) -> dict:
        return {
            "id": self.id, "text": self.text, "key": self.key, "complexity": self.complexity,
            "n_params": self.n_params, "origin": self.origin, "parents": list(self.parents), "ok": self.ok,
            "reason": self.reason, "names": list(self.names), "params": [list(p) for p in self.params],
            "fit": self.fit.as_dict(), "val": self.val.as_dict(), "seconds": round(self.seconds, 4),
            "note": self.note, "t": round(self.t, 3), "fold": None if self.fold is None else self.fold.as_dict(),
        }

    @staticmethod
    def from_json(d: dict) -> Evaluation:
        return Evaluation(
            id=int(d["id"]), text=d["text"], key=d["key"], complexity=int(d["complexity"]),
            n_params=int(d["n_params"]), origin=d["origin"], parents=tuple(d["parents"]), ok=bool(d["ok"]),
            reason=d["reason"], names=tuple(d["names"]), params=tuple(tuple(float(v) for v in p) for p in d["params"]),
            fit=Scores(**d["fit"]), val=Scores(**d["val"]), seconds=float(d["seconds"]), note=d.get("note", ""),
            t=float(d.get("t", 0.0)), fold=Scores(**d["fold"]) if d.get("fold") else None,
        )


def search_score(val_nmse: float, fold_nmse: float | None = None) -> float:
    """The geometric mean of the validation NMSE and the first fold's (when scored there):
    a law must extrapolate on both steps, and neither slice's scale dominates."""
    if fold_nmse is None:
        return val_nmse
    return math.sqrt(max(val_nmse, 1e-300) * max(fold_nmse, 1e-300))


def score_rows(structure, params: np.ndarray, rows: Rows) -> Scores:
    """Predict ``rows`` with per-unit params and score against their truth (per target, pooled)."""
    if rows.n == 0:
        return FAILED
    pred = predict(structure, params, rows.X, rows.unit)
    return score(rows.Y, rows.wide(pred))


def fit_rows(expr: sp.Expr, rows: Rows, problem: Problem, config: FitConfig,
             init: np.ndarray | None = None) -> tuple[object, FitResult]:
    """Fit the law per unit on ``rows``, keeping for each unit the best start that passes the
    checks of sound_units where one does."""
    structure = analyse(expr)
    return structure, fit(structure, rows.X, rows.y, rows.unit, problem.n_units, config, init,
                          sound_units(structure, problem))


def evaluate(candidate: Candidate, problem: Problem, config: FitConfig, id: int, max_params: int,
             two_steps: bool = True) -> Evaluation:
    """Fit a candidate where Problem.search_rows says and score it on validation (and the first
    fold's validation rows, when fitted below it); failures carry a reason. ``two_steps``
    False: on the fit rows and validation alone, whatever the folds (runs recorded before)."""
    t0 = time.monotonic()
    expr = candidate.expr
    text, key, cx = to_text(expr), canonical_key(expr), complexity(expr)
    k = len(params_of(expr))

    def record(ok: bool, reason: str, names=(), params=(), fit_s=FAILED, val_s=FAILED, fold_s=None) -> Evaluation:
        return Evaluation(id=id, text=text, key=key, complexity=cx, n_params=k, origin=candidate.origin,
                          parents=candidate.parents, ok=ok, reason=reason, names=tuple(names),
                          params=tuple(tuple(float(v) for v in row) for row in params), fit=fit_s, val=val_s,
                          seconds=time.monotonic() - t0, note=candidate.note, fold=fold_s)

    if k > max_params:
        return record(False, f"{k} parameters, more than the cap of {max_params}")
    unknown = {s.name for s in expr.free_symbols} - set(problem.symbols) - {p.name for p in params_of(expr)}
    if unknown:
        return record(False, f"unknown names: {', '.join(sorted(unknown))}")
    if not any(s.name in problem.symbols for s in expr.free_symbols):
        return record(False, "law does not depend on any input")
    on, fold_rows = problem.search_rows(max_params, two_steps)
    try:
        structure, result = fit_rows(expr, on, problem, config)
    except (ExprError, ValueError, ZeroDivisionError, OverflowError, TypeError) as exc:
        return record(False, f"cannot fit: {exc}")
    if not result.ok:
        return record(False, result.reason)
    fit_s = score_rows(structure, result.params, on)
    val_s = score_rows(structure, result.params, problem.val)
    if not np.isfinite(val_s.nmse):
        return record(False, "prediction not finite on validation rows", result.names, result.params, fit_s, val_s)
    fold_s = None if fold_rows is None else score_rows(structure, result.params, fold_rows)
    if fold_s is not None and not np.isfinite(fold_s.nmse):
        return record(False, "prediction not finite on the first fold's validation rows", result.names,
                      result.params, fit_s, val_s)
    problem_note = extrapolation_problem(structure, result.params, problem)
    if problem_note:
        return record(False, problem_note, result.names, result.params, fit_s, val_s, fold_s)
    return record(True, "", result.names, result.params, fit_s, val_s, fold_s)


EXTRAPOLATION_MARGIN = 1.0  # in units of the training target's range


def _misses(rows: Rows, structure, params: np.ndarray,
            bounds: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``rows``: whether the law's prediction is not finite, and whether it is
    finite but outside ``bounds`` (never, without bounds). The one check behind every
    *_problem function and sound_units."""
    with np.errstate(all="ignore"):
        pred = predict(structure, params, rows.X, rows.unit)
    finite = np.isfinite(pred)
    if bounds is None:
        return ~finite, np.zeros_like(finite)
    with np.errstate(invalid="ignore"):
        return ~finite, finite & ((pred < bounds[0]) | (pred > bounds[1]))


def _not_finite_on(probe: Rows | None, structure, params: np.ndarray, why: str) -> str:
    """``why`` if the law predicts a non-finite value on some row of ``probe``, else ''."""
    return why if probe is not None and _misses(probe, structure, params)[0].any() else ""


def inside_problem(structure, params: np.ndarray, problem: Problem) -> str:
    """Why the law cannot be trusted on other mixes of its shares inputs ('' if it can)."""
    return _not_finite_on(problem.inside, structure, params, "not finite on other mixes of the shares inputs")


def edge_problem(structure, params: np.ndarray, problem: Problem) -> str:
    """Why the law breaks just past the range of some input ('' if it stays finite there)."""
    return _not_finite_on(problem.edges, structure, params, "not finite just past the range of some input")


def implausible_problem(structure, params: np.ndarray, problem: Problem) -> str:
    """Why the law's finite predictions on other mixes of the shares inputs cannot be trusted
    ('' if they can): beyond the training targets by more than their range (as on the probe).
    For the final refit, which no validation checks: a refit can switch a term off with a
    vanishing coefficient and a huge exponent and predict 1e43 on a new mix. (Not just past
    the range of the inputs: there the check only ever replaced refits that were better, on
    the development split; see benchmarks/results/2026-12-01-session17-dev-implausible-refit.md.)"""
    if problem.inside is not None and _misses(problem.inside, structure, params, _plausible(problem))[1].any():
        return "beyond the training targets by more than their range on other mixes of the shares inputs"
    return ""


def extrapolation_problem(structure, params: np.ndarray, problem: Problem) -> str:
    """Why the law cannot be trusted on other mixes of its shares inputs, or further out along
    the holdout axes ('' if it can)."""
    return inside_problem(structure, params, problem) or probe_problem(structure, params, problem)


def probe_problem(structure, params: np.ndarray, problem: Problem) -> str:
    """Why the law cannot be trusted further out along the holdout axes ('' if it can): not
    finite there, or beyond the training targets by more than their range (problem.probe)."""
    if problem.probe is None:
        return ""
    not_finite, outside = _misses(problem.probe, structure, params, _plausible(problem))
    if not_finite.any():
        return "not finite when extrapolated further along the holdout inputs"
    if outside.any():
        return "diverges when extrapolated further along the holdout inputs"
    return ""


def _plausible(problem: Problem) -> tuple[float, float]:
    """The targets a law may predict on the probe: the training range widened by the margin."""
    y = problem.train.y
    span = y.max() - y.min()
    return y.min() - EXTRAPOLATION_MARGIN * span, y.max() + EXTRAPOLATION_MARGIN * span


def sound_units(structure, problem: Problem) -> Callable[[np.ndarray], np.ndarray] | None:
    """Per unit, whether parameters keep the law finite on other mixes of the shares inputs
    (inside_problem), a property of the law inside the training domain. For the fitter, to
    prefer such starts; None without shares inputs. The probe further out along the holdout
    inputs is not part of it: a law whose best fit diverges there is rejected
    (extrapolation_problem), not refitted worse to pass (a dev-split bench decided it, see
    benchmarks/results/2026-11-30-session8-dev-ab.md)."""
    if problem.inside is None:
        return None
    rows = problem.inside

    def sound(params: np.ndarray) -> np.ndarray:
        not_finite, _ = _misses(rows, structure, params)
        return np.bincount(rows.unit[not_finite], minlength=len(params)) == 0

    return sound
