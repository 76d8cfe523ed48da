"""One discovery run, end to end: dataset -> problem -> search -> archive -> final laws.

Used by ``discover run`` and by the batch benchmark; everything it learns is written to the
run folder as it goes (see runstore.py), so a run can be resumed or inspected later.
"""

from __future__ import annotations

import dataclasses
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from discover import __version__
from discover.archive import Archive
from discover.data import Dataset, as_recorded, load_dataset
from discover.errors import UserError
from discover.final import FinalLaw, finalize, refit_config, target_size
from discover.fit import FitConfig
from discover.predict import train_ranges
from discover.problem import make_problem
from discover.runstore import RunStore
from discover.search.loop import Progress, Proposer, Search, SearchConfig
from discover.select import ADMITTED, admitted, choose, pool_size
from discover.tasks import TaskSpec

FRONTIER_REPORTED = 12  # most complex frontier laws refitted and scored at the end


@dataclass(frozen=True)
class RunResult:
    path: Path
    laws: list[FinalLaw]  # frontier laws, simplest first, refitted on train with test scores
    evaluations: int
    seconds: float

    @property
    def recommended(self) -> FinalLaw | None:
        return next((law for law in self.laws if law.recommended), None)


def spec_to_dict(task: TaskSpec) -> dict:
    d = {f.name: getattr(task, f.name) for f in dataclasses.fields(task)}
    return {k: (dict(v) if k == "sha256" else list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def spec_from_dict(d: dict) -> TaskSpec:
    names = {f.name for f in dataclasses.fields(TaskSpec)}
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names}
    return TaskSpec(**kw)


def search_config_to_dict(c: SearchConfig) -> dict:
    return dataclasses.asdict(c)


def search_config_from_dict(d: dict) -> SearchConfig:
    """A run's search settings from its config.json (``search``)."""
    d = dict(d)
    d["fit"] = FitConfig(**d.get("fit", {}))
    d["refit_weight"] = recorded_refit_weight(d)
    d["two_steps"] = recorded_two_steps(d)
    d["start_laws"] = tuple(d.get("start_laws", ()))
    return SearchConfig(**d)


def recorded_refit_weight(search: dict) -> int:
    """The final-refit weight a run's config.json (``search``) records. A run recorded before
    the refit had a weight was refitted with every row alike: 1 (on resume, in replays, in reports)."""
    return int(search.get("refit_weight", 1))


def recorded_two_steps(search: dict) -> bool:
    """Whether a run's config.json (``search``) scores laws two steps out (Problem.search_rows).
    A run recorded before that existed scored every law on the one slice: False (on resume, in
    replays, in reports), so a resumed run ranks old and new candidates alike."""
    return bool(search.get("two_steps", False))


def default_out(task: TaskSpec, seed: int, root: str | Path = "runs") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(root) / task.name / f"{stamp}-seed{seed}"


def start_run(task: TaskSpec, ds: Dataset, out: Path, config: SearchConfig, proposers: Sequence[Proposer] = (),
              on_progress: Callable[[Progress], None] | None = None, command: str = "",
              extra: dict | None = None, on_note: Callable[[str], None] | None = None) -> RunResult:
    """A new run in ``out``, on the split ``ds`` holds (recorded, so a resumed run and its report use it too)."""
    problem = make_problem(ds, seed=config.seed)
    store = RunStore.create(out, {
        "task": spec_to_dict(task), "search": search_config_to_dict(config), "scales": problem.scales,
        "symbols": list(problem.symbols), "inputs": list(task.inputs), "targets": list(problem.targets),
        "groups": list(problem.groups), "data": {"source": ds.source, "sha256": dict(ds.checksums)},
        "rows": {"fit": problem.fit.n, "validation": problem.val.n, "train": problem.train.n, "test": len(ds.test)},
        "version": __version__, "python": platform.python_version(), "command": command or " ".join(sys.argv),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "split": ds.split,
        "ranges": train_ranges(ds.train, ds.groups, task.inputs, task.symbols), "target_size": target_size(ds),
        **(extra or {}),
    })
    if on_note is not None:
        on_note(f"run folder: {out}")
    search = Search(problem, config, store, proposers, on_progress)
    return _finish(search, store, ds, on_note)


def resume_run(path: str | Path, data_dir: str | Path | None = None, budget: float | None = None,
               proposers: Sequence[Proposer] = (), on_progress: Callable[[Progress], None] | None = None,
               on_note: Callable[[str], None] | None = None, max_evals: int | None = None) -> RunResult:
    """Continue a stopped run from its folder, to its own ``budget`` and ``max_evals`` unless given
    (a finished run searches on when they are larger; else its law is chosen again)."""
    store = RunStore.open(path)
    cfg = store.config
    config = search_config_from_dict(cfg["search"])
    if budget is not None:
        config = dataclasses.replace(config, budget=budget)
    if max_evals is not None:
        config = dataclasses.replace(config, max_evals=max_evals)
    ds = recorded_dataset(cfg, data_dir, f"cannot resume {path}")
    problem = make_problem(ds, seed=config.seed)
    search = Search(problem, config, store, proposers, on_progress)
    search.restore(store.records(repair=True), store.read_json("state.json", default={}))
    if (config.budget, config.max_evals) != (cfg["search"].get("budget"), cfg["search"].get("max_evals")):
        # the run's limits are now these: a later resume, show and report read them here
        store.write_json("config.json", {**cfg, "search": {**cfg["search"], "budget": config.budget,
                                                            "max_evals": config.max_evals}})
    if on_note is not None:
        on_note(_resume_note(search))
    return _finish(search, store, ds, on_note)


def recorded_dataset(cfg: dict, data_dir: str | Path | None = None,
                     refused: str = "the law cannot be refitted on the rows it was fitted on") -> Dataset:
    """The rows a run (its config.json ``cfg``) was fitted on: its task's data on the split it
    recorded; UserError, ending in ``refused``, when the data found differ from the run's."""
    ds = load_dataset(spec_from_dict(cfg["task"]), data_dir)
    if dict(ds.checksums) != cfg["data"]["sha256"]:
        raise UserError(f"the data found ({ds.source}) differ from the run's (checksums changed): {refused}")
    return as_recorded(ds, cfg.get("split"))


def recorded_run(path: str | Path, data_dir: str | Path | None = None) -> tuple[dict, Dataset]:
    """A run folder's config.json and the rows it was fitted on (``recorded_dataset``), for
    refitting its law (``--bootstrap``)."""
    cfg = RunStore.open(path).config
    return cfg, recorded_dataset(cfg, data_dir)


def _resume_note(search: Search) -> str:
    """What a resumed run will do, from where it stands."""
    c, done, n = search.config, search.elapsed_before, len(search.archive)
    so_far = f"resuming: {n} candidates in {done:.0f}s"
    if done >= c.budget:
        return f"{so_far}: its budget of {c.budget:g}s is spent, nothing more to search (a larger --budget searches on)"
    if c.max_evals is not None and n >= c.max_evals:
        return (f"{so_far}: it has its {c.max_evals} candidates, nothing more to search (a larger --max-evals "
                "searches on)")
    return f"{so_far} so far; searching on to {c.budget:g}s" + (
        f" or {c.max_evals} candidates" if c.max_evals is not None else "")


def _finish(search: Search, store: RunStore, ds: Dataset, on_note: Callable[[str], None] | None = None) -> RunResult:
    t0 = time.monotonic()
    try:
        archive = search.run()
    finally:
        store.close()
    if on_note is not None:
        n = min(len(archive.frontier()), FRONTIER_REPORTED + 1)
        folds, pool = 1 + len(search.problem.folds), pool_size(list(archive.by_key.values()), search.problem)
        among = f"among {pool} laws on up to {folds} validation folds" if pool else "on the validation slice"
        on_note(f"search done: {len(archive)} candidates in {search.elapsed:.0f}s; choosing the law to report {among}, "
                f"then refitting {n} law(s) and the laws it cannot tell apart from the best (up to {ADMITTED}) "
                "on all training rows and scoring them on the test split...")
    laws, selection, near = final_laws(archive, search, ds)
    store.write_json("final.json", {"laws": [law.to_json() for law in laws], "selection": selection,
                                    "admitted": [law.to_json() for law in near]})
    store.write_json("summary.json", summary(archive, search, laws))
    seconds = search.elapsed + time.monotonic() - t0
    return RunResult(path=store.path, laws=laws, evaluations=len(archive), seconds=seconds)


def final_laws(archive: Archive, search: Search, ds: Dataset) -> tuple[list[FinalLaw], dict, list[FinalLaw]]:
    """The reported laws (the recommended one and the most complex frontier laws), refitted
    on train and scored on test; how the recommended one was chosen, with the ids of the laws
    the choice could not tell apart from the best (select.admitted, the recommended first);
    and those of them not reported, refitted alike (for the range of their predictions)."""
    front = archive.frontier()
    records = list(archive.by_key.values())
    rec, scores = choose(records, search.problem)
    chosen = front[-FRONTIER_REPORTED:]
    if rec is not None and rec not in chosen:
        chosen = [rec] + chosen
    near = [r for r in admitted(records, scores) if r.id != (rec.id if rec else None)]
    near = ([rec] if rec is not None else []) + near[:ADMITTED - 1]
    shown = {r.id for r in chosen}
    config = refit_config(search.config.fit)
    laws = finalize(chosen, rec.id if rec else None, search.problem, ds, config, search.config.refit_weight)
    extra = finalize([r for r in near if r.id not in shown], None, search.problem, ds, config,
                     search.config.refit_weight)
    used = len(next(iter(scores.values())).nmse) if scores else 1
    selection = {"folds": used, "rule": "folds" if scores else "one slice", "pool": pool_size(records, search.problem),
                 "fold_nmse": {str(i): list(f.nmse) for i, f in scores.items()},
                 "fold_nmse_se": {str(i): list(f.se) for i, f in scores.items()},
                 "admitted": [r.id for r in near]}
    return laws, selection, extra


def summary(archive: Archive, search: Search, laws: list[FinalLaw]) -> dict:
    from collections import Counter

    rec = next((law for law in laws if law.recommended), None)
    return {
        "evaluations": len(archive),
        "failed": sum(1 for r in archive.records if not r.ok),
        "generations": search.generation,
        "elapsed": search.elapsed,
        "frontier": [r.id for r in archive.frontier()],
        "origins": dict(Counter(r.origin.split(":")[0] for r in archive.records)),
        "frontier_origins": dict(Counter(r.origin.split(":")[0] for r in archive.frontier())),
        "recommended": rec.to_json() if rec else None,
        **proposer_stats(search, archive),
    }


def proposer_stats(search: Search, archive: Archive) -> dict:
    """Counters of proposers that keep them (``stats()``), e.g. the LLM's tokens, calls and rejections."""
    out = {}
    for p in search.proposers:
        if callable(getattr(p, "stats", None)):
            out[p.name] = {**p.stats(), "frontier_laws": sum(1 for r in archive.frontier() if r.origin == p.name)}
    return out
