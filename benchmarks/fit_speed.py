"""Fitter speed on real laws: a script that prints figures.

Refits laws a finished run evaluated (every k-th valid candidate, so motifs and late GP
offspring both count) on the rows that run fitted on, with the run's fit settings, and
prints the time per fit, the residual evaluations, and a fingerprint of the fits (the sum
of log SSE over laws and fit units), so that a change to ``fit.py`` can be timed and checked
on the same laws before and after (same fingerprint: same fits; a small difference: the
same fits up to rounding, which multi-start fitting amplifies on a few laws).

    python benchmarks/fit_speed.py runs/bench/runs/vocab_scaling_law/seed0 --data-dir ../shared/data/sldbench
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from discover.data import as_recorded, load_dataset
from discover.errors import UserError
from discover.evaluate import fit_rows
from discover.expr import parse
from discover.problem import make_problem
from discover.runner import search_config_from_dict, spec_from_dict
from discover.runstore import RunStore


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run folders (each with config.json and candidates.jsonl)")
    ap.add_argument("--data-dir")
    ap.add_argument("--laws", type=int, default=60, help="laws refitted per run (default 60)")
    ap.add_argument("--repeat", type=int, default=1, help="time each run's fits this many times; the fastest counts")
    args = ap.parse_args()
    print(f"{'run':<44} {'laws':>5} {'ms/fit':>8} {'median ms':>10} {'evals':>8} {'fingerprint':>14}")
    for path in args.runs:
        try:
            store = RunStore.open(Path(path))
        except UserError as exc:
            raise SystemExit(f"fit_speed: {exc}") from None
        config = search_config_from_dict(store.config["search"])
        ds = as_recorded(load_dataset(spec_from_dict(store.config["task"]), args.data_dir), store.config.get("split"))
        problem = make_problem(ds, seed=config.seed)
        texts = [r.text for r in store.records() if r.ok]
        texts = texts[:: max(1, len(texts) // args.laws)][: args.laws]
        exprs = [parse(t, problem.symbols) for t in texts]
        best: list[float] | None = None
        for _ in range(args.repeat):
            times, evals, log_sse = [], 0, 0.0
            for expr in exprs:
                t0 = time.perf_counter()
                _, result = fit_rows(expr, problem.fit, problem, config.fit)
                times.append(time.perf_counter() - t0)
                evals += result.nfev
                log_sse += float(np.sum(np.log(np.maximum(result.sse, 1e-300)))) if result.ok else 0.0
            if best is None or sum(times) < sum(best):
                best = times
        name = "/".join(Path(path).resolve().parts[-2:])
        print(f"{name:<44} {len(exprs):>5} {1e3 * sum(best) / max(len(best), 1):>8.1f} "
              f"{1e3 * statistics.median(best) if best else float('nan'):>10.1f} {evals:>8} {log_sse:>14.4f}")


if __name__ == "__main__":
    main()
