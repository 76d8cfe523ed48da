"""The task's human-derived law in a run's report: scored by the search's own protocol on
validation (for the frontier plot) and on test, as published and refitted."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from discover.errors import ExprError, UserError
from discover.fit import SAFETY_SECONDS, FitConfig
from discover.score import Scores

# the human law on the search's fit rows, bounded by its evaluations (fit.SAFETY_SECONDS)
HUMAN_FIT = FitConfig(starts=16, max_nfev=600, time_limit=SAFETY_SECONDS, patience=4)


@dataclass(frozen=True)
class HumanView:
    """The task's human-derived law, placed on the same axes as the discovered laws."""

    formula: str  # as published, with named parameters
    params: tuple[str, ...]
    latex: str
    citation: str
    complexity: int
    n_params: int
    val: Scores | None  # fitted and scored on validation by the search's protocol (Problem.search_rows)
    test_published: Scores | None  # published parameters
    test_refit: Scores | None  # refitted on all of train by discover's fitter
    note: str = ""
    score: float | None = None  # the search's score by the same protocol (evaluate.search_score)


def _scores(d: dict | None) -> Scores | None:
    """Scores from JSON, keeping the fields this version of Scores has (older files lack some)."""
    if not isinstance(d, dict):
        return None
    names = {f.name for f in fields(Scores)}
    try:
        return Scores(**{k: float(v) for k, v in d.items() if k in names})
    except (TypeError, ValueError):
        return None


def human_law_view(cfg: dict, task: Any, ds: Any, symbols: tuple[str, ...],
                   scores: dict | None = None) -> tuple[HumanView | None, str]:
    """The human law of the run's task, scored on validation (and test) when the data is here."""
    from discover.baselines import load_human_law
    from discover.expr import complexity
    from discover.runner import recorded_two_steps

    if task is None:
        try:
            from discover.runner import spec_from_dict

            task = spec_from_dict(cfg["task"])
        except (UserError, KeyError, TypeError, ValueError):
            return None, ""
    try:
        law = load_human_law(task)
    except UserError:
        return None, f"no human-derived law is known for task {task.name}: the frontier plot shows discovered laws only"
    test_pub = _scores(((scores or {}).get("published") or {}).get("test"))
    refit_d = (scores or {}).get("refitted") or {}
    test_refit = _scores(refit_d.get("test")) if refit_d.get("ok", True) else None
    val, score, note = None, None, ""
    if ds is not None:
        try:
            search = cfg.get("search", {})
            val, score, pub_scores, refit_scores = _score_human(law, task, ds, search.get("seed", 0),
                                                                search.get("max_params", task.max_params),
                                                                recorded_two_steps(search), need_test=scores is None)
            if scores is None:
                test_pub, test_refit = pub_scores, refit_scores
        except (UserError, ExprError, ValueError) as exc:
            note = f"the human law could not be scored here ({exc})"
    view = HumanView(
        formula=law.formula, params=law.params, latex=_named_latex(law, symbols), citation=law.citation,
        complexity=complexity(law.expr), n_params=len(law.params), val=val, test_published=test_pub,
        test_refit=test_refit, score=score,
        note="published constants, not refitted" if not law.refit else "",
    )
    return view, note


def _named_latex(law: Any, symbols: tuple[str, ...]) -> str:
    """The human law's LaTeX with its published parameter names (A, alpha, ...) instead of p0..pk."""
    import sympy as sp

    from discover.expr import param
    from discover.report.math import expr_latex

    names = {param(i): sp.Symbol(name) for i, name in enumerate(law.params)}
    return expr_latex(law.expr.xreplace(names), symbols)


def _score_human(law, task, ds, seed: int, max_params: int, two_steps: bool,
                 need_test: bool) -> tuple[Scores | None, float | None, Scores | None, Scores | None]:
    """Validation scores and the search's score by the search's protocol; test scores as
    published and refitted."""
    from discover.baselines import load_published, published_params, published_params_file, refit, score_params
    from discover.evaluate import score_rows, search_score
    from discover.fit import analyse, fit
    from discover.problem import make_problem

    G, T = len(ds.groups), len(task.targets)
    init = None
    params_file = published_params_file(ds.source)
    if params_file is not None:
        init = published_params(law, load_published(params_file), list(ds.groups), T)
    elif law.constants:
        init = np.tile(np.array(law.constants), (G * T, 1))
    structure = analyse(law.expr)
    problem = make_problem(ds, seed=seed)  # the search's own fit and validation rows, back in raw units

    def raw(r):
        return replace(r, X={s: v * problem.scales.get(s, 1.0) for s, v in r.X.items()})

    on, fold_rows = problem.search_rows(max_params, two_steps)  # published constants are scored there unfitted
    fit_rows, val_rows = raw(on), raw(problem.val)
    params = init
    if law.refit:
        result = fit(structure, fit_rows.X, fit_rows.y, fit_rows.unit, G * T, HUMAN_FIT, init)
        params = result.params if result.ok else None
    val = score_rows(structure, params, val_rows) if params is not None else None
    score = None
    if val is not None:
        fold = score_rows(structure, params, raw(fold_rows)).nmse if fold_rows is not None else None
        score = search_score(val.nmse, fold)
    if not need_test:
        return val, score, None, None
    pub = score_params(law, ds, init, "published").test if init is not None else None
    ref = None
    if law.refit and pub is None:  # with published parameters, their test score is what a reader compares
        r = refit(law, ds, init, HUMAN_FIT)
        ref = r.test if r.ok else None
    return val, score, pub, ref
