"""A law as JSON: formula (as discovered and in the data's units), parameters, scores, ranges."""

from __future__ import annotations

import json
import math

from discover import __version__
from discover.display import raw_units
from discover.export import Exported
from discover.expr import params_of, parse


def law_dict(ex: Exported) -> dict:
    """What the JSON file holds. ``law`` takes each input divided by its scale; ``law_in_data_units``
    is the same law with the scales folded in. ``params``: target -> group -> name -> value."""
    law, scores = ex.law, ex.scores
    names = [p.name for p in params_of(parse(law.text, law.symbols))]
    G = len(law.groups)
    return {
        "generator": f"discover {__version__}", "task": ex.task, "run": ex.run, "split": ex.split, "law_id": law.id,
        "recommended": law.recommended, "targets": list(law.targets),
        "inputs": {s: c for s, c in zip(law.symbols, law.inputs, strict=True)},
        "group_columns": list(law.group_columns), "groups": list(law.groups),
        "law": law.text, "scales": {s: float(law.scales.get(s, 1.0)) for s in law.symbols},
        "law_in_data_units": raw_units(law.text, list(law.symbols), law.scales),
        "params": {t: {g: {n: _value(law.params[i * G + j][k]) for k, n in enumerate(names)}
                       for j, g in enumerate(law.groups)} for i, t in enumerate(law.targets)},
        "complexity": scores.complexity, "origin": scores.origin,
        "scores": {"train_r2": _value(scores.train.r2), "validation_r2": _value(scores.val.r2),
                   f"{ex.split}_r2": _value(scores.test.r2)},
        "train_ranges": None if law.ranges is None else {g: {c: list(r) for c, r in span.items()}
                                                          for g, span in law.ranges.items()},
    }


def _value(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def to_json(ex: Exported) -> str:
    return json.dumps(law_dict(ex), indent=2, allow_nan=False) + "\n"
