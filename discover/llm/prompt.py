"""Prompts: templates in ``prompts/`` (or the user's folder) filled from what the search knows.

A template is Markdown with ``{{name}}`` placeholders (filled by plain substitution; unknown
names are an error). ``system.md`` and ``user.md`` are the two parts of the chat. The user
part is filled with the task (inputs, scales, ranges, what is held out, the parameter cap),
the frontier (formulas, complexity, validation scores, residuals by scale on validation),
recent failures with their reasons, and the answer format.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from discover.errors import ExprError, UserError
from discover.evaluate import Evaluation
from discover.expr import parse
from discover.fit import analyse, predict
from discover.llm.parse_answer import Rejection
from discover.problem import Problem, Rows

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
FIELDS = ("task", "description", "inputs", "targets", "groups", "holdout", "max_params", "max_param_index",
          "frontier", "failures", "n", "focus", "example_input")
FRONTIER_SHOWN = 8
FAILURES_SHOWN = 6
FOCUS = (
    "Aim for laws simpler than the best frontier law with similar accuracy.",
    "Aim to fix the largest validation residuals of the best law.",
    "Try a structurally different family from the frontier (e.g. other interactions between inputs).",
    "Combine the strengths of two frontier laws.",
)


@dataclass(frozen=True)
class Templates:
    system: str
    user: str

    def check(self, where: str) -> None:
        for part, text in (("system.md", self.system), ("user.md", self.user)):
            unknown = sorted(set(PLACEHOLDER.findall(text)) - set(FIELDS))
            if unknown:
                raise UserError(f"{where}/{part}: unknown placeholder(s) {', '.join(unknown)}; "
                                f"known: {', '.join(FIELDS)}")


def prompts_dir() -> Path:
    """The bundled templates: the installed copy (wheel) if present, else ``<repo>/prompts``."""
    installed = Path(__file__).parents[1] / "_resources" / "prompts"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "prompts"


def load_templates(folder: str | Path | None = None) -> Templates:
    """``system.md`` and ``user.md`` from ``folder`` (else the bundled ones), checked."""
    root = Path(folder) if folder else prompts_dir()
    texts = []
    for name in ("system.md", "user.md"):
        try:
            texts.append((root / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--llm-prompts {root}: cannot read {name} ({exc})") from None
    templates = Templates(*texts)
    templates.check(str(root))
    return templates


def render(template: str, values: dict[str, str]) -> str:
    """Substitute ``{{name}}`` placeholders (no other formatting is interpreted)."""
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)


@dataclass(frozen=True)
class TaskText:
    """What the prompt says about the task beyond the data: name, description, holdout rules."""

    name: str
    description: str = ""
    validation: str = ""
    test: str = ""


def values(problem: Problem, task: TaskText, frontier: Sequence[Evaluation], failures: Sequence[Evaluation],
           rejections: Sequence[Rejection], n: int, max_params: int, focus: int) -> dict[str, str]:
    """Every placeholder's text for one prompt."""
    return {
        "task": task.name,
        "description": task.description or "(no description)",
        "inputs": _inputs(problem),
        "targets": _targets(problem),
        "groups": _groups(problem),
        "holdout": _holdout(problem, task),
        "max_params": str(max_params),
        "max_param_index": str(max_params - 1),
        "frontier": _frontier(problem, frontier),
        "failures": _failures(failures, rejections),
        "n": str(n),
        "focus": FOCUS[focus % len(FOCUS)],
        "example_input": problem.symbols[0],
    }


def _range(x: np.ndarray) -> str:
    if len(x) == 0:
        return "no rows"
    lo, hi = float(np.min(x)), float(np.max(x))
    k = len(np.unique(x))
    return f"{lo:.4g}" if lo == hi else f"{lo:.4g} .. {hi:.4g} ({k} distinct)"


def _one(rows: Rows) -> Rows:
    """The first target's rows only (inputs repeat for every target in long format)."""
    return Rows(X={k: v[: rows.n] for k, v in rows.X.items()}, y=rows.y[: rows.n], unit=rows.unit[: rows.n],
                n=rows.n, n_targets=1)


def _groups(problem: Problem) -> str:
    more = ", ..." if len(problem.groups) > 12 else ""
    return f"{len(problem.groups)} ({', '.join(problem.groups[:12])}{more})"


def _inputs(problem: Problem) -> str:
    fit, val = _one(problem.fit), _one(problem.val)
    lines = []
    for s in problem.symbols:
        scale = problem.scales.get(s, 1.0)
        unit = f"in units of {scale:.0e}" if scale != 1.0 else "unscaled"
        lines.append(f"- {s} ({unit}): fit rows {_range(fit.X[s])}; validation rows {_range(val.X[s])}")
    return "\n".join(lines)


def _targets(problem: Problem) -> str:
    parts = []
    for t, name in enumerate(problem.targets):
        y = problem.train.y[t * problem.train.n: (t + 1) * problem.train.n]
        parts.append(f"{name} (train values {_range(y)})")
    return "; ".join(parts)


def _holdout(problem: Problem, task: TaskText) -> str:
    val = f"the search scores laws on validation rows ({problem.val.n} of {problem.train.n} training runs"
    val += f", rule '{task.validation}')" if task.validation else ")"
    val += f", fitted on the other {problem.fit.n}"
    test = "; the final test split, never seen by the search, holds out runs at larger scale still"
    if task.test and task.test != "provided":
        test = f"; the final test split holds out runs by the rule '{task.test}', never seen by the search"
    return val + test + "."


def _frontier(problem: Problem, frontier: Sequence[Evaluation]) -> str:
    if not frontier:
        return "(empty so far)"
    shown = list(frontier)[-FRONTIER_SHOWN:]
    lines = []
    for r in shown:
        lines.append(f"- complexity {r.complexity}, {r.n_params} params, val R² {r.val.r2:.4f} "
                     f"(fit R² {r.fit.r2:.4f}): {r.text}")
        resid = residuals(problem, r)
        if resid:
            lines.append(f"  validation residuals {resid}")
    return "\n".join(lines)


def residuals(problem: Problem, r: Evaluation, bins: int = 3) -> str:
    """Mean relative residual on validation rows, binned by each input that varies there."""
    val = problem.val
    if not r.ok or val.n == 0 or not r.params:
        return ""
    try:
        structure = analyse(parse(r.text, problem.symbols))
        table = [dict(zip(r.names, row, strict=True)) for row in r.params]
        params = np.array([[row[name] for name in structure.names] for row in table], dtype=float)
        pred = predict(structure, params.reshape(len(table), len(structure.names)), val.X, val.unit)
    except (ExprError, KeyError, ValueError, TypeError, IndexError):
        return ""
    with np.errstate(all="ignore"):
        rel = (pred - val.y) / np.where(val.y == 0, np.nan, np.abs(val.y))
    parts = []
    for s in problem.symbols:
        x = val.X[s]
        distinct = np.unique(x)
        if len(distinct) < 2:
            continue
        if len(distinct) <= bins:
            edges = [(v, v) for v in distinct]
        else:
            q = np.quantile(x, np.linspace(0, 1, bins + 1))
            edges = list(zip(q[:-1], q[1:], strict=True))
        cells = []
        for i, (lo, hi) in enumerate(edges):
            mask = (x >= lo) & ((x <= hi) if i == len(edges) - 1 or lo == hi else (x < hi))
            if mask.any():
                label = f"{lo:.3g}" if lo == hi else f"{lo:.3g}–{hi:.3g}"
                cells.append(f"{label}: {np.nanmean(rel[mask]) * 100:+.2f}%")
        parts.append(f"by {s}: " + ", ".join(cells))
        if len(parts) == 2:
            break
    if not parts:
        parts.append(f"overall: {np.nanmean(rel) * 100:+.2f}% (mean), {np.nanmax(np.abs(rel)) * 100:.2f}% (worst)")
    return "; ".join(parts)


def _failures(failures: Sequence[Evaluation], rejections: Sequence[Rejection]) -> str:
    lines = [f"- {r.text}: {r.reason}" for r in list(failures)[-FAILURES_SHOWN:]]
    lines += [f"- your earlier answer \"{x.text}\" was rejected: {x.reason}"
              for x in list(rejections)[-FAILURES_SHOWN:]]
    return "\n".join(lines) if lines else "(none)"
