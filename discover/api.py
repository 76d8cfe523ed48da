"""The Python interface, for notebooks and scripts: search a table for a law, use a finished run.

    import discover
    run = discover.find_law(df, inputs=["N", "D"], target="loss", group="model",
                            holdout="largest 15% of N*D", budget=120)
    run.law                                   # the recommended law, in the data's units
    run.predict({"N": [7e9], "D": [1.4e12]})  # a DataFrame with predicted_loss, admitted range, beyond_train
    run.optimum("N", where={"D": "1e21/(6*N)"})  # the law's best split of a compute budget
    run.export("python")                      # the law as a numpy module (also "latex", "json")
    discover.open_run("runs/table/20261203-101500-seed0")

Each call does what the command line does (``discover run``, ``predict``, ``optimum``, ``export``), with
the same run folder, so a run started here can be shown, reported or resumed there. Errors
in what is given raise :class:`discover.errors.UserError` with the command line's message.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from discover.errors import UserError
from discover.final import FinalLaw
from discover.tasks import column_names

TABLE = "table.csv"  # a DataFrame's rows, kept in its run folder (the run's data, for show, report, resume)


@dataclass(frozen=True)
class Run:
    """A finished run, read from its folder."""

    path: Path
    task: str
    laws: tuple[FinalLaw, ...]  # the reported laws, refitted on all of train and scored on test
    symbols: tuple[str, ...]
    scales: Mapping[str, float]
    targets: tuple[str, ...]

    @property
    def recommended(self) -> FinalLaw | None:
        return next((w for w in self.laws if w.recommended), None)

    @property
    def law(self) -> str:
        """The recommended law in the data's own units (parameters p0, p1, ... per group)."""
        from discover.display import raw_units

        rec = self.recommended
        if rec is None:
            raise UserError(f"{self.path} recommends no law")
        return raw_units(rec.text, list(self.symbols), dict(self.scales))

    @property
    def test_r2(self) -> float | None:
        rec = self.recommended
        return None if rec is None else rec.test.r2

    def predict(self, points: pd.DataFrame | Mapping[str, Sequence | float], group: str | None = None,
                law_id: int | None = None, bootstrap: int | None = None, data_dir: str | Path | None = None
                ) -> pd.DataFrame:
        """The law's predictions at ``points`` (a DataFrame, or columns as a dict), as ``discover
        predict`` gives them: ``predicted_<target>``, the admitted range, ``beyond_train``; with
        ``bootstrap=N``, also the fit range from N resampled refits (``fit_low_<target>``,
        ``fit_high_<target>``; the run's data is read, from ``data_dir`` for a known task)."""
        from discover.predict import checked_points, load_admitted, load_law, predictions, with_groups

        law = load_law(self.path, law_id)
        frame = points if isinstance(points, pd.DataFrame) else _frame(points)
        frame = checked_points(frame, law, "points")
        table = predictions(law, with_groups(frame, law, group), load_admitted(self.path))
        if bootstrap is None:
            return table
        from discover.bootstrap import with_fit_range
        from discover.runner import recorded_run

        return with_fit_range(table, law, *recorded_run(self.path, data_dir), bootstrap)[0]

    def optimum(self, over: str | Sequence[str], at: Mapping[str, float | str] | None = None,
                where: Mapping[str, str] | None = None, ranges: Mapping[str, tuple[float, float]] | None = None,
                group: str | None = None, target: str | None = None, maximize: bool = False,
                law_id: int | None = None, bootstrap: int | None = None, data_dir: str | Path | None = None
                ) -> pd.DataFrame:
        """The inputs ``over`` at which the law is lowest (``maximize``: highest), the inputs ``at``
        held fixed and those in ``where`` given by formulas of the others (``{"D": "1e21/(6*N)"}``),
        searched per group in their training range unless ``ranges`` says otherwise, as ``discover
        optimum`` finds them: a row per group with every input, ``optimal_<target>``, ``on_edge``,
        ``beyond_train`` and the admitted laws' optima (``admitted_low_<name>``, ...); with
        ``bootstrap=N``, also the fit range of the optimum from N resampled refits
        (``fit_low_<name>``, ``fit_high_<name>``; the run's data is read, from ``data_dir`` for a known task)."""
        from discover.optimum import answer
        from discover.predict import input_column, load_admitted, load_law

        law = load_law(self.path, law_id)
        settings = {}
        for name, value in (at or {}).items():
            col = input_column(name, law, with_groups=True)
            if col is None:
                raise UserError(f"at: {name!r} is not an input of this law; inputs: {', '.join(law.inputs)}")
            settings[col] = str(value) if col in law.group_columns else value
        names = column_names(over) if isinstance(over, str) else list(over)
        cols, q, table = answer(law, names, settings, dict(where or {}), dict(ranges or {}), group, target, maximize,
                                load_admitted(self.path))
        if bootstrap is None:
            return table
        from discover.optimum import with_fit_range
        from discover.runner import recorded_run

        return with_fit_range(table, law, cols, q, *recorded_run(self.path, data_dir), bootstrap)[0]

    def export(self, to: str = "python", law_id: int | None = None) -> str:
        """The law as text: ``"python"`` (a numpy module), ``"latex"`` or ``"json"`` (see ``discover export``)."""
        from discover.export import exporters, load

        formats = exporters()
        if to not in formats:
            raise UserError(f"export to {to!r}: one of {', '.join(formats)}")
        return formats[to](load(self.path, law_id))

    def __repr__(self) -> str:
        rec = self.recommended
        scores = "" if rec is None else f", val R² {rec.val.r2:.4f}, test R² {rec.test.r2:.4f}"
        law = self.law if rec is not None else "no law"
        return f"Run({str(self.path)!r}: {', '.join(self.targets)} = {law}{scores})"


def open_run(path: str | Path) -> Run:
    """A finished run from its folder."""
    from discover.runstore import RunStore

    store = RunStore.open(path)
    final = store.final()
    if final is None:
        raise UserError(f"{store.path} has not finished (continue it with `discover run --resume {store.path}`)")
    cfg = store.config
    return Run(path=store.path, task=str(cfg["task"]["name"]), laws=tuple(FinalLaw.from_json(d) for d in final["laws"]),
               symbols=tuple(cfg["symbols"]), scales={k: float(v) for k, v in cfg["scales"].items()},
               targets=tuple(cfg["targets"]))


def find_law(table: pd.DataFrame | str | Path, inputs: str | Sequence[str], target: str | Sequence[str],
             group: str | Sequence[str] | None = None, holdout: str | None = None, *, validation: str | None = None,
             name: str | None = None, budget: float = 120.0, max_evals: int | None = None, seed: int = 0,
             max_params: int = 12, out: str | Path | None = None, drop_incomplete: bool = False,
             start: str | Path | Sequence[str | Path] = (), quiet: bool = False) -> Run:
    """Search ``table`` (a DataFrame, or a CSV/parquet file) for a law of ``target`` in ``inputs``,
    as ``discover run --csv`` does, and return the finished run.

    ``holdout`` is the rule for the test rows (default: the largest 15% of the first input);
    ``group`` names the column(s) whose groups get their own parameters. A DataFrame is written
    to the run folder (``table.csv``, without its index: ``reset_index()`` first to keep it as a
    column), which then holds everything the run needs.
    ``drop_incomplete`` leaves out rows with an empty, non-numeric or infinite value (noted).
    ``start``: laws of yours to start the search from (``--start``), in the data's units, or a
    finished run's folder (the laws it reported)."""
    from discover.data import check_repeated, load_dataset, run_notes
    from discover.own_law import check_start_laws, expand_start_laws
    from discover.runner import start_run
    from discover.search.loop import SearchConfig
    from discover.tasks import check_name, csv_task, symbols_for

    ins, tgs, grp = _names(inputs, "inputs"), _names(target, "target"), _names(group or [], "group")
    if budget <= 0 or (max_evals is not None and max_evals < 1) or seed < 0 or max_params < 1:
        raise UserError("budget must be positive; max_evals, max_params 1 or more; seed 0 or more")
    rule = holdout or f"largest 15% of `{ins[0]}`"
    starts = expand_start_laws((start,) if isinstance(start, str | Path) else tuple(start), symbols_for(tuple(ins)))
    check_start_laws(starts, symbols_for(tuple(ins)), max_params)
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-seed{seed}"
    if isinstance(table, pd.DataFrame):
        check_name(name or "table")
        check_repeated(table, [*ins, *tgs, *grp], "table")
        folder = Path(out) if out else Path("runs") / (name or "table") / stamp
        if (folder / "candidates.jsonl").exists():
            raise UserError(f"{folder} already holds a run: open it with discover.open_run, or give another out")
        made = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
        table.to_csv(folder / TABLE, index=False)
        try:
            task = csv_task(str(folder / TABLE), ins, tgs, grp, rule, validation, max_params=max_params,
                            name=name or "table", drop_incomplete=drop_incomplete)
            ds = load_dataset(task)
        except UserError:  # nothing was run: leave no half-made run folder behind
            (folder / TABLE).unlink()
            if made:
                folder.rmdir()
            raise
    else:
        task = csv_task(str(table), ins, tgs, grp, rule, validation, max_params=max_params, name=name,
                        drop_incomplete=drop_incomplete)
        folder = Path(out) if out else Path("runs") / task.name / stamp
        ds = load_dataset(task)
    say = (lambda text: None) if quiet else print
    for text in run_notes(ds):
        say(f"note: {text}")
    config = SearchConfig(budget=budget, max_evals=max_evals, seed=seed, max_params=max_params, start_laws=starts)
    progress = None if quiet else (lambda p: print(
        f"gen {p.generation:>3}  {p.evaluations:>5} candidates  {p.elapsed:6.1f}s  best val R² {p.best_val_r2:.4f}"))
    result = start_run(task, ds, folder, config, on_progress=progress, command="discover.find_law(...)", on_note=say)
    return open_run(result.path)


def _names(value: str | Sequence[str], what: str) -> list[str]:
    names = column_names(value)
    if not names and what != "group":
        raise UserError(f"{what}: give at least one column")
    return names


def _frame(points: Mapping[str, Sequence | float]) -> pd.DataFrame:
    columns = {k: np.atleast_1d(np.asarray(v)) for k, v in points.items()}
    if len({len(v) for v in columns.values()}) > 1:
        raise UserError("points: every column needs the same number of values")
    return pd.DataFrame(columns)
