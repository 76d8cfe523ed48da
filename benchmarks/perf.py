"""Speed and quality over time, side by side with gplearn: a script that prints figures.

For each task: candidates evaluated per second, median fit time per candidate, and the test
R² of the recommended law after 30 s, 120 s and 300 s of search.

The discover side reads the runs of a finished ``discover bench --budget 300`` folder rather
than searching again: a run with seed S evaluates the same candidates in the same order
whatever its budget (the budget only decides where it stops), so the archive after the
first 30 s of a 300 s run is the archive of a 30 s run (up to the timing of fits). At each
checkpoint the law is chosen from that archive as a run of that budget would choose it (the
validation folds of select.py, with the same time for it), then refitted on train and scored
on test; nothing flows back into any search. A checkpoint at or past the run's end reads the
run's own final.json. Figures are means over the folder's seeds.

On the single-group, single-target tasks, gplearn's SymbolicRegressor gets the same scaled
inputs and training rows. Its checkpoints are in CPU seconds of its own process, so other
work on the machine does not shorten its budget.

    discover bench --seeds 3 --budget 300 --out runs/bench300
    python benchmarks/perf.py runs/bench300 --data-dir ../shared/data/sldbench

gplearn is not a dependency of discover: ``pip install gplearn`` (or ``--no-gplearn``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat
from pathlib import Path

import numpy as np

from discover.archive import Archive
from discover.data import load_dataset
from discover.final import finalize, refit_config
from discover.problem import make_problem, rows
from discover.runner import search_config_from_dict, spec_from_dict
from discover.runstore import RunStore
from discover.score import score
from discover.select import choose


def record_times(store: RunStore, records: list) -> np.ndarray:
    """Search time at which each record was finished: its ``t`` when the run stored it,
    else its cumulative fit time stretched to the run's elapsed time."""
    t = np.array([getattr(r, "t", 0.0) for r in records], dtype=float)
    if len(t) and t[-1] > 0:
        return t
    elapsed = float((store.read_json("state.json", default={}) or {}).get("elapsed", 0.0))
    cum = np.cumsum([r.seconds for r in records])
    return cum * (elapsed / cum[-1]) if len(cum) and cum[-1] > 0 else cum


def discover_run(path: Path, checkpoints: list[float], data_dir: str | None) -> dict:
    store = RunStore.open(path)
    task = spec_from_dict(store.config["task"])
    config = search_config_from_dict(store.config["search"])
    ds = load_dataset(task, data_dir)
    problem = make_problem(ds, seed=config.seed)
    records = store.records()
    t = record_times(store, records)
    final = store.read_json("final.json", default={}) or {}
    reported = next((law["test"]["r2"] for law in final.get("laws", []) if law.get("recommended")), None)
    r2 = {}
    for cp in checkpoints:
        if reported is not None and len(t) and cp >= t[-1]:
            r2[cp] = reported  # the whole run: its own reported law, no replay needed
            continue
        archive = Archive(r for r, ti in zip(records, t, strict=True) if ti <= cp)
        rec, _ = choose(list(archive.by_key.values()), problem)
        final_law = finalize([rec], rec.id, problem, ds, refit_config(config.fit), config.refit_weight) if rec else []
        r2[cp] = final_law[0].test.r2 if final_law else -1.0
    elapsed = float(t[-1]) if len(t) else 0.0
    return {"task": task.name, "evaluated": len(records), "rate": len(records) / max(elapsed, 1e-9),
            "median_fit_s": statistics.median(r.seconds for r in records) if records else float("nan"),
            "r2": r2, "single": len(ds.groups) == 1 and len(task.targets) == 1, "ds": ds, "problem": problem}


def gplearn_curve(ds, problem, checkpoints: list[float], seed: int) -> dict:
    from gplearn.genetic import SymbolicRegressor

    X = np.column_stack([problem.train.X[s][: problem.train.n] for s in problem.symbols])
    y = problem.train.y[: problem.train.n]
    test = rows(ds.test, len(problem.groups), problem.scales)
    Xt = np.column_stack([test.X[s][: test.n] for s in problem.symbols])
    model = SymbolicRegressor(population_size=1000, generations=1, warm_start=True, random_state=seed,
                              function_set=("add", "sub", "mul", "div", "log", "sqrt", "neg", "inv"),
                              parsimony_coefficient=0.001, n_jobs=1)
    t0, r2, gens = time.process_time(), {}, 0
    for cp in checkpoints:
        while time.process_time() - t0 < cp:
            gens += 1
            model.set_params(generations=gens)
            model.fit(X, y)
        r2[cp] = score(test.Y, model.predict(Xt)).r2
    return {"generations": gens, "r2": r2, "program": str(model._program)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench", help="folder of a finished `discover bench` (its runs/ are read)")
    ap.add_argument("--data-dir")
    ap.add_argument("--checkpoints", default="30,120,300", help="seconds of search, comma-separated")
    ap.add_argument("--no-gplearn", action="store_true")
    ap.add_argument("--gplearn-seeds", type=int, default=1, help="gplearn runs per task (default 1)")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--jobs", type=int, default=1, help="processes for replays and gplearn (default 1)")
    args = ap.parse_args()
    checkpoints = [float(c) for c in args.checkpoints.split(",")]
    paths = [p for p in sorted(Path(args.bench, "runs").glob("*/seed*")) if (p / "candidates.jsonl").exists()]
    if not paths:
        raise SystemExit(f"no runs under {args.bench}/runs")
    by_task: dict[str, list[dict]] = {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for path, run in zip(paths, pool.map(discover_run, paths, repeat(checkpoints), repeat(args.data_dir)),
                             strict=True):
            by_task.setdefault(path.parent.name, []).append(run)
            print(f"replayed {path.parent.name}/{path.name}", file=sys.stderr, flush=True)
        # gplearn on the single-group, single-target tasks, in the same pool (CPU-time budgets)
        jobs = [] if args.no_gplearn else [(task, seed, r) for task, runs in by_task.items() if runs[0]["single"]
                                           for seed, r in enumerate(runs[: args.gplearn_seeds])]
        curves = pool.map(gplearn_curve, [r["ds"] for _, _, r in jobs], [r["problem"] for _, _, r in jobs],
                          repeat(checkpoints), [seed for _, seed, _ in jobs])
        gp: dict[str, list[dict]] = {}
        for (task, _, _), curve in zip(jobs, curves, strict=True):
            gp.setdefault(task, []).append(curve)
    cps = " | ".join(f"R² @{c:g}s" for c in checkpoints)
    print(f"| task | seeds | cand/s | median fit (s) | {cps} | gplearn {cps.replace('| R²', '| gplearn R²')} |")
    print("|" + "---|" * (4 + 2 * len(checkpoints)))
    out = []
    for task, runs in by_task.items():
        row = {"task": task, "seeds": len(runs), "rate": statistics.mean(r["rate"] for r in runs),
               "median_fit_s": statistics.mean(r["median_fit_s"] for r in runs),
               "r2": {c: statistics.mean(r["r2"][c] for r in runs) for c in checkpoints}, "gplearn": None}
        if task in gp:
            g = gp[task]
            row["gplearn"] = {c: statistics.mean(x["r2"][c] for x in g) for c in checkpoints}
            row["gplearn_programs"] = [x["program"] for x in g]
        cells = [task.replace("_scaling_law", ""), str(row["seeds"]), f"{row['rate']:.1f}",
                 f"{row['median_fit_s']:.3f}"]
        cells += [f"{row['r2'][c]:.4f}" for c in checkpoints]
        cells += [f"{row['gplearn'][c]:.4f}" for c in checkpoints] if row["gplearn"] else ["—"] * len(checkpoints)
        print("| " + " | ".join(cells) + " |", flush=True)
        out.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
