"""Formulas as typeset math, offline: sympy's LaTeX rendered by matplotlib's mathtext to SVG/PNG.

Law text is re-read with :func:`discover.expr.parse` (never ``sympify``); inputs print as
upright names (``\\mathrm{num\\_params}``) and parameters as ``p_0, p_1, ...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import sympy as sp

from discover.errors import ExprError
from discover.expr import parse


def symbol_latex(name: str) -> str:
    """An input name as upright LaTeX text."""
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def to_latex(text: str, symbols: Sequence[str]) -> str:
    """LaTeX of a law written in ``symbols`` and parameters ``p0..pk``."""
    return expr_latex(parse(text, list(symbols)), symbols)


def expr_latex(expr: sp.Expr, symbols: Sequence[str], digits: int = 4) -> str:
    """LaTeX of an expression; numbers shown to ``digits`` significant digits (display only)."""
    names = {sp.Symbol(s): symbol_latex(s) for s in symbols}
    short = {f: sp.Float(float(f), digits) for f in expr.atoms(sp.Float)}
    return sp.latex(expr.xreplace(short), symbol_names=names, ln_notation=False)


@lru_cache(maxsize=512)
def render(latex: str, fmt: str = "svg", fontsize: float = 15.0) -> bytes:
    """The formula drawn by mathtext (glyphs as paths: no fonts needed to view it).

    Raises ``ExprError`` when mathtext cannot typeset the LaTeX."""
    from discover.report.plots import figure, to_bytes

    fig = figure(0.1, 0.1)
    fig.text(0, 0, f"${latex}$", fontsize=fontsize)
    try:
        return to_bytes(fig, fmt, tight=True)
    except ValueError as exc:  # mathtext's parse errors
        raise ExprError(f"cannot typeset {latex!r}: {exc}") from None


def try_render(latex: str, fmt: str = "svg") -> bytes | None:
    """:func:`render`, or None when mathtext cannot typeset it (the report shows text then)."""
    try:
        return render(latex, fmt)
    except ExprError:
        return None

