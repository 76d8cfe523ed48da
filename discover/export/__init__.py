"""A finished run's law, exported for use elsewhere: one module per target format.

- ``python_code``: a self-contained Python module (numpy only) that evaluates the law with its
  fitted parameters, per group and target, in the data's own units;
- ``latex``: the formula in the data's units and a table of the fitted parameters;
- ``json_law``: everything above as data (formula text, units, parameters, scores, ranges).

Every exporter takes an :class:`Exported` law: the run's law as ``discover predict`` uses it
(parameters fitted on all of train) and its scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from discover.final import FinalLaw
from discover.predict import RunLaw, load_law
from discover.runstore import RunStore


@dataclass(frozen=True)
class Exported:
    """One reported law of a run, with where it came from."""

    law: RunLaw
    scores: FinalLaw  # complexity, origin, train/validation/test scores
    run: str  # the run folder
    task: str  # the task's name
    split: str  # "test", or "development" (train's validation slice stood in for the test split)


def load(run_dir: str | Path, law_id: int | None = None) -> Exported:
    """The run's recommended law (or its reported law ``law_id``), ready to export."""
    law = load_law(run_dir, law_id)
    store = RunStore.open(run_dir)
    final = store.final() or {}
    scores = next(FinalLaw.from_json(d) for d in final["laws"] if d["id"] == law.id)
    cfg = store.config
    return Exported(law=law, scores=scores, run=str(store.path), task=str(cfg["task"]["name"]),
                    split=str(cfg.get("split") or "test"))


def exporters() -> dict[str, Callable[[Exported], str]]:
    """Format name -> function of an Exported law giving the file's text."""
    from discover.export.json_law import to_json
    from discover.export.latex import to_latex
    from discover.export.python_code import to_python

    return {"python": to_python, "latex": to_latex, "json": to_json}
