"""From a model's free-form answer to whitelisted law expressions, with reasons for the rest.

Models wrap formulas in prose, code fences, bullets, ``L(N, D) =`` or ``y =`` prefixes,
LaTeX dollars and ``^`` for power, and often give several at once. The text is only cleaned
with string operations; every candidate then goes through :func:`discover.expr.parse` (the
whitelist parser) with the task's inputs and ``p0..pk``. Nothing is executed.

Where candidates are looked for, in order: lines marked ``LAW:`` (the format the prompt asks
for); else the lines of code fences; else every line that looks like a formula (has ``=`` or
an input or parameter name next to an operator).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from discover.errors import ExprError
from discover.expr import PARAM_RE, complexity, inputs_of, params_of, parse, renumber, to_text

MAX_CANDIDATES = 12  # per answer; the rest is ignored
MAX_SHOWN = 160  # characters of a rejected text kept for the record

_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)
_FENCE = re.compile(r"```[^\n`]*\n(.*?)(```|$)", re.S)
_MARK = re.compile(r"^\W*(?:LAW|FORMULA)\s*\d*\s*[:=]\s*(.*)$", re.I)
_BULLET = re.compile(r"^\s*(?:[-*•>]+|\d+[.)]|\(\d+\))\s+")
_LABEL = re.compile(r"^(?!lambda\b)[A-Za-z][\w ()#.-]{0,40}:\s+")  # "Formula 2: ...", "Candidate (a): ..."
_TRAIL = re.compile(r"\s*(?:,|;|\s)\s*(?:where|with|for|here|and|\(where)\b.*$", re.I)
_LATEX_DELIMS = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$")
_OPERATOR = re.compile(r"[-+*/^]|\b(?:log|exp|sqrt)\s*\(")


@dataclass(frozen=True)
class Proposal:
    """A formula from the answer that parses: its text as found and the expression."""

    text: str
    expr: sp.Expr


@dataclass(frozen=True)
class Rejection:
    """Text from the answer that is not a usable law, and why."""

    text: str
    reason: str


@dataclass(frozen=True)
class ParsedAnswer:
    accepted: tuple[Proposal, ...]
    rejected: tuple[Rejection, ...]


def parse_answer(answer: str, variables: Sequence[str], max_params: int,
                 max_complexity: int | None = None) -> ParsedAnswer:
    """The laws in ``answer`` (de-duplicated, parameters renumbered) and the rejected candidates."""
    accepted: list[Proposal] = []
    rejected: list[Rejection] = []
    seen: set[str] = set()
    texts = candidate_texts(answer, variables)
    if not texts:
        return ParsedAnswer((), (Rejection(_shorten(answer) or "(empty answer)", "no formula found in the answer"),))
    for text in texts:
        try:
            expr = law(text, variables, max_params, max_complexity)
        except ExprError as exc:
            rejected.append(Rejection(_shorten(text), str(exc)))
            continue
        key = to_text(expr)
        if key not in seen:
            seen.add(key)
            accepted.append(Proposal(text, expr))
    return ParsedAnswer(tuple(accepted), tuple(rejected))


def law(text: str, variables: Sequence[str], max_params: int, max_complexity: int | None = None) -> sp.Expr:
    """One cleaned candidate text as a law: parsed by the whitelist, with inputs and parameters."""
    expr = parse(text, variables, max_params)
    if not inputs_of(expr):
        raise ExprError("does not use any input variable")
    if not params_of(expr):
        raise ExprError("has no parameters p0, p1, ... to fit")
    if max_complexity is not None and complexity(expr) > max_complexity:
        raise ExprError(f"complexity {complexity(expr)} exceeds {max_complexity}")
    return renumber(expr)


def candidate_texts(answer: str, variables: Sequence[str]) -> list[str]:
    """Cleaned formula texts found in an answer, in order, without duplicates."""
    answer = _THINK.sub("", answer or "")
    lines = answer.splitlines()
    marked = [m.group(1) for line in lines if (m := _MARK.match(line.strip().strip("`*")))]
    if marked:
        found = marked
    else:
        fenced = [line for block in _FENCE.findall(answer) for line in block[0].splitlines()]
        found = [line for line in fenced if line.strip() and not line.strip().startswith("#")] or \
            [line for line in lines if _looks_like_formula(line, variables)]
    out: list[str] = []
    for raw in found:
        text = clean(raw)
        if text and text not in out:
            out.append(text)
    return out[:MAX_CANDIDATES]


def clean(line: str) -> str:
    """Strip the usual noise around one formula: bullets, labels, markup, ``y =`` prefixes, prose after it."""
    text = line.strip()
    text = _BULLET.sub("", text)
    text = text.replace("`", "")
    text = re.sub(r"^\*\*([^*]{1,40})\*\*", r"\1", text)  # a markdown bold label: "**Law 1**: ..."
    text = _LATEX_DELIMS.sub("", text)
    text = text.replace("\\cdot", "*").replace("\\times", "*").replace("{", "(").replace("}", ")")
    text = text.replace("–", "-").replace("—", "-")  # dashes models use for minus
    m = _LABEL.match(text)
    if m and not _has_formula_chars(m.group(0)):
        text = text[m.end():]
    text = _TRAIL.sub("", text)
    if "=" in text:
        text = re.split(r"(?<![<>=!])=(?!=)", text)[-1]
    return text.strip().rstrip(".,;").strip()


def _has_formula_chars(s: str) -> bool:
    return any(c in s for c in "+*/^")


def _looks_like_formula(line: str, variables: Sequence[str]) -> bool:
    text = line.strip()
    if not text or len(text) > 400:
        return False
    names = set(re.findall(r"[A-Za-z_]\w*", text))
    mentions = any(n in variables or PARAM_RE.match(n) for n in names)
    if mentions and ("=" in text or _OPERATOR.search(text)):
        return True
    rhs = text.rsplit("=", 1)[1] if "=" in text else ""
    return bool(_OPERATOR.search(rhs))  # "L = A/N^alpha + E": worth a reason (unknown names)


def _shorten(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
