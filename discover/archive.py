"""Every evaluated candidate, and the Pareto frontier of validation error vs complexity."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from discover.evaluate import Evaluation


class Archive:
    """Records by id and by canonical key; the frontier is derived on demand."""

    def __init__(self, records: Iterable[Evaluation] = ()):
        self.records: list[Evaluation] = []
        self.by_key: dict[str, Evaluation] = {}
        for r in records:
            self.add(r)

    def __len__(self) -> int:
        return len(self.records)

    def add(self, record: Evaluation) -> None:
        self.records.append(record)
        old = self.by_key.get(record.key)
        if old is None or (record.ok and record.val_nmse < old.val_nmse):
            self.by_key[record.key] = record

    def get(self, key: str) -> Evaluation | None:
        return self.by_key.get(key)

    def frontier(self) -> list[Evaluation]:
        """Laws no other law beats on both validation NMSE and complexity, simplest first."""
        return pareto_front(r for r in self.by_key.values() if r.ok)

    def best(self) -> Evaluation | None:
        ok = [r for r in self.by_key.values() if r.ok]
        return min(ok, key=lambda r: (r.val_nmse, r.complexity, r.id)) if ok else None


def pareto_front(records: Iterable[Evaluation]) -> list[Evaluation]:
    ordered = sorted(records, key=lambda r: (r.complexity, r.val_nmse, r.id))
    front: list[Evaluation] = []
    best = math.inf
    for r in ordered:
        if r.val_nmse < best:
            front.append(r)
            best = r.val_nmse
    return front


def recommend(front: list[Evaluation], flawed: Callable[[Evaluation], bool] = lambda r: False) -> Evaluation | None:
    """The law to report, by the one-standard-error rule: the simplest frontier law whose
    search score (Evaluation.val_nmse) is within one standard error of the best law's (the
    standard error of that score over the rows it was scored on). Smaller differences are
    not evidence that the more complex law extrapolates better. Laws for which ``flawed`` is
    true come after all others within that standard error (pass all laws, not only the
    frontier, for the preference to reach past a flawed frontier law).
    """
    if not front:
        return None
    return first_sound(within_limit(front), flawed)


def within_limit(laws: list[Evaluation]) -> list[Evaluation]:
    """The laws whose search score is within one standard error of the best law's (recommend's
    rule), simplest first."""
    if not laws:
        return []
    best = min(laws, key=lambda r: (r.val_nmse, r.complexity))
    se = best.val_nmse_se if math.isfinite(best.val_nmse_se) else 0.0
    limit = best.val_nmse + se
    return sorted((r for r in laws if r.val_nmse <= limit), key=lambda r: (r.complexity, r.val_nmse))


def first_sound(ranked: list[Evaluation], flawed: Callable[[Evaluation], bool]) -> Evaluation:
    """The first law of ``ranked`` that is not ``flawed``, else the first (``flawed`` is
    called only until one passes: it may cost a parse and a prediction)."""
    return next((r for r in ranked if not flawed(r)), ranked[0])
