"""Looking at what a run or a bench found: ``show`` and ``report``."""

from __future__ import annotations

import click

from discover.cli.app import cli, console, out
from discover.errors import UserError


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
def show(run_dir: str) -> None:
    """Print a finished (or stopped) run: its frontier and scores. On a bench folder: its results table."""
    from discover.bench import print_recorded
    from discover.display import print_run
    from discover.report.bench_content import is_bench

    if is_bench(run_dir):
        print_recorded(run_dir, out)
    else:
        print_run(run_dir, out)


@cli.command()
@click.argument("path", type=click.Path(file_okay=False))
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False),
              help="File to write (default PATH/report.html, or PATH/report.md with --format md).")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html", show_default=True,
              help="html: one self-contained file; md: Markdown with PNG plots in <name>_files/ beside it.")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Folder with the task data, for the fit plots and the human law (else $DISCOVER_DATA or the cache).")
@click.option("--jobs", type=int, help="Bench folders: run sections drawn at once, one process each "
              "(default: one per core).")
def report(path: str, out_file: str | None, fmt: str, data_dir: str | None, jobs: int | None) -> None:
    """Write a report of a run or bench folder: frontier, laws, fits, search history.

    \b
    Examples:
      discover report runs/vocab_scaling_law/20261122-101500-seed0
      discover report bench-out -o bench.html
      discover report RUN_DIR --format md -o paper/law.md
    """
    from discover.report import write_report

    if jobs is not None and jobs < 1:
        raise UserError("--jobs must be 1 or more")
    written = write_report(path, out_file, fmt, data_dir,
                           progress=lambda text: console.print(text, highlight=False), jobs=jobs)
    out.print(str(written), highlight=False, soft_wrap=True)
