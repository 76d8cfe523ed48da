"""A bench folder's report content: the table of every system against the human laws, per-task
seeds, and one run section per task (its best seed), gathered tolerantly from results.json and
the run folders."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from discover.data import DEVELOPMENT
from discover.errors import UserError
from discover.report.content import DEVELOPMENT_NOTE, RunReport, anchor, load_run

T = TypeVar("T")
DIGITS = 3  # bench table: R² shown and compared at this many decimals (ties are ties)


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


def drawn(runs: tuple[RunReport, ...], draw: Callable[[RunReport], T], progress: Callable[[str], None] | None,
          jobs: int | None = None) -> list[T]:
    """``draw`` (a module-level function: it is sent to other processes) of each of a bench's run
    sections, in order. Sections are drawn on up to ``jobs`` processes (default: one per core),
    each announced to ``progress`` (if any): as it starts on one process, as it is done on several."""
    n = len(runs)
    jobs = min(jobs or os.cpu_count() or 1, n)
    if jobs <= 1:
        out = []
        for i, run in enumerate(runs):
            if progress is not None:
                progress(f"drawing {run.meta.task} ({i + 1}/{n})")
            out.append(draw(run))
        return out
    # fork where it is safe (Linux: no re-import of the caller's __main__, which may be no file at all)
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {pool.submit(draw, run): run for run in runs}
        try:
            for k, fut in enumerate(as_completed(futures)):
                fut.result()  # a section that failed stops the report here
                if progress is not None:
                    progress(f"drawn {futures[fut].meta.task} ({k + 1}/{n})")
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        return [fut.result() for fut in futures]
