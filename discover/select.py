"""Choosing the law to report: validation on several forward-chaining folds.

The search ranks laws on the validation slice (the largest scales of train, by the task's
rule), and where it can on the first fold too (evaluate.py). That is still a noisy judge of
extrapolation: all the rows of a slice share the same step beyond the fitted range, so a law
that bends the right way there by luck looks better than it is.
Before a run reports its law, the strongest candidates are also fitted below earlier slices
and scored on them (see ``problem.selection_folds``); the reported law is the simplest law
whose log NMSE is, fold by fold, within one standard error of the best law's (on the mean);
among those, laws that stay finite just past the range of every input come first
(problem.edge_probe). No test rows are involved.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass

import numpy as np

from discover.archive import first_sound, pareto_front, recommend, within_limit
from discover.evaluate import Evaluation, edge_problem, fit_rows, inside_problem, score_rows
from discover.expr import parse
from discover.fit import SAFETY_SECONDS, FitConfig, analyse
from discover.problem import Problem, fewest_rows
from discover.score import FAILED, log_mean_se

POOL = 24  # candidates re-validated: the best by the search's score, plus the frontier
FOLD_FIT = FitConfig(starts=4, time_limit=SAFETY_SECONDS)  # bounded by its evaluations (fit.SAFETY_SECONDS)


ADMITTED = 8  # most laws kept as "could not be told apart from the best" (admitted), for prediction ranges
SPREAD_SLICES = 3  # slices needed before their spread is the standard error (see FoldScores.gap)


@dataclass(frozen=True)
class FoldScores:
    id: int
    nmse: tuple[float, ...]  # validation NMSE on each fold, the search's own slice first
    se: tuple[float, ...] = ()  # standard error of each of those NMSEs over its rows

    @property
    def log_mean(self) -> float:
        v = np.asarray(self.nmse, dtype=float)
        return float(np.mean(np.log(np.maximum(v, 1e-12)))) if np.all(np.isfinite(v)) else math.inf

    def gap(self, best: FoldScores) -> tuple[float, float]:
        """How much worse than ``best`` this law is, fold by fold: the mean of the differences
        in log NMSE and its standard error.

        Paired, because both laws meet the same folds: a fold that is hard for every law
        (a long step past the fitted range) says nothing about which law is better. The
        standard error is that of the differences over folds from SPREAD_SLICES slices on.
        With two, their spread is no estimate: ``mean <= se`` would then admit any law that
        beats the best on either slice, however much worse on the other. Below that, it is
        the standard error of ``best``'s mean log NMSE over its rows, as the one-slice rule
        (archive.recommend) uses (0 when not known)."""
        d = np.log(np.maximum(self.nmse, 1e-12)) - np.log(np.maximum(best.nmse, 1e-12))
        if not np.all(np.isfinite(d)):
            return math.inf, 0.0
        if len(d) >= SPREAD_SLICES:
            return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))
        return float(d.mean()), best.row_se()

    def row_se(self) -> float:
        """Standard error of the mean log NMSE from the rows of each slice (0 when not known)."""
        se = log_mean_se(self.nmse, self.se) if len(self.se) == len(self.nmse) else math.inf
        return se if math.isfinite(se) else 0.0


def candidate_pool(records: list[Evaluation], size: int = POOL) -> list[Evaluation]:
    """The frontier and the best laws by the search's score (distinct forms, valid ones only),
    in the order they are re-validated: the frontier first, then the others, each best
    first. When time runs short, the laws left out are then near-duplicates of better ones,
    not the simple end of the frontier, which the one-standard-error rule needs to see."""
    ok = {r.key: r for r in sorted((r for r in records if r.ok), key=lambda r: -r.id)}
    by_val = sorted(ok.values(), key=lambda r: (r.val_nmse, r.complexity, r.id))
    front = sorted(pareto_front(ok.values()), key=lambda r: (r.val_nmse, r.id))
    pool = {r.id: r for r in front}
    for r in by_val:
        if len(pool) >= size:
            break
        pool.setdefault(r.id, r)
    return list(pool.values())


def judgeable(problem: Problem, pool: list[Evaluation]) -> list[Evaluation]:
    """The laws of ``pool`` that can be fitted on the first fold: no more parameters than its
    smallest unit has rows. Any other law is left out of a choice made on folds (all kept if
    none can be fitted there): it could only be judged on one slice, and left in, it would
    take every fold from every other law (usable_folds). With few rows per group
    (easy_question) a single 11-parameter law did."""
    if not problem.folds:
        return pool
    rows = fewest_rows(problem.folds[0][0], problem.n_units)
    return [r for r in pool if r.n_params <= rows] or pool


def usable_folds(problem: Problem, pool: list[Evaluation]) -> tuple:
    """The folds every law of ``pool`` can be fitted on: the leading folds whose smallest unit
    keeps at least as many fit rows as the pool's largest law has parameters. A fold too small
    for a law says nothing about how it extrapolates, and the paired rule needs the same folds
    for every law (few rows per group: domain_mixture, sft, easy_question)."""
    need = max((r.n_params for r in pool), default=0)
    out = []
    for fold in problem.folds:
        if fewest_rows(fold[0], problem.n_units) < need:
            break
        out.append(fold)
    return tuple(out)


def fold_scores(record: Evaluation, problem: Problem, config: FitConfig = FOLD_FIT,
                folds: tuple | None = None) -> FoldScores:
    """The law fitted on each fold's fit rows (warm-started from its search fit) and scored
    on that fold's validation rows; inf where it fails, predicts non-finite values, or breaks
    on other mixes of the shares inputs (evaluate.inside_problem). ``folds``: default all.
    The search's own slice comes first: the record's validation score when the search fitted
    the law on the fit rows, else (fitted below the first fold, Problem.search_rows) refitted
    on the fit rows like a fold."""
    expr = parse(record.text, problem.symbols)
    init = np.array(record.params, dtype=float) if record.params else None
    slices = tuple(problem.folds if folds is None else folds)
    if record.fold is None:
        nmse, se = [record.val.nmse], [record.val.nmse_se]
    else:
        nmse, se = [], []
        slices = ((problem.fit, problem.val), *slices)
    for fit_rows_, val_rows in slices:
        structure, result = fit_rows(expr, fit_rows_, problem, config, init)
        ok = result.ok and not inside_problem(structure, result.params, problem)
        scores = score_rows(structure, result.params, val_rows) if ok else FAILED
        nmse.append(scores.nmse)
        se.append(scores.nmse_se)
    return FoldScores(record.id, tuple(nmse), tuple(se))


def choose(records: list[Evaluation], problem: Problem,
           seconds: float = SAFETY_SECONDS) -> tuple[Evaluation | None, dict]:
    """The law to report and the fold scores behind the choice (by record id).

    The pool (revalidation: POOL laws, or the whole frontier if longer) is re-validated
    best-first, each law a fixed number of fold fits bounded by their evaluations, so the
    choice does not depend on how busy the machine is; ``seconds`` only stops a runaway
    selection (the laws left out are then the last of the pool; pool_size tells how many
    there were). The choice is the
    one-standard-error rule on mean log NMSE over folds among those (within_one_se: the
    standard error of the paired differences over folds; with two slices, the best law's
    over rows, see FoldScores.gap), laws that break just past the data
    (breaks_past_data) last; only laws that can be fitted on the first fold (judgeable), on
    the folds every one of them can be fitted on (usable_folds).
    Without such folds (or time) it is the one-slice rule of
    archive.recommend, with the same preference."""
    ok = [r for r in records if r.ok]
    flawed = functools.partial(breaks_past_data, problem=problem)
    pool, folds = revalidation(records, problem)
    if not pool:
        return recommend(ok, flawed), {}
    deadline = time.monotonic() + seconds
    scores: dict[int, FoldScores] = {}
    for r in pool:
        if time.monotonic() > deadline:
            break
        scores[r.id] = fold_scores(r, problem, folds=folds)
    scored = [r for r in records if r.id in scores and math.isfinite(scores[r.id].log_mean)]
    if not scored:
        return recommend(ok, flawed), scores
    pick = first_sound(eligible(scored, scores), flawed)
    return next(r for r in records if r.id == pick.id), scores


def eligible(scored: list[Evaluation], scores: dict[int, FoldScores]) -> list[Evaluation]:
    """The laws of ``scored`` within one standard error of the best on the folds (within_one_se),
    simplest first, each as its record with the fold NMSE (geometric mean) as validation NMSE."""
    as_one = [dataclasses.replace(r, val=dataclasses.replace(r.val, nmse=math.exp(scores[r.id].log_mean)))
              for r in scored]
    best = min(as_one, key=lambda r: (r.val.nmse, r.complexity))
    return sorted((r for r in as_one if within_one_se(scores[r.id], scores[best.id])),
                  key=lambda r: (r.complexity, r.val.nmse))


def admitted(records: list[Evaluation], scores: dict[int, FoldScores], most: int = ADMITTED) -> list[Evaluation]:
    """The laws the choice could not tell apart from the best (simplest first, at most ``most``):
    on folds, those within one standard error of the best law's mean log NMSE (choose's rule,
    from its ``scores``); on one slice, the frontier laws within one standard error of the best
    search score (archive.recommend's). Where they disagree, validation did not decide."""
    scored = [r for r in records if r.id in scores and math.isfinite(scores[r.id].log_mean)]
    if scored:
        ids = [r.id for r in eligible(scored, scores)][:most]
        by_id = {r.id: r for r in scored}
        return [by_id[i] for i in ids]
    return within_limit(pareto_front(r for r in records if r.ok))[:most]


def revalidation(records: list[Evaluation], problem: Problem) -> tuple[list[Evaluation], tuple]:
    """The laws choose() re-validates and the folds it uses; no laws where the one-slice rule
    applies (no usable folds, or no valid law)."""
    pool = judgeable(problem, candidate_pool(records))
    folds = usable_folds(problem, pool)
    return (pool, folds) if folds and any(r.ok for r in records) else ([], ())


def pool_size(records: list[Evaluation], problem: Problem) -> int:
    """How many laws choose() re-validates when its time is not cut short (0: one-slice rule)."""
    return len(revalidation(records, problem)[0])


def within_one_se(law: FoldScores, best: FoldScores) -> bool:
    """Whether ``law`` is no worse than ``best`` by more than one standard error (paired, over folds)."""
    mean, se = law.gap(best)
    return mean <= se


def breaks_past_data(record: Evaluation, problem: Problem) -> bool:
    """Whether the law, with its search fit, is not finite just past the range of some input."""
    if problem.edges is None or not record.params:
        return False
    structure = analyse(parse(record.text, problem.symbols))
    return bool(edge_problem(structure, np.array(record.params, dtype=float), problem))


def describe(selection: dict | None) -> str:
    """How a run chose its recommended law, from the ``selection`` entry of its final.json."""
    if selection and selection.get("rule") == "folds":
        folds = selection.get("folds", "?")
        spread = isinstance(folds, int) and folds >= SPREAD_SLICES
        se = "of its paired differences over folds" if spread else "of the best law's mean, over rows"
        return (f"the simplest law within one standard error ({se}) of the best "
                f"mean log validation NMSE on {folds} forward-chaining validation folds carved "
                f"from train, preferring laws that stay finite just past the range of every input{_cut(selection)}")
    return "the simplest frontier law within one standard error of the best validation NMSE (one validation slice)"


def describe_short(selection: dict | None) -> str:
    """describe() in two words, for tables: "N folds" (the fold rule on N validation slices),
    "one slice", or '' when the run recorded no rule."""
    rule = (selection or {}).get("rule")
    if rule == "folds":
        return f"{selection.get('folds', '?')} folds"
    return "one slice" if rule == "one slice" else ""


def _cut(selection: dict) -> str:
    """A note when the selection's safety time limit stopped it before the end of its pool."""
    pool, done = selection.get("pool"), len(selection.get("fold_nmse", {}))
    if not pool or done >= pool:
        return ""
    return f" (only {done} of {pool} laws re-validated: the time limit cut the selection short)"
