"""Speed and quality over time, side by side with gplearn: a script that prints figures.

For each task: candidates evaluated per second, median fit time per candidate, and the test
R² of the recommended law after 30 s, 120 s and 300 s of search (the laws are refitted and
test-scored at each checkpoint, as at the end of a run; nothing flows back into the search).
On the single-group tasks, gplearn's SymbolicRegressor gets the same inputs (scaled the same
way), the same training rows and the same wall-clock checkpoints.

    python benchmarks/perf.py --data-dir ../shared/data/sldbench [--tasks vocab,moe] [--checkpoints 30,120,300]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np

from discover.archive import recommend
from discover.data import load_dataset
from discover.final import finalize
from discover.fit import FitConfig
from discover.problem import make_problem, rows
from discover.score import score
from discover.search.loop import Search, SearchConfig
from discover.tasks import all_tasks, find_task


def discover_curve(task, ds, checkpoints: list[float], seed: int) -> dict:
    problem = make_problem(ds, seed=seed)
    search = Search(problem, SearchConfig(budget=checkpoints[0], seed=seed, max_params=task.max_params))
    r2 = {}
    for cp in checkpoints:
        search.config = dataclasses.replace(search.config, budget=cp)
        archive = search.run()
        rec = recommend(archive.frontier())
        law = finalize([rec], rec.id, problem, ds, FitConfig(starts=16, time_limit=30))[0] if rec else None
        r2[cp] = law.test.r2 if law else -1.0
    ok = [r.seconds for r in archive.records]
    return {"evaluated": len(archive), "rate": len(archive) / search.elapsed,
            "median_fit_s": statistics.median(ok) if ok else float("nan"), "r2": r2}


def gplearn_curve(ds, problem, checkpoints: list[float], seed: int) -> dict:
    from gplearn.genetic import SymbolicRegressor

    X = np.column_stack([problem.train.X[s][: problem.train.n] for s in problem.symbols])
    y = problem.train.y[: problem.train.n]
    test = rows(ds.test, len(problem.groups), problem.scales)
    Xt = np.column_stack([test.X[s][: test.n] for s in problem.symbols])
    model = SymbolicRegressor(population_size=1000, generations=1, warm_start=True, random_state=seed,
                              function_set=("add", "sub", "mul", "div", "log", "sqrt", "neg", "inv"),
                              parsimony_coefficient=0.001, n_jobs=1)
    t0, r2, gens = time.monotonic(), {}, 0
    for cp in checkpoints:
        while time.monotonic() - t0 < cp:
            gens += 1
            model.set_params(generations=gens)
            model.fit(X, y)
        r2[cp] = score(test.Y, model.predict(Xt)).r2
    return {"generations": gens, "r2": r2, "program": str(model._program)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir")
    ap.add_argument("--tasks", default="all")
    ap.add_argument("--checkpoints", default="30,120,300")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-gplearn", action="store_true")
    args = ap.parse_args()
    checkpoints = [float(c) for c in args.checkpoints.split(",")]
    tasks = all_tasks() if args.tasks == "all" else [find_task(t) for t in args.tasks.split(",")]
    head = "| task | cand/s | median fit (s) | " + " | ".join(f"R² @{c:g}s" for c in checkpoints)
    head += " | gplearn " + " | gplearn ".join(f"R² @{c:g}s" for c in checkpoints) + " |"
    print(head)
    print("|" + "---|" * (3 + 2 * len(checkpoints)))
    for task in tasks:
        ds = load_dataset(task, args.data_dir)
        d = discover_curve(task, ds, checkpoints, args.seed)
        cells = [task.name.replace("_scaling_law", ""), f"{d['rate']:.1f}", f"{d['median_fit_s']:.3f}"]
        cells += [f"{d['r2'][c]:.4f}" for c in checkpoints]
        if len(ds.groups) == 1 and len(task.targets) == 1 and not args.no_gplearn:
            g = gplearn_curve(ds, make_problem(ds, seed=args.seed), checkpoints, args.seed)
            cells += [f"{g['r2'][c]:.4f}" for c in checkpoints]
        else:
            cells += ["—"] * len(checkpoints)
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
