"""Everything a report shows, gathered from a run or bench folder into plain dataclasses.

This is the single source the exporters render (``export_html``, ``export_markdown``): they
format, they do not compute. Reading is tolerant: a missing ``final.json`` (a stopped run), a
missing human law or missing data each leave their part out with a note instead of failing.

When the task's data can be found (``--data-dir``, ``$DISCOVER_DATA``, the cache; never
downloaded here) its checksums are compared with the run's, and the recommended law is
evaluated on the train and test rows for the predicted-vs-observed plots. The human law is
placed on the frontier plot by the search's own protocol: fitted per unit on the fit rows,
scored on the validation rows.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from discover.archive import Archive, recommend
from discover.data import DEVELOPMENT
from discover.errors import ExprError, UserError
from discover.evaluate import Evaluation
from discover.final import (
    FinalLaw,
    admitted_laws,
    extreme_limit,
    extreme_parameters,
    target_size,
    unit_names,
)
from discover.fit import SAFETY_SECONDS, FitConfig
from discover.runstore import RunStore
from discover.score import Scores
from discover.select import describe as describe_selection

# the human law on the search's fit rows, bounded by its evaluations (fit.SAFETY_SECONDS)
HUMAN_FIT = FitConfig(starts=16, max_nfev=600, time_limit=SAFETY_SECONDS, patience=4)
MAX_CURVES = 8  # more distinct settings of the other inputs than this in a group: no curves, markers only
CURVE_POINTS = 60
DEVELOPMENT_NOTE = ("development split: what this report calls test is train's validation slice, held out from the "
                    "search (discover --dev); SLDBench's test split was not read")
DIGITS = 3  # bench table: R² shown and compared at this many decimals (ties are ties)


@dataclass(frozen=True)
class LawView:
    """One reported law (a frontier law, or the recommended law when it lies off the frontier)."""

    id: int
    label: str  # L1, L2, ... frontier laws simplest first; "R" for a recommended law off the frontier
    text: str  # scaled inputs, parameters p0..pk
    raw_text: str  # in the data's own units
    latex: str
    complexity: int
    n_params: int
    origin: str
    names: tuple[str, ...]
    units: tuple[str, ...]  # fit unit names (group, or group / target)
    params: tuple[tuple[float, ...], ...]  # per unit
    train: Scores | None
    val: Scores
    test: Scores | None
    recommended: bool
    refitted: bool  # params refitted on all of train (final.json); else the search's fit-row fit
    reason: str = ""
    on_frontier: bool = True
    score: float = math.inf  # the search's score (Evaluation.val_nmse): where the frontier plot places it
    score_se: float = math.inf  # its standard error over rows (Evaluation.val_nmse_se)


@dataclass(frozen=True)
class FrontierPoint:
    """A candidate on the complexity / search-score plane (Evaluation.val_nmse)."""

    id: int
    complexity: int
    score: float
    origin: str
    on_frontier: bool


@dataclass(frozen=True)
class HumanView:
    """The task's human-derived law, placed on the same axes as the discovered laws."""

    formula: str  # as published, with named parameters
    params: tuple[str, ...]
    latex: str
    citation: str
    complexity: int
    n_params: int
    val: Scores | None  # fitted and scored on validation by the search's protocol (Problem.search_rows)
    test_published: Scores | None  # published parameters
    test_refit: Scores | None  # refitted on all of train by discover's fitter
    note: str = ""
    score: float | None = None  # the search's score by the same protocol (evaluate.search_score)


@dataclass(frozen=True)
class Curve:
    unit: int
    label: str  # the other inputs' values it is drawn at ("" for one-input laws)
    x: tuple[float, ...]
    y: tuple[float, ...]
    low: tuple[float, ...] = ()  # lowest and highest prediction of the admitted laws (see
    high: tuple[float, ...] = ()  # select.admitted) at each x; () when the run kept none


@dataclass(frozen=True, eq=False)
class FitData:
    """The recommended law against the data, per fit unit, over the main scaling variable."""

    law: str  # label of the law (L3)
    main: str  # the input on the x axis
    why: str  # how it was chosen
    log_x: bool
    units: tuple[str, ...]
    x: np.ndarray  # raw units, long format (rows × targets)
    observed: np.ndarray
    predicted: np.ndarray
    unit: np.ndarray
    is_test: np.ndarray
    curves: tuple[Curve, ...]
    train_range: dict[int, tuple[float, float]]  # per unit: main variable's train min and max
    note: str = ""
    admitted: int = 0  # laws behind the admitted range (select.admitted); 0: none drawn
    low: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per row (like predicted): lowest and highest
    high: np.ndarray = field(default_factory=lambda: np.zeros(0))  # prediction of the admitted laws; empty if none

    @property
    def extrapolates(self) -> bool:
        """True when some test rows lie outside their unit's training range of the main variable."""
        return any(self._outside(u).any() for u in self.train_range)

    def _outside(self, u: int) -> np.ndarray:
        lo, hi = self.train_range[u]
        sel = (self.unit == u) & self.is_test
        return (self.x[sel] > hi) | (self.x[sel] < lo)


@dataclass(frozen=True, eq=False)
class History:
    """How the search went, from candidates.jsonl and summary.json."""

    ids: np.ndarray  # candidate ids in order of evaluation
    best_r2: np.ndarray  # best validation R² so far (NaN before the first success)
    seconds: np.ndarray  # cumulative fit time when each candidate was done
    improvements: tuple[tuple[int, float, str], ...]  # (id, val R², origin) where the best improved
    evaluations: int
    failed: int
    generations: int | None
    elapsed: float | None  # wall seconds of the search
    origins: dict[str, int]
    frontier_origins: dict[str, int]
    llm: dict[str, Any] = field(default_factory=dict)
    llm_lines: tuple[str, ...] = ()  # LLM calls, tokens, cost, accepted/rejected formulas, as text

    @property
    def rate(self) -> float | None:
        """Candidates per second of wall time."""
        return self.evaluations / self.elapsed if self.elapsed else None


@dataclass(frozen=True)
class Meta:
    """What was run, on which data, by what."""

    task: str
    description: str
    citation: str
    path: str
    data_source: str
    checksums: dict[str, str]  # recorded in config.json
    checksums_now: dict[str, str] | None  # of the data found for this report (None: not found)
    seed: int | None
    budget: float | None
    max_evals: int | None
    max_params: int | None
    refit_weight: int | None  # times the validation rows counted in the final refit (None: not recorded)
    version: str
    python: str
    command: str
    started: str
    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    groups: tuple[str, ...]
    rows: dict[str, int]
    validation: str
    test: str
    scales_note: str

    @property
    def checksum_status(self) -> str:
        if self.checksums_now is None:
            return "data not found: not checked"
        return "match" if self.checksums_now == self.checksums else "DIFFER from the run's"

    def items(self) -> list[tuple[str, str]]:
        """Rows of the metadata table."""
        rows = [
            ("task", self.task), ("description", self.description), ("citation", self.citation),
            ("run folder", self.path), ("command", self.command), ("started", self.started),
            ("seed", _text(self.seed)), ("budget", f"{self.budget:g} s" if self.budget is not None else "—"),
            ("max evaluations", _text(self.max_evals)), ("max parameters per unit", _text(self.max_params)),
            ("final refit", _refit_text(self.refit_weight)),
            ("inputs", ", ".join(self.inputs)), ("targets", ", ".join(self.targets)),
            ("groups", f"{len(self.groups)}: " + ", ".join(self.groups)),
            ("rows", ", ".join(f"{k} {v}" for k, v in self.rows.items())),
            ("validation rule", self.validation), ("test rule", self.test),
            ("input scales", self.scales_note or "none"), ("data source", self.data_source),
        ]
        rows += [(f"sha256 {name}", sha) for name, sha in self.checksums.items()]
        rows += [("data checksums", self.checksum_status), ("discover version", self.version),
                 ("python", self.python)]
        return [(k, v) for k, v in rows if v]


def _refit_text(weight: int | None) -> str:
    if weight is None:
        return ""
    if weight <= 1:
        return "every training row counted once"
    return f"validation rows counted {weight} times when the validation rule holds out the largest scales"


@dataclass(frozen=True, eq=False)
class RunReport:
    """One run folder, everything the report shows."""

    path: Path
    anchor: str
    meta: Meta
    symbols: tuple[str, ...]
    laws: tuple[LawView, ...]  # the reported frontier laws, simplest first
    others: tuple[LawView, ...]  # frontier laws not refitted at the end (beyond those reported)
    points: tuple[FrontierPoint, ...]  # every successful candidate
    rule: str  # how the recommended law is chosen
    human: HumanView | None
    fit: FitData | None
    history: History
    finished: bool
    notes: tuple[str, ...] = ()

    @property
    def recommended(self) -> LawView | None:
        return next((law for law in self.laws if law.recommended), None)

    @property
    def shown(self) -> tuple[LawView, ...]:
        """Every law with a card: the frontier plus a recommended law that lies off it."""
        return tuple(sorted(self.laws + self.others, key=lambda law: (law.complexity, law.val.nmse)))

    @property
    def frontier(self) -> tuple[LawView, ...]:
        return tuple(law for law in self.shown if law.on_frontier)


@dataclass(frozen=True)
class BenchCell:
    value: float | None
    css: str = ""  # "win" (best in its column), "beats" / "loses" (discover vs the human law)


@dataclass(frozen=True)
class BenchRow:
    system: str
    cells: tuple[BenchCell, ...]  # one per task
    mean: float | None
    discover: bool


@dataclass(frozen=True)
class BenchTask:
    task: str
    anchor: str
    runs: int
    runs_ok: int
    r2_mean: float | None
    r2_best: float | None
    best_seed: int | None
    formula: str
    human_published_r2: float | None
    human_refit_r2: float | None
    human_note: str
    seeds: tuple[tuple[int, str, float | None], ...]  # (seed, status, test R²)


@dataclass(frozen=True, eq=False)
class BenchReport:
    path: Path
    title: str
    tasks: tuple[BenchTask, ...]
    rows: tuple[BenchRow, ...]
    settings: str
    reference_source: str
    runs: tuple[RunReport, ...]  # one section per task (its best seed)
    notes: tuple[str, ...] = ()


# --- helpers -------------------------------------------------------------------------------------


def _text(v: Any) -> str:
    return "—" if v is None else str(v)


def recommend_rule() -> str:
    """How :func:`discover.archive.recommend` chooses, in its own words (its docstring, with the
    values of its keyword defaults filled in), so the report cannot drift from the code."""
    doc = " ".join((inspect.getdoc(recommend) or "").split())
    for name, p in inspect.signature(recommend).parameters.items():
        if p.default is not inspect.Parameter.empty and isinstance(p.default, (int, float)):
            doc = doc.replace(f"``{name}``", f"{p.default:g}")
    doc = doc.replace("``", "")
    doc = re.sub(r"^The law to report[,:]?\s*(by\s+)?", "", doc)
    return doc.rstrip(".") or "the simplest frontier law close to the best validation error"


def anchor(name: str) -> str:
    return "run-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")


def _scores(d: dict | None) -> Scores | None:
    """Scores from JSON, keeping the fields this version of Scores has (older files lack some)."""
    if not isinstance(d, dict):
        return None
    names = {f.name for f in fields(Scores)}
    try:
        return Scores(**{k: float(v) for k, v in d.items() if k in names})
    except (TypeError, ValueError):
        return None


# --- a run ---------------------------------------------------------------------------------------


def load_run(path: str | Path, data_dir: str | Path | None = None, human: bool = True,
             human_scores: dict | None = None) -> RunReport:
    """Gather a run folder. ``human_scores``: a bench's ``human/<task>.json`` (saves refitting)."""
    from discover.display import raw_units, scales_note
    from discover.report.math import to_latex
    from discover.runner import recorded_refit_weight

    store = RunStore.open(path)
    cfg = store.config
    notes: list[str] = []
    if cfg.get("split") == DEVELOPMENT:
        notes.append(DEVELOPMENT_NOTE)
    symbols = tuple(cfg["symbols"])
    scales = {k: float(v) for k, v in cfg.get("scales", {}).items()}
    groups, targets = tuple(cfg.get("groups", ())), tuple(cfg.get("targets", ()))
    units = unit_names(groups, targets)
    records = store.records()
    summary = store.read_json("summary.json", default={})
    final = store.final()
    ended, final = final is not None, final or {}  # ended False: the run has not finished
    finished = bool(final.get("laws"))
    by_id = {r.id: r for r in records}

    if summary.get("frontier") and all(i in by_id for i in summary["frontier"]):
        front = [by_id[i] for i in summary["frontier"]]
    else:
        front = Archive(records).frontier()
    front_ids = {r.id for r in front}

    def view(law: FinalLaw | Evaluation, recommended: bool, refitted: bool) -> LawView:
        try:
            raw, latex = raw_units(law.text, list(symbols), scales), to_latex(law.text, symbols)
        except ExprError as exc:
            raw, latex = law.text, ""
            notes.append(f"law {law.id} could not be re-read ({exc}): shown as text")
        final_law = law if isinstance(law, FinalLaw) else None
        searched = by_id.get(law.id)  # its candidate record: the search's score
        return LawView(
            id=law.id, label="", text=law.text, raw_text=raw, latex=latex, complexity=law.complexity,
            n_params=law.n_params, origin=law.origin, names=tuple(law.names), units=units, params=tuple(law.params),
            train=final_law.train if final_law else None, val=law.val, test=final_law.test if final_law else None,
            recommended=recommended, refitted=refitted, reason=law.reason, on_frontier=law.id in front_ids,
            score=searched.val_nmse if searched is not None else law.val.nmse,
            score_se=searched.val_nmse_se if searched is not None else law.val.nmse_se,
        )

    if finished:
        final_laws = [FinalLaw.from_json(d) for d in final["laws"]]
        chosen, now = next((law.id for law in final_laws if law.recommended), None), recommend(front)
        if "selection" not in final and now is not None and chosen is not None and now.id != chosen:
            notes.append(f"the run recommended candidate #{chosen}; today's rule would recommend #{now.id}: the "
                         "rule changed since the run (the report shows the run's choice and describes today's rule)")
        laws = [view(law, law.recommended, True) for law in final_laws]
        reported = {law.id for law in final_laws}
        others = [view(r, False, False) for r in front if r.id not in reported]
    else:
        rec = recommend(front)
        laws = [view(r, r is rec, False) for r in front]
        others = []
        if ended:  # finished without a valid law
            notes.append(store.no_law_reason())
        else:
            notes.append("this run has not finished (no final.json): laws are shown with their search-time fit, "
                         "without train/test scores; continue it with `discover run --resume`")
    ordered = sorted(laws + others, key=lambda law: (law.complexity, law.val.nmse, law.id))
    labels = {law.id: f"L{i + 1}" for i, law in enumerate(x for x in ordered if x.on_frontier)}
    labels.update({law.id: "R" for law in ordered if not law.on_frontier})
    laws = sorted((_relabel(law, labels[law.id]) for law in laws), key=lambda law: (law.complexity, law.id))
    others = sorted((_relabel(law, labels[law.id]) for law in others), key=lambda law: (law.complexity, law.id))

    points = tuple(FrontierPoint(r.id, r.complexity, r.val_nmse, r.origin, r.id in front_ids)
                   for r in records if r.ok and math.isfinite(r.val_nmse))
    search = cfg.get("search", {})
    task_d = cfg.get("task", {})
    checksums = dict(cfg.get("data", {}).get("sha256", {}))

    ds, task = None, None
    try:
        task, ds = _dataset(cfg, data_dir)
    except (UserError, OSError, ValueError, KeyError, TypeError) as exc:
        notes.append(f"the task's data could not be loaded ({exc}): no predicted-vs-observed or residual plots, "
                     "and the human law is not placed on the frontier plot; give --data-dir")
    checksums_now = dict(ds.checksums) if ds is not None else None
    if ds is not None and checksums_now != checksums:
        notes.append(f"the data found ({ds.source}) differ from the run's: sha256 {checksums_now} here, "
                     f"{checksums} in config.json; the plots below use the data found")

    rec_view = next((law for law in laws if law.recommended), None)
    if rec_view is not None:
        size = cfg.get("target_size", target_size(ds) if ds is not None else 1.0)  # older runs did not record it
        if note := extreme_parameters(rec_view.label, rec_view.names, rec_view.params, units, extreme_limit(size)):
            notes.append(note)
    fit_data = None
    if ds is not None and rec_view is not None and rec_view.params:
        try:
            fit_data = fit_view(rec_view, ds, symbols, scales, task_d.get("validation", ""),
                                admitted_laws(final))
        except (ExprError, ValueError, IndexError) as exc:
            notes.append(f"the recommended law could not be evaluated on the data ({exc})")
    human_view = None
    if human:
        human_view, note = human_law_view(cfg, task, ds, symbols, human_scores)
        if note:
            notes.append(note)

    meta = Meta(
        task=task_d.get("name", "?"), description=task_d.get("description", ""), citation=task_d.get("citation", ""),
        path=str(store.path), data_source=cfg.get("data", {}).get("source", ""), checksums=checksums,
        checksums_now=checksums_now, seed=search.get("seed"), budget=search.get("budget"),
        max_evals=search.get("max_evals"), max_params=search.get("max_params"),
        refit_weight=recorded_refit_weight(search) if search else None, version=cfg.get("version", ""),
        python=cfg.get("python", ""), command=cfg.get("command", ""), started=cfg.get("started", ""),
        inputs=tuple(cfg.get("inputs", symbols)), targets=targets, groups=groups, rows=dict(cfg.get("rows", {})),
        validation=task_d.get("validation", ""), test=task_d.get("test", ""),
        scales_note=scales_note(list(symbols), scales),
    )
    return RunReport(
        path=store.path, anchor=anchor(meta.task), meta=meta, symbols=symbols, laws=tuple(laws), others=tuple(others),
        points=points, rule=describe_selection(final["selection"]) if "selection" in final else recommend_rule(),
        human=human_view, fit=fit_data, history=history(records, summary),
        finished=finished, notes=tuple(notes),
    )


def _relabel(law: LawView, label: str) -> LawView:
    return replace(law, label=label)


def _dataset(cfg: dict, data_dir: str | Path | None):
    """The run's task and its data, found without downloading (also beside the recorded source)."""
    from discover.data import as_recorded, load_dataset
    from discover.runner import spec_from_dict

    task = spec_from_dict(cfg["task"])
    try:
        ds = load_dataset(task, data_dir, download=False)
    except UserError:
        source = Path(cfg.get("data", {}).get("source", ""))
        if not (data_dir is None and source.is_dir()):
            raise
        ds = load_dataset(task, source.parent, download=False)
    return task, as_recorded(ds, cfg.get("split"))


def history(records: list[Evaluation], summary: dict) -> History:
    ordered = sorted(records, key=lambda r: r.id)
    best, bests, improvements = -math.inf, [], []
    for r in ordered:
        if r.ok and r.val.r2_raw > best:
            best = r.val.r2_raw
            improvements.append((r.id, r.val.r2, r.origin))
        bests.append(best if math.isfinite(best) else math.nan)
    seconds = np.cumsum([max(r.seconds, 0.0) for r in ordered]) if ordered else np.zeros(0)
    origins = summary.get("origins") or dict(Counter(r.origin.split(":")[0] for r in ordered))
    front_origins = summary.get("frontier_origins")
    if front_origins is None:
        front_origins = dict(Counter(r.origin.split(":")[0] for r in Archive(ordered).frontier()))
    llm = summary.get("llm") if isinstance(summary.get("llm"), dict) else {}
    return History(
        ids=np.array([r.id for r in ordered], dtype=int), best_r2=np.clip(np.array(bests, dtype=float), -1, 1),
        seconds=np.asarray(seconds, dtype=float), improvements=tuple(improvements),
        evaluations=int(summary.get("evaluations", len(ordered))),
        failed=int(summary.get("failed", sum(not r.ok for r in ordered))), generations=summary.get("generations"),
        elapsed=summary.get("elapsed"), origins=dict(origins), frontier_origins=dict(front_origins), llm=dict(llm),
        llm_lines=llm_lines(llm),
    )


def llm_lines(stats: dict) -> tuple[str, ...]:
    """What the LLM cost and gave, in the words ``discover show`` uses (generic key: value as a fallback)."""
    if not stats:
        return ()
    try:
        from discover.llm.stats import describe

        return tuple(line.strip() for line in describe(stats, stats.get("frontier_laws")))
    except Exception:  # noqa: BLE001 - an older or newer stats layout: show it plainly
        return tuple(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(stats.items())
                     if isinstance(v, (str, int, float, bool)))


# --- the recommended law against the data ----------------------------------------------------------


def main_variable(symbols: tuple[str, ...], X: dict[str, np.ndarray], rule: str) -> tuple[str, str, bool]:
    """The x axis: the input the validation rule names (the widest-ranging one if it names several),
    else the input with the widest log range. Returns (symbol, why, log axis)."""
    named = [s for s in symbols if re.search(rf"(?<![A-Za-z0-9_]){re.escape(s)}(?![A-Za-z0-9_])", rule)]
    pool = named or list(symbols)

    def spread(s: str) -> tuple[int, float]:
        x = np.asarray(X[s], dtype=float)
        x = x[np.isfinite(x)]
        if len(x) and x.min() > 0:
            return 1, float(np.log10(x.max() / x.min()))
        return 0, float(x.max() - x.min()) if len(x) else 0.0

    main = max(pool, key=spread)
    positive, decades = spread(main)
    if len(named) == 1:
        why = f"the input the validation rule ({rule}) holds out by"
    elif named:
        why = f"of the inputs the validation rule ({rule}) names, the one with the widest range"
    else:
        why = "the input with the widest range (log10 max/min)"
    return main, why, bool(positive and decades >= math.log10(4))


def fit_view(law: LawView, ds: Any, symbols: tuple[str, ...], scales: dict[str, float], rule: str,
             admitted: tuple[FinalLaw, ...] = ()) -> FitData:
    """Predictions of ``law`` (its per-unit parameters) on every train and test row, and along
    its curves the range of the ``admitted`` laws' predictions (where there are two or more)."""
    from discover.expr import parse
    from discover.fit import analyse, predict
    from discover.problem import rows

    structure = analyse(parse(law.text, list(symbols)))
    params = np.array(law.params, dtype=float)
    G = len(ds.groups)
    train, test = rows(ds.train, G, scales), rows(ds.test, G, scales)
    raw = {s: np.concatenate([ds.train.X[s], ds.test.X[s]]) for s in symbols}
    main, why, log_x = main_variable(symbols, raw, rule)
    scale = scales.get(main, 1.0)
    parts = []
    for r, is_test in ((train, False), (test, True)):
        pred = predict(structure, params, r.X, r.unit) if r.n else np.zeros(0)
        parts.append((r.X[main] * scale, r.y, pred, r.unit, np.full(len(r.y), is_test)))
    x, obs, pred, unit, flag = (np.concatenate(a) for a in zip(*parts, strict=True))
    train_range = {}
    for u in np.unique(unit[~flag]):
        xs = x[(unit == u) & ~flag]
        train_range[int(u)] = (float(xs.min()), float(xs.max()))
    others = [s for s in symbols if s != main]
    band = [(analyse(parse(w.text, list(symbols))), np.array(w.params, dtype=float)) for w in admitted if w.params]
    band = band if len(band) > 1 else []
    curves = _curves(structure, params, train, test, main, others, scales, log_x, band)
    with np.errstate(all="ignore"):
        low, high = (np.array(v) for v in _band([_on_rows(st, p, (train, test)) for st, p in band]))
    note = ""
    if not curves and others:
        note = (f"Each group has more than {MAX_CURVES} settings of {', '.join(others)}: predictions are drawn as "
                "markers at the observed rows")
    return FitData(law=law.label, main=main, why=why, log_x=log_x, units=law.units, x=x, observed=obs, predicted=pred,
                   unit=unit, is_test=flag, curves=curves, train_range=train_range, note=note, admitted=len(band),
                   low=low, high=high)


def _on_rows(structure, params: np.ndarray, parts) -> np.ndarray:
    """The law's predictions on the rows of each of ``parts`` (Rows), one after the other."""
    from discover.fit import predict

    return np.concatenate([predict(structure, params, r.X, r.unit) if r.n else np.zeros(0) for r in parts])


def _curves(structure, params, train, test, main, others, scales, log_x, band=()) -> tuple[Curve, ...]:
    """Per unit and per setting of the other inputs: the law over the main variable's range, and
    the lowest and highest finite prediction of the ``band`` laws ((structure, params) pairs)."""
    from discover.fit import predict

    X = {s: np.concatenate([train.X[s], test.X[s]]) for s in train.X}
    unit = np.concatenate([train.unit, test.unit])
    out: list[Curve] = []
    for u in np.unique(unit):
        sel = unit == u
        combos = sorted({tuple(float(X[s][i]) for s in others) for i in np.flatnonzero(sel)})
        if len(combos) > MAX_CURVES:
            return ()
        xs = X[main][sel]
        lo, hi = float(xs.min()), float(xs.max())
        grid = np.geomspace(lo, hi, CURVE_POINTS) if log_x and lo > 0 else np.linspace(lo, hi, CURVE_POINTS)
        for combo in combos:
            env = {main: grid, **{s: np.full(CURVE_POINTS, v) for s, v in zip(others, combo, strict=True)}}
            at = np.full(CURVE_POINTS, u, dtype=np.int64)
            with np.errstate(all="ignore"):
                y = predict(structure, params, env, at)
                low, high = _band([predict(st, p, env, at) for st, p in band])
            label = ", ".join(f"{s}={v * scales.get(s, 1.0):.3g}" for s, v in zip(others, combo, strict=True))
            scale = scales.get(main, 1.0)
            out.append(Curve(int(u), label, tuple(float(v) for v in grid * scale), tuple(float(v) for v in y),
                             low, high))
    return tuple(out)


def _band(ys: list[np.ndarray]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """predict.finite_range of ``ys`` (NaN where no law is finite: not drawn) as tuples; () for no laws."""
    from discover.predict import finite_range

    if not ys:
        return (), ()
    low, high = finite_range(np.array(ys))
    return tuple(float(v) for v in low), tuple(float(v) for v in high)


# --- the human law ---------------------------------------------------------------------------------


def human_law_view(cfg: dict, task: Any, ds: Any, symbols: tuple[str, ...],
                   scores: dict | None = None) -> tuple[HumanView | None, str]:
    """The human law of the run's task, scored on validation (and test) when the data is here."""
    from discover.baselines import load_human_law
    from discover.expr import complexity
    from discover.runner import recorded_two_steps

    if task is None:
        try:
            from discover.runner import spec_from_dict

            task = spec_from_dict(cfg["task"])
        except (UserError, KeyError, TypeError, ValueError):
            return None, ""
    try:
        law = load_human_law(task)
    except UserError:
        return None, f"no human-derived law is known for task {task.name}: the frontier plot shows discovered laws only"
    test_pub = _scores(((scores or {}).get("published") or {}).get("test"))
    refit_d = (scores or {}).get("refitted") or {}
    test_refit = _scores(refit_d.get("test")) if refit_d.get("ok", True) else None
    val, score, note = None, None, ""
    if ds is not None:
        try:
            search = cfg.get("search", {})
            val, score, pub_scores, refit_scores = _score_human(law, task, ds, search.get("seed", 0),
                                                                search.get("max_params", task.max_params),
                                                                recorded_two_steps(search), need_test=scores is None)
            if scores is None:
                test_pub, test_refit = pub_scores, refit_scores
        except (UserError, ExprError, ValueError) as exc:
            note = f"the human law could not be scored here ({exc})"
    view = HumanView(
        formula=law.formula, params=law.params, latex=_named_latex(law, symbols), citation=law.citation,
        complexity=complexity(law.expr), n_params=len(law.params), val=val, test_published=test_pub,
        test_refit=test_refit, score=score,
        note="published constants, not refitted" if not law.refit else "",
    )
    return view, note


def _named_latex(law: Any, symbols: tuple[str, ...]) -> str:
    """The human law's LaTeX with its published parameter names (A, alpha, ...) instead of p0..pk."""
    import sympy as sp

    from discover.expr import param
    from discover.report.math import expr_latex

    names = {param(i): sp.Symbol(name) for i, name in enumerate(law.params)}
    return expr_latex(law.expr.xreplace(names), symbols)


def _score_human(law, task, ds, seed: int, max_params: int, two_steps: bool,
                 need_test: bool) -> tuple[Scores | None, float | None, Scores | None, Scores | None]:
    """Validation scores and the search's score by the search's protocol; test scores as
    published and refitted."""
    from discover.baselines import load_published, published_params, published_params_file, refit, score_params
    from discover.evaluate import score_rows, search_score
    from discover.fit import analyse, fit
    from discover.problem import make_problem

    G, T = len(ds.groups), len(task.targets)
    init = None
    params_file = published_params_file(ds.source)
    if params_file is not None:
        init = published_params(law, load_published(params_file), list(ds.groups), T)
    elif law.constants:
        init = np.tile(np.array(law.constants), (G * T, 1))
    structure = analyse(law.expr)
    problem = make_problem(ds, seed=seed)  # the search's own fit and validation rows, back in raw units

    def raw(r):
        return replace(r, X={s: v * problem.scales.get(s, 1.0) for s, v in r.X.items()})

    on, fold_rows = problem.search_rows(max_params, two_steps)  # published constants are scored there unfitted
    fit_rows, val_rows = raw(on), raw(problem.val)
    params = init
    if law.refit:
        result = fit(structure, fit_rows.X, fit_rows.y, fit_rows.unit, G * T, HUMAN_FIT, init)
        params = result.params if result.ok else None
    val = score_rows(structure, params, val_rows) if params is not None else None
    score = None
    if val is not None:
        fold = score_rows(structure, params, raw(fold_rows)).nmse if fold_rows is not None else None
        score = search_score(val.nmse, fold)
    if not need_test:
        return val, score, None, None
    pub = score_params(law, ds, init, "published").test if init is not None else None
    ref = None
    if law.refit and pub is None:  # with published parameters, their test score is what a reader compares
        r = refit(law, ds, init, HUMAN_FIT)
        ref = r.test if r.ok else None
    return val, score, pub, ref


# --- a bench ---------------------------------------------------------------------------------------


def is_bench(path: str | Path) -> bool:
    p = Path(path)
    return (p / "results.json").is_file() or ((p / "runs").is_dir() and not (p / "config.json").is_file())


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def load_bench(path: str | Path, data_dir: str | Path | None = None, human: bool = True,
               progress: Callable[[str], None] | None = None) -> BenchReport:
    """Gather a bench folder: ``results.json`` (tolerantly) and one run section per task
    (``progress`` hears of each task read)."""
    root = Path(path)
    results = _read(root / "results.json")
    notes: list[str] = []
    if not isinstance(results, dict):
        results = {}
        notes.append(f"{root / 'results.json'} is missing or unreadable: the table is rebuilt from the run folders")
    if results.get("split") == DEVELOPMENT:
        notes.append(DEVELOPMENT_NOTE)
    task_rows = [t for t in results.get("tasks", []) if isinstance(t, dict) and t.get("task")]
    if not task_rows:
        task_rows = [{"task": p.name} for p in sorted((root / "runs").glob("*")) if p.is_dir()]
    tasks: list[BenchTask] = []
    runs: list[RunReport] = []
    for i, t in enumerate(task_rows):
        name = str(t["task"])
        if progress is not None:
            progress(f"reading {name} ({i + 1}/{len(task_rows)})")
        seeds = _seeds(root, name, t.get("runs"))
        ok = [(s, r2) for s, status, r2 in seeds if status == "ok" and r2 is not None]
        best_seed = max(ok, key=lambda sr: sr[1])[0] if ok else None
        tasks.append(BenchTask(
            task=name, anchor=anchor(name), runs=len(seeds), runs_ok=len(ok), r2_mean=_float(t.get("r2_mean")),
            r2_best=_float(t.get("r2_best")), best_seed=best_seed, formula=str(t.get("formula") or ""),
            human_published_r2=_float(t.get("human_published_r2")), human_refit_r2=_float(t.get("human_refit_r2")),
            human_note=str(t.get("human_note") or ""), seeds=tuple(seeds),
        ))
        folder = _run_folder(root, name, best_seed, seeds)
        if folder is None:
            notes.append(f"{name}: no run folder to show")
            continue
        try:
            runs.append(load_run(folder, data_dir, human=human, human_scores=_read(root / "human" / f"{name}.json")))
        except UserError as exc:
            notes.append(f"{name}: run folder {folder} could not be read ({exc})")
    rows = _bench_rows(results, tasks)
    settings = (f"{results.get('seeds', '?')} seed(s) per task, search budget {results.get('budget', '?')} s per run, "
                f"discover {results.get('version', '?')}")
    ref = results.get("reference") or {}
    return BenchReport(path=root, title=f"discover bench — {root.name}", tasks=tuple(tasks), rows=tuple(rows),
                       settings=settings, reference_source=str(ref.get("source", "")), runs=tuple(runs),
                       notes=tuple(notes))


def _seeds(root: Path, task: str, runs: Any) -> list[tuple[int, str, float | None]]:
    out = []
    if isinstance(runs, list):
        for r in runs:
            if isinstance(r, dict) and "seed" in r:
                out.append((int(r["seed"]), str(r.get("status", "?")), _float(r.get("r2"))))
        return out
    for folder in sorted((root / "runs" / task).glob("seed*")):
        m = re.fullmatch(r"seed(\d+)", folder.name)
        if not m:
            continue
        final = _read(folder / "final.json") or {}
        rec = next((d for d in final.get("laws", []) if d.get("recommended")), None)
        r2 = _float(((rec or {}).get("test") or {}).get("r2_raw"))
        out.append((int(m.group(1)), "ok" if rec else "missing", r2))
    return out


def _run_folder(root: Path, task: str, best: int | None, seeds: list) -> Path | None:
    candidates = ([best] if best is not None else []) + [s for s, _, _ in seeds]
    for s in candidates:
        p = root / "runs" / task / f"seed{s}"
        if (p / "config.json").is_file():
            return p
    found = sorted((root / "runs" / task).glob("*/config.json"))
    return found[0].parent if found else None


def _bench_rows(results: dict, tasks: list[BenchTask]) -> list[BenchRow]:
    names = [t.task for t in tasks]
    raw: list[tuple[str, list[float | None], float | None]] = []
    overview = results.get("overview")
    if isinstance(overview, list) and overview:
        for o in overview:
            r2 = o.get("r2") or {}
            raw.append((str(o.get("system", "?")), [_float(r2.get(n)) for n in names], _float(o.get("mean"))))
    else:
        raw = [("discover, mean of seeds", [t.r2_mean for t in tasks], None),
               ("discover, best seed", [t.r2_best for t in tasks], None),
               ("human law, published parameters", [t.human_published_r2 for t in tasks], None),
               ("human law, refitted by discover", [t.human_refit_r2 for t in tasks], None)]
        raw = [(s, v, _mean(v)) for s, v, _ in raw]
    raw = [(s, [None if v is None else round(v, DIGITS) for v in vs], m) for s, vs, m in raw]  # compare as shown
    human = next((v for s, v, _ in raw if s.startswith("human law, published")), None)
    human_refit = next((v for s, v, _ in raw if s.startswith("human law, refit")), None)
    best = [max((v[i] for _, v, _ in raw if v[i] is not None), default=None) for i in range(len(names))]
    out = []
    for system, values, mean in raw:
        is_discover = system.startswith("discover")
        cells = []
        for i, v in enumerate(values):
            css = ""
            ref = (human[i] if human and human[i] is not None else
                   human_refit[i] if human_refit else None)
            if is_discover and v is not None and ref is not None:
                css = "beats" if v >= ref else "loses"
            if v is not None and best[i] is not None and v == best[i]:
                css = (css + " win").strip()
            cells.append(BenchCell(v, css))
        out.append(BenchRow(system, tuple(cells), mean, is_discover))
    return out


def _mean(values: list[float | None]) -> float | None:
    return sum(values) / len(values) if values and all(v is not None for v in values) else None


def drawing(runs: tuple[RunReport, ...], progress: Callable[[str], None] | None) -> Iterator[RunReport]:
    """A bench's run sections in order, each announced to ``progress`` (if any) as its turn comes."""
    for i, run in enumerate(runs):
        if progress is not None:
            progress(f"drawing {run.meta.task} ({i + 1}/{len(runs)})")
        yield run


def generated() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")
