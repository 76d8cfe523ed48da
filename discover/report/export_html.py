"""The report as one self-contained HTML file: a jinja2 template, images as SVG data URIs.

Nothing is loaded from the network when the file is viewed: no scripts, no web fonts, styles
inline, every plot and formula embedded.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from pathlib import Path

import jinja2

from discover.report.bench_content import BenchReport, drawn
from discover.report.content import LawView, RunReport, generated
from discover.report.math import try_render
from discover.report.plots import run_images

TEMPLATES = Path(__file__).parent / "templates"
COMPACT_UNITS = 8  # more fit units than this: the parameter table scrolls


def data_uri(data: bytes, mime: str = "image/svg+xml") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _num(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.{digits}f}".replace("-", "−")


def _sig(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.{digits}g}".replace("-", "−")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["sig"] = _sig
    return env


def formula_images(laws: list[LawView] | tuple[LawView, ...], extra: dict[str, str] | None = None) -> dict[str, str]:
    """Data URIs of the typeset formulas by LaTeX source (missing when mathtext cannot typeset one)."""
    out = {}
    for latex in [law.latex for law in laws] + list((extra or {}).values()):
        if latex and latex not in out:
            svg = try_render(latex)
            if svg is not None:
                out[latex] = data_uri(svg)
    return out


def run_context(run: RunReport) -> dict:
    """What the run section template needs: the content plus its rendered images."""
    images = {name: data_uri(svg) for name, svg in run_images(run, "svg").items()}
    extra = {"human": run.human.latex} if run.human else {}
    return {"run": run, "images": images, "formulas": formula_images(run.shown, extra),
            "compact": len(run.meta.groups) * max(1, len(run.meta.targets)) > COMPACT_UNITS}


def render_run(run: RunReport) -> str:
    return environment().get_template("run.html.j2").render(
        title=f"discover report — {run.meta.task}", section=run_context(run), generated=generated())


def render_bench(bench: BenchReport, progress: Callable[[str], None] | None = None, jobs: int | None = None) -> str:
    sections = drawn(bench.runs, run_context, progress, jobs)
    return environment().get_template("bench.html.j2").render(
        title=bench.title, bench=bench, sections=sections, generated=generated())


def write(content: RunReport | BenchReport, out: Path, progress: Callable[[str], None] | None = None,
          jobs: int | None = None) -> Path:
    html = render_bench(content, progress, jobs) if isinstance(content, BenchReport) else render_run(content)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
