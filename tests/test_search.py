"""The search: reproducible for a seed, records every candidate, survives SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import sympy as sp

from discover.archive import pareto_front, recommend
from discover.data import load_dataset
from discover.expr import compile_expr, inputs_of, parse
from discover.fit import FitConfig
from discover.problem import make_problem
from discover.runstore import RunStore
from discover.search.gp import from_tree, make_pset, to_tree
from discover.search.loop import Search, SearchConfig
from discover.search.motifs import motifs
from discover.tasks import find_task


def small_config(**kw):
    base = dict(budget=300, max_evals=60, seed=3, islands=2, population=8, offspring=6, max_params=8,
                fit=FitConfig(starts=3, time_limit=2))
    base.update(kw)
    return SearchConfig(**base)


@pytest.fixture(scope="module")
def parallel(sldbench_dir):
    return load_dataset(find_task("parallel"), sldbench_dir)


def test_same_seed_same_candidates(parallel):
    runs = []
    for _ in range(2):
        search = Search(make_problem(parallel), small_config())
        archive = search.run()
        runs.append([(r.text, r.origin, round(r.val.r2, 9)) for r in archive.records])
    assert runs[0] == runs[1]
    assert len(runs[0]) == 60
    other = Search(make_problem(parallel), small_config(seed=4)).run()
    assert [r.text for r in other.records] != [t for t, _, _ in runs[0]]


def test_frontier_is_pareto_and_recommendation_is_on_it(parallel):
    archive = Search(make_problem(parallel), small_config()).run()
    front = archive.frontier()
    assert front
    for a in front:
        for b in archive.records:
            if b.ok:
                assert not (b.complexity <= a.complexity and b.val_nmse < a.val_nmse and
                            (b.complexity < a.complexity or b.val_nmse < a.val_nmse)) or b.key == a.key
    assert recommend(front) in front
    assert pareto_front(archive.records) == front


def test_motifs_hold_no_parameters_beyond_the_cap_and_use_only_inputs():
    ms = motifs(["N", "D"], {"N": True, "D": True}, {"N": True, "D": True}, max_params=5)
    assert ms
    for _, e in ms:
        names = {s.name for s in e.free_symbols}
        assert names <= {"N", "D"} | {f"p{i}" for i in range(5)}


def test_gp_tree_round_trip_keeps_the_law():
    from discover.expr import canonical_key, collapse_constants, parse

    pset = make_pset(["N", "D"])
    for text in ["p0 + p1*N**(-p2) + p3*D**(-p4)", "p0*exp(-p1*N)/(D + p2)", "p0 + p1*log(N)**2",
                 "p0 + p1*tanh(p2 + p3*log(N))", "p0 + p1*(p2 + N)**p3"]:
        e = parse(text, ["N", "D"])
        assert canonical_key(from_tree(to_tree(e, pset))) == canonical_key(collapse_constants(e))


def _run_cli(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "discover", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_sigkill_mid_run_then_resume_loses_nothing(tmp_path, sldbench_dir):
    out = tmp_path / "run"
    proc = _run_cli(["run", "--task", "vocab", "--budget", "60", "--seed", "1", "--out", str(out),
                     "--data-dir", str(sldbench_dir), "--quiet"])
    log = out / "candidates.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if log.exists() and log.read_text().count("\n") >= 25:
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = [json.loads(line) for line in log.read_text().splitlines() if line.endswith("}")]
    assert len(before) >= 25
    done = _run_cli(["run", "--resume", str(out), "--budget", "15", "--data-dir", str(sldbench_dir), "--quiet"])
    stdout, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stderr
    after = RunStore(out).records()
    ids = [r.id for r in after]
    assert ids == list(range(len(ids))), "ids are continuous after the resume"
    assert [r.text for r in after[: len(before)]] == [d["text"] for d in before]
    assert len(after) > len(before)
    assert (out / "final.json").exists()
    assert "test R²" in stdout


def test_additive_compositions_sum_per_input_shapes_within_the_cap():
    from discover.expr import params_of
    from discover.search.motifs import additive_compositions

    names = ["lr", "N", "D"]
    best = [parse(t, names) for t in ("p0 + p1*log(lr) + p2*log(lr)**2", "p0 + p1*N**p2", "p0*D**p1 + p2")]
    sums = additive_compositions(best, max_params=12)
    assert [name for name, _ in sums] == ["sum of per-input shapes in lr, N", "sum of per-input shapes in lr, N, D"]
    full = sums[-1][1]
    assert len(params_of(full)) == 1 + 2 + 2 + 2  # one shared constant, each shape without its own
    x = {"lr": np.array([0.5, 2.0]), "N": np.array([3.0, 4.0]), "D": np.array([5.0, 6.0])}
    env = {**x, **{q.name: 1.0 for q in params_of(full)}}
    assert set(inputs_of(full)) == set(names) and np.all(np.isfinite(compile_expr(full)(env)))
    assert [name for name, _ in additive_compositions(best, max_params=5)] == ["sum of per-input shapes in lr, N"]


def test_an_input_with_an_optimum_gets_one_that_moves_with_the_other_inputs():
    from discover.expr import params_of
    from discover.search.motifs import has_interior_optimum, moving_optima

    names = ["lr", "N", "D"]
    best = [parse(t, names) for t in ("p0 + p1*log(lr) + p2*log(lr)**2", "p0 + p1*N**p2", "p0*D**p1 + p2")]
    moved = moving_optima(best, ["lr"], max_params=12)
    assert [name for name, _ in moved] == ["sum of per-input shapes, optimum of lr with N, D",
                                           "sum of per-input shapes, optimum of lr with N",
                                           "sum of per-input shapes, optimum of lr with D"]
    full = moved[0][1]
    assert len(params_of(full)) == 1 + 4 + 2 + 2  # constant, c*(log lr - d - e*log N - f*log D)**2, two shapes
    # the optimum in lr sits where log(lr) = d + e*log(N) + f*log(D): it moves with N and D
    squares = [a for a in sp.preorder_traversal(full) if isinstance(a, sp.Pow) and a.exp == 2]
    assert [set(inputs_of(sq.base)) for sq in squares] == [{"lr", "N", "D"}]
    env = {q.name: 0.5 for q in params_of(full)} | {"lr": np.array([0.5, 2.0]), "N": np.ones(2), "D": np.ones(2)}
    assert np.all(np.isfinite(compile_expr(full)(env)))
    # no input with an optimum (or a single input): nothing to move
    assert moving_optima(best, [], 12) == []
    assert moving_optima(best[:1], ["lr"], 12) == []
    # an optimum is an interior extremum of the fitted one-input law, for most units
    quad = parse("p0 + p1*log(lr) + p2*log(lr)**2", names)
    assert has_interior_optimum(quad, "lr", ["p0", "p1", "p2"], [(3.0, 0.0, 1.0), (3.0, 0.1, 1.0)], 0.1, 10.0)
    assert not has_interior_optimum(quad, "lr", ["p0", "p1", "p2"], [(3.0, 5.0, 1.0)], 0.1, 10.0)  # min at 0.08
    assert not has_interior_optimum(quad, "lr", ["p0", "p1", "p2"], [(3.0, -1.0, 0.0)], 0.1, 10.0)  # monotone
    assert [name for name, _ in moving_optima(best, ["lr"], max_params=8)] == [name for name, _ in moved[1:]]
    assert moving_optima(best, ["lr"], max_params=7) == []


def _sweep():
    """A learning-rate sweep at several model sizes: loss is a valley in log lr whose floor
    moves with N (the best lr shrinks as N grows), on top of a power law in N."""
    N, lr = (a.ravel() for a in np.meshgrid([1e7, 1e8, 1e9], np.geomspace(1e-4, 1e-1, 9)))
    loss = 2 + 30 * N**-0.25 + 0.05 * (np.log(lr) + 0.3 * np.log(N) - 1.0) ** 2
    return {"N": N, "lr": lr}, loss


def test_joint_optima_are_settings_with_an_optimum_at_fixed_scale(sldbench_dir):
    from discover.search.motifs import joint_optima

    X, y = _sweep()
    unit = np.zeros(len(y), dtype=int)
    assert joint_optima(X, y, unit, ["N", "lr"]) == ["lr"]
    assert joint_optima(X, 2 + 30 * X["N"] ** -0.25 + 0.1 * np.log(X["lr"]), unit, ["N", "lr"]) == []  # monotone
    assert joint_optima(X, y, unit, []) == []
    # StepLaw's sweeps: the optimum is in lr and batch size, not in model size or tokens
    problem = make_problem(load_dataset(find_task("lr_bsz"), sldbench_dir))
    fit = problem.fit
    assert joint_optima(fit.X, fit.y, fit.unit, list(problem.symbols)) == ["lr", "bsz"]


def test_optimum_valleys_move_the_optimum_with_scale_and_tilt_it_with_earlier_knobs():
    from discover.expr import params_of
    from discover.search.motifs import optimum_valleys

    valleys = optimum_valleys(["lr", "bsz"], ["N", "D"], max_params=16)
    assert [name for name, _ in valleys] == ["power laws in N, D with a tilted valley in lr, bsz",
                                             "power laws in N, D with a valley in lr, bsz"]
    tilted, aligned = (e for _, e in valleys)
    # E + 2 power laws (4) + per knob: curvature, centre constant, one slope per scale (2 x 4) + lr's tilt of bsz
    assert len(params_of(tilted)) == 14 and len(params_of(aligned)) == 13
    squares = [a for a in sp.preorder_traversal(tilted) if isinstance(a, sp.Pow) and a.exp == 2]
    assert sorted(sorted(inputs_of(sq.base)) for sq in squares) == [["D", "N", "bsz", "lr"], ["D", "N", "lr"]]
    env = {q.name: 0.5 for q in params_of(tilted)} | {x: np.array([0.5, 2.0]) for x in ("lr", "bsz", "N", "D")}
    assert np.all(np.isfinite(compile_expr(tilted)(env)))
    assert [name for name, _ in optimum_valleys(["lr", "bsz"], ["N", "D"], max_params=13)] == [valleys[1][0]]
    assert optimum_valleys(["lr", "bsz"], ["N", "D"], max_params=12) == []
    assert [name for name, _ in optimum_valleys(["lr"], ["N"], 8)] == ["power laws in N with a valley in lr"]
    assert optimum_valleys([], ["N"], 8) == [] and optimum_valleys(["lr"], [], 8) == []


def test_generation_zero_tries_a_tilted_valley_where_two_settings_have_optima(tmp_path):
    from discover.tasks import csv_task

    # the best lr shrinks with N; the best batch size grows with lr: a tilted valley
    N, lr, bsz = (a.ravel() for a in np.meshgrid([1e7, 3e7, 1e8, 3e8, 1e9], np.geomspace(1e-4, 1e-1, 6),
                                                   np.geomspace(16, 4096, 5)))
    u_lr = np.log(lr) + 0.3 * np.log(N) - 1.0
    u_bsz = np.log(bsz) - 0.5 * np.log(lr) - 0.2 * np.log(N) - 3.0
    loss = 2 + 30 * N**-0.25 + 0.05 * u_lr**2 + 0.02 * u_bsz**2
    path = tmp_path / "sweep.csv"
    rows = "".join(f"{a},{b},{c},{d}\n" for a, b, c, d in zip(N, lr, bsz, loss, strict=True))
    path.write_text("N,lr,bsz,loss\n" + rows)
    ds = load_dataset(csv_task(str(path), ["N", "lr", "bsz"], ["loss"], None, "top value of N"))
    # more starts than small_config's 3: this noiseless valley has local minima
    config = small_config(max_evals=120, max_params=10, fit=FitConfig(starts=16, time_limit=5))
    search = Search(make_problem(ds), config)
    search.run()
    tilted = [r for r in search.archive.records if "tilted valley" in r.note]
    assert [r.note for r in tilted] == ["power laws in N with a tilted valley in lr, bsz"]
    assert tilted[0].ok and tilted[0].val.r2 > 0.999  # the law the data were made from
    assert tilted[0].parents == ()  # built from the inputs' joint optima, not from other laws


def test_generation_zero_tries_the_sum_of_the_best_per_input_shapes(parallel):
    search = Search(make_problem(parallel), small_config(max_evals=200))
    search.run()
    sums = [r for r in search.archive.records if r.note.startswith("sum of per-input shapes")]
    assert len(sums) == 1 and sums[0].origin == "motif"
    assert set(inputs_of(parse(sums[0].text, search.problem.symbols))) == {"num_params", "parallel_size"}
    assert [r.t for r in search.archive.records] == sorted(r.t for r in search.archive.records)  # search time
    assert search.archive.records[-1].t > 0


def test_a_search_with_nothing_to_vary_ends_instead_of_idling(parallel):
    # no motif within a 1-parameter cap, no LLM: nothing to evaluate and nothing to breed from
    search = Search(make_problem(parallel), small_config(max_params=1, max_evals=None, budget=60))
    archive = search.run()
    assert len(archive) == 0 and search.generation == 1  # generation 0 only: not 60 s of empty generations
