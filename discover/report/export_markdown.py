"""The report as Markdown with PNG plots beside it (``<name>_files/``), for a paper or a PR.

Formulas are given as ``$$...$$`` LaTeX (rendered by GitHub and most Markdown viewers) with
the plain text form below; tables are GitHub-flavoured.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path

from discover.report.bench_content import BenchReport, drawn
from discover.report.content import LawView, RunReport, generated
from discover.report.plots import run_images
from discover.score import Scores

MAX_PARAM_ROWS = 60


def _num(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return f"{x:.{digits}f}"


def _sig(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and (math.isnan(x) or math.isinf(x))):
        return "—" if x is None or math.isnan(x) else "∞"
    return f"{x:.{digits}g}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _scores_row(name: str, s: Scores | None) -> list[str]:
    return [name, "—", "—", "—"] if s is None else [name, _num(s.r2), _sig(s.nmse), _sig(s.nmae)]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")


def run_markdown(run: RunReport, files: Path, rel: str, level: int = 1, prefix: str = "") -> list[str]:
    """Lines of one run's section; its PNGs are written into ``files`` (linked as ``rel/<name>.png``)."""
    files.mkdir(parents=True, exist_ok=True)
    images = {}
    for name, png in run_images(run, "png").items():
        fname = f"{prefix}{name}.png"
        (files / fname).write_bytes(png)
        images[name] = f"{rel}/{fname}"
    m, h = run.meta, "#" * level
    hh, hhh = "#" * (level + 1), "#" * (level + 2)
    out = [f'<a id="{_slug(m.task)}"></a>', ""] if level > 1 else []
    out += [f'{h} {m.task}{" — seed " + str(m.seed) if level > 1 else ""}', ""]
    if m.description:
        out += [m.description, ""]
    out += [f"> {n}" for n in run.notes] + ([""] if run.notes else [])
    rec = run.recommended
    if rec is not None:
        out += [f"{hh} Recommended law {rec.label}", "", "$$", rec.latex or rec.text, "$$", "",
                f"`{', '.join(m.targets)} = {rec.raw_text}` (raw units)", ""]
        if m.scales_note:
            out += [f"The LaTeX form uses {m.scales_note}.", ""]
        out += [f"Test R² **{_num(rec.test.r2) if rec.test else '—'}**, validation R² {_num(rec.val.r2)}, "
                f"complexity {rec.complexity}, {rec.n_params} parameters per unit. How it is chosen: {run.rule}.", ""]
    out += [f"{hh} Pareto frontier", "", f"![Pareto frontier]({images['frontier']})", ""]
    if run.human is not None and run.human.val is not None:
        out += ["The human law (diamond) is fitted on the same fit rows and scored on the same validation rows "
                "as the discovered laws.", ""]
    rows = []
    for law in run.shown:
        label = law.label + (" ★" if law.recommended else "") + ("" if law.on_frontier else " (off the frontier)")
        rows.append([label, str(law.complexity), str(law.n_params),
                     law.origin, _num(law.train.r2) if law.train else "—", _num(law.val.r2),
                     _num(law.test.r2) if law.test else "—", _sig(law.test.nmse) if law.test else "—",
                     _sig(law.test.nmae) if law.test else "—", f"`{law.text}`"])
    if run.human is not None:
        hu = run.human
        tp = hu.test_published
        rows.append(["human law", str(hu.complexity), str(hu.n_params), "published", "—",
                     _num(hu.val.r2) if hu.val else "—", _num(tp.r2) if tp else "—", _sig(tp.nmse) if tp else "—",
                     _sig(tp.nmae) if tp else "—", f"`{hu.formula}`"])
    out += [f"{hh} Frontier laws", ""]
    out += _table(["law", "complexity", "params", "origin", "train R²", "val R²", "test R²", "test NMSE", "test NMAE",
                   "formula"], rows, right={1, 2, 4, 5, 6, 7, 8})
    if m.scales_note:
        out += [f"Formulas use {m.scales_note}.", ""]
    for law in run.shown:
        out += _law(law, hhh)
    if run.human is not None:
        hu = run.human
        out += [f"{hhh} Human-derived law", "", "$$", hu.latex, "$$", "", f"{hu.citation}", ""]
        out += _table(["", "R²", "NMSE", "NMAE"], [_scores_row("validation (fit rows → validation)", hu.val),
                                                  _scores_row("test, published parameters", hu.test_published),
                                                  _scores_row("test, refitted by discover", hu.test_refit)],
                      right={1, 2, 3})
    if run.fit is not None:
        f = run.fit
        out += [f"{hh} The recommended law against the data", "", f"![predicted vs observed]({images['fit']})", "",
                f"Observed train (circles) and test (triangles) rows per group against **{f.main}** ({f.why}); "
                f"shaded: beyond the training range.{(' ' + f.note + '.') if f.note else ''}{_band_text(f)}", "",
                f"![residuals]({images['residuals']})", ""]
    hi = run.history
    out += [f"{hh} Search history", ""]
    if "history" in images:
        out += [f"![search history]({images['history']})", ""]
    rate = f"{hi.rate:.2f}" if hi.rate else "—"
    origins = ", ".join(f"{o} {n} ({hi.frontier_origins.get(o, 0)} on the frontier)" for o, n in
                        sorted(hi.origins.items()))
    out += [f"{hi.evaluations} candidates ({hi.failed} rejected) in {_num(hi.elapsed, 1)} s, {rate} per second; "
            f"by proposer: {origins}.", ""]
    if hi.llm_lines:
        out += [f"- {line}" for line in hi.llm_lines] + [""]
    if hi.start_lines:
        out += [f"- {line}" for line in hi.start_lines] + [""]
    out += [f"{hh} Run metadata", ""]
    out += _table(["", ""], [[k, f"`{v}`" if k.startswith("sha256") or k == "command" else v]
                             for k, v in m.items()])
    return out


def _law(law: LawView, h: str) -> list[str]:
    tag = (" (recommended)" if law.recommended else "") + ("" if law.on_frontier else ", off the frontier")
    out = [f"{h} {law.label}{tag}", "", "$$", law.latex or law.text, "$$", "",
           f"`{law.text}` — complexity {law.complexity}, {law.n_params} parameters, from {law.origin}, "
           f"candidate #{law.id}.", ""]
    out += _table(["", "R²", "NMSE", "NMAE"], [_scores_row("train", law.train), _scores_row("validation", law.val),
                                              _scores_row("test", law.test)], right={1, 2, 3})
    if law.recommended and law.params:
        rows = [[law.units[i] if i < len(law.units) else str(i), *(_sig(v, 5) for v in p)]
                for i, p in enumerate(law.params[:MAX_PARAM_ROWS])]
        out += ["Parameters per group" + (" (refitted on all of train):" if law.refitted else ":"), ""]
        out += _table(["group", *law.names], rows, right=set(range(1, len(law.names) + 1)))
        if len(law.params) > MAX_PARAM_ROWS:
            out += [f"(first {MAX_PARAM_ROWS} of {len(law.params)} units; all in the HTML report)", ""]
    return out


def bench_markdown(bench: BenchReport, files: Path, rel: str,
                   progress: Callable[[str], None] | None = None, jobs: int | None = None) -> list[str]:
    out = [f"# {bench.title}", "", f"{bench.settings}.", ""]
    out += [f"> {n}" for n in bench.notes] + ([""] if bench.notes else [])
    out += ["## Results: test R² per task", "",
            "**Bold**: best in its column; ✓ / ✗: discover at least as good as / below the human law.", ""]
    header = ["system", *(f"[{t.task.removesuffix('_scaling_law')}](#{_slug(t.task)})" for t in bench.tasks), "mean"]
    rows = []
    for row in bench.rows:
        cells = []
        for c in row.cells:
            text = _num(c.value, 3)
            if "beats" in c.css:
                text += " ✓"
            elif "loses" in c.css:
                text += " ✗"
            if "win" in c.css:
                text = f"**{text}**"
            cells.append(text)
        rows.append([row.system, *cells, _num(row.mean, 3)])
    out += _table(header, rows, right=set(range(1, len(header))))
    per_task = [[f"[{t.task}](#{_slug(t.task)})", f"{t.runs_ok}/{t.runs}", _num(t.r2_mean), _num(t.r2_best),
                 ", ".join(f"{s}: {_num(r2, 3) if status == 'ok' else status}" for s, status, r2 in t.seeds),
                 _num(t.human_published_r2), _num(t.human_refit_r2), f"`{t.formula}`" if t.formula else "—"]
                for t in bench.tasks]
    out += ["### Per task", ""]
    out += _table(["task", "runs ok", "mean R²", "best R²", "seeds (test R²)", "human, published", "human, refitted",
                   "best law (raw units)"], per_task, right={1, 2, 3, 5, 6})
    for lines in drawn(bench.runs, partial(_bench_section, files=files, rel=rel), progress, jobs):
        out += lines
    return out


def _bench_section(run: RunReport, files: Path, rel: str) -> list[str]:
    return run_markdown(run, files, rel, level=2, prefix=f"{_slug(run.meta.task)}-")


def write(content: RunReport | BenchReport, out: Path, progress: Callable[[str], None] | None = None,
          jobs: int | None = None) -> Path:
    """Write ``out`` (Markdown) and its PNGs into ``<out stem>_files/`` beside it."""
    files = out.parent / f"{out.stem}_files"
    rel = files.name
    if isinstance(content, BenchReport):
        lines = bench_markdown(content, files, rel, progress, jobs)
    else:
        lines = run_markdown(content, files, rel)
    lines += ["---", f"Made by `discover report` on {generated()}."]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _band_text(f) -> str:
    """The fit plot's caption for the admitted laws' band ('' when none is drawn)."""
    if not f.admitted:
        return ""
    bar = "" if f.curves else " (a bar at each row)"
    return (f" Band{bar}: the range of the predictions of the {f.admitted} laws the choice could not tell apart "
            "from the best on validation (not a confidence interval).")
