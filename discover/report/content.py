"""Everything a run's report shows, gathered from its folder into plain dataclasses.

With ``bench_content`` (a bench folder), ``fit_view`` (the law against the data) and ``human``
(the human law) this is the single source the exporters render (``export_html``,
``export_markdown``): they format, they do not compute. Reading is tolerant: a missing ``final.json`` (a stopped run), a
missing human law or missing data each leave their part out with a note instead of failing.

When the task's data can be found (``--data-dir``, ``$DISCOVER_DATA``, the cache; never
downloaded here) its checksums are compared with the run's, and the recommended law is
evaluated on the train and test rows for the predicted-vs-observed plots. The human law is
placed on the frontier plot by the search's own protocol: fitted per unit on the fit rows,
scored on the validation rows.
"""

from __future__ import annotations

import inspect
import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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
from discover.own_law import start_law_lines
from discover.report.fit_view import FitData, fit_view
from discover.report.human import HumanView, human_law_view
from discover.runstore import RunStore
from discover.score import Scores
from discover.select import describe as describe_selection

DEVELOPMENT_NOTE = ("development split: what this report calls test is train's validation slice, held out from the "
                    "search (discover --dev); SLDBench's test split was not read")


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
    start_lines: tuple[str, ...] = ()  # how the laws the search started from fared (run --start), as text

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
        human=human_view, fit=fit_data, history=history(records, summary, final_laws if finished else ()),
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


def history(records: list[Evaluation], summary: dict, final_laws: Sequence[FinalLaw] = ()) -> History:
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
        llm_lines=llm_lines(llm), start_lines=tuple(start_law_lines(records, final_laws)),
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


def generated() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")
