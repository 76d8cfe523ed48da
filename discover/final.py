"""The reported laws: refitted on all of train, scored once on the test split.

This is the only module that reads the test split. It runs after the search has finished
and its numbers are never fed back into selection.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from discover.data import Dataset
from discover.evaluate import (
    Evaluation,
    edge_problem,
    fit_rows,
    implausible_problem,
    inside_problem,
    probe_problem,
    score_rows,
    sound_units,
)
from discover.expr import parse
from discover.fit import SAFETY_SECONDS, FitConfig, analyse, fit
from discover.problem import NEAR_WEIGHT, Problem, refit_rows, rows
from discover.score import FAILED, Scores


@dataclass(frozen=True)
class FinalLaw:
    id: int
    text: str
    complexity: int
    n_params: int
    origin: str
    names: tuple[str, ...]
    params: tuple[tuple[float, ...], ...]  # per unit, fitted on all of train
    train: Scores
    val: Scores  # from the search (fitted without the validation rows)
    test: Scores
    recommended: bool
    reason: str = ""

    def to_json(self) -> dict:
        return {
            "id": self.id, "text": self.text, "complexity": self.complexity, "n_params": self.n_params,
            "origin": self.origin, "names": list(self.names), "params": [list(p) for p in self.params],
            "train": self.train.as_dict(), "val": self.val.as_dict(), "test": self.test.as_dict(),
            "recommended": self.recommended, "reason": self.reason,
        }

    @staticmethod
    def from_json(d: dict) -> FinalLaw:
        return FinalLaw(
            id=d["id"], text=d["text"], complexity=d["complexity"], n_params=d["n_params"], origin=d["origin"],
            names=tuple(d["names"]), params=tuple(tuple(p) for p in d["params"]), train=Scores(**d["train"]),
            val=Scores(**d["val"]), test=Scores(**d["test"]), recommended=d["recommended"], reason=d.get("reason", ""),
        )


def admitted_laws(final: dict) -> tuple[FinalLaw, ...]:
    """The laws a run's choice could not tell apart from the best (select.admitted; the ids in
    its final.json's selection, the recommended first), with their fits on all of train, from
    the reported laws and the others kept beside them; () for a run recorded before they were kept."""
    ids = (final.get("selection") or {}).get("admitted") or []
    by_id = {d["id"]: d for d in [*final.get("admitted", []), *final.get("laws", [])]}
    return tuple(FinalLaw.from_json(by_id[i]) for i in ids if i in by_id)


CHECKS = (inside_problem, probe_problem, edge_problem, implausible_problem)

def refit_config(search: FitConfig) -> FitConfig:
    """The fit of the final refit: the search's, with at least 12 starts (the first is the
    search fit), bounded by evaluations (starts × max_nfev) rather than seconds, so the laws
    a run reports do not depend on how busy the machine was (SAFETY_SECONDS aside; a refit
    takes about a second on SLDBench's largest task)."""
    return dataclasses.replace(search, starts=max(12, search.starts), time_limit=SAFETY_SECONDS)


def new_breaks(structure, refit: np.ndarray, search: np.ndarray, problem: Problem) -> str:
    """Where the law refitted on all of train breaks and its search fit did not ('' if
    nowhere): other mixes of the shares inputs, further out along the holdout inputs (not
    finite or diverging), just past the range of an input (not finite), and on those mixes,
    beyond the training targets by more than their range."""
    for check in CHECKS:
        if (note := check(structure, refit, problem)) and not check(structure, search, problem):
            return note
    return ""


def finalize(laws: list[Evaluation], recommended_id: int | None, problem: Problem, ds: Dataset,
             config: FitConfig, weight: int = NEAR_WEIGHT) -> list[FinalLaw]:
    """Refit each law on all training rows, the largest scales counting ``weight`` times
    (refit_rows), warm-started from its search fit, and score test.

    A refit that breaks where the search fit held (see new_breaks) is dropped, with the reason
    recorded, for a fit that held: the search fit passed the checks the search makes, and a
    refit on more rows is not checked by validation at all. A law the search fitted below the
    first fold (Problem.search_rows) is first refitted on all of train but the validation slice
    (problem.fit), which is kept if it holds too: the search fit saw fewer rows."""
    test_rows = rows(ds.test, len(problem.groups), problem.scales)
    X, y, unit = refit_rows(problem, weight)
    out = []
    for r in laws:
        expr = parse(r.text, problem.symbols)
        structure = analyse(expr)
        init = np.array(r.params, dtype=float) if r.params else None
        result = fit(structure, X, y, unit, problem.n_units, config, init, sound_units(structure, problem))
        found, reason = result.params, result.reason
        broken = new_breaks(structure, found, init, problem) if result.ok and init is not None else ""
        if broken:
            found, kept = held_fit(structure, r, init, problem, config)
            reason = f"{broken} after the refit on all of train; {kept} kept"
        if result.ok:
            train_s = score_rows(structure, found, problem.train)
            test_s = score_rows(structure, found, test_rows)
            params = tuple(tuple(float(v) for v in row) for row in found)
        else:
            train_s, test_s, params = FAILED, FAILED, ()
        out.append(FinalLaw(id=r.id, text=r.text, complexity=r.complexity, n_params=r.n_params, origin=r.origin,
                            names=result.names, params=params, train=train_s, val=r.val, test=test_s,
                            recommended=r.id == recommended_id, reason=reason))
    return out


def held_fit(structure, record: Evaluation, search: np.ndarray, problem: Problem,
             config: FitConfig) -> tuple[np.ndarray, str]:
    """The fit reported when the refit on all of train breaks where the search fit held: the
    law refitted on the fit rows (train without the validation slice) when the search fitted it
    below the first fold and that fit breaks nowhere the search fit held, else the search fit;
    and which one it is."""
    if record.fold is not None:
        _, result = fit_rows(structure.expr, problem.fit, problem, config, search)
        if result.ok and not new_breaks(structure, result.params, search, problem):
            return result.params, "fit without the validation slice"
    return search, "search fit"


def unit_names(groups: Sequence[str], targets: Sequence[str]) -> tuple[str, ...]:
    """Fit unit names in unit order (target_index * n_groups + group)."""
    return tuple(g if len(targets) == 1 else f"{g} / {t}" for t in targets for g in groups)


EXTREME = 1e6  # |parameter| beyond which a law on inputs scaled to order one is leaning on degenerate constants


def target_size(ds: Dataset) -> float:
    """The typical size of the targets in train (median |y|), recorded with a run for :func:`extreme_limit`."""
    return float(np.median(np.abs(ds.train.Y))) if len(ds.train.Y) else 1.0


def extreme_limit(size: float) -> float:
    """The |parameter| that counts as extreme for targets of typical size ``size``."""
    return EXTREME * max(1.0, size)


def extreme_parameters(label: str, names: Sequence[str], params: Sequence[Sequence[float]],
                       units: Sequence[str], limit: float = EXTREME, shown: int = 3) -> str:
    """A note when some fitted parameter (``params``: one row per unit, named ``names``) of the
    recommended law ``label`` reaches ``limit`` in size ('' if none).

    The search fits laws on inputs scaled to order one (problem.input_scales) and targets of
    their own size, so a sensible law needs no constant of 1e6 times the target; when the fit
    drives one there, the form is usually standing in for another (a power of a sum for an
    exponential; two huge terms that cancel). Its predictions are still scored as they are; the
    note tells the reader not to read meaning into those constants."""
    hits = sorted(((abs(v), name, u, v) for u, row in enumerate(params)
                   for name, v in zip(names, row, strict=False) if math.isfinite(v) and abs(v) >= limit),
                  reverse=True)
    if not hits:
        return ""
    many = len(params) > 1

    def where(u: int) -> str:
        return f" in {units[u] if u < len(units) else f'unit {u}'}" if many else ""

    listed = ", ".join(f"{name} = {v:.3g}{where(u)}" for _, name, u, v in hits[:shown])
    more = f" and {len(hits) - shown} more" if len(hits) > shown else ""
    law = f"the recommended law {label}" if label else "the recommended law"
    return (f"{law} has fitted parameters of extreme size ({listed}{more}): on inputs scaled to order one this "
            "usually means its form stands in for another (a power of a sum for an exponential, large terms that "
            "cancel); its predictions are scored as they are, but these constants carry no meaning of their own")
