"""The benchmark: ``bench`` (every task x seed), ``baseline`` (a human law) and ``tasks``."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click
from rich.table import Table

from discover.cli.app import cli, console, dev_option, out, split_names
from discover.errors import UserError


@cli.command()
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder with the task data (else $DISCOVER_DATA, "
              "the cache, or download).")
def tasks(data_dir: str | None) -> None:
    """List the known tasks with their row and group counts (of the data found here: nothing is downloaded)."""
    from discover.data import load_dataset, looked_in
    from discover.errors import DataNotFound
    from discover.tasks import PROVIDED, all_tasks

    table = Table(title="tasks")
    for col in ("task", "inputs", "target(s)", "groups", "train", "test", "test rows", "validation rows"):
        table.add_column(col, overflow="fold")
    missing, broken = [], []
    for t in all_tasks():
        try:
            ds = load_dataset(t, data_dir, download=False)
            counts = (str(len(ds.groups)), str(len(ds.train)), str(len(ds.test)))
        except DataNotFound:
            counts = ("not here",) * 3
            missing.append(t.name)
        except UserError as exc:
            counts = ("error",) * 3
            broken.append(f"{t.name}: {exc}")
        test = "the published split" if t.test == PROVIDED else t.test
        table.add_row(t.name, ", ".join(t.inputs), ", ".join(t.targets), *counts, test, t.validation)
    out.print(table)
    if missing:
        where = " or ".join(str(r) for r in looked_in(data_dir))
        console.print(f"not here: {len(missing)} task(s) have no data in {where}. `discover run --task NAME` "
                      "downloads a task's data from its public source; or give --data-dir DIR (or $DISCOVER_DATA).",
                      highlight=False)
    for line in broken:
        console.print(f"error: {line}", highlight=False)


@cli.command()
@click.option("--task", "task_name", required=True, help="Task name (e.g. vocab_scaling_law or vocab).")
@click.option("--params", "params_file", type=click.Path(dir_okay=False),
              help="Published fitted parameters per group (SLDBench's human_law.json format). "
              "Default: human_law.json in the task's data folder, if there is one.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder with the task data.")
def baseline(task_name: str, params_file: str | None, data_dir: str | None) -> None:
    """Score a task's human-derived law: (a) as published (--params, or the data folder's
    human_law.json) and (b) refitted on train by discover's fitter (warm-started from (a)).

    \b
    Example:
      discover baseline --task vocab --data-dir ../shared/data/sldbench
      discover baseline --task vocab --params my_fit.json
    """
    from discover.baselines import print_baseline, published_params_file, run_baseline
    from discover.data import load_dataset
    from discover.tasks import find_task

    task = find_task(task_name)
    ds = load_dataset(task, data_dir)
    if params_file is None:
        params_file = published_params_file(ds.source)
    print_baseline(run_baseline(task, ds, params_file), out)


@cli.command()
@click.option("--tasks", "task_names", default="all", show_default=True, help="all, or task names comma-separated.")
@click.option("--seeds", type=int, default=5, show_default=True,
              help="N, the runs per task: seeds K..K+N-1 (K: --first-seed).")
@click.option("--first-seed", type=int, default=0, show_default=True,
              help="K, the first seed: e.g. --first-seed 5 to confirm a finding on seeds no earlier batch used.")
@click.option("--budget", type=float, default=120.0, show_default=True,
              help="Search seconds per run (choosing and refitting the reported law "
              "come after).")
@click.option("--jobs", type=int, help="Runs at a time, each in its own process (default: CPU cores).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="bench", show_default=True,
              help="Bench folder: runs/, human/ and the results files; run again to resume.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder with the task data.")
@dev_option
@click.option("--quiet", is_flag=True, help="No progress display.")
def bench(task_names: str, seeds: int, first_seed: int, budget: float, jobs: int | None, out_dir: str,
          data_dir: str | None, development: bool, quiet: bool) -> None:
    """Run the search on every task × seed, plus the human laws, and write results.csv/.json/.md
    with the SLDBench paper's rows side by side. Finished runs are not redone.

    \b
    Example:
      discover bench --seeds 5 --budget 120 --out bench
    """
    import os

    from discover.bench import BenchConfig, BenchDisplay, print_overview, run_bench
    from discover.tasks import all_tasks, find_task

    names = split_names(task_names)
    if not names:
        raise UserError("--tasks: give 'all' or task names, comma-separated")
    tasks = all_tasks() if names == ["all"] else [find_task(n) for n in names]
    config = BenchConfig(tasks=tuple(tasks), out=Path(out_dir), seeds=seeds, first_seed=first_seed, budget=budget,
                         jobs=(os.cpu_count() or 1) if jobs is None else jobs, data_dir=data_dir,
                         development=development)
    display = None if quiet else BenchDisplay(console, budget)
    try:
        rows = run_bench(config, display, command=shlex.join(["discover", *sys.argv[1:]]),
                         warn=lambda text: console.print(text, highlight=False))
    except KeyboardInterrupt:
        console.print(f"interrupted: finished runs are kept; run the same command again to resume ({out_dir})")
        sys.exit(130)
    print_overview(config, rows, out)
