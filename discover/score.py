"""SLDBench's scores: R², NMSE and NMAE over pooled rows, per target column, then averaged.

For each target column: NMSE = MSE / Var(truth) (population variance) and NMAE = MAE / mean
absolute deviation of the truth; R² = 1 − mean NMSE over target columns. Any NaN/inf
prediction makes R² = −1 (and NMSE/NMAE = inf). Reported R² is clipped at −1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

R2_FLOOR = -1.0


@dataclass(frozen=True)
class Scores:
    r2: float  # clipped at -1 (what tables report)
    r2_raw: float  # unclipped (-1 when predictions are not finite)
    nmse: float
    nmae: float
    nmse_se: float = float("inf")  # standard error of the NMSE estimate over rows (for 1-SE rules)

    def as_dict(self) -> dict[str, float]:
        return {"r2": self.r2, "r2_raw": self.r2_raw, "nmse": self.nmse, "nmae": self.nmae, "nmse_se": self.nmse_se}


FAILED = Scores(r2=R2_FLOOR, r2_raw=R2_FLOOR, nmse=float("inf"), nmae=float("inf"))


def score(y_true: np.ndarray, y_pred: np.ndarray) -> Scores:
    """Score predictions; arrays are (rows,) or (rows, targets); (rows,) predictions of a
    single target are also taken against (rows, 1) truth. Any other mismatch of shapes is
    a caller's mistake, not a bad law: ValueError."""
    t = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    if t.ndim == 1:
        t = t[:, None]
    if p.ndim == 1 and t.shape[1] == 1:
        p = p[:, None]
    if p.shape != t.shape:
        raise ValueError(f"predictions of shape {p.shape} for truth of shape {t.shape}")
    if t.shape[0] == 0:
        return FAILED
    if not np.all(np.isfinite(p)):
        return FAILED
    with np.errstate(all="ignore"):
        err = p - t
        var = t.var(axis=0)
        mad = np.abs(t - t.mean(axis=0)).mean(axis=0)
        per_row = err**2 / var  # (rows, targets): their column means are the per-target NMSEs
        nmse = np.mean(per_row.mean(axis=0))
        nmae = np.mean(np.abs(err).mean(axis=0) / mad)
        n = t.shape[0]
        se = float(np.sqrt(np.sum(per_row.var(axis=0) / n)) / t.shape[1]) if n > 1 else float("inf")
    if not np.isfinite(nmse):
        return FAILED
    r2 = 1.0 - float(nmse)
    return Scores(r2=clip_r2(r2), r2_raw=r2, nmse=float(nmse), nmae=float(nmae), nmse_se=se)


def log_mean_se(nmse: Sequence[float], se: Sequence[float]) -> float:
    """Standard error of the mean of log NMSE over slices, from each slice's NMSE and its
    standard error over rows (delta method: se / nmse per slice); inf where one is not known."""
    rel = np.asarray(se, dtype=float) / np.maximum(np.asarray(nmse, dtype=float), 1e-300)
    if not len(rel) or not np.all(np.isfinite(rel)):
        return math.inf
    return float(np.sqrt(np.sum(rel**2)) / len(rel))


def clip_r2(r2: float | None) -> float:
    """Clip at −1 for reporting; NaN/inf/None (a failed run) count as −1."""
    if r2 is None or not np.isfinite(r2):
        return R2_FLOOR
    return max(R2_FLOOR, float(r2))


def mean_over_runs(r2s: list[float | None], runs: int | None = None) -> float:
    """The paper's rule: mean of clipped R² over runs, a missing or failed run counting −1."""
    runs = len(r2s) if runs is None else runs
    values = [clip_r2(r) for r in r2s] + [R2_FLOOR] * max(0, runs - len(r2s))
    return float(np.mean(values)) if values else R2_FLOOR
