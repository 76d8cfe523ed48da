"""A law the user writes, fitted and scored exactly as a run fits and scores its candidates.

A researcher often has a law in mind (``E + A/N**alpha + B/D**beta``) and wants to know how it
compares with what the search finds. Its parameters are the names in the formula that are not
inputs, functions or ``pi`` (``E`` is a parameter: the irreducible loss of the scaling-law
papers; write ``exp(1)`` for Euler's number). It is written in the data's own units.

Scores, as in a run's table: *validation R²* fitted where the search fits (Problem.search_rows)
and scored on the validation slice; *test R²* after the refit on all of train with the
validation slice weighted as a run weights it (final.finalize). The test split is read for
that number only. Fits use the human laws' refit settings (more starts than a search's fit).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from discover.baselines import REFIT_CONFIG, law_expr
from discover.data import Dataset
from discover.errors import ExprError, UserError
from discover.evaluate import Candidate, Evaluation, evaluate
from discover.expr import CONSTANTS, FUNCTIONS, PARAM_RE, complexity, free_names, params_of, parse
from discover.final import FinalLaw, finalize
from discover.problem import NEAR_WEIGHT, Problem, make_problem


@dataclass(frozen=True)
class OwnLaw:
    """A user's law, its parameter names, and how it fared."""

    formula: str  # as written
    names: tuple[str, ...]  # the user's parameter names, in the order of p0, p1, ...
    complexity: int  # of the law as written (a run counts its laws alike, without input scales)
    search: Evaluation  # the search-time fit and its validation score
    final: FinalLaw  # refitted on all of train, scored on test
    problem: Problem


def parameter_names(formula: str, symbols: tuple[str, ...]) -> list[str]:
    """The names in ``formula`` that are not inputs, functions or ``pi``, in order of first appearance."""
    skip = set(symbols) | (set(CONSTANTS) - {"E"}) | set(FUNCTIONS)
    return [n for n in free_names(formula) if n not in skip]


def own_expr(formula: str, symbols: tuple[str, ...]) -> tuple[sp.Expr, tuple[str, ...]]:
    """The law in ``p0..pk`` (raw units) and the user's names for them. Parameters written
    ``p0, p1, ...`` keep those names."""
    names = parameter_names(formula, symbols)
    try:
        if names and all(PARAM_RE.match(n) for n in names):
            expr = parse(formula, list(symbols))
            return expr, tuple(p.name for p in params_of(expr))
        if any(PARAM_RE.match(n) for n in names):
            raise ExprError("name parameters either p0, p1, ... or freely (A, alpha, ...), not both")
        return law_expr(formula, names, list(symbols)), tuple(names)
    except ExprError as exc:
        raise UserError(f"--law {formula!r}: {exc} (inputs: {', '.join(symbols)}; other names are parameters)") \
            from None


def fit_own_law(formula: str, ds: Dataset, max_params: int, seed: int = 0, weight: int = NEAR_WEIGHT) -> OwnLaw:
    """Fit and score ``formula`` on ``ds`` as a run with this seed and cap fits and scores its laws."""
    problem = make_problem(ds, seed=seed)
    expr, names = own_expr(formula, problem.symbols)
    if not any(s.name in problem.symbols for s in expr.free_symbols):
        raise UserError(f"--law {formula!r}: the formula does not depend on any input ({', '.join(problem.symbols)})")
    # the search works in scaled inputs (N / 1e8): put the scales in, so the parameters stay the user's
    scaled = expr.xreplace({sp.Symbol(s): sp.Symbol(s) * sp.Float(v) for s, v in problem.scales.items() if v != 1.0})
    k = len(names)
    search = evaluate(Candidate(scaled, origin="user"), problem, REFIT_CONFIG, id=0, max_params=max(max_params, k))
    (final,) = finalize([search], search.id, problem, ds, REFIT_CONFIG, weight)
    return OwnLaw(formula=formula, names=names, complexity=complexity(expr), search=search, final=final,
                  problem=problem)
