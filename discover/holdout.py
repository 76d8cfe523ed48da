"""Holdout rules: which rows to hold out, as a tiny language parsed without ``eval``.

Forms (keywords are case-insensitive), each optionally followed by ``per group``::

    largest P% of EXPR      rows with EXPR >= its (1 - P/100) quantile (ties all held out)
    top K values of EXPR    rows whose EXPR is among the K largest distinct values
    top value of EXPR       the same with K = 1
    random P%               seeded random rows

Clauses joined with `` or `` are combined as a union. EXPR is a law-style expression in the
task's input symbols (parsed by :func:`discover.expr.parse`), e.g. ``N*D`` or ``log(tokens)``.
Every clause holds out at least one row and keeps at least one (within each group when
``per group``); the combined rule must keep at least one row of every group.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from discover.errors import ExprError, UserError
from discover.expr import compile_expr, inputs_of, params_of, parse

if TYPE_CHECKING:
    from discover.data import Split

FORMS = ("'largest P% of EXPR', 'top K values of EXPR', 'top value of EXPR' or 'random P%', "
         "each optionally followed by 'per group', joined with 'or'")

_NUM = r"(?P<n>\d+(?:\.\d*)?|\.\d+)"
_PATTERNS = {
    "largest": re.compile(rf"^largest\s+{_NUM}\s*%\s+of\s+(?P<expr>.+)$", re.I | re.S),
    "top": re.compile(r"^top\s+(?:(?P<n>\d+)\s+values|(?:1\s+)?value)\s+of\s+(?P<expr>.+)$", re.I | re.S),
    "random": re.compile(rf"^random\s+{_NUM}\s*%$", re.I | re.S),
}
_PER_GROUP = re.compile(r"\s+per\s+group$", re.I)
_OR = re.compile(r"\s+or\s+", re.I)


@dataclass(frozen=True)
class Clause:
    """One holdout clause: ``kind`` is largest/top/random; ``amount`` is P (percent) or K."""

    kind: str
    amount: float
    expr: sp.Expr | None
    per_group: bool
    text: str


def parse_rule(rule: str, symbols: Sequence[str]) -> tuple[Clause, ...]:
    """Parse a rule into clauses; UserError naming the rule and the accepted forms otherwise."""
    if not isinstance(rule, str) or not rule.strip():
        raise UserError(f"empty holdout rule; use {FORMS}")
    return tuple(_clause(part.strip(), rule, symbols) for part in _OR.split(rule.strip()))


def validate_rule(rule: str, symbols: Sequence[str]) -> None:
    """UserError if ``rule`` does not parse with these input symbols."""
    parse_rule(rule, symbols)


def _clause(text: str, rule: str, symbols: Sequence[str]) -> Clause:
    def bad(reason: str) -> UserError:
        return UserError(f"bad holdout rule {rule!r}: {reason}; use {FORMS}")

    body = _PER_GROUP.sub("", text)
    per_group = body != text
    for kind, pattern in _PATTERNS.items():
        m = pattern.match(body)
        if not m:
            continue
        if kind == "top":
            amount = float(m.group("n") or 1)
            if amount < 1:
                raise bad("K must be at least 1")
        else:
            amount = float(m.group("n"))
            if not 0 < amount < 100:
                raise bad(f"{m.group('n')}% is not between 0 and 100")
        expr = _expression(m.group("expr"), symbols, bad) if kind != "random" else None
        return Clause(kind=kind, amount=amount, expr=expr, per_group=per_group, text=text)
    raise bad(f"cannot read {text!r}")


def _expression(text: str, symbols: Sequence[str], bad) -> sp.Expr:
    try:
        expr = parse(text, list(symbols))
    except ExprError as exc:
        raise bad(f"{exc} in {text.strip()!r} (inputs: {', '.join(symbols)})") from None
    if params_of(expr):
        raise bad(f"{text.strip()!r} has parameters; use input names only ({', '.join(symbols)})")
    if not inputs_of(expr):
        raise bad(f"{text.strip()!r} does not depend on any input ({', '.join(symbols)})")
    return expr


def holdout_mask(rule: str, split: Split, symbols: Sequence[str], seed: int = 0) -> np.ndarray:
    """Rows of ``split`` held out by ``rule`` (True = held out); deterministic for a seed."""
    clauses = parse_rule(rule, symbols)
    n = len(split)
    rng = np.random.default_rng(seed)
    mask = np.zeros(n, dtype=bool)
    groups = np.asarray(split.group)
    for clause in clauses:
        values = _values(clause, split, rule)
        if clause.per_group:
            for g in np.unique(groups):
                idx = np.flatnonzero(groups == g)
                mask[idx] |= _select(clause, values[idx], rng, rule, f" in group {g}")
        else:
            mask |= _select(clause, values, rng, rule, "")
    if n and not mask.any():
        raise UserError(f"holdout rule {rule!r} holds out no rows")
    for g in np.unique(groups):
        if mask[groups == g].all():
            raise UserError(f"holdout rule {rule!r} holds out every row of group {g}; try adding 'per group'")
    return mask


def _values(clause: Clause, split: Split, rule: str) -> np.ndarray:
    n = len(split)
    if clause.expr is None:
        return np.zeros(n)
    values = np.broadcast_to(compile_expr(clause.expr)(split.X), (n,)).astype(float)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise UserError(f"holdout rule {rule!r}: {clause.text!r} is not finite at row {bad[0] + 1}")
    return values


def _select(clause: Clause, v: np.ndarray, rng: np.random.Generator, rule: str, where: str) -> np.ndarray:
    """The held-out rows of one clause on one pool of rows; keeps at least one and holds out one."""
    n = len(v)
    if n < 2:
        raise UserError(f"holdout rule {rule!r}: only {n} row(s){where}, need 2 to hold one out")
    if clause.kind == "random":
        k = min(max(round(clause.amount / 100 * n), 1), n - 1)
        held = np.zeros(n, dtype=bool)
        held[rng.permutation(n)[:k]] = True
        return held
    if clause.kind == "largest":
        threshold = np.quantile(v, 1 - clause.amount / 100)
    else:
        distinct = np.unique(v)
        threshold = distinct[max(len(distinct) - int(clause.amount), 0)]
    held = v >= threshold
    if held.all():
        raise UserError(f"holdout rule {rule!r}: {clause.text!r} holds out every row{where} (too few distinct values)")
    return held
