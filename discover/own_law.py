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

import numpy as np
import sympy as sp

from discover.baselines import REFIT_CONFIG, law_expr
from discover.data import Dataset
from discover.errors import ExprError, UserError
from discover.evaluate import Candidate, Evaluation, evaluate
from discover.expr import CONSTANTS, FUNCTIONS, PARAM_RE, complexity, free_names, inputs_of, params_of, parse
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


def in_scaled_inputs(expr: sp.Expr, problem: Problem) -> sp.Expr:
    """A law written in the data's units, in the scaled inputs the search works in (N / 1e8):
    the scales go into the formula, so its parameters keep their meaning."""
    return expr.xreplace({sp.Symbol(s): sp.Symbol(s) * sp.Float(v) for s, v in problem.scales.items() if v != 1.0})


@dataclass(frozen=True)
class Rescaled:
    """A law in the search's scaled inputs with the scale factors its free parameters absorb taken
    out (``rescale``), and how to get the parameters of the law as written back."""

    expr: sp.Expr
    factors: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()  # as written: p = p' / factor (in expr's parameters)
    offsets: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()  # as written: E = E' - offset

    def as_written(self, names: Sequence[str], params: Sequence[Sequence[float]]) -> tuple[tuple[float, ...], ...]:
        """Per unit, the parameters of the law as written, from those fitted to ``expr``."""
        out = []
        for row in params:
            given = {sp.Symbol(n): float(v) for n, v in zip(names, row, strict=True)}
            back = dict(given)
            for p, factor in self.factors:
                back[p] = float(np.divide(given[p], float(factor.xreplace(given))))
            for p, offset in self.offsets:
                back[p] = given[p] - float(offset.xreplace(given))
            out.append(tuple(back[sp.Symbol(n)] for n in names))
        return tuple(out)


def rescale(expr: sp.Expr) -> Rescaled:
    """``expr`` (in scaled inputs) with the scale factors a free parameter absorbs taken out:
    ``A*(1e8*N)**a`` is ``A'*N**a``, ``exp(-1e8*N*k)`` is ``exp(N*k')`` and ``A*log(1e8*N) + E``
    is ``A*log(N) + E'`` when ``A``, ``k``, resp. ``E``, appear nowhere else (a sign too:
    ``N**(-a)`` is ``N**a'``; a divisor as well: ``exp(-1e8*N/s)`` is ``exp(N/s')``). The family
    of laws is the same, and the search's own laws are written so (its complexity counts, and
    twins are seen as one); the parameters are better scaled for the fitter's starts (a rate of
    1e-9 per parameter becomes one of order 0.01)."""
    once = {s for s in params_of(expr) if expr.count(s) == 1}
    factors: list[tuple[sp.Symbol, sp.Expr]] = []
    offsets: list[tuple[sp.Symbol, sp.Expr]] = []

    def walk(node: sp.Expr) -> sp.Expr:
        if not node.args:
            return node
        node = node.func(*[walk(a) for a in node.args])
        free = next((a for a in node.args if a in once), None)
        over = next((a.base for a in node.args if isinstance(a, sp.Pow) and a.exp == -1 and a.base in once), None)
        if isinstance(node, sp.Mul) and (free or over) is not None:  # a free factor absorbs numbers and c**e
            kept, factor = [], sp.Integer(1)
            for a in node.args:
                if a.is_Number:
                    factor *= a
                elif isinstance(a, sp.Pow) and not inputs_of(a.exp) and (sc := _scaled(a.base)):
                    kept.append(sp.Pow(sc[1], a.exp))
                    factor *= sp.Pow(sc[0], a.exp)  # c**e is a constant only when e is
                else:
                    kept.append(a)
            if factor != 1:  # c*p*x = p'*x with p = p'/c; c*x/q = x/q' with q = c*q'
                factors.append((free, factor) if free is not None else (over, 1 / factor))
            return sp.Mul(*kept)
        if isinstance(node, sp.Add) and free is not None:  # the free offset absorbs g*log(c)
            terms, offset = [], sp.Integer(0)
            for a in node.args:
                term, shift = _log_unscaled(a)
                terms.append(term)
                offset += shift
            if offset != 0:
                offsets.append((free, offset))
            return sp.Add(*terms)
        return node

    return Rescaled(walk(expr), tuple(factors), tuple(offsets))


def without_scales(expr: sp.Expr) -> sp.Expr:
    """``rescale(expr).expr``: the law as the search writes its own."""
    return rescale(expr).expr


def _scaled(node: sp.Expr) -> tuple[sp.Expr, sp.Expr] | None:
    """(number, rest) for a product of a positive number and inputs, else None."""
    if isinstance(node, sp.Mul) and node.args[0].is_Number and node.args[0] > 0 and not params_of(node):
        return node.args[0], sp.Mul(*node.args[1:])
    return None


def _log_unscaled(term: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """``g*log(c*x)`` as ``g*log(x)``, and ``g*log(c)``, which the caller's free offset absorbs
    (a constant only when ``g`` holds no input); else ``term`` and 0."""
    factors = sp.Mul.make_args(term)
    logs = [f for f in factors if isinstance(f, sp.log) and _scaled(f.args[0])]
    if len(logs) != 1 or any(inputs_of(g) for g in factors if g is not logs[0]):
        return term, sp.Integer(0)
    (f,) = logs
    c, rest = _scaled(f.args[0])
    g = sp.Mul(*[h for h in factors if h is not f])
    return g * sp.log(rest), g * sp.log(c)


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
