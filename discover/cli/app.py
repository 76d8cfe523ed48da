"""The command group, the consoles, and what several commands share (options, writing a table).

Every error a user can cause ends in one line on stderr and exit code 2, never a traceback (main).
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.console import Console

from discover.errors import UserError

console = Console(stderr=True, soft_wrap=True)  # messages and progress: one line each, never wrapped
out = Console(width=None if sys.stdout.isatty() else 200)  # tables: full width when piped to a file


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        console.print("interrupted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except UserError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("interrupted: what was evaluated is saved; continue with `discover run --resume DIR`")
        sys.exit(130)
    except OSError as exc:
        if exc.filename is None and exc.errno != errno.ENOSPC:
            raise  # not the file system the user pointed at: a bug, keep its traceback
        where = f": {exc.filename}" if exc.filename is not None else ""
        click.echo(f"error: {exc.strerror or exc}{where}", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="discover")
def cli() -> None:
    """Discover scaling laws that extrapolate.

    An evolutionary search proposes symbolic laws (genetic programming over a library of
    generic scaling-law motifs, optionally an LLM), fits each law's parameters per group on
    the training runs, and keeps the Pareto frontier of validation error against formula
    complexity. Validation is the largest-scale slice of the training data; the held-out
    test runs are scored once, at the end.
    """


def split_names(value: str | None) -> list[str]:
    from discover.tasks import column_names

    return column_names(value)


dev_option = click.option(
    "--dev", "development", is_flag=True,
    help="Development split: train's validation slice stands in for the test split, whose rows are not read. "
    "For judging changes to discover itself without touching the test split.")


def table_options(f):
    """The options that say which task to fit: a known task, or the user's own table."""
    options = [
        click.option("--task", "task_name", help="Task name (e.g. vocab_scaling or vocab) or a task spec .toml file."),
        click.option("--csv", "csv_path", type=click.Path(dir_okay=False),
                     help="Your own table of runs: a CSV (separated by commas, tabs, ';' or '|') or a .parquet file."),
        click.option("--inputs", help="With --csv: input columns, comma-separated."),
        click.option("--target", help="With --csv: target column(s), comma-separated."),
        click.option("--group", help="With --csv: group column(s), comma-separated (each group, i.e. each "
                     "combination of their values, gets its own parameters)."),
        click.option("--holdout", default="largest 15% of `{first input}`", show_default=True,
                     help="With --csv: rule for the test rows, e.g. 'largest 15% of N*D', 'top value of N per group'."),
        click.option("--validation",
                     help="With --csv: rule carving validation rows from train (default: the holdout rule)."),
        click.option("--name", help="With --csv: the task's name, for the run folder (runs/NAME/...) and the "
                     "report (default: the file's name without .csv)."),
        click.option("--drop-incomplete", is_flag=True, help="Leave out rows with an empty, non-numeric or "
                     "infinite input or target (or an empty group); they are counted and named. Without it such "
                     "a row is an error."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def write_file(out_file: str, write: Callable[[Path], object]) -> None:
    """``write(path)`` to ``out_file``, its folder made if missing (as `report` does), and say so;
    UserError if it cannot be written."""
    path = Path(out_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
    except OSError as exc:
        raise UserError(f"cannot write {out_file}: {exc.strerror or exc}") from None
    out.print(f"written: {out_file}", highlight=False)


def write_table(table, out_file: str) -> None:
    """Write a result table to ``out_file`` (CSV) and say so; UserError if it cannot be written."""
    write_file(out_file, lambda path: table.to_csv(path, index=False))


def bootstrap_progress(draws: int):
    """A progress line every tenth of ``draws`` resampled refits."""
    step = max(1, draws // 10)
    return lambda b: b % step == 0 and console.print(f"bootstrap: {b}/{draws} refits", highlight=False)
