"""``discover report``: a run or bench folder as one self-contained HTML file, or Markdown + PNGs.

``content`` gathers everything into dataclasses; ``plots`` and ``math`` draw; ``export_html``
and ``export_markdown`` render the same content.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from discover.errors import UserError

FORMATS = {"html": ".html", "md": ".md"}


def build(path: str | Path, data_dir: str | Path | None = None, human: bool = True,
          progress: Callable[[str], None] | None = None):
    """The report content of a run folder (``RunReport``) or a bench folder (``BenchReport``)."""
    from discover.report.bench_content import is_bench, load_bench
    from discover.report.content import load_run

    p = Path(path)
    if not p.is_dir():
        raise UserError(f"{p} is not a folder: give a run folder (with config.json) or a bench folder")
    if (p / "config.json").is_file():
        return load_run(p, data_dir, human=human)
    if is_bench(p):
        return load_bench(p, data_dir, human=human, progress=progress)
    raise UserError(f"{p} is neither a run folder (no config.json) nor a bench folder (no results.json or runs/)")


def write_report(path: str | Path, out: str | Path | None = None, fmt: str = "html",
                 data_dir: str | Path | None = None, human: bool = True,
                 progress: Callable[[str], None] | None = None, jobs: int | None = None) -> Path:
    """Write the report of a run or bench folder; returns the file written (default ``PATH/report.html``).
    ``progress`` hears of each step of a bench report (a run's is quick), whose run sections are
    drawn on up to ``jobs`` processes (default: one per core)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown report format {fmt!r}: use html or md")
    target = Path(out) if out else Path(path) / f"report{FORMATS[fmt]}"
    content = build(path, data_dir, human=human, progress=progress)
    if fmt == "html":
        from discover.report.export_html import write
    else:
        from discover.report.export_markdown import write
    return write(content, target, progress, jobs)
