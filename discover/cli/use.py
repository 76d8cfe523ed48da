"""Putting a finished run's law to use: ``predict``, ``optimum`` and ``export``."""

from __future__ import annotations

import click

from discover.cli.app import bootstrap_progress, cli, out, split_names, write_file, write_table
from discover.errors import UserError


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
    if data_dir is not None and draws is None:
        raise UserError("--data-dir is for --bootstrap (predictions need only the run folder)")
    law = load_law(run_dir, law_id)
    frame = parse_points(points, law) if points else read_points(csv_path, law)
    if group is not None and points and any(c in frame.columns for c in law.group_columns):
        raise UserError("the --at points name their group already; drop --group, or the group from --at")
    admitted = load_admitted(run_dir)
    table = predictions(law, with_groups(frame, law, group), admitted)
    spread = None
    if draws is not None:
        from discover.bootstrap import with_fit_range
        from discover.runner import recorded_run

        cfg, ds = recorded_run(run_dir, data_dir)
        table, spread = with_fit_range(table, law, cfg, ds, draws, on_draw=bootstrap_progress(draws))
    print_predictions(law, table, out, admitted, spread)
    if out_file:
        write_table(table, out_file)


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

    if data_dir is not None and draws is None:
        raise UserError("--data-dir is for --bootstrap (the optimum needs only the run folder)")
    law = load_law(run_dir, law_id)
    ranges = parse_ranges(spans, law)
    cols, q, table = answer(law, split_names(over), parse_settings(settings, law) if settings else {},
                            parse_formulas(formulas), ranges, group, target, maximize, load_admitted(run_dir))
    fits = None
    if draws is not None:
        from discover.optimum import with_fit_range
        from discover.runner import recorded_run

        cfg, ds = recorded_run(run_dir, data_dir)
        table, fits = with_fit_range(table, law, cols, q, cfg, ds, draws, on_draw=bootstrap_progress(draws))
    print_optimum(law, table, out, cols, q, None if fits is None else (fits, draws))
    if out_file:
        write_table(table, out_file)


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
    write_file(out_file, lambda path: path.write_text(text, encoding="utf-8"))
