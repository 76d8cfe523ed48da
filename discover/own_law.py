"""A law the user writes, fitted and scored exactly as a run fits and scores its candidates.

A researcher often has a law in mind (``E + A/N**alpha + B/D**beta``) and wants to know how it
compares with what the search finds. Its parameters are the names in the formula that are not
inputs, functions or ``pi`` (``E`` is a parameter: the irreducible loss of the scaling-law
papers; write ``exp(1)`` for Euler's number). It is written in the data's own units.

Scores, as in a run's table: *validation R²* fitted where the search fits (Problem.search_rows)
and scored on the validation slice; *test R²* after the refit on all of train with the
validation slice weighted as a run weights it (final.finalize). The test split is read for
that number only. Fits use the human laws' refit settings (more starts than a search's fit).

The law is fitted as the search writes its own laws (``rescale``: in scaled inputs, with the
scale factors its free parameters absorb taken out), where a rate of 1e-9 per parameter is one of
0.01 and the fitter's starts reach it; the parameters are then reported as written. The same
form starts a search from the user's law (``discover run --start``, ``start_candidates``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sympy as sp

from discover.archive import Archive
from discover.baselines import REFIT_CONFIG, law_expr
from discover.data import Dataset
from discover.errors import ExprError, UserError
from discover.evaluate import Candidate, Evaluation, evaluate
from discover.expr import CONSTANTS, FUNCTIONS, PARAM_RE, complexity, free_names, inputs_of, params_of, parse
from discover.final import FinalLaw, finalize
from discover.problem import NEAR_WEIGHT, Problem, make_problem
from discover.rescale import Rescaled, in_scaled_inputs, rescale, without_scales


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


def own_expr(formula: str, symbols: tuple[str, ...], flag: str = "--law") -> tuple[sp.Expr, tuple[str, ...]]:
    """The law in ``p0..pk`` (raw units) and the user's names for them. Parameters written
    ``p0, p1, ...`` keep those names. A law that depends on no input is refused (``flag`` names
    the option in the message)."""
    names = parameter_names(formula, symbols)
    try:
        if names and all(PARAM_RE.match(n) for n in names):
            expr = parse(formula, list(symbols))
            names = [p.name for p in params_of(expr)]
        elif any(PARAM_RE.match(n) for n in names):
            raise ExprError("name parameters either p0, p1, ... or freely (A, alpha, ...), not both")
        else:
            expr = law_expr(formula, names, list(symbols))
    except ExprError as exc:
        raise UserError(f"{flag} {formula!r}: {exc} (inputs: {', '.join(symbols)}; other names are parameters)") \
            from None
    if not any(s.name in symbols for s in expr.free_symbols):
        raise UserError(f"{flag} {formula!r}: the formula does not depend on any input ({', '.join(symbols)})")
    return expr, tuple(names)


def expand_start_laws(values: Sequence[str], symbols: tuple[str, ...]) -> tuple[str, ...]:
    """``--start`` values as laws: each is a law, or a finished run's folder, which stands for the
    laws that run reported (recommended first, in the data's units): new rows came in, and the
    search goes on from what it found before. UserError when such a law uses an input this task
    does not have."""
    out: list[str] = []
    for value in map(str, values):
        if not Path(value).is_dir():
            out.append(value)
            continue
        from discover.predict import laws_as_written

        names, texts = laws_as_written(value)
        for text in texts:
            unknown = [n for n in inputs_of(parse(text, list(names))) if n not in symbols]
            if unknown:
                raise UserError(f"--start {value}: its law {text} uses {', '.join(unknown)}, not an input here "
                                f"(inputs: {', '.join(symbols)})")
            out.append(text)
    return tuple(dict.fromkeys(out))


def check_start_laws(formulas: Sequence[str], symbols: tuple[str, ...], max_params: int) -> None:
    """UserError unless every law given to start the search from (``--start``) parses, depends on
    an input and has at most ``max_params`` parameters (the cap the search keeps to)."""
    for formula in formulas:
        _, names = own_expr(formula, symbols, "--start")
        if len(names) > max_params:
            raise UserError(f"--start {formula!r}: {len(names)} parameters, more than the run's cap of {max_params} "
                            "(--max-params)")


def start_candidates(formulas: Sequence[str], problem: Problem) -> list[Candidate]:
    """The user's laws to start the search from, as candidates in the search's scaled inputs."""
    return [Candidate(without_scales(in_scaled_inputs(own_expr(f, problem.symbols, "--start")[0], problem)),
                      origin="user", note=f) for f in formulas]


def start_law_lines(records: Sequence[Evaluation], laws: Sequence[FinalLaw]) -> list[str]:
    """How each law the search started from (``run --start``) fared, one line each: its validation
    R², its test R² when the run reported it, and whether it is the recommended law, on the
    frontier, or not usable (and why). ``laws``: the run's reported laws (none before it ended)."""
    mine = [r for r in records if r.origin == "user"]
    if not mine:
        return []
    reported = {law.id: law for law in laws}
    front = {r.id for r in Archive(list(records)).frontier()}
    lines = []
    for r in mine:
        if not r.ok:
            lines.append(f"your law {r.note}: not usable ({r.reason})")
            continue
        law = reported.get(r.id)
        where = "the recommended law" if law and law.recommended else "on the frontier" if r.id in front else \
            "not on the frontier (a law as simple or simpler validates better)"
        test = f", test R² {law.test.r2:.4f}" if law else ""
        lines.append(f"your law {r.note}: candidate #{r.id}, val R² {r.val.r2:.4f}{test}; {where}")
    return lines


def fit_own_law(formula: str, ds: Dataset, max_params: int, seed: int = 0, weight: int = NEAR_WEIGHT) -> OwnLaw:
    """Fit and score ``formula`` on ``ds`` as a run with this seed and cap fits and scores its laws."""
    problem = make_problem(ds, seed=seed)
    expr, names = own_expr(formula, problem.symbols)
    form = rescale(in_scaled_inputs(expr, problem))  # fitted as the search writes it; reported as written
    k = len(names)
    search = evaluate(Candidate(form.expr, origin="user"), problem, REFIT_CONFIG, id=0,
                      max_params=max(max_params, k))
    (final,) = finalize([search], search.id, problem, ds, REFIT_CONFIG, weight)
    return OwnLaw(formula=formula, names=names, complexity=complexity(expr), search=_as_written(search, form),
                  final=_as_written(final, form), problem=problem)


def _as_written(record, form: Rescaled):
    """``record`` (an Evaluation or a FinalLaw of ``form.expr``) with the parameters of the law as written."""
    if not record.params:
        return record
    return dataclasses.replace(record, params=form.as_written(record.names, record.params))
