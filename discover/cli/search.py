"""Searching: ``discover run`` (a task, or the user's table) and ``discover fit`` (the user's own law)."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path

import click

from discover.cli.app import cli, console, dev_option, out, split_names, table_options
from discover.errors import UserError
from discover.llm.options import llm_options


@cli.command()
@table_options
@click.option("--max-params", type=int, help="Cap on parameters per group and target (default: the task's).")
@click.option("--budget", type=float,
              help="Search time in seconds (default: 120; a resumed run: its own). Choosing the law to report and "
              "refitting it on all of train come after, so a run takes somewhat longer. With --resume, a larger "
              "budget searches on.")
@click.option("--max-evals", type=int, help="Stop after this many candidates (a deterministic end point; with "
              "--resume, a larger number searches on).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: same seed, same search.")
@click.option("--refit-weight", type=int,
              help="Times the validation rows (train's largest scales) count when the reported laws are "
              "refitted on all of train; 1 weighs every row alike (say, when the largest runs are noisy). "
              "A random validation rule weighs every row alike anyway. Default: 8.")
@click.option("--start", "start_laws", multiple=True, metavar="LAW",
              help="A law of yours to start the search from, written as for `discover fit --law` (data units; "
              "names that are not inputs or functions are parameters), or a finished run's folder (the laws it "
              "reported: go on from them when new rows came in); repeat for more. Each is scored like any "
              "candidate, and the search varies it. (`discover bench` never starts from a given law.)")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (default runs/<task>/<time>-seed<S>).")
@click.option("--resume", type=click.Path(file_okay=False),
              help="Continue the run in this folder, with its own task, seed and settings.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder with the task data.")
@dev_option
@click.option("--quiet", is_flag=True, help="No progress lines.")
@click.option("--dry-run", is_flag=True, help="Load the data and apply the holdout rules, print where the rows go "
              "(fit, validation, test per group, and each input's range in each) and the notes, then stop.")
@llm_options
def run(task_name, csv_path, inputs, target, group, holdout, validation, name, drop_incomplete, max_params, budget,
        max_evals, seed, refit_weight, start_laws, out, resume, data_dir, development, quiet, dry_run,
        **llm_opts) -> None:
    """Search for a law on one task, then print the frontier with validation and test R².

    \b
    Examples:
      discover run --task vocab_scaling --budget 120
      discover run --csv runs.csv --inputs N,D --target loss --holdout "largest 15% of N*D"
      discover run --resume runs/vocab_scaling_law/20261122-101500-seed0
      discover run --task vocab --start 'E + A/non_vocab_parameters**a + B/num_characters**b'
    """
    from discover.data import development_split, load_dataset, run_notes
    from discover.llm.options import setup_llm
    from discover.own_law import check_start_laws, expand_start_laws
    from discover.runner import default_out, resume_run, start_run
    from discover.search.loop import SearchConfig
    from discover.tasks import csv_task, find_task

    progress = None if quiet else _progress_printer()
    note = None if quiet else (lambda text: console.print(text, highlight=False))
    if budget is not None and budget <= 0:
        raise UserError("--budget must be positive")
    if refit_weight is not None and refit_weight < 1:
        raise UserError("--refit-weight must be 1 or more")
    if seed < 0:
        raise UserError("--seed must be 0 or more")
    if max_evals is not None and max_evals < 1:
        raise UserError("--max-evals must be 1 or more")
    if max_params is not None and max_params < 1:
        raise UserError("--max-params must be 1 or more")
    if resume:
        if development:
            raise UserError("--dev applies to new runs; a resumed run keeps the split it started on")
        if refit_weight is not None:
            raise UserError("--refit-weight applies to new runs; a resumed run keeps its own")
        if given := _given(NEW_RUN_ONLY):
            raise UserError(f"{', '.join(given)}: for new runs only; a resumed run keeps its own task, seed and "
                            "settings (to search on, give a larger --budget or --max-evals)")
        llm = setup_llm(llm_opts, resume, console.print, resuming=True)
        result = resume_run(resume, data_dir, budget=budget, max_evals=max_evals, on_progress=progress,
                            proposers=[llm.proposer] if llm else [], on_note=note)
        _print_result(result)
        return
    task = task_from_options(task_name, csv_path, inputs, target, group, holdout, validation, name, max_params,
                              find_task, csv_task, drop_incomplete)
    ds = load_dataset(task, data_dir)
    if development:
        ds = development_split(ds)
    config = SearchConfig(max_evals=max_evals, seed=seed, max_params=task.max_params,
                          start_laws=expand_start_laws(start_laws, task.symbols))
    if budget is not None:
        config = dataclasses.replace(config, budget=budget)
    if refit_weight is not None:
        config = dataclasses.replace(config, refit_weight=refit_weight)
    if max_params is not None:
        config = dataclasses.replace(config, max_params=max_params)
    check_start_laws(config.start_laws, task.symbols, config.max_params)
    if dry_run:
        console.print(f"[bold]{task.name}[/bold]: {len(ds.train)} train rows, {len(ds.test)} test rows, "
                      f"{len(ds.groups)} group(s)", highlight=False)
        for text in run_notes(ds):
            console.print(f"note: {text}", highlight=False)
        _print_split(ds, seed)
        return
    path = Path(out) if out else default_out(task, seed)
    llm = setup_llm(llm_opts, path, console.print, task, config.max_params)
    if llm:
        config = dataclasses.replace(config, external_ratio=llm.ratio)
    split = "development split: " if development else ""
    console.print(f"[bold]{task.name}[/bold]: {split}{len(ds.train)} train rows, {len(ds.test)} test rows, "
                  f"{len(ds.groups)} group(s); budget {config.budget:g}s, seed {seed}; "
                  f"{llm.description if llm else 'GP-only search (no LLM configured)'}"
                  f"{_starting_from(config.start_laws)}", highlight=False)
    for text in run_notes(ds):
        console.print(f"note: {text}", highlight=False)
    result = start_run(task, ds, path, config, on_progress=progress, command=shlex.join(["discover", *sys.argv[1:]]),
                       proposers=[llm.proposer] if llm else [], on_note=note)
    _print_result(result)


# `discover run` options that describe a new run (a resumed run has its own), by parameter name and flag
NEW_RUN_ONLY = {"task_name": "--task", "csv_path": "--csv", "inputs": "--inputs", "target": "--target",
                "group": "--group", "holdout": "--holdout", "validation": "--validation", "name": "--name",
                "max_params": "--max-params", "seed": "--seed", "out": "--out", "dry_run": "--dry-run",
                "drop_incomplete": "--drop-incomplete", "start_laws": "--start"}


def _starting_from(laws: tuple[str, ...]) -> str:
    return f"; starting from {len(laws)} law(s) of yours" if laws else ""


def _given(flags: dict[str, str]) -> list[str]:
    """The flags among ``flags`` (parameter name -> flag) set on the command line or by the environment."""
    ctx = click.get_current_context()
    return [flag for name, flag in flags.items()
            if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)]


def task_from_options(task_name, csv_path, inputs, target, group, holdout, validation, name, max_params, find_task,
                       csv_task, drop_incomplete=False):
    if task_name and csv_path:
        raise UserError("give either --task or --csv, not both")
    if name is not None and not csv_path:
        raise UserError("--name names a --csv task (a known task keeps its own name)")
    if task_name:
        task = find_task(task_name)
        return dataclasses.replace(task, drop_incomplete=True) if drop_incomplete else task
    if not csv_path:
        raise UserError("say what to fit: --task NAME (see `discover tasks`) or --csv FILE --inputs ... --target ...")
    ins, tgs = split_names(inputs), split_names(target)
    if not ins or not tgs:
        raise UserError("--csv needs --inputs (comma-separated columns) and --target")
    if "{first input}" in holdout:
        holdout = holdout.replace("{first input}", ins[0])
    return csv_task(csv_path, ins, tgs, split_names(group), holdout, validation, max_params=max_params or 12,
                    name=name, drop_incomplete=drop_incomplete)


def _progress_printer():
    def show(p) -> None:
        console.print(f"gen {p.generation:>3}  {p.evaluations:>5} candidates  {p.elapsed:6.1f}s  "
                      f"best val R² {p.best_val_r2:.4f}  frontier {p.frontier_size:>2}  {p.rate:5.1f} cand/s",
                      highlight=False)

    return show


def _print_split(ds, seed: int) -> None:
    from discover.display import print_split

    print_split(ds, seed, out)


def _print_result(result) -> None:
    from discover.display import print_run

    print_run(result.path, out)


@cli.command("fit")
@click.option("--law", "formulas", required=True, multiple=True, metavar="FORMULA",
              help="Your law in the data's units, parameters by name, e.g. 'E + A/N**alpha + B/D**beta'. Repeat "
              "to compare several: each is fitted alike, then a table sets their scores side by side.")
@table_options
@click.option("--seed", type=int, default=0, show_default=True,
              help="As a run's seed: which rows a large table fits on during search.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder with the task data.")
@dev_option
def fit_law(formulas, task_name, csv_path, inputs, target, group, holdout, validation, name, drop_incomplete, seed,
            data_dir, development) -> None:
    """Fit your own law on a task and score it as a run scores the laws it finds.

    Parameters are the names in the formula that are not inputs or functions (E is a
    parameter; write exp(1) for Euler's number). The law is fitted per group, and scored on the
    validation slice (validation R²) and, refitted on all of train, on the test split (test R²),
    the two scores a run's table shows.

    \b
    Examples:
      discover fit --task vocab --law 'E + A/non_vocab_parameters**alpha + B/num_characters**beta'
      discover fit --csv runs.csv --inputs N,D --target loss --law 'E + A/N**a + B/D**b'
      discover fit --task vocab --law 'E + A/non_vocab_parameters**a' --law 'E + A*vocab_size**b'
    """
    from discover.data import development_split, dropped_rows, load_dataset
    from discover.display import print_own_law, print_own_laws_side_by_side
    from discover.own_law import fit_own_law, own_expr
    from discover.tasks import csv_task, find_task

    if seed < 0:
        raise UserError("--seed must be 0 or more")
    task = task_from_options(task_name, csv_path, inputs, target, group, holdout, validation, name, None,
                              find_task, csv_task, drop_incomplete)
    ds = load_dataset(task, data_dir)
    if development:
        ds = development_split(ds)
    if note := dropped_rows(ds):
        console.print(f"note: {note}", highlight=False)
    for formula in formulas:  # every law is checked before any is fitted
        own_expr(formula, task.symbols)
    laws = []
    for formula in formulas:
        laws.append(fit_own_law(formula, ds, task.max_params, seed=seed))
        print_own_law(laws[-1], task.name, ds.split, out)
    if len(laws) > 1:
        print_own_laws_side_by_side(laws, ds.split, out)
