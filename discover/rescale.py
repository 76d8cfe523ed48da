"""A law written in the data's units, moved into the scaled inputs the search works in (N/1e7).

``in_scaled_inputs`` puts the scales into the formula, so its parameters keep their meaning;
``rescale`` then takes out the scale factors that a free parameter absorbs, so that the law is
written as the search writes its own laws and its parameters are of the size the fitter's starts
reach. ``Rescaled.as_written`` maps fitted parameters back to the law as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from discover.expr import inputs_of, params_of
from discover.problem import Problem


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
    ``N**(-a)`` is ``N**a'``; a divisor as well: ``exp(-1e8*N/s)`` is ``exp(N/s')``; and a free
    offset takes in the numbers beside it: ``E + 3 + ...`` is ``E' + ...``). The family
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
        if isinstance(node, sp.Mul) and (free is not None or over is not None):  # it absorbs numbers and c**e
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
        if isinstance(node, sp.Add) and free is not None:  # the free offset absorbs numbers and g*log(c)
            terms, offset = [], sp.Integer(0)
            for a in node.args:
                term, shift = (sp.Integer(0), a) if a.is_Number else _log_unscaled(a)
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
