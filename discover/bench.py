"""The batch benchmark: every task × seed searched in parallel processes, plus the human laws.

Layout of ``--out DIR``::

    DIR/runs/<task>/seed<S>/   one discovery run each (see runstore.py), plus bench.json
                               (wall time, or the error of a failed attempt)
    DIR/human/<task>.json      the task's human law, as published and refitted
    DIR/results.{csv,json,md}  the tables

A task × seed whose ``final.json`` exists is not redone; an interrupted one is resumed. Test
R² comes only from ``final.json`` (the search never sees the test split). The paper's rule
is applied to the recommended law of each run: R² clipped at −1, a failed run counting −1,
mean over seeds. With ``development`` every run and human law is on data.development_split
(train's validation slice as the test split): a batch for judging changes to discover
without reading the test split; the paper's rows are then left out, as they are on test.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import multiprocessing
import os
import threading
import time
import tomllib
import traceback
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import TYPE_CHECKING, Any

from discover import __version__
from discover.errors import UserError
from discover.runstore import write_json_atomic
from discover.score import R2_FLOOR, clip_r2, mean_over_runs

if TYPE_CHECKING:
    from discover.tasks import TaskSpec

REFERENCE_FILE = "reference.toml"
CSV_COLUMNS = (
    "task", "split", "runs", "runs_ok", "r2_mean", "r2_best", "nmse", "nmae", "complexity", "n_params", "wall_seconds",
    "candidates", "chosen_on", "formula", "human_published_r2", "human_refit_r2", "ref_human", "ref_sldagent_gpt5",
    "ref_sldagent_best",
)


@dataclass(frozen=True)
class BenchConfig:
    tasks: tuple[TaskSpec, ...]
    out: Path
    seeds: int = 5
    budget: float = 120.0
    first_seed: int = 0  # the runs are seeds first_seed .. first_seed + seeds - 1
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    data_dir: str | None = None
    human: bool = True  # also score the human laws
    development: bool = False  # score on data.development_split: the test split is not read
    skipped: tuple[str, ...] = ()  # tasks left out of this batch, with the reason (e.g. no data)

    @property
    def seed_ids(self) -> range:
        """The seeds of the runs, one run per task each."""
        return range(self.first_seed, self.first_seed + self.seeds)


@dataclass(frozen=True)
class RunRow:
    """One task × seed as the tables see it (read back from its run folder)."""

    seed: int
    status: str  # "ok", "failed" or "missing"
    r2: float | None  # test R² of the recommended law (unclipped); None when failed/missing
    nmse: float | None
    nmae: float | None
    formula: str  # in raw input units
    complexity: int | None
    n_params: int | None
    seconds: float | None
    candidates: int | None
    error: str = ""
    chosen_on: str = ""  # how the run chose its law: "N folds" or "one slice" (select.describe_short)

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class TaskRow:
    """One task's line of the results: discovered laws over seeds, human law, references."""

    task: str
    runs: tuple[RunRow, ...]
    r2_mean: float
    r2_best: float
    best: RunRow | None
    human_published_r2: float | None
    human_refit_r2: float | None
    human_note: str
    reference: dict[str, float | None]

    @property
    def runs_ok(self) -> int:
        return sum(r.status == "ok" for r in self.runs)

    @property
    def chosen_on(self) -> str:
        """How the finished runs chose their laws, e.g. "5 folds (4/5), one slice (1/5)"."""
        ok = [r for r in self.runs if r.status == "ok" and r.chosen_on]
        counts = Counter(r.chosen_on for r in ok)
        return ", ".join(f"{rule} ({n}/{len(ok)})" for rule, n in counts.most_common())

    def csv_row(self) -> dict[str, Any]:
        b = self.best
        return {
            "task": self.task, "runs": len(self.runs), "runs_ok": self.runs_ok, "r2_mean": self.r2_mean,
            "r2_best": self.r2_best, "nmse": b.nmse if b else None, "nmae": b.nmae if b else None,
            "complexity": b.complexity if b else None, "n_params": b.n_params if b else None,
            "wall_seconds": _avg([r.seconds for r in self.runs if r.seconds is not None]),
            "candidates": _avg([r.candidates for r in self.runs if r.candidates is not None]),
            "chosen_on": self.chosen_on, "formula": b.formula if b else "",
            "human_published_r2": self.human_published_r2, "human_refit_r2": self.human_refit_r2,
            "ref_human": self.reference.get("human"), "ref_sldagent_gpt5": self.reference.get("sldagent_gpt5"),
            "ref_sldagent_best": self.reference.get("sldagent_best"),
        }


def _avg(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


@dataclass(frozen=True)
class Event:
    """A message from a worker to the progress display."""

    key: str
    kind: str  # "start", "progress"
    elapsed: float = 0.0
    evaluations: int = 0
    best_val_r2: float = R2_FLOOR


# --- paths -------------------------------------------------------------------------------------


def run_dir(out: Path, task: str, seed: int) -> Path:
    return Path(out) / "runs" / task / f"seed{seed}"


def human_file(out: Path, task: str) -> Path:
    return Path(out) / "human" / f"{task}.json"


def is_done(path: Path) -> bool:
    return (path / "final.json").is_file()


def runs_outside(config: BenchConfig) -> list[str]:
    """Run folders of the bench folder that this batch does not cover (another task or seed,
    from an earlier batch into the same folder): its results files leave them out."""
    ours = {run_dir(config.out, t.name, s) for t in config.tasks for s in config.seed_ids}
    found = sorted((p.parent for p in Path(config.out).glob("runs/*/seed*/config.json")),
                   key=lambda p: (p.parent.name, _seed_of(p)))
    return [f"{p.parent.name} {p.name.replace('seed', 'seed ')}" for p in found if p not in ours]


def _seed_of(path: Path) -> int:
    tail = path.name.removeprefix("seed")
    return int(tail) if tail.isdigit() else -1


# --- reference results of the paper ------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    source: str
    tasks: tuple[str, ...]
    rows: tuple[dict, ...]  # key, name, r2 (per task), mean (optional), note (optional)

    def value(self, key: str, task: str) -> float | None:
        row = next((r for r in self.rows if r["key"] == key), None)
        if row is None or task not in self.tasks:
            return None
        return float(row["r2"][self.tasks.index(task)])


def load_reference(path: str | Path | None = None) -> Reference:
    """The paper's reference rows (``benchmarks/reference.toml``)."""
    if path is None:
        from discover.tasks import benchmarks_dir

        path = benchmarks_dir() / REFERENCE_FILE
    p = Path(path)
    try:
        d = tomllib.loads(p.read_text(encoding="utf-8"))
        tasks = tuple(d["tasks"])
        rows = tuple(dict(r) for r in d["rows"])
        for r in rows:
            if not isinstance(r.get("key"), str) or len(r.get("r2", ())) != len(tasks):
                raise ValueError(f"row {r.get('key')!r} needs a key and one R² per task")
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{p}: not a valid reference file ({exc})") from None
    return Reference(source=str(d.get("source", "")), tasks=tasks, rows=rows)


def bench_reference(config: BenchConfig) -> Reference:
    """The paper's rows beside a batch on the test split; none beside one on the development split."""
    reference = load_reference()
    return dataclasses.replace(reference, rows=()) if config.development else reference


# --- workers ----------------------------------------------------------------------------------

_queue: Any = None


def _init_worker(queue: Any, parent: int) -> None:
    global _queue
    _queue = queue
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int, every: float = 0.5) -> None:
    """End this worker once the bench process ``parent`` is gone. Ctrl-C reaches every process
    of the group; a ``kill`` of the bench reaches the bench alone, and its runs would go on
    writing into folders a restarted bench may be running again. The cut run is resumed then."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def _send(event: Event) -> None:
    if _queue is not None:
        try:
            _queue.put_nowait(event)
        except Exception:  # noqa: BLE001 - the display is best effort
            pass


def human_job(task: TaskSpec, out: Path, data_dir: str | None, development: bool = False) -> dict:
    """Score a task's human law (published, refitted) and write ``DIR/human/<task>.json``.
    On the development split, published parameters are not scored (they were fitted on its test rows)."""
    from discover.baselines import published_params_file, run_baseline
    from discover.data import development_split, load_dataset

    key = f"{task.name} human law"
    _send(Event(key, "start"))
    t0 = time.monotonic()
    try:
        ds = load_dataset(task, data_dir)
        params = published_params_file(ds.source)
        if development:
            ds, params = development_split(ds), None
        b = run_baseline(task, ds, params)
        result = {"ok": True, **b.to_json()}
    except Exception as exc:  # noqa: BLE001 - recorded, the batch goes on
        result = {"ok": False, "task": task.name, "error": _error_text(exc)}
    result["seconds"] = time.monotonic() - t0
    result["split"] = split_name(development)
    write_json_atomic(human_file(out, task.name), result)
    return result


def run_job(task: TaskSpec, seed: int, budget: float, out: Path, data_dir: str | None, command: str = "",
            development: bool = False) -> dict:
    """One task × seed: start (or resume) the run in its folder; errors go to ``bench.json``."""
    from discover.data import development_split, load_dataset
    from discover.runner import resume_run, start_run
    from discover.search.loop import SearchConfig

    key = f"{task.name} seed {seed}"
    path = run_dir(out, task.name, seed)
    _send(Event(key, "start"))

    def progress(p) -> None:
        _send(Event(key, "progress", p.elapsed, p.evaluations, p.best_val_r2))

    t0 = time.monotonic()
    try:
        if (path / "candidates.jsonl").is_file():
            result = resume_run(path, data_dir, budget=budget, on_progress=progress)
        else:
            ds = load_dataset(task, data_dir)
            extra: dict = {"bench": {"seed": seed, "budget": budget}}
            if development:
                ds = development_split(ds)
            config = SearchConfig(budget=budget, seed=seed, max_params=task.max_params)
            result = start_run(task, ds, path, config, on_progress=progress, command=command, extra=extra)
        info = {"ok": True, "seconds": time.monotonic() - t0, "evaluations": result.evaluations}
    except Exception as exc:  # noqa: BLE001 - a failed run counts −1, the batch goes on
        info = {"ok": False, "seconds": time.monotonic() - t0, "error": _error_text(exc)}
    write_json_atomic(path / "bench.json", info)
    return info


def split_name(development: bool) -> str:
    from discover.data import DEVELOPMENT, TEST

    return DEVELOPMENT if development else TEST


def _error_text(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" (at {Path(last[0].filename).name}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


# --- the batch --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    key: str
    fn: Callable[..., dict]
    args: tuple
    on_fail: Path  # where to record a crash of the worker process itself


def plan(config: BenchConfig, command: str = "") -> tuple[list[Job], list[str]]:
    """The jobs still to do, and the keys of those already done (resume)."""
    from discover.baselines import human_law_path

    jobs, done = [], []
    split = split_name(config.development)
    for task in config.tasks:
        if config.human and human_law_path(task) is not None:
            key = f"{task.name} human law"
            found = _read_json(human_file(config.out, task.name)) or {}
            if found.get("ok") and found.get("split", "test") == split:
                done.append(key)
            else:
                args_h = (task, config.out, config.data_dir, config.development)
                jobs.append(Job(key, human_job, args_h, human_file(config.out, task.name)))
        for seed in config.seed_ids:
            key = f"{task.name} seed {seed}"
            path = run_dir(config.out, task.name, seed)
            theirs = (_read_json(path / "config.json") or {}).get("split", "test")
            if (path / "config.json").is_file() and theirs != split:
                raise UserError(f"{path} is a run on the {theirs} split, this batch is on the {split} split: "
                                "use another --out")
            if is_done(path):
                done.append(key)
            else:
                args = (task, seed, config.budget, config.out, config.data_dir, command, config.development)
                jobs.append(Job(key, run_job, args, path / "bench.json"))
    return jobs, done


def run_bench(config: BenchConfig, display: Any = None, command: str = "",
              warn: Callable[[str], None] | None = None) -> list[TaskRow]:
    """Run what is not done yet (in ``config.jobs`` processes), then write the result files.
    A task whose data cannot be found is left out (``warn`` hears why); the rest go on.

    ``display`` (optional) gets ``start(total, done)``, ``event(Event)``, ``finished(key, ok)``
    and ``stop()`` calls."""
    if config.seeds < 1 or config.budget <= 0 or config.jobs < 1 or config.first_seed < 0:
        raise UserError("--seeds and --jobs must be at least 1, --budget positive and --first-seed at least 0")
    from discover.data import load_dataset

    reference = bench_reference(config)
    usable, skipped = [], list(config.skipped)
    for task in config.tasks:  # check (or fetch) every task's data once, before the workers need it
        try:
            load_dataset(task, config.data_dir)
            usable.append(task)
        except UserError as exc:
            skipped.append(f"{task.name}: {exc}")
            if warn is not None:
                warn(f"skipping {task.name}: {exc}")
    if not usable:
        raise UserError(f"no task of the batch has data ({len(skipped)} left out); the first: {skipped[0]}")
    config = dataclasses.replace(config, tasks=tuple(usable), skipped=tuple(skipped))
    config.out.mkdir(parents=True, exist_ok=True)
    jobs, done = plan(config, command)
    if display is not None:
        display.start(len(jobs) + len(done), len(done))
    try:
        if jobs:
            _execute(jobs, config.jobs, display)
    finally:
        if display is not None:
            display.stop()
    rows = collect(config, reference)
    write_results(config, rows, reference)
    return rows


def _execute(jobs: list[Job], n: int, display: Any) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    with ProcessPoolExecutor(max_workers=min(n, len(jobs)), mp_context=ctx, initializer=_init_worker,
                             initargs=(queue, os.getpid())) as pool:
        pending: dict[Future, Job] = {pool.submit(job.fn, *job.args): job for job in jobs}
        try:
            while pending:
                finished, _ = wait(list(pending), timeout=0.25, return_when=FIRST_COMPLETED)
                _drain(queue, display)
                for fut in finished:
                    job = pending.pop(fut)
                    ok = _outcome(fut, job)
                    if display is not None:
                        display.finished(job.key, ok)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        _drain(queue, display)


def _outcome(fut: Future, job: Job) -> bool:
    try:
        return bool(fut.result().get("ok"))
    except Exception as exc:  # noqa: BLE001 - the worker process itself died
        write_json_atomic(job.on_fail, {"ok": False, "error": f"worker process failed: {_error_text(exc)}"})
        return False


def _drain(queue: Any, display: Any) -> None:
    while True:
        try:
            event = queue.get_nowait()
        except (Empty, OSError, EOFError, ValueError):
            return
        if display is not None:
            display.event(event)


# --- reading results back ------------------------------------------------------------------------


def read_run(out: Path, task: str, seed: int) -> RunRow:
    """A task × seed from its folder: the recommended law's test scores from final.json."""
    from discover.display import raw_units
    from discover.final import FinalLaw
    from discover.select import describe_short

    path = run_dir(out, task, seed)
    info = _read_json(path / "bench.json") or {}
    seconds = info.get("seconds")
    if not is_done(path):
        status = "failed" if info.get("ok") is False else "missing"
        return RunRow(seed, status, None, None, None, "", None, None, seconds, None, info.get("error", ""))
    final = _read_json(path / "final.json") or {}
    cfg = _read_json(path / "config.json") or {}
    summary = _read_json(path / "summary.json") or {}
    candidates = summary.get("evaluations", info.get("evaluations"))
    if seconds is None:
        seconds = summary.get("elapsed")
    laws = [FinalLaw.from_json(d) for d in final.get("laws", [])]
    rec = next((law for law in laws if law.recommended), None)
    if rec is None:
        return RunRow(seed, "failed", None, None, None, "", None, None, seconds, candidates, "no recommended law")
    try:
        formula = raw_units(rec.text, cfg["symbols"], cfg["scales"])
    except Exception:  # noqa: BLE001 - fall back to the scaled form
        formula = rec.text
    # a law whose test predictions are not finite scores R² = −1 (Scores.r2_raw is −1 then)
    return RunRow(seed, "ok", rec.test.r2_raw, rec.test.nmse, rec.test.nmae, formula, rec.complexity, rec.n_params,
                  seconds, candidates, rec.reason, describe_short(final.get("selection")))


def collect(config: BenchConfig, reference: Reference) -> list[TaskRow]:
    """Per task: the paper's rule over seeds, the best run, the human law and the references."""
    out = []
    order = {name: i for i, name in enumerate(reference.tasks)}  # the paper's column order first
    for task in sorted(config.tasks, key=lambda t: (order.get(t.name, len(order)), t.name)):
        runs = tuple(read_run(config.out, task.name, s) for s in config.seed_ids)
        r2s = [r.r2 if r.status == "ok" else None for r in runs]
        ok = [r for r in runs if r.status == "ok"]
        best = max(ok, key=lambda r: r.r2) if ok else None
        pub, refit, note = _human(config, task.name)
        out.append(TaskRow(
            task=task.name, runs=runs, r2_mean=mean_over_runs(r2s, runs=config.seeds),
            r2_best=max((clip_r2(r) for r in r2s), default=R2_FLOOR), best=best, human_published_r2=pub,
            human_refit_r2=refit, human_note=note,
            reference={r["key"]: reference.value(r["key"], task.name) for r in reference.rows},
        ))
    return out


def _human(config: BenchConfig, task: str) -> tuple[float | None, float | None, str]:
    d = _read_json(human_file(config.out, task)) if config.human else None
    if not d:
        return None, None, ""
    if not d.get("ok"):
        return None, None, f"failed: {d.get('error', '')}"
    pub = d["published"]["test"]["r2"] if d.get("published") else None
    ref = d.get("refitted")
    refit = ref["test"]["r2"] if ref and ref.get("ok") else None
    if not d.get("refit"):
        return pub, pub, "published constants, not refitted"
    notes = []
    if pub is None:
        notes.append("no published parameters found")
    if ref and not ref.get("ok"):
        notes.append(f"refit failed: {ref.get('reason', '')}")
    elif d.get("differs") and pub is not None and refit is not None:
        notes.append(f"refit {'better' if refit > pub else 'worse'} by {refit - pub:+.4f}")
    return pub, refit, "; ".join(notes)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


# --- writing results ------------------------------------------------------------------------------

SYSTEMS = (  # rows of the overview: (label, how to get a task's value)
    ("discover, mean of seeds", lambda t: t.r2_mean),
    ("discover, best seed", lambda t: t.r2_best),
    ("human law, published parameters", lambda t: t.human_published_r2),
    ("human law, refitted by discover", lambda t: t.human_refit_r2),
)


def overview(rows: list[TaskRow], reference: Reference) -> list[tuple[str, list[float | None], float | None]]:
    """Rows of the at-a-glance table: label, one R² per task, mean over the tasks (None when incomplete)."""
    table = []
    for label, get in SYSTEMS:
        values = [get(t) for t in rows]
        table.append((label, values, _mean(values)))
    for r in reference.rows:
        values = [reference.value(r["key"], t.task) for t in rows]
        mean = None if "mean" not in r else _mean(values)
        table.append((f"{r['name']} (paper)", values, mean))
    return table


def _mean(values: list[float | None]) -> float | None:
    return sum(values) / len(values) if values and all(v is not None for v in values) else None


def write_results(config: BenchConfig, rows: list[TaskRow], reference: Reference) -> None:
    out = config.out
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    split = split_name(config.development)  # what r2_mean etc. were scored on: test or development
    for t in rows:
        writer.writerow({"split": split} | {k: ("" if v is None else v) for k, v in t.csv_row().items()})
    _write_text(out / "results.csv", buf.getvalue())
    data = {
        "version": __version__, "seeds": config.seeds, "first_seed": config.first_seed, "budget": config.budget,
        "jobs": config.jobs,
        "split": split_name(config.development),
        "tasks": [{**t.csv_row(), "human_note": t.human_note, "runs": [r.to_json() for r in t.runs]} for t in rows],
        "overview": [{"system": label, "r2": dict(zip([t.task for t in rows], values, strict=True)), "mean": mean}
                     for label, values, mean in overview(rows, reference)],
        "reference": {"source": reference.source, "tasks": list(reference.tasks), "rows": list(reference.rows)},
    }
    write_json_atomic(out / "results.json", data)
    _write_text(out / "results.md", markdown(config, rows, reference))


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _short(task: str) -> str:
    return task.removesuffix("_scaling_law")


def _f(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if digits == 0:
        return f"{x:.0f}"
    return f"{x:.{digits}f}".replace("-", "−")


def _g(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def _seed_span(config: BenchConfig) -> str:
    first, last = config.seed_ids[0], config.seed_ids[-1]
    return f"seed {first}" if first == last else f"seeds {first}–{last}"


def markdown(config: BenchConfig, rows: list[TaskRow], reference: Reference) -> str:
    """results.md: the overview next to the paper's rows, then per-task details."""
    n = config.seeds
    where = ("Development R²: on each task's validation slice of train, held out from the runs as their test "
             "split (SLDBench's test split is not read; the paper's rows and published human-law parameters "
             "do not apply), of the recommended law of each run"
             if config.development else "Test R² on SLDBench's test split of the recommended law of each run")
    lines = [
        "# discover bench" + (" (development split)" if config.development else ""),
        "",
        f"{len(rows)} task(s) × {n} seed(s) ({_seed_span(config)}), search budget {config.budget:g} s per run, "
        f"{config.jobs} parallel job(s); discover {__version__}.",
        f"{where} (chosen on validation carved from "
        f"train), clipped at −1; a failed run counts −1; mean over {n} seed(s) (the paper's rule).",
        "",
        f"## At a glance: {'development' if config.development else 'test'} R²",
        "",
        "| system | " + " | ".join(_short(t.task) for t in rows) + " | mean |",
        "|---|" + "---:|" * (len(rows) + 1),
    ]
    for label, values, mean in overview(rows, reference):
        bold = label.startswith("discover, mean")
        cells = [_f(v) for v in values] + [_f(mean)]
        if bold:
            label, cells = f"**{label}**", [f"**{c}**" for c in cells]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if reference.rows:
        lines += ["", f"Paper rows: {reference.source}. " + " ".join(f"{r['name']}: {r['note']}."
                                                                     for r in reference.rows if r.get("note"))]
    lines += [
        "",
        "## Per task",
        "",
        "| task | runs ok | mean R² | best R² | NMSE | NMAE | complexity | params | wall s/run | candidates/run "
        "| law chosen on | human published | human refit | best law (raw units) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for t in rows:
        c = t.csv_row()
        formula = f"`{c['formula']}`" if c["formula"] else "—"
        lines.append(
            f"| {t.task} | {t.runs_ok}/{len(t.runs)} | {_f(t.r2_mean, 4)} | {_f(t.r2_best, 4)} | {_g(c['nmse'])} | "
            f"{_g(c['nmae'])} | {_f(c['complexity'], 0)} | {_f(c['n_params'], 0)} | {_f(c['wall_seconds'], 0)} | "
            f"{_f(c['candidates'], 0)} | {c['chosen_on'] or '—'} | {_f(t.human_published_r2, 4)} | "
            f"{_f(t.human_refit_r2, 4)} | {formula} |")
    lines += ["", "NMSE, NMAE, law, complexity and parameter count are those of the best seed's recommended law; "
              "wall time and candidates are means per run. Law chosen on: how many runs chose their law by the "
              "fold rule (the simplest law within one standard error of the best on N validation folds carved "
              "from train) and how many by the one-slice rule, which applies where train's scales leave no "
              "fold (e.g. moe's development split): a change to the fold rule is not measured on those runs."]
    notes = [f"- {t.task}: {t.human_note}" for t in rows if t.human_note]
    if notes:
        lines += ["", "## Human laws", "", *notes]
    if config.skipped:
        lines += ["", "## Tasks left out of this batch", "", *(f"- {s}" for s in config.skipped),
                  "", "The means above are over the tasks that ran."]
    outside = runs_outside(config)
    if outside:
        lines += ["", "## Runs in this folder outside this batch", "",
                  f"{len(outside)} run(s) from another batch are in this folder and not in the tables above: "
                  + ", ".join(outside) + ". Name their tasks and seeds (--tasks, --seeds, --first-seed) to include "
                  "them; finished runs are not redone."]
    failures = [f"- {t.task} seed {r.seed}: {r.status}{': ' + r.error if r.error else ''}"
                for t in rows for r in t.runs if r.status != "ok"]
    if failures:
        lines += ["", "## Failed or missing runs (each counted −1)", "", *failures]
    return "\n".join(lines) + "\n"


def _overview_table(title: str, tasks: list[str], rows: list[tuple[str, list[float | None], float | None]]) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("system")
    for task in tasks:
        table.add_column(_short(task), justify="right")
    table.add_column("mean", justify="right")
    for label, values, mean in rows:
        style = "bold" if label.startswith("discover, mean") else None
        table.add_row(label, *[_f(v) for v in values], _f(mean), style=style)
    return table


def _title(config: BenchConfig) -> str:
    kind = "development" if config.development else "test"
    return f"{kind} R² — {config.seeds} seed(s) ({_seed_span(config)}), budget {config.budget:g} s"


def print_overview(config: BenchConfig, rows: list[TaskRow], out: Any) -> None:
    """The at-a-glance table in the terminal, and where the files are."""
    table = overview(rows, bench_reference(config))
    out.print(_overview_table(_title(config), [t.task for t in rows], table))
    failed = sum(r.status != "ok" for t in rows for r in t.runs)
    if failed:
        out.print(f"{failed} run(s) failed or missing (each counted −1): see results.md", highlight=False)
    outside = runs_outside(config)
    if outside:
        out.print(f"{len(outside)} run(s) in {config.out} are from another batch and left out of these results "
                  f"({', '.join(outside[:4])}{', ...' if len(outside) > 4 else ''}): see results.md", highlight=False)
    out.print(f"results: {config.out / 'results.md'}, results.csv, results.json", highlight=False)


def print_recorded(folder: str | Path, out: Any) -> None:
    """``discover show`` on a bench folder: the table its results.json recorded, and where to look next."""
    folder = Path(folder)
    data = _read_json(folder / "results.json")
    if not isinstance(data, dict) or not isinstance(data.get("overview"), list):
        raise UserError(f"{folder}: a bench folder without a readable results.json (an unfinished batch: run the "
                        "same `discover bench` command again to finish it)")
    try:
        tasks = [str(t["task"]) for t in data["tasks"]]
        rows = [(str(o["system"]), [o["r2"].get(t) for t in tasks], o.get("mean")) for o in data["overview"]]
        seeds, first, budget = int(data["seeds"]), int(data.get("first_seed", 0)), float(data["budget"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"{folder / 'results.json'}: not a results file of `discover bench` ({exc!r})") from None
    recorded = BenchConfig(tasks=(), out=folder, seeds=seeds, first_seed=first, budget=budget,
                           development=data.get("split") == split_name(True))  # the batch's settings, as recorded
    out.print(_overview_table(_title(recorded), tasks, rows))
    out.print(f"per task and seed: {folder / 'results.md'}; a run: discover show {folder / 'runs' / 'TASK' / 'seedS'}; "
              f"plots and laws: discover report {folder}", highlight=False, soft_wrap=True)


# --- progress display ---------------------------------------------------------------------------


class BenchDisplay:
    """One rich progress display for the whole batch: a bar over all jobs, a line per running job."""

    def __init__(self, console: Any, budget: float):
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.budget = budget
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed:>4.0f}/{task.total:<4.0f}"), TimeElapsedColumn(),
                                 TextColumn("{task.fields[info]}"), console=console, transient=False)
        self.rows: dict[str, Any] = {}
        self.total: Any = None

    def start(self, total: int, done: int) -> None:
        self.progress.start()
        info = f"{done} already done (resumed)" if done else ""
        self.total = self.progress.add_task("[bold]bench: jobs done", total=total, completed=done, info=info)

    def event(self, e: Event) -> None:
        row = self.rows.get(e.key)
        if row is None:
            total = 1 if e.key.endswith("human law") else self.budget
            row = self.rows[e.key] = self.progress.add_task(f"  {e.key}", total=total, info="")
        if e.kind == "progress":
            self.progress.update(row, completed=min(e.elapsed, self.budget),
                                 info=f"{e.evaluations} candidates, best val R² {e.best_val_r2:.4f}")

    def finished(self, key: str, ok: bool) -> None:
        row = self.rows.pop(key, None)
        if row is not None:
            self.progress.remove_task(row)
        self.progress.advance(self.total)
        if not ok:
            counts = "" if key.endswith("human law") else "; it counts −1"
            self.progress.console.print(f"[red]failed:[/red] {key} (recorded{counts})", highlight=False)

    def stop(self) -> None:
        self.progress.stop()
