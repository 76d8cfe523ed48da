"""Human-derived laws: load them, score them as published, refit them with discover's fitter.

A human law lives next to its task spec, in ``benchmarks/<suite>/human/<task>.toml``::

    task = "parallel_scaling_law"
    citation = "Chen et al. 2025, ..."
    formula = "(A / (num_params*(k*log(parallel_size) + 1)))**alpha + E"
    params = ["A", "k", "alpha", "E"]          # the order of the published parameter vectors
    [where]                                     # optional named sub-expressions, in order
    lr0 = "F*non_embedding_param_size**gamma"
    # optional: refit = false + constants = [...]  (a law scored with fixed published constants)
    # optional: published_index = [[...], ...]     (multi-target: per target, positions in the
    #                                               published vector of `params`)

Text goes through :func:`discover.expr.parse` only; parameter names become ``p0..pk`` (in
``params`` order) by replacing symbols of the parsed expression, never by editing text.

Published parameters are in the data's raw units, so human laws are fitted and scored on raw
inputs (no input scaling). Scoring a human law reads the test split; the numbers are reported,
never used to choose anything.
"""

from __future__ import annotations

import json
import math
import re
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from discover.errors import ExprError, UserError
from discover.evaluate import score_rows
from discover.expr import FUNCTIONS, PARAM_RE, param, params_of, parse, to_text
from discover.fit import SAFETY_SECONDS, FitConfig, analyse, fit
from discover.problem import rows
from discover.score import FAILED, Scores

if TYPE_CHECKING:
    from discover.data import Dataset
    from discover.tasks import TaskSpec

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KEYS = {"task", "citation", "formula", "params", "where", "refit", "constants", "published_index"}

# The refit: more starts and evaluations than a search-time fit, warm-started from published
# values; bounded by its evaluations, not seconds (fit.SAFETY_SECONDS).
REFIT_CONFIG = FitConfig(starts=32, max_nfev=1000, time_limit=SAFETY_SECONDS, patience=8)


@dataclass(frozen=True)
class HumanLaw:
    """A published law in discover's expression language, parameters renamed ``p0..pk``."""

    task: str
    formula: str  # as written in the file, with named parameters
    params: tuple[str, ...]  # names of p0..pk
    expr: sp.Expr
    citation: str
    refit: bool = True  # False: score with the published constants only
    constants: tuple[float, ...] = ()
    published_index: tuple[tuple[int, ...], ...] = ()  # per target: positions in the published vector
    source: str = ""

    @property
    def text(self) -> str:
        """The law with parameters ``p0..pk`` (what the search would write)."""
        return to_text(self.expr)


@dataclass(frozen=True)
class Published:
    """A params file in SLDBench's ``human_law.json`` format."""

    by_group: dict[str, tuple[float, ...]]
    parameter_order: tuple[str, ...]
    r2: float | None  # the test R² the file states (clipped)
    source: str


@dataclass(frozen=True)
class LawScore:
    """A human law with one set of per-unit parameters, scored on train and test."""

    method: str  # "published", "constants" or "refit"
    ok: bool
    reason: str
    params: tuple[tuple[float, ...], ...]  # per unit (target_index * n_groups + group)
    train: Scores
    test: Scores
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"method": self.method, "ok": self.ok, "reason": self.reason, "params": [list(p) for p in self.params],
                "train": self.train.as_dict(), "test": self.test.as_dict(), "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class Baseline:
    """A task's human law scored as published (a) and refitted by discover (b)."""

    task: str
    law: HumanLaw
    published: LawScore | None  # None: no published parameters given
    refitted: LawScore | None  # None: the law is not refitted (refit = false)
    stated_r2: float | None  # the test R² the params file states
    params_source: str
    units: tuple[str, ...] = ()  # names of the fit units (group, or group / target)

    @property
    def differs(self) -> bool:
        """True when the refit's test R² differs from the published one at 4 decimals."""
        a, b = self.published, self.refitted
        return a is not None and b is not None and round(a.test.r2, 4) != round(b.test.r2, 4)

    @property
    def reproduces(self) -> bool | None:
        """Whether the published parameters give the R² their file states (4 decimals)."""
        if self.published is None or self.stated_r2 is None:
            return None
        return round(self.published.test.r2, 4) == round(self.stated_r2, 4)

    def to_json(self) -> dict:
        return {
            "task": self.task, "formula": self.law.formula, "params": list(self.law.params), "text": self.law.text,
            "citation": self.law.citation, "refit": self.law.refit, "params_source": self.params_source,
            "stated_r2": self.stated_r2, "published": self.published.to_json() if self.published else None,
            "refitted": self.refitted.to_json() if self.refitted else None, "differs": self.differs,
            "reproduces": self.reproduces, "units": list(self.units),
        }


# --- loading ---------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    return " ".join(text.split())


def law_expr(formula: str, params: list[str], symbols: list[str], where: dict[str, str] | None = None) -> sp.Expr:
    """Parse a law written with named parameters into an expression in ``p0..pk``.

    ``where`` names sub-expressions, substituted in order (each may use earlier ones)."""
    where = where or {}
    reserved = set(symbols)
    for name in [*params, *where]:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ExprError(f"not a valid name: {name!r}")
        if PARAM_RE.match(name) or name in FUNCTIONS:
            raise ExprError(f"reserved name: {name}")
        if name in reserved:
            raise ExprError(f"name used twice (or an input's name): {name}")
        reserved.add(name)
    allowed = [*symbols, *params]
    defs: dict[sp.Symbol, sp.Expr] = {}

    def build(text: str, what: str) -> sp.Expr:
        if not isinstance(text, str):
            raise ExprError(f"{what} must be text")
        e = parse(_normalise(text), allowed + [s.name for s in defs])
        if params_of(e):
            raise ExprError(f"{what}: write parameters by name, not as p0, p1...")
        return e.xreplace(defs)

    for name, text in where.items():
        defs[sp.Symbol(name)] = build(text, f"where.{name}")
    expr = build(formula, "formula")
    used = {s.name for s in expr.free_symbols}
    missing = [p for p in params if p not in used]
    if missing:
        raise ExprError(f"parameter(s) not in the formula: {', '.join(missing)}")
    if not used & set(symbols):
        raise ExprError("the formula does not depend on any input")
    return expr.xreplace({sp.Symbol(p): param(i) for i, p in enumerate(params)})


def human_law_path(task: TaskSpec) -> Path | None:
    """The human law file of a task: ``human/<task>.toml`` beside its spec, else under ``benchmarks/``."""
    from discover.tasks import benchmarks_dir

    if task.spec_path:
        beside = Path(task.spec_path).parent / "human" / f"{task.name}.toml"
        if beside.is_file():
            return beside
    found = sorted(benchmarks_dir().rglob(f"human/{task.name}.toml"))
    return found[0] if found else None


def load_human_law(task: TaskSpec, path: str | Path | None = None) -> HumanLaw:
    """Read and check a task's human law (from ``path``, else from ``benchmarks/``)."""
    p = Path(path) if path else human_law_path(task)
    if p is None or not p.is_file():
        raise UserError(f"no human law for task {task.name} (expected benchmarks/<suite>/human/{task.name}.toml)")
    try:
        d = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{p}: not valid TOML ({exc})") from None
    try:
        return _law_from_dict(d, task, str(p))
    except (ExprError, TypeError, ValueError) as exc:
        raise UserError(f"{p}: {exc}") from None


def _law_from_dict(d: dict, task: TaskSpec, source: str) -> HumanLaw:
    unknown = set(d) - KEYS
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    if d.get("task", task.name) != task.name:
        raise ValueError(f"written for task {d['task']}, not {task.name}")
    formula, params = d.get("formula"), d.get("params")
    if not isinstance(formula, str) or not isinstance(params, list) or not params:
        raise ValueError("needs `formula` (text) and `params` (a list of names)")
    where = d.get("where", {})
    if not isinstance(where, dict):
        raise ValueError("`where` must be a table of name = expression")
    expr = law_expr(formula, params, list(task.symbols), where)
    refit = d.get("refit", True)
    if not isinstance(refit, bool):
        raise ValueError("`refit` must be true or false")
    constants = tuple(float(v) for v in d.get("constants", ()))
    if constants and len(constants) != len(params):
        raise ValueError(f"{len(constants)} constants for {len(params)} params")
    if not refit and not constants:
        raise ValueError("`refit = false` needs the published `constants`")
    if not all(math.isfinite(v) for v in constants):
        raise ValueError("constants must be finite numbers")
    index = tuple(tuple(int(i) for i in row) for row in d.get("published_index", ()))
    if index:
        if len(index) != len(task.targets):
            raise ValueError(f"published_index has {len(index)} rows for {len(task.targets)} targets")
        if any(len(row) != len(params) or min(row) < 0 for row in index):
            raise ValueError(f"each published_index row lists {len(params)} positions (>= 0)")
    return HumanLaw(task=task.name, formula=_normalise(formula), params=tuple(params), expr=expr,
                    citation=str(d.get("citation", "")), refit=refit, constants=constants, published_index=index,
                    source=source)


def published_params_file(source: str) -> Path | None:
    """SLDBench's ``human_law.json`` in the task's data folder, when the data came from a folder with one."""
    p = Path(source) / "human_law.json" if source else None
    return p if p is not None and p.is_file() else None


def load_published(path: str | Path) -> Published:
    """Read a params file in SLDBench's ``human_law.json`` format."""
    p = Path(path)
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{p}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError, IsADirectoryError) as exc:
        raise UserError(f"{p}: not a JSON params file ({exc})") from None
    by_group = d.get("params_by_group") if isinstance(d, dict) else None
    if not isinstance(by_group, dict) or not by_group:
        raise UserError(f"{p}: no `params_by_group` (group -> list of numbers)")
    out: dict[str, tuple[float, ...]] = {}
    for g, vec in by_group.items():
        if not isinstance(vec, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vec):
            raise UserError(f"{p}: parameters of group {g} are not a list of numbers")
        out[str(g)] = tuple(float(v) for v in vec)
    r2 = d.get("published_test_r2")
    order = d.get("parameter_order", [])
    return Published(by_group=out, parameter_order=tuple(str(n) for n in order if isinstance(n, str)),
                     r2=float(r2) if isinstance(r2, (int, float)) else None, source=str(p))


def _plain(name: str) -> str:
    return re.sub(r"\W", "_", name.replace("*", "_star"))


def published_params(law: HumanLaw, published: Published, groups: list[str], n_targets: int) -> np.ndarray:
    """Per-unit parameters (units, k) from a params file; unit = target * n_groups + group."""
    k = len(law.params)
    order = published.parameter_order
    if not law.published_index and len(order) == k and [_plain(n) for n in order] != list(law.params):
        raise UserError(f"{published.source}: parameter order {list(order)} differs from the law's {list(law.params)}")
    G = len(groups)
    out = np.empty((n_targets * G, k))
    for g, name in enumerate(groups):
        vec = published.by_group.get(name)
        if vec is None:
            raise UserError(f"{published.source}: no parameters for group {name!r}")
        for t in range(n_targets):
            if law.published_index:
                if max(law.published_index[t]) >= len(vec):
                    raise UserError(f"{published.source}: group {name!r} has {len(vec)} values, too few")
                row = [vec[i] for i in law.published_index[t]]
            else:
                if len(vec) != k:
                    raise UserError(f"{published.source}: group {name!r} has {len(vec)} values, the law {k} params")
                row = list(vec)
            out[t * G + g] = row
    if not np.isfinite(out).all():
        raise UserError(f"{published.source}: parameters must be finite")
    return out


# --- scoring ---------------------------------------------------------------------------------


def score_params(law: HumanLaw, ds: Dataset, params: np.ndarray, method: str) -> LawScore:
    """Score fixed per-unit parameters on train and test (raw inputs)."""
    t0 = time.monotonic()
    G = len(ds.groups)
    structure = analyse(law.expr)
    train = score_rows(structure, params, rows(ds.train, G))
    test = score_rows(structure, params, rows(ds.test, G))
    return LawScore(method=method, ok=True, reason="", params=_tuples(params), train=train, test=test,
                    seconds=time.monotonic() - t0)


def refit(law: HumanLaw, ds: Dataset, init: np.ndarray | None = None, config: FitConfig = REFIT_CONFIG) -> LawScore:
    """Fit the law per unit on all of train with discover's fitter (warm start ``init``), score test."""
    t0 = time.monotonic()
    G = len(ds.groups)
    structure = analyse(law.expr)
    train_rows = rows(ds.train, G)
    n_units = G * len(ds.task.targets)
    result = fit(structure, train_rows.X, train_rows.y, train_rows.unit, n_units, config, init)
    if not result.ok:
        return LawScore(method="refit", ok=False, reason=result.reason, params=(), train=FAILED, test=FAILED,
                        seconds=time.monotonic() - t0)
    train = score_rows(structure, result.params, train_rows)
    test = score_rows(structure, result.params, rows(ds.test, G))
    return LawScore(method="refit", ok=True, reason="time limit reached" if result.timed_out else "",
                    params=_tuples(result.params), train=train, test=test, seconds=time.monotonic() - t0)


def run_baseline(task: TaskSpec, ds: Dataset, params_file: str | Path | None = None,
                 config: FitConfig = REFIT_CONFIG, law_path: str | Path | None = None) -> Baseline:
    """The human law of ``task``: as published (params file, else the law's constants) and refitted."""
    law = load_human_law(task, law_path)
    n_targets = len(task.targets)
    init, stated, source = None, None, ""
    if params_file is not None:
        pub = load_published(params_file)
        init = published_params(law, pub, list(ds.groups), n_targets)
        stated, source = pub.r2, pub.source
    elif law.constants:
        init = np.tile(np.array(law.constants), (len(ds.groups) * n_targets, 1))
        source = f"published constants in {law.source}"
    published = None
    if init is not None:
        published = score_params(law, ds, init, "published" if params_file is not None else "constants")
    refitted = refit(law, ds, init, config) if law.refit else None
    groups, targets = list(ds.groups), list(task.targets)
    units = tuple(g if n_targets == 1 else f"{g} / {t}" for t in targets for g in groups)
    return Baseline(task=task.name, law=law, published=published, refitted=refitted, stated_r2=stated,
                    params_source=source, units=units)


def _tuples(a: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in row) for row in np.asarray(a))


# --- terminal output -------------------------------------------------------------------------


def _r2(s: Scores) -> str:
    text = f"{s.r2:.4f}"
    if s.r2_raw < s.r2:
        text += f" ({s.r2_raw:.4g} unclipped)"
    return text


def print_baseline(b: Baseline, out) -> None:
    """The human law, its two scorings side by side, and what differs."""
    from rich.table import Table

    out.print(f"[bold]{b.task}[/bold] — human law: {b.law.formula}", highlight=False)
    if b.law.citation:
        out.print(f"  {b.law.citation}", highlight=False)
    table = Table(show_lines=False)
    for col in ("", "parameters", "train R²", "test R²", "test NMSE", "test NMAE"):
        table.add_column(col, overflow="fold")
    if b.published is not None:
        label = "published constants" if b.published.method == "constants" else "published"
        s = b.published
        table.add_row("(a)", f"{label} ({b.params_source})", _r2(s.train), _r2(s.test), f"{s.test.nmse:.4g}",
                      f"{s.test.nmae:.4g}")
    else:
        none = "published: none (no human_law.json beside the data; use --params FILE in that format)"
        table.add_row("(a)", none, "—", "—", "—", "—")
    if b.refitted is None:
        table.add_row("(b)", "not refitted: the law is scored with its published constants (refit = false)", "—",
                      "—", "—", "—")
    elif not b.refitted.ok:
        table.add_row("(b)", f"refit by discover's fitter failed: {b.refitted.reason}", "—", "—", "—", "—")
    else:
        s = b.refitted
        how = "warm start from (a) + multi-start" if b.published is not None else "multi-start"
        table.add_row("(b)", f"refitted on train by discover's fitter ({how})", _r2(s.train), _r2(s.test),
                      f"{s.test.nmse:.4g}", f"{s.test.nmae:.4g}")
    out.print(table)
    if b.reproduces is not None:
        verdict = "reproduces" if b.reproduces else "[red]does not reproduce[/red]"
        out.print(f"(a) {verdict} the test R² stated in the params file ({b.stated_r2:.4f}).", highlight=False)
    if b.differs:
        a, r = b.published.test, b.refitted.test
        better = "better" if r.r2 > a.r2 else "worse"
        out.print(f"[bold](b) differs from (a):[/bold] test R² {a.r2:.4f} → {r.r2:.4f} ({r.r2 - a.r2:+.4f}, "
                  f"{better}); train R² {b.published.train.r2:.4f} → {b.refitted.train.r2:.4f}.", highlight=False)
    elif b.published is not None and b.refitted is not None and b.refitted.ok:
        out.print("(b) gives the same test R² as (a) at 4 decimals.", highlight=False)
    if b.published is not None and b.refitted is not None and b.refitted.ok and len(b.published.params) <= 2:
        _print_params(b, out)


def _print_params(b: Baseline, out) -> None:
    from rich.table import Table

    table = Table(title="parameters per group", show_lines=False)
    table.add_column("parameter")
    units = len(b.published.params)
    for u in range(units):
        suffix = f" ({b.units[u]})" if units > 1 and u < len(b.units) else ""
        table.add_column(f"published{suffix}", justify="right")
        table.add_column(f"refitted{suffix}", justify="right")
    for j, name in enumerate(b.law.params):
        cells = []
        for u in range(units):
            cells += [f"{b.published.params[u][j]:.6g}", f"{b.refitted.params[u][j]:.6g}"]
        table.add_row(name, *cells)
    out.print(table)
