"""The evolutionary loop: islands of laws, GP offspring and external proposals, one archive.

Generation 0 evaluates the user's own laws, if any (``--start``), and the motif library.
Each later generation, every island picks parents by tournament on ``log(validation NMSE) +
parsimony × complexity``, makes offspring with the GP toolbox (and takes a share of proposals
from external proposers such as the LLM), and keeps its best ``population`` distinct laws.
Every few generations the best laws migrate to the next island (a ring) and the archive's
frontier is shared. Candidates already seen (same canonical form) are not refitted.

Given the same seed, the sequence of candidates is the same; a time budget only decides
where it stops (use ``max_evals`` for a fixed end point).
"""

from __future__ import annotations

import dataclasses
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import sympy as sp

from discover.archive import Archive
from discover.evaluate import Candidate, Evaluation, evaluate
from discover.expr import canonical_key, complexity, inputs_of, parse
from discover.fit import FitConfig
from discover.own_law import start_candidates
from discover.problem import NEAR_WEIGHT, Problem
from discover.runstore import RunStore
from discover.search.gp import make_toolbox
from discover.search.motifs import (
    additive_compositions,
    has_interior_optimum,
    joint_optima,
    motifs,
    moving_optima,
    optimum_valleys,
)

MAX_COMPLEXITY = 80


@dataclass(frozen=True)
class SearchConfig:
    budget: float = 120.0  # seconds of search (motifs included)
    max_evals: int | None = None  # stop after this many evaluations (deterministic end)
    seed: int = 0
    islands: int = 4
    population: int = 20
    offspring: int = 10  # per island and generation
    migration_every: int = 4
    parsimony: float = 0.01
    max_params: int = 12
    external_ratio: float = 0.3  # share of offspring taken from external proposers when they have some
    fit: FitConfig = field(default_factory=FitConfig)
    refit_weight: int = NEAR_WEIGHT  # times the validation slice counts in the final refit (problem.refit_rows)
    two_steps: bool = True  # score laws two steps out where the first fold allows (Problem.search_rows)
    start_laws: tuple[str, ...] = ()  # the user's own laws (data units), evaluated first (--start); never in a bench


@dataclass(frozen=True)
class SearchView:
    """What a proposer may look at: the problem (never the test split) and the archive."""

    problem: Problem
    frontier: list[Evaluation]
    recent_failures: list[Evaluation]
    generation: int


class Proposer(Protocol):
    name: str

    def propose(self, view: SearchView, n: int) -> list[Candidate]:
        """Up to ``n`` candidates, without blocking (return what is ready)."""

    def close(self) -> None: ...


@dataclass
class Progress:
    generation: int
    evaluations: int
    elapsed: float
    best_val_r2: float
    frontier_size: int
    rate: float  # candidates evaluated per second
    best_text: str = ""


def selection_score(r: Evaluation, parsimony: float) -> float:
    if not r.ok or not math.isfinite(r.val_nmse):
        return math.inf
    return math.log(max(r.val_nmse, 1e-12)) + parsimony * r.complexity


class Search:
    def __init__(self, problem: Problem, config: SearchConfig, store: RunStore | None = None,
                 proposers: Sequence[Proposer] = (), on_progress: Callable[[Progress], None] | None = None,
                 positive: dict[str, bool] | None = None, nonnegative: dict[str, bool] | None = None):
        self.problem, self.config, self.store = problem, config, store
        self.proposers = list(proposers)
        self.on_progress = on_progress
        X = problem.train.X
        self.positive = positive or {s: bool(np.all(X[s] > 0)) for s in problem.symbols}
        self.nonnegative = nonnegative or {s: bool(np.all(X[s] >= 0)) for s in problem.symbols}
        self.toolbox = make_toolbox(problem.symbols, self.positive)
        self.archive = Archive()
        self._exprs: dict[int, sp.Expr] = {}  # parsed laws by record id
        self.islands: list[list[Evaluation]] = [[] for _ in range(config.islands)]
        self.generation = 0
        self.elapsed_before = 0.0
        self.t0 = time.monotonic()

    # --- bookkeeping -----------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.t0

    def out_of_budget(self) -> bool:
        c = self.config
        return self.elapsed >= c.budget or (c.max_evals is not None and len(self.archive) >= c.max_evals)

    def restore(self, records: list[Evaluation], state: dict) -> None:
        """Continue a stopped run: its records, populations, generation and elapsed time."""
        for r in records:
            self.archive.add(r)
        by_id = {r.id: r for r in records}
        self.islands = [[by_id[i] for i in ids if i in by_id] for ids in state.get("islands", [])]
        self.islands += [[] for _ in range(self.config.islands - len(self.islands))]
        # no state yet: killed during generation 0, which is redone (seen laws are not refitted)
        self.generation = int(state.get("generation", -1)) + 1
        self.elapsed_before = float(state.get("elapsed", 0.0))
        self.t0 = time.monotonic()

    def _save_state(self) -> None:
        if self.store is None:
            return
        self.store.sync()
        self.store.write_json("state.json", {
            "generation": self.generation, "elapsed": self.elapsed, "evaluations": len(self.archive),
            "islands": [[r.id for r in pop] for pop in self.islands],
        })

    def _evaluate(self, cand: Candidate) -> Evaluation | None:
        """Evaluate a new candidate (or return the record of an equivalent seen one)."""
        key = canonical_key(cand.expr)
        seen = self.archive.get(key)
        if seen is not None:
            return seen
        if self.out_of_budget():
            return None
        if complexity(cand.expr) > MAX_COMPLEXITY:
            return None
        record = evaluate(cand, self.problem, self.config.fit, id=len(self.archive), max_params=self.config.max_params,
                          two_steps=self.config.two_steps)
        record = dataclasses.replace(record, t=self.elapsed)
        self.archive.add(record)
        if self.store is not None:
            self.store.append(record)
        return record

    # --- the loop ------------------------------------------------------------------------------
    def run(self) -> Archive:
        if self.generation == 0:
            self._seed_generation()
            self._report()
            self._save_state()
            self.generation = 1
        while not self.out_of_budget() and self._can_breed():
            self._generation()
            self._report()
            self._save_state()
            self.generation += 1
        for p in self.proposers:
            p.close()
        self._save_state()
        return self.archive

    def _can_breed(self) -> bool:
        """Whether a generation can make new candidates: a valid law to vary, or a proposer.
        Without either (every motif failed, no LLM), the search ends instead of idling."""
        return bool(self.proposers) or any(self.islands) or bool(self.archive.frontier())

    def _seed_generation(self) -> None:
        done = []
        for cand in start_candidates(self.config.start_laws, self.problem):  # the user's laws, first
            r = self._evaluate(cand)
            if r is not None and r.ok:
                done.append(r)
        seeds = motifs(self.problem.symbols, self.positive, self.nonnegative, self.config.max_params)
        for name, expr in seeds:
            r = self._evaluate(Candidate(expr=expr, origin="motif", note=name))
            if r is not None and r.ok:
                done.append(r)
        best_1d: dict[str, Evaluation] = {}
        for r in done:
            used = inputs_of(self._expr(r))
            if len(used) == 1 and (used[0] not in best_1d or r.val_nmse < best_1d[used[0]].val_nmse):
                best_1d[used[0]] = r
        ranked = sorted(best_1d.values(), key=lambda r: (r.val_nmse, r.id))
        shapes = [self._expr(r) for r in ranked]
        knobs = [x for x in best_1d if self._has_optimum(x, done)]
        from_shapes = tuple(r.id for r in ranked)  # the one-input laws these compositions are built from
        composed = [(name, expr, from_shapes) for name, expr in
                    additive_compositions(shapes, self.config.max_params)
                    + moving_optima(shapes, knobs, self.config.max_params)]
        composed += [(name, expr, ()) for name, expr in self._valleys()]  # from joint optima, no parent law
        for name, expr, parents in composed:
            r = self._evaluate(Candidate(expr=expr, origin="motif", parents=parents, note=name))
            if r is not None and r.ok:
                done.append(r)
        for i, r in enumerate(done):
            self.islands[i % len(self.islands)].append(r)
        for i in range(len(self.islands)):
            self.islands[i] = self._survivors(self.islands[i])

    def _valleys(self) -> list[tuple[str, sp.Expr]]:
        """Valley motifs (motifs.optimum_valleys) for the inputs with a joint optimum in the fit rows."""
        positive = [s for s in self.problem.symbols if self.positive[s]]
        fit = self.problem.fit
        knobs = joint_optima(fit.X, fit.y, fit.unit, positive)
        return optimum_valleys(knobs, [s for s in positive if s not in knobs], self.config.max_params)

    def _has_optimum(self, x: str, done: list[Evaluation]) -> bool:
        """Whether the quadratic-in-log motif in ``x`` found an optimum inside x's fit range."""
        quad = next((r for r in done if r.note == f"quadratic in log in {x}"), None)
        lo, hi = float(np.min(self.problem.fit.X[x])), float(np.max(self.problem.fit.X[x]))
        return quad is not None and has_interior_optimum(self._expr(quad), x, quad.names, quad.params, lo, hi)

    def _survivors(self, pool: list[Evaluation]) -> list[Evaluation]:
        unique: dict[str, Evaluation] = {}
        for r in pool:
            if r.ok and r.key not in unique:
                unique[r.key] = r
        ranked = sorted(unique.values(), key=lambda r: (selection_score(r, self.config.parsimony), r.id))
        return ranked[: self.config.population]

    def _pick(self, pop: list[Evaluation], rng: random.Random) -> Evaluation:
        contenders = rng.sample(pop, min(3, len(pop)))
        return min(contenders, key=lambda r: (selection_score(r, self.config.parsimony), r.id))

    def _generation(self) -> None:
        c = self.config
        random.seed(f"{c.seed}:{self.generation}")  # DEAP's operators draw from the global generator
        rng = random.Random(f"{c.seed}:{self.generation}:rng")
        ctx = self.toolbox.context(rng)
        external = self._external(c.offspring * len(self.islands))
        for i, pop in enumerate(self.islands):
            if not pop:
                pop.extend(self._survivors(self.archive.frontier()))
            if not pop:
                continue
            children: list[Evaluation] = []
            mine = external[i::len(self.islands)]
            for cand in mine:
                r = self._evaluate(cand)
                if r is not None:
                    children.append(r)
            for _ in range(c.offspring - len(mine)):
                if self.out_of_budget():
                    break
                cand = self._offspring(pop, rng, ctx)
                if cand is not None:
                    r = self._evaluate(cand)
                    if r is not None:
                        children.append(r)
            self.islands[i] = self._survivors(pop + children)
        if self.generation % c.migration_every == 0:
            self._migrate()

    def _offspring(self, pop: list[Evaluation], rng: random.Random, ctx) -> Candidate | None:
        op = rng.choices(self.toolbox.operators, weights=self.toolbox.weights)[0]
        parents = [self._pick(pop, rng)]
        if op in ("crossover", "merge-terms"):
            frontier = self.archive.frontier()
            other = rng.choice(frontier) if frontier and rng.random() < 0.5 else self._pick(pop, rng)
            parents.append(other)
        try:
            exprs = [self._expr(p) for p in parents]
            child = getattr(self.toolbox, op)(exprs, ctx)
        except (ValueError, TypeError, ZeroDivisionError, OverflowError, RecursionError, IndexError, KeyError):
            return None  # ExprError is a ValueError: an operator that cannot apply gives no child
        if child is None or not isinstance(child, sp.Expr) or child.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I):
            return None
        return Candidate(expr=child, origin=f"gp:{op}", parents=tuple(p.id for p in parents))

    def _expr(self, r: Evaluation) -> sp.Expr:
        expr = self._exprs.get(r.id)
        if expr is None:
            expr = self._exprs[r.id] = parse(r.text, self.problem.symbols)
        return expr

    def _migrate(self) -> None:
        n = len(self.islands)
        best = [pop[:2] for pop in self.islands]
        front = self.archive.frontier()
        for i in range(n):
            incoming = best[(i - 1) % n] + front[-3:]
            self.islands[i] = self._survivors(self.islands[i] + incoming)

    def _external(self, total: int) -> list[Candidate]:
        if not self.proposers:
            return []
        want = max(1, round(total * self.config.external_ratio))
        view = SearchView(problem=self.problem, frontier=self.archive.frontier(),
                          recent_failures=[r for r in self.archive.records[-200:] if not r.ok][-20:],
                          generation=self.generation)
        out: list[Candidate] = []
        for p in self.proposers:
            out.extend(p.propose(view, want - len(out)))
            if len(out) >= want:
                break
        return out[:want]

    def _report(self) -> None:
        if self.on_progress is None:
            return
        best = self.archive.best()
        self.on_progress(Progress(
            generation=self.generation, evaluations=len(self.archive), elapsed=self.elapsed,
            best_val_r2=best.val.r2 if best else -1.0, frontier_size=len(self.archive.frontier()),
            rate=len(self.archive) / max(self.elapsed, 1e-9), best_text=best.text if best else "",
        ))
