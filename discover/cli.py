"""The ``discover`` command line.

Every error a user can cause ends in one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import dataclasses
import errno
import shlex
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from discover.errors import UserError
from discover.llm.options import llm_options

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


def _split_names(value: str | None) -> list[str]:
    from discover.tasks import column_names

    return column_names(value)


dev_option = click.option(
    "--dev", "development", is_flag=True,
    help="Development split: train's validation slice stands in for the test split, whose rows are not read. "
    "For judging changes to discover itself without touching the test split.")


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
        max_evals, seed, refit_weight, out, resume, data_dir, development, quiet, dry_run, **llm_opts) -> None:
    """Search for a law on one task, then print the frontier with validation and test R².

    \b
    Examples:
      discover run --task vocab_scaling --budget 120
      discover run --csv runs.csv --inputs N,D --target loss --holdout "largest 15% of N*D"
      discover run --resume runs/vocab_scaling_law/20261122-101500-seed0
    """
    from discover.data import development_split, load_dataset, run_notes
    from discover.llm.options import setup_llm
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
    task = _task_from_options(task_name, csv_path, inputs, target, group, holdout, validation, name, max_params,
                              find_task, csv_task, drop_incomplete)
    ds = load_dataset(task, data_dir)
    if development:
        ds = development_split(ds)
    config = SearchConfig(max_evals=max_evals, seed=seed, max_params=task.max_params)
    if budget is not None:
        config = dataclasses.replace(config, budget=budget)
    if refit_weight is not None:
        config = dataclasses.replace(config, refit_weight=refit_weight)
    if max_params is not None:
        config = dataclasses.replace(config, max_params=max_params)
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
                  f"{llm.description if llm else 'GP-only search (no LLM configured)'}", highlight=False)
    for text in run_notes(ds):
        console.print(f"note: {text}", highlight=False)
    result = start_run(task, ds, path, config, on_progress=progress, command=shlex.join(["discover", *sys.argv[1:]]),
                       proposers=[llm.proposer] if llm else [], on_note=note)
    _print_result(result)


# `discover run` options that describe a new run (a resumed run has its own), by parameter name and flag
NEW_RUN_ONLY = {"task_name": "--task", "csv_path": "--csv", "inputs": "--inputs", "target": "--target",
                "group": "--group", "holdout": "--holdout", "validation": "--validation", "name": "--name",
                "max_params": "--max-params", "seed": "--seed", "out": "--out", "dry_run": "--dry-run",
                "drop_incomplete": "--drop-incomplete"}


def _given(flags: dict[str, str]) -> list[str]:
    """The flags among ``flags`` (parameter name -> flag) set on the command line or by the environment."""
    ctx = click.get_current_context()
    return [flag for name, flag in flags.items()
            if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)]


def _task_from_options(task_name, csv_path, inputs, target, group, holdout, validation, name, max_params, find_task,
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
    ins, tgs = _split_names(inputs), _split_names(target)
    if not ins or not tgs:
        raise UserError("--csv needs --inputs (comma-separated columns) and --target")
    if "{first input}" in holdout:
        holdout = holdout.replace("{first input}", ins[0])
    return csv_task(csv_path, ins, tgs, _split_names(group), holdout, validation, max_params=max_params or 12,
                    name=name, drop_incomplete=drop_incomplete)


def _progress_printer():
    def show(p) -> None:
        console.print(f"gen {p.generation:>3}  {p.evaluations:>5} candidates  {p.elapsed:6.1f}s  "
                      f"best val R² {p.best_val_r2:.4f}  frontier {p.frontier_size:>2}  {p.rate:5.1f} cand/s",
                      highlight=False)

    return show


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
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--at", "points", multiple=True, metavar="NAME=VALUE,...",
              help="A point to predict: every input of the law, e.g. 'N=7e9,D=1.4e12'. Repeat for more points.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False),
              help="Points to predict: a CSV with the law's input columns (and its group column(s), if it has groups).")
@click.option("--group", help="The group of the --at points, by name as `discover show` lists it (with several "
              "group columns: their values joined by ' / '). Default: the CSV's group column(s), else every group.")
@click.option("--law", "law_id", type=int, help="Id of another law the run reported (see `discover show`); "
              "default: the recommended law.")
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False),
              help="Write the points and their predictions to this CSV.")
@click.option("--bootstrap", "draws", type=int, metavar="N",
              help="Also refit the law on N resamples of the training rows (e.g. 100) and give the central 90% of "
              "its predictions: the fit range (how much the particular runs in the table move it). Needs the "
              "run's data (--data-dir for a known task).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="With --bootstrap: folder with the task data.")
def predict(run_dir: str, points: tuple[str, ...], csv_path: str | None, group: str | None, law_id: int | None,
            out_file: str | None, draws: int | None, data_dir: str | None) -> None:
    """Predict new runs with a finished run's law (its parameters fitted on all of train).

    Each point is flagged where it lies past the range of the training runs of its group: the
    further out, the less the fit alone vouches for the prediction. Beside the law's prediction:
    the range of the predictions of the laws the run could not tell apart from the best on
    validation (where they disagree, validation did not decide; not a confidence interval).

    \b
    Examples:
      discover predict runs/vocab_scaling_law/20261122-101500-seed0 \\
          --at non_vocab_parameters=7e9,vocab_size=65536,num_characters=6e11
      discover predict RUN_DIR --csv planned_runs.csv -o predicted.csv
    """
    from discover.display import print_predictions
    from discover.predict import load_admitted, load_law, parse_points, predictions, read_points, with_groups

    if bool(points) == bool(csv_path):
        raise UserError("give the points to predict either with --at (one or more) or with --csv")
    law = load_law(run_dir, law_id)
    frame = parse_points(points, law) if points else read_points(csv_path, law)
    if group is not None and points and any(c in frame.columns for c in law.group_columns):
        raise UserError("the --at points name their group already; drop --group, or the group from --at")
    admitted = load_admitted(run_dir)
    table = predictions(law, with_groups(frame, law, group), admitted)
    spread = None
    if draws is not None:
        from discover.bootstrap import with_fit_range
        from discover.runner import recorded_dataset
        from discover.runstore import RunStore

        cfg = RunStore.open(run_dir).config
        ds = recorded_dataset(cfg, data_dir)
        step = max(1, draws // 10)
        table, spread = with_fit_range(table, law, cfg, ds, draws, on_draw=lambda b: b % step == 0 and console.print(
            f"bootstrap: {b}/{draws} refits", highlight=False))
    elif data_dir is not None:
        raise UserError("--data-dir is for --bootstrap (predictions need only the run folder)")
    print_predictions(law, table, out, admitted, spread)
    if out_file:
        try:
            table.to_csv(out_file, index=False)
        except OSError as exc:
            raise UserError(f"cannot write {out_file}: {exc.strerror or exc}") from None
        out.print(f"written: {out_file}", highlight=False)


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--over", required=True, metavar="NAME,...",
              help="The input(s) to optimise, comma-separated, e.g. 'lr,bsz'.")
@click.option("--at", "settings", metavar="NAME=VALUE,...",
              help="The other inputs' values, e.g. 'N=1e9,D=1e11' (and the group by its column(s), if you like).")
@click.option("--where", "formulas", multiple=True, metavar="NAME=FORMULA",
              help="An input given by a formula of the others, e.g. 'D=1e21/(6*N)' (a compute budget). Repeatable.")
@click.option("--range", "spans", multiple=True, metavar="NAME=LOW:HIGH",
              help="Where to search an --over input (default: its training range in the group). Repeatable.")
@click.option("--group", help="The group to optimise for (default: each group, one row each).")
@click.option("--target", help="The target to optimise, when the law predicts several.")
@click.option("--maximize", is_flag=True, help="The target is better high (e.g. an accuracy); default: minimise.")
@click.option("--law", "law_id", type=int, help="Id of another law the run reported (see `discover show`); "
              "default: the recommended law.")
@click.option("--bootstrap", "draws", type=int, metavar="N",
              help="Also refit the law on N resamples of the training rows (e.g. 100) and give the central 90% of "
              "their optima: how much the particular runs in the table move it. Needs the run's data.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="With --bootstrap: folder with the task data.")
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False), help="Write the table to this CSV.")
def optimum(run_dir: str, over: str, settings: str | None, formulas: tuple[str, ...], spans: tuple[str, ...],
            group: str | None, target: str | None, maximize: bool, law_id: int | None, draws: int | None,
            data_dir: str | None, out_file: str | None) -> None:
    """Find the inputs a finished run's law says are best, with the other inputs held fixed.

    The law is minimised (--maximize: maximised) over the --over inputs, per group, inside
    their training range unless --range says otherwise. An optimum on the edge of that range
    is not one: the law keeps improving past it. Beside the law's optimum: the range of the
    optima of the laws the run could not tell apart on validation (where it is wide, the data
    do not pin the optimum down).

    \b
    Examples:
      discover optimum RUN_DIR --over lr,bsz --at non_embedding_param_size=1e9,data_size=1e11
      discover optimum RUN_DIR --over N --where 'D=1e21/(6*N)' --range N=1e8:1e11
    """
    from discover.display import print_optimum
    from discover.optimum import answer, parse_formulas, parse_ranges
    from discover.predict import load_admitted, load_law, parse_settings

    law = load_law(run_dir, law_id)
    ranges = parse_ranges(spans, law)
    cols, q, table = answer(law, _split_names(over), parse_settings(settings, law) if settings else {},
                            parse_formulas(formulas), ranges, group, target, maximize, load_admitted(run_dir))
    fits = None
    if draws is not None:
        from discover.optimum import with_fit_range
        from discover.runner import recorded_dataset
        from discover.runstore import RunStore

        cfg = RunStore.open(run_dir).config
        ds = recorded_dataset(cfg, data_dir)
        step = max(1, draws // 10)
        table, fits = with_fit_range(table, law, cols, q, ranges, cfg, ds, draws, on_draw=lambda b: b % step == 0
                                     and console.print(f"bootstrap: {b}/{draws} refits", highlight=False))
    elif data_dir is not None:
        raise UserError("--data-dir is for --bootstrap (the optimum needs only the run folder)")
    print_optimum(law, table, out, cols, q, None if fits is None else (fits, draws))
    if out_file:
        try:
            table.to_csv(out_file, index=False)
        except OSError as exc:
            raise UserError(f"cannot write {out_file}: {exc.strerror or exc}") from None
        out.print(f"written: {out_file}", highlight=False)


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--to", "fmt", type=click.Choice(["python", "latex", "json"]), default="python", show_default=True,
              help="python: a module (numpy only) with law() and predict(); latex: the formula and a table of "
              "parameters; json: all of it as data.")
@click.option("--law", "law_id", type=int, help="Id of another law the run reported (see `discover show`); "
              "default: the recommended law.")
@click.option("-o", "--out", "out_file", type=click.Path(dir_okay=False), help="File to write (default: print it).")
def export(run_dir: str, fmt: str, law_id: int | None, out_file: str | None) -> None:
    """Export a finished run's law with its fitted parameters, to use it elsewhere.

    The parameters are those fitted on all of train (as `discover predict` uses them), per
    group and target; inputs are in the data's own units.

    \b
    Examples:
      discover export RUN_DIR -o law.py          # then: from law import predict; predict(N=7e9, D=1.4e12)
      discover export RUN_DIR --to latex         # the formula and its parameters, for a paper
      discover export RUN_DIR --to json --law 44
    """
    from discover.export import exporters, load

    text = exporters()[fmt](load(run_dir, law_id))
    if not out_file:
        click.echo(text, nl=False)
        return
    try:
        Path(out_file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {out_file}: {exc.strerror or exc}") from None
    out.print(f"written: {out_file}", highlight=False)


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


def _print_split(ds, seed: int) -> None:
    from discover.display import print_split

    print_split(ds, seed, out)


def _print_result(result) -> None:
    from discover.display import print_run

    print_run(result.path, out)


@cli.command("fit")
@click.option("--law", "formula", required=True, metavar="FORMULA",
              help="Your law in the data's units, parameters by name, e.g. 'E + A/N**alpha + B/D**beta'.")
@table_options
@click.option("--seed", type=int, default=0, show_default=True,
              help="As a run's seed: which rows a large table fits on during search.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder with the task data.")
@dev_option
def fit_law(formula, task_name, csv_path, inputs, target, group, holdout, validation, name, drop_incomplete, seed,
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
    """
    from discover.data import development_split, dropped_rows, load_dataset
    from discover.display import print_own_law
    from discover.own_law import fit_own_law
    from discover.tasks import csv_task, find_task

    if seed < 0:
        raise UserError("--seed must be 0 or more")
    task = _task_from_options(task_name, csv_path, inputs, target, group, holdout, validation, name, None,
                              find_task, csv_task, drop_incomplete)
    ds = load_dataset(task, data_dir)
    if development:
        ds = development_split(ds)
    if note := dropped_rows(ds):
        console.print(f"note: {note}", highlight=False)
    print_own_law(fit_own_law(formula, ds, task.max_params, seed=seed), task.name, ds.split, out)


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

    names = _split_names(task_names)
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


if __name__ == "__main__":
    main()
