"""A law as LaTeX: the formula in the data's own units and a table of the fitted parameters.

The output is a fragment to paste into a paper (an ``equation`` and a ``tabular``; no packages
needed). Formulas are printed by sympy from the law parsed through the whitelist.
"""

from __future__ import annotations

import math
import re

from discover import __version__
from discover.display import raw_expr
from discover.export import Exported
from discover.expr import params_of
from discover.final import unit_names
from discover.report.math import expr_latex

_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "^": r"\^{}",
            "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}"}


def text(value: str) -> str:
    """Plain text safe inside LaTeX (its special characters escaped)."""
    return "".join(_SPECIAL.get(ch, ch) for ch in value)


def number(v: float, digits: int = 6) -> str:
    """A parameter value for the table: ``1.63484``, ``$-2.5\\times10^{43}$``."""
    if not math.isfinite(v):
        return "---"
    shown = f"{v:.{digits}g}"
    m = re.fullmatch(r"(-?[\d.]+)e([+-])0*(\d+)", shown)
    if not m:
        return f"${shown}$" if shown.startswith("-") else shown
    exponent = ("-" if m.group(2) == "-" else "") + m.group(3)
    return f"${m.group(1)}\\times10^{{{exponent}}}$"


def to_latex(ex: Exported) -> str:
    law, scores = ex.law, ex.scores
    raw = raw_expr(law.text, law.symbols, law.scales)
    names = [p.name for p in params_of(raw)]
    lhs = ", ".join(r"\mathrm{" + text(t) + "}" for t in law.targets)
    test_name = "development" if ex.split == "development" else "test"
    units = unit_names(law.groups, law.targets)
    head = "group" if len(law.targets) == 1 else "group / target"
    out = [
        f"% Scaling law found by discover {__version__}: task {ex.task}, law {law.id}"
        f"{' (recommended)' if law.recommended else ''}, run {ex.run}",
        f"% validation R^2 {scores.val.r2:.4f}, {test_name} R^2 {scores.test.r2:.4f}; inputs in the data's own units"
        + "".join(f"; {s} = column {c!r}" for s, c in zip(law.symbols, law.inputs, strict=True) if s != c),
        r"\begin{equation}",
        f"  {lhs} = {expr_latex(raw, law.symbols, digits=6)}",
        r"\end{equation}",
        f"% parameters fitted on all of the run's training rows, per {head}",
        r"\begin{tabular}{l" + "r" * len(names) + "}",
        r"\hline",
        " & ".join([head, *(f"$p_{{{n[1:]}}}$" for n in names)]) + r" \\",
        r"\hline",
        *(" & ".join([text(u), *(number(v) for v in row)]) + r" \\" for u, row in zip(units, law.params, strict=True)),
        r"\hline",
        r"\end{tabular}",
        "",
    ]
    return "\n".join(out)
