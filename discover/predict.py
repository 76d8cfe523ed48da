"""A finished run's law, put to use: predictions at new settings (the next, larger run).

The law is the run's recommended one, or another law it reported (``final.json``), with the
parameters fitted on all of its training rows, per group and target. Points are given as
``name=value`` lists or as a CSV with the input columns (and the group column, if the task
has groups). Every point is checked against the range of the training runs of its group,
recorded in the run's ``config.json``: a law is fitted inside that range, and how far past
it a point lies is the first thing to weigh when trusting its prediction. The second is how
much the laws the run could not tell apart on validation (``select.admitted``) disagree there:
the range of their predictions is given beside the law's own. It is not a confidence interval:
laws outside the admitted set may be right, and all admitted laws may be wrong alike.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from discover.data import GROUP_JOIN, Split, check_repeated, group_keys, read_delimited
from discover.errors import ExprError, UserError
from discover.expr import parse
from discover.final import FinalLaw, admitted_laws
from discover.fit import Structure, analyse, predict
from discover.runstore import RunStore
from discover.tasks import group_columns

PREFIX = "predicted_"  # output column of each target: predicted_<target>
BEYOND = "beyond_train"  # output column: how far past the training runs' range a point lies
LOW, HIGH = "admitted_low_", "admitted_high_"  # output columns: range of the admitted laws' predictions
COUNT = "admitted_laws"  # output column: how many admitted laws are finite at the point


@dataclass(frozen=True)
class RunLaw:
    """One reported law of a run, with what it takes to evaluate it on new points."""

    id: int
    text: str
    recommended: bool
    inputs: tuple[str, ...]  # input columns, as in the data
    symbols: tuple[str, ...]  # the names the law is written in, one per input
    targets: tuple[str, ...]
    groups: tuple[str, ...]
    group_columns: tuple[str, ...]  # the task's group columns (a group's name joins their values by ' / ')
    scales: dict[str, float]  # the law takes input / scale
    params: np.ndarray  # (targets x groups, parameters): unit t * len(groups) + g
    ranges: dict[str, dict[str, tuple[float, float]]] | None  # group -> input column -> training (min, max)


def train_ranges(train: Split, groups: Sequence[str], inputs: Sequence[str],
                 symbols: Sequence[str]) -> dict[str, dict[str, list[float]]]:
    """Per group, each input column's (min, max) over the training rows (for config.json)."""
    out = {}
    for g, name in enumerate(groups):
        at = train.group == g
        if at.any():
            out[name] = {col: [float(np.min(train.X[s][at])), float(np.max(train.X[s][at]))]
                         for col, s in zip(inputs, symbols, strict=True)}
    return out


def load_law(path: str | Path, law_id: int | None = None) -> RunLaw:
    """The run's recommended law (or the reported law ``law_id``), ready to predict."""
    cfg, final = _read_run(path)
    laws = [FinalLaw.from_json(d) for d in final["laws"]]
    if law_id is None:
        law = next((w for w in laws if w.recommended), None)
        if law is None:
            raise UserError(f"{path} recommends no law; pick one with --law (ids: {_ids(laws)})")
    else:
        law = next((w for w in laws if w.id == law_id), None)
        if law is None:
            raise UserError(f"{path} reported no law with id {law_id}; its laws: {_ids(laws)}")
    if not law.params:
        raise UserError(f"law {law.id} could not be fitted on the run's training rows; pick another with --law "
                        f"(ids: {_ids(laws)})")
    return _run_law(law, cfg)


def load_admitted(path: str | Path) -> list[RunLaw] | None:
    """The laws the run's choice could not tell apart from the best (select.admitted), each
    fitted on all of train; None for a run recorded before they were kept."""
    cfg, final = _read_run(path)
    if (final.get("selection") or {}).get("admitted") is None:
        return None
    return [_run_law(law, cfg) for law in admitted_laws(final) if law.params]


def laws_as_written(path: str | Path) -> tuple[tuple[str, ...], list[str]]:
    """A finished run's reported laws in the data's units, the recommended law first, and the
    names of the inputs they are written in."""
    from discover.display import raw_units

    cfg, final = _read_run(path)
    laws = sorted((FinalLaw.from_json(d) for d in final["laws"]), key=lambda w: not w.recommended)
    return tuple(cfg["symbols"]), [raw_units(w.text, cfg["symbols"], cfg["scales"]) for w in laws]


def _read_run(path: str | Path) -> tuple[dict, dict]:
    store = RunStore.open(path)
    final = store.final()
    if final is None:
        raise UserError(f"{store.path} has not finished: its laws are refitted on all of train at the end "
                        f"(continue it with `discover run --resume {store.path}`)")
    if not final.get("laws"):
        raise UserError(f"{store.path}: {store.no_law_reason()}")
    return store.config, final


def _run_law(law: FinalLaw, cfg: dict) -> RunLaw:
    task = cfg["task"]
    ranges = cfg.get("ranges")
    return RunLaw(
        id=law.id, text=law.text, recommended=law.recommended, inputs=tuple(cfg.get("inputs") or task["inputs"]),
        symbols=tuple(cfg["symbols"]), targets=tuple(cfg["targets"]), groups=tuple(cfg["groups"]),
        group_columns=group_columns(task.get("group")), scales={k: float(v) for k, v in cfg["scales"].items()},
        params=np.array(law.params, dtype=float),
        ranges=None if ranges is None else {g: {c: (float(lo), float(hi)) for c, (lo, hi) in r.items()}
                                            for g, r in ranges.items()},
    )


def _ids(laws: list[FinalLaw]) -> str:
    return ", ".join(f"{w.id}{' (recommended)' if w.recommended else ''}" for w in laws)


def parse_points(items: Sequence[str], law: RunLaw) -> pd.DataFrame:
    """Points written ``name=value,name=value`` (one string per point), every input given once,
    and optionally the point's group by its column(s) (``model=small``), in every point or none."""
    rows = []
    for item in items:
        row = parse_settings(item, law)
        missing = [c for c in law.inputs if c not in row]
        if missing:
            raise UserError(f"--at {item!r}: missing {', '.join(missing)} (a point needs every input)")
        rows.append(row)
    grouped = [c for c in law.group_columns if any(c in r for r in rows)]
    for item, row in zip(items, rows, strict=True):
        lacking = [c for c in grouped if c not in row]
        if lacking:
            raise UserError(f"--at {item!r}: no {', '.join(lacking)} (name the group in every point, or in none)")
    return pd.DataFrame(rows, columns=[*law.inputs, *grouped])


def parse_settings(item: str, law: RunLaw, flag: str = "--at") -> dict[str, float | str]:
    """``name=value,name=value`` as {column: value}: inputs (by column or by the law's name for
    them) as numbers, group columns as text; each name at most once."""
    row: dict[str, float | str] = {}
    for part in (p.strip() for p in item.split(",")):
        if not part:
            continue
        name, eq, value = (t.strip() for t in part.partition("="))
        if not eq:
            raise UserError(f"{flag} {item!r}: write each input as name=value, e.g. {law.inputs[0]}=1e9")
        col = input_column(name, law, with_groups=True)
        if col is None:
            raise UserError(f"{flag} {item!r}: {name!r} is not an input of this law; inputs: {', '.join(law.inputs)}"
                            + (f" (and group column(s) {', '.join(law.group_columns)})" if law.group_columns
                               else ""))
        if col in row:
            raise UserError(f"{flag} {item!r}: {col} is given twice")
        row[col] = value if col in law.group_columns else _number(value, f"{flag} {item!r}: {col}")
    return row


def setting_group(settings: dict[str, float | str], law: RunLaw, group: str | None) -> str | None:
    """The group that ``settings`` (parse_settings; its group columns are taken out) or ``group``
    (``--group``) names, checked; None when neither does."""
    named = {c: str(settings.pop(c)) for c in law.group_columns if c in settings}
    if named and group is not None:
        raise UserError("--at names the group already; drop --group, or the group from --at")
    if named and len(named) < len(law.group_columns):
        raise UserError(f"--at names the group by {', '.join(named)}; name it by all of "
                        f"{', '.join(law.group_columns)}, or with --group")
    if named:
        group = GROUP_JOIN.join(named[c] for c in law.group_columns)
    if group is not None:
        check_groups([group], law, "--at" if named else "--group")
    return group


def input_column(name: str, law: RunLaw, with_groups: bool = False) -> str | None:
    """The input column ``name`` stands for (a column, or the law's name for one), else a group
    column (with ``with_groups``), else None."""
    names = {**{s: c for s, c in zip(law.symbols, law.inputs, strict=True)}, **{c: c for c in law.inputs}}
    if with_groups:
        names.update({c: c for c in law.group_columns})
    return names.get(name)


def read_points(path: str | Path, law: RunLaw) -> pd.DataFrame:
    """Points from a CSV with the law's input columns (other columns are carried through)."""
    try:
        frame = read_delimited(path, path)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not a readable CSV ({str(exc).splitlines()[0] if str(exc) else exc})") from None
    return checked_points(frame, law, str(path), lambda i: f"line {i + 2}")


def checked_points(frame: pd.DataFrame, law: RunLaw, where: str,
                   place: Callable[[int], str] = lambda i: f"row {i}") -> pd.DataFrame:
    """``frame`` (a copy) with the law's input columns as floats, or UserError naming the first
    missing column or bad value (at ``place(position)``). Other columns are carried through."""
    check_repeated(frame, law.inputs, where)
    missing = [c for c in law.inputs if c not in frame.columns]
    if missing:
        raise UserError(f"{where}: no column {', '.join(repr(c) for c in missing)}; the law's inputs are "
                        f"{', '.join(law.inputs)}")
    if frame.empty:
        raise UserError(f"{where}: no rows")
    frame = frame.copy()
    for col in law.inputs:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = np.flatnonzero((values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))).to_numpy())
        if len(bad):
            cell = frame[col].iloc[bad[0]]
            shown = "empty" if pd.isna(cell) else repr(str(cell))
            raise UserError(f"{where}: column {col!r} has a value that is not a finite number on {place(int(bad[0]))} "
                            f"({shown})")
        frame[col] = values.astype(float)
    return frame


def _number(text: str, where: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise UserError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(v):
        raise UserError(f"{where}: {text!r} is not a finite number")
    return v


def group_column(law: RunLaw) -> str:
    """The column that names each point's group: the task's group column, or with several of
    them (or none) a column ``group`` (``group_name`` where ``group`` is taken)."""
    if len(law.group_columns) == 1:
        return law.group_columns[0]
    return "group_name" if "group" in (*law.inputs, *law.group_columns) else "group"


def with_groups(frame: pd.DataFrame, law: RunLaw, group: str | None = None) -> pd.DataFrame:
    """The points with a group each: ``group`` for all, else the group column(s) of the points
    (or, with several, the joined names in ``group_column(law)``), else every point once per
    group (a single-group law: that group)."""
    col = group_column(law)
    if group is not None:
        check_groups([group], law, "--group")
        return frame.assign(**{col: group})
    given = [c for c in law.group_columns if c in frame.columns]
    if given and len(given) < len(law.group_columns):
        lacking = [c for c in law.group_columns if c not in frame.columns]
        raise UserError(f"the points give group column(s) {', '.join(given)} but not {', '.join(lacking)}; "
                        f"the law's groups are named by {', '.join(law.group_columns)}")
    if given or (law.group_columns and col in frame.columns):
        frame = frame.assign(**{col: group_keys(frame, given) if given else frame[col].astype(str)})
        where = f"column {col!r}" if len(given) <= 1 else f"columns {', '.join(given)}"
        check_groups(frame[col].tolist(), law, where)
        return frame
    if len(law.groups) == 1:
        return frame.assign(**{col: law.groups[0]})
    parts = [frame.assign(**{col: g}) for g in law.groups]
    return pd.concat(parts, ignore_index=True)


def check_groups(values: Sequence[str], law: RunLaw, where: str) -> None:
    """UserError naming the first of ``values`` that is not one of the law's groups."""
    unknown = sorted(set(values) - set(law.groups))
    if unknown:
        shown = ", ".join(law.groups[:12]) + (" ..." if len(law.groups) > 12 else "")
        raise UserError(f"{where}: unknown group {unknown[0]!r}; the law was fitted for {shown}")


def predictions(law: RunLaw, frame: pd.DataFrame, admitted: Sequence[RunLaw] | None = None) -> pd.DataFrame:
    """``frame`` (with a group per point, see with_groups) and, per target, the law's prediction
    (``predicted_<target>``; NaN where the law is not finite), then, given the ``admitted``
    laws (load_admitted), the lowest and highest of their finite predictions
    (``admitted_low_<target>``, ``admitted_high_<target>``) and how many laws gave one
    (``admitted_laws``), then how far past the training range of its group each point lies
    (``beyond_train``; '' inside)."""
    col = group_column(law)
    g = np.array([law.groups.index(v) for v in frame[col]], dtype=np.int64)
    out = frame.copy()
    for target, y in zip(law.targets, _values(law, frame, g), strict=True):
        out[PREFIX + target] = y
    if admitted:
        each = np.array([_values(w, frame, g) for w in admitted])  # (laws, targets, points)
        low, high = finite_range(each)
        for t, target in enumerate(law.targets):
            out[LOW + target], out[HIGH + target] = low[t], high[t]
        out[COUNT] = np.isfinite(each).all(axis=1).sum(axis=0)
    out[BEYOND] = [beyond(law, str(v), row) for v, row in zip(frame[col], frame[list(law.inputs)].to_dict("records"),
                                                                strict=True)]
    return out


def finite_range(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest finite value over the first axis (one row per law), NaN where no
    law is finite: the admitted range, here and in the report's fit plot."""
    a = np.array(values, dtype=float)
    a[~np.isfinite(a)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no finite value at a point: NaN
        return np.nanmin(a, axis=0), np.nanmax(a, axis=0)


def law_structure(law: RunLaw) -> Structure:
    """A run's law ready to evaluate (``fit.predict``), parsed once however often it is asked for
    (per group, per resample, at every step of an optimiser); UserError if it cannot be read."""
    try:
        return _structure(law.text, law.symbols)
    except ExprError as exc:
        raise UserError(f"law {law.id} of this run cannot be read: {exc}") from None


@functools.lru_cache(maxsize=64)
def _structure(text: str, symbols: tuple[str, ...]) -> Structure:
    return analyse(parse(text, symbols))


def _values(law: RunLaw, frame: pd.DataFrame, g: np.ndarray) -> np.ndarray:
    """The law's predictions at the points (groups ``g``), per target: (targets, points), NaN where not finite."""
    structure = law_structure(law)
    X = {s: frame[c].to_numpy(dtype=float) / law.scales.get(s, 1.0) for s, c in zip(law.symbols, law.inputs,
                                                                                   strict=True)}
    out = []
    with np.errstate(all="ignore"):
        for t in range(len(law.targets)):
            y = predict(structure, law.params, X, t * len(law.groups) + g)
            out.append(np.where(np.isfinite(y), y, np.nan))
    return np.array(out)


def beyond(law: RunLaw, group: str, point: dict[str, float]) -> str:
    """How far past its group's training range a point lies, e.g. ``N 4.2x above train``
    ('' inside the range, '?' when the run did not record its ranges)."""
    if law.ranges is None:
        return "?"
    span = law.ranges.get(group, {})
    parts = []
    for col in law.inputs:
        if col not in span:
            continue
        lo, hi, v = *span[col], point[col]
        if v > hi:
            parts.append(f"{col} {_times(v, hi)} above train" if hi > 0 and v > 0 else f"{col} above train")
        elif v < lo:
            parts.append(f"{col} {_times(lo, v)} below train" if lo > 0 and v > 0 else f"{col} below train")
    return "; ".join(parts)


def _times(big: float, small: float) -> str:
    """The ratio to 3 significant digits, or as many more as it takes not to read "1x"."""
    ratio = big / small
    text = f"{ratio:.3g}"
    for digits in range(4, 10):
        if text != "1":
            break
        text = f"{ratio:.{digits}g}"
    return f"{text}x"
