"""Terminal output: a run's frontier and recommended law, predictions, a user's own law, and
where a table's rows go (``run --dry-run``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp
from rich.console import Console
from rich.table import Table

from discover.archive import Archive, recommend
from discover.data import DEVELOPMENT
from discover.expr import parse, to_text
from discover.final import FinalLaw, extreme_limit, extreme_parameters, unit_names
from discover.runstore import RunStore
from discover.select import describe as describe_selection

if TYPE_CHECKING:
    import pandas as pd

    from discover.bootstrap import Spread
    from discover.data import Dataset
    from discover.evaluate import Evaluation
    from discover.optimum import Question
    from discover.own_law import OwnLaw
    from discover.predict import RunLaw


def raw_expr(text: str, symbols: Sequence[str], scales: Mapping[str, float]) -> sp.Expr:
    """The law in the data's own units: each scaled input ``x`` becomes ``x/scale``."""
    subs = {sp.Symbol(s): sp.Symbol(s) / sp.Float(scales[s]) for s in symbols if scales.get(s, 1.0) != 1.0}
    return parse(text, list(symbols)).xreplace(subs)


def raw_units(text: str, symbols: Sequence[str], scales: Mapping[str, float]) -> str:
    """The law in the data's own units, as text (see raw_expr)."""
    return to_text(raw_expr(text, symbols, scales))


def scales_note(symbols: list[str], scales: dict[str, float]) -> str:
    parts = [f"{s} = {s}/{scales[s]:.0e}" for s in symbols if scales.get(s, 1.0) != 1.0]
    return "inputs in scaled units: " + ", ".join(parts) if parts else ""


def _r2(x: float | None) -> str:
    return "—" if x is None else f"{x:.4f}"


def print_run(path: str | Path, out: Console) -> None:
    store = RunStore.open(path)
    cfg = store.config
    symbols, scales = cfg["symbols"], cfg["scales"]
    final = store.final()  # None: the run has not finished
    laws = [FinalLaw.from_json(d) for d in (final or {}).get("laws", [])]
    summary = store.read_json("summary.json", default={})
    records = store.records()
    dev = cfg.get("split") == DEVELOPMENT
    test = "dev R²" if dev else "test R²"  # development split: train's validation slice as the test split
    title = f"{cfg['task']['name']} — {len(records)} candidates evaluated" + (" (development split)" if dev else "")
    table = Table(title=title, show_lines=False)
    for col in ("", "id", "complexity", "params", "val R²", test, "origin", "formula"):
        table.add_column(col, overflow="fold")
    if laws:
        for law in sorted(laws, key=lambda law: law.complexity):
            table.add_row("★" if law.recommended else "", str(law.id), str(law.complexity), str(law.n_params),
                          _r2(law.val.r2), _r2(law.test.r2), law.origin, law.text)
    else:
        front = Archive(records).frontier()
        rec = recommend(front)
        for r in front:
            table.add_row("★" if r is rec else "", str(r.id), str(r.complexity), str(r.n_params), _r2(r.val.r2), "—",
                          r.origin, r.text)
    out.print(table)
    note = scales_note(symbols, scales)
    if note:
        out.print(note, highlight=False)
    if not laws and final is not None:
        out.print(store.no_law_reason(), highlight=False)
        return
    if not laws:
        out.print("this run has not finished: test R² is computed at the end (continue with --resume)")
        return
    rec = next((law for law in laws if law.recommended), None)
    if rec is not None:
        how = describe_selection(final.get("selection"))
        out.print(f"[bold]recommended law[/bold] ({how}): {test} {_r2(rec.test.r2)}, "
                  f"NMSE {rec.test.nmse:.4g}, NMAE {rec.test.nmae:.4g}", highlight=False)
        out.print(f"  {cfg['targets'][0] if len(cfg['targets']) == 1 else 'each target'} = "
                  f"{raw_units(rec.text, symbols, scales)}", highlight=False)
        _print_params(rec, cfg, out)
        units = unit_names(cfg["groups"], cfg["targets"])
        if note := extreme_parameters("", rec.names, rec.params, units, extreme_limit(cfg.get("target_size", 1.0))):
            out.print(f"note: {note}", highlight=False)
    if summary:
        out.print(f"{summary.get('evaluations', len(records))} candidates ({summary.get('failed', 0)} rejected) in "
                  f"{summary.get('elapsed', 0):.0f}s; origins: {summary.get('origins', {})}", highlight=False)
    _print_start_laws(records, laws, out)
    if summary.get("llm"):
        from discover.llm.stats import describe

        for line in describe(summary["llm"], summary["llm"].get("frontier_laws")):
            out.print(line, highlight=False)
    out.print(f"run folder: {store.path}", highlight=False)
    if laws:
        out.print(f"predict new runs with it: discover predict {store.path} --at NAME=VALUE,... (or --csv FILE)",
                  highlight=False, soft_wrap=True)
        out.print(f"the inputs it says are best: discover optimum {store.path} --over NAME --at NAME=VALUE,...",
                  highlight=False, soft_wrap=True)
        out.print(f"use it elsewhere: discover export {store.path} -o law.py (or --to latex, --to json)",
                  highlight=False, soft_wrap=True)


def _print_start_laws(records: Sequence[Evaluation], laws: Sequence[FinalLaw], out: Console) -> None:
    """How the laws the search started from (``run --start``) fared, against the reported ones."""
    from discover.own_law import start_law_lines

    for line in start_law_lines(records, laws):
        out.print(line, highlight=False, soft_wrap=True)


def _print_params(law: FinalLaw, cfg: dict, out: Console, most: int = 12) -> None:
    """Fitted parameters of a law, one row per group (and target), the first ``most`` of them."""
    if law.params:
        _params_table("fitted parameters (scaled inputs)", law.names, law.params, cfg["groups"], cfg["targets"], out,
                      most, " in final.json")


def _params_table(title: str, names: Sequence[str], params: Sequence[Sequence[float]], groups: Sequence[str],
                  targets: Sequence[str], out: Console, most: int, where: str = "") -> None:
    """Parameters named ``names``, one row per fit unit (group, or group / target), the first ``most``."""
    table = Table(title=title, title_justify="left")
    table.add_column("group" if len(targets) == 1 else "group / target")
    for name in names:
        table.add_column(name, justify="right")
    for unit, row in zip(unit_names(groups, targets), params[:most], strict=False):
        table.add_row(unit, *(f"{v:.6g}" for v in row))
    out.print(table)
    if len(params) > most:
        out.print(f"... {len(params) - most} more rows{where}", highlight=False)


def _print_law_line(law: RunLaw, out: Console) -> None:
    """Which of a run's laws is used, in the data's units (predict, optimum)."""
    which = "recommended law" if law.recommended else f"law {law.id}"
    out.print(f"{which}: {', '.join(law.targets)} = {raw_units(law.text, list(law.symbols), law.scales)}",
              highlight=False, soft_wrap=True)


def print_predictions(law: RunLaw, table: pd.DataFrame, out: Console, admitted: list[RunLaw] | None = None,
                      spread: Spread | None = None, most: int = 50) -> None:
    """The law used, then the points with their predictions (a ``predict.predictions`` table,
    the first ``most`` rows), then what to mind: points past the training range, how many laws
    the admitted range spans, non-finite values."""
    from discover.bootstrap import FIT_HIGH, FIT_LOW
    from discover.predict import BEYOND, COUNT, HIGH, LOW, PREFIX, group_column

    _print_law_line(law, out)
    group = group_column(law)
    shown = list(law.inputs) + ([group] if len(law.groups) > 1 else [])
    admitted_spread = COUNT in table.columns
    fitted = spread is not None
    grid = Table()
    for col in shown:
        grid.add_column(col, justify="left" if col == group else "right")
    for t in law.targets:
        grid.add_column(PREFIX + t, justify="right")
        if fitted:
            grid.add_column(f"fit range of {t}", justify="right")
        if admitted_spread:
            grid.add_column(f"admitted range of {t}", justify="right")
    grid.add_column(BEYOND)
    for _, row in table.head(most).iterrows():
        cells = [str(row[c]) if c == group else _num(row[c]) for c in shown]
        for t in law.targets:
            cells.append(_num(row[PREFIX + t]))
            if fitted:
                cells.append(f"{_num(row[FIT_LOW + t])} – {_num(row[FIT_HIGH + t])}")
            if admitted_spread:
                cells.append(f"{_num(row[LOW + t])} – {_num(row[HIGH + t])} ({row[COUNT]})")
        grid.add_row(*cells, row[BEYOND])
    out.print(grid)
    if len(table) > most:
        out.print(f"... {len(table) - most} more points (write them all with -o FILE.csv)", highlight=False)
    if law.ranges is None:
        out.print("this run did not record its training ranges: points are not checked against them", highlight=False)
    elif far := int((table[BEYOND] != "").sum()):
        out.print(f"{far} of {len(table)} point(s) lie past the training runs' range: the law extrapolates there",
                  highlight=False)
    if fitted:
        out.print(f"fit range: the central {spread.level:.0%} of the law's predictions refitted on {spread.draws} "
                  f"resamples of the training rows ({spread.fits} refits succeeded): how much the particular runs in "
                  "the table move it, not whether its form is right.", highlight=False)
    if admitted_spread:
        out.print(f"admitted range: the lowest and highest prediction of the {len(admitted)} law(s) the run could "
                  "not tell apart from the best on validation (in brackets, how many are finite at the point); "
                  "where they disagree, validation did not decide. Not a confidence interval.", highlight=False)
    elif admitted is None:
        out.print("this run did not keep the laws its choice could not tell apart: no admitted range", highlight=False)
    bad = int(table[[PREFIX + t for t in law.targets]].isna().any(axis=1).sum())
    if bad:
        out.print(f"the law is not finite at {bad} point(s) (e.g. a power or log of a value it was not fitted on)",
                  highlight=False)


def print_optimum(law: RunLaw, table: pd.DataFrame, out: Console, over: Sequence[str], q: Question,
                  refits: tuple[int, int] | None = None) -> None:
    """The law used and the inputs held fixed, then per group the searched (``over``) and derived
    inputs at the law's optimum and the target there (an ``optimum.optimum_table`` for the
    question ``q``), each with the range of the admitted laws' optima (and, with ``refits``, i.e.
    (refits that succeeded, resamples), its fit range), then what to mind: optima on the edge of
    the search range, optima past the training range."""
    from discover.bootstrap import FIT_HIGH, FIT_LOW, LEVEL
    from discover.optimum import ADMITTED_COUNT, ADMITTED_EDGES, ADMITTED_HIGH, ADMITTED_LOW, EDGE_COLUMN, VALUE
    from discover.predict import BEYOND, group_column

    _print_law_line(law, out)
    target, value, group = q.target, VALUE + q.target, group_column(law)
    inputs = [c for c in table.columns if c in law.inputs]
    fixed = [c for c in inputs if c in q.fixed]
    if fixed:
        out.print("held fixed: " + ", ".join(f"{c}={_num(table[c].iloc[0])}" for c in fixed), highlight=False)
    admitted = ADMITTED_COUNT in table.columns
    grid = Table(title=f"{'maximum' if q.maximize else 'minimum'} of {target}, per group" if len(law.groups) > 1
                 else f"{'maximum' if q.maximize else 'minimum'} of {target}")
    shown = ([group] if len(law.groups) > 1 else []) + [c for c in inputs if c not in fixed] + [value]
    for col in shown:
        grid.add_column(col, justify="left" if col == group else "right")
        if FIT_LOW + col in table.columns:
            grid.add_column(f"fit range: {col}", justify="right")
        if admitted and ADMITTED_LOW + col in table.columns:
            grid.add_column(f"admitted: {col}", justify="right")
    if admitted:
        grid.add_column("admitted laws", justify="right")
    grid.add_column(EDGE_COLUMN)
    grid.add_column(BEYOND)
    for _, row in table.iterrows():
        cells = []
        for col in shown:
            cells.append(str(row[col]) if col == group else _num(row[col]))
            if FIT_LOW + col in table.columns:
                cells.append(f"{_num(row[FIT_LOW + col])} – {_num(row[FIT_HIGH + col])}")
            if admitted and ADMITTED_LOW + col in table.columns:
                cells.append(f"{_num(row[ADMITTED_LOW + col])} – {_num(row[ADMITTED_HIGH + col])}")
        if admitted:
            edged = f" ({row[ADMITTED_EDGES]} on an edge)" if row[ADMITTED_EDGES] else ""
            cells.append(f"{row[ADMITTED_COUNT]}{edged}")
        grid.add_row(*cells, row[EDGE_COLUMN], row[BEYOND])
    out.print(grid)
    if edged := int((table[EDGE_COLUMN] != "").sum()):
        out.print(f"{edged} optimum(s) on the edge of the search range: there the law keeps improving past it, so "
                  "it has no optimum inside; widen the range with --range NAME=LOW:HIGH (past the training range "
                  "the law extrapolates)", highlight=False)
    if law.ranges is None:
        out.print("this run did not record its training ranges: optima are not checked against them", highlight=False)
    elif far := int((table[BEYOND] != "").sum()):
        out.print(f"{far} optimum(s) lie past the training runs' range: the law extrapolates there", highlight=False)
    if refits is not None:
        out.print(f"fit range: the central {LEVEL:.0%} of the optima of the law refitted on {refits[1]} resamples of "
                  f"the training rows ({refits[0]} refits succeeded): how much the particular runs in the table move "
                  "the optimum, not whether the law's form is right.", highlight=False)
    if admitted:
        out.print("admitted: the lowest and highest optimum (and value there) of the laws the run could not tell "
                  "apart from the best on validation; where they disagree, the data do not pin the optimum down.",
                  highlight=False)
    if table[value].isna().any():
        out.print("the law is not finite anywhere in the search range of some group(s)", highlight=False)


def _num(x: float) -> str:
    return "not finite" if x != x else f"{x:.6g}"


def print_own_law(law: OwnLaw, task_name: str, split: str | None, out: Console, most: int = 12) -> None:
    """A user's law (own_law.fit_own_law): its scores as a run's table shows them, then its
    parameters per group (fitted on all of train), under the user's names."""
    test = "dev R²" if split == DEVELOPMENT else "test R²"
    problem, final, search = law.problem, law.final, law.search
    targets = ", ".join(problem.targets)
    out.print(f"[bold]{task_name}[/bold]: your law, in the data's units", highlight=False)
    out.print(f"  {targets} = {law.formula.strip()}", highlight=False, soft_wrap=True)
    if law.names:
        out.print(f"parameters: {', '.join(law.names)} (the names that are not inputs; inputs: "
                  f"{', '.join(problem.symbols)})", highlight=False)
    out.print(f"validation R² {_r2(search.val.r2)}, {test} {_r2(final.test.r2)} (NMSE {final.test.nmse:.4g}, "
              f"NMAE {final.test.nmae:.4g}), train R² {_r2(final.train.r2)}; complexity {law.complexity}",
              highlight=False)
    out.print("  scored as a run scores its laws: compare with the val and test columns of `discover show RUN`",
              highlight=False)
    if not search.ok:
        out.print(f"note: a search would reject it: {search.reason}", highlight=False)
    if final.reason:
        out.print(f"note: {final.reason}", highlight=False)
    if not final.params:
        out.print("it could not be fitted on the training rows", highlight=False)
        return
    _params_table("fitted parameters (on all of train)", law.names, final.params, problem.groups, problem.targets,
                  out, most)


def print_own_laws_side_by_side(laws: Sequence[OwnLaw], split: str | None, out: Console) -> None:
    """Several of the user's laws (``discover fit --law A --law B``), their scores side by side."""
    table = Table(title="your laws, side by side", show_lines=False)
    for col in ("law", "params", "complexity", "val R²", "dev R²" if split == DEVELOPMENT else "test R²",
                "formula"):
        table.add_column(col, overflow="fold")
    for i, law in enumerate(laws, 1):
        table.add_row(str(i), str(len(law.names)), str(law.complexity), _r2(law.search.val.r2),
                      _r2(law.final.test.r2), law.formula.strip())
    out.print(table)


def print_split(ds: Dataset, seed: int, out: Console, most: int = 20) -> None:
    """Where a run's rows go (``discover run --dry-run``): per group, the rows the search fits
    on, the validation slice it selects on, and the test rows scored once at the end; then each
    input's range in each, which shows how far the law is asked to extrapolate."""
    from discover.problem import make_problem

    problem = make_problem(ds, seed=seed)  # as the run would: its checks speak now
    in_val = problem.in_val
    G = len(ds.groups)
    train, test = np.bincount(ds.train.group, minlength=G), np.bincount(ds.test.group, minlength=G)
    val = np.bincount(ds.train.group[in_val], minlength=G)
    table = Table(title=f"{ds.task.name}: rows per group", title_justify="left")
    for col in ("group", "fit", "validation", "test"):
        table.add_column(col, justify="left" if col == "group" else "right")
    for g in range(min(G, most)):
        table.add_row(ds.groups[g], str(train[g] - val[g]), str(val[g]), str(test[g]))
    if G > most:
        table.add_row(f"... {G - most} more", "", "", "")
    if G > 1:
        table.add_row("all", str(int(train.sum() - val.sum())), str(int(val.sum())), str(int(test.sum())),
                      style="bold")
    out.print(table)
    ranges = Table(title="input ranges (raw units)", title_justify="left")
    for col in ("input", "fit", "validation", "test"):
        ranges.add_column(col)
    for col, s in zip(ds.task.inputs, ds.task.symbols, strict=True):
        x = ds.train.X[s]
        ranges.add_row(col, _span(x[~in_val]), _span(x[in_val]), _span(ds.test.X[s]))
    out.print(ranges)
    folds = len(problem.folds)
    out.print(f"selection folds carved from train below the validation slice: up to {folds}"
              + ("" if folds else " (the law to report is chosen on the validation slice alone)"), highlight=False)


def _span(x: np.ndarray) -> str:
    if not len(x):
        return "—"
    lo, hi = float(np.min(x)), float(np.max(x))
    return f"{lo:.4g}" if lo == hi else f"{lo:.4g} – {hi:.4g}"
