"""Monitoring a live contract: ``sibmodel actuals`` (one draw's history as an actuals file) and
``sibmodel update`` (re-forecast from actuals).  Thin wrappers around :mod:`sibmodel.workflows.actuals`
and :mod:`sibmodel.workflows.update`; registered on the group in :mod:`sibmodel.cli.commands`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import click

from sibmodel.cli.options import DEFAULT_OUT_HELP, command_line, overwrite_option, seed_option, set_option


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--draw", "draw", type=click.IntRange(min=0), required=True, help="0-based row of the run's draws.parquet."
)
@click.option(
    "--through",
    required=True,
    metavar="YYYY-Qn",
    help="Last quarter written (a quarter of the contract, e.g. 2020-Q2).",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
    required=True,
    help="The CSV file to write (new, or with --overwrite one sibmodel actuals wrote).",
)
@overwrite_option
def actuals(run_dir, draw, through, out_file, overwrite) -> None:
    """Write draw I of the saved run RUN_DIR, re-simulated, as quarterly actuals by borough through a quarter."""
    from sibmodel.results.folders import FILE_HEADER, write_file
    from sibmodel.safe_text import write_csv
    from sibmodel.workflows.actuals import export_actuals

    frame = export_actuals(run_dir, draw, through)
    buffer = io.StringIO()
    write_csv(frame, buffer)
    header = (
        f"{FILE_HEADER}actuals {run_dir} --draw {draw} --through {through}`: one simulated draw's history "
        "(quarters of 13 weeks from the programme start)\n"
    )
    write_file(out_file, header + buffer.getvalue(), overwrite=overwrite)
    click.echo(
        f"Wrote {out_file} ({len(frame)} rows: {frame['borough'].nunique()} boroughs, "
        f"{frame['quarter'].iloc[0]} to {through})"
    )


def _update_writer(upd):
    """``Results.to_dir`` extra writer: update.json (written before the report, which reads it)."""

    def write(folder: Path, results) -> None:
        from sibmodel.results.run import jsonable

        (folder / "update.json").write_text(json.dumps(jsonable(upd.record()), indent=2, allow_nan=True))

    return write


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--actuals",
    "actuals_file",
    type=click.Path(dir_okay=False),
    required=True,
    help="CSV of quarterly actuals by borough (as `sibmodel actuals` writes).",
)
@click.option(
    "--through",
    default=None,
    metavar="YYYY-Qn",
    help="Last quarter observed [default: the latest quarter in the file]; rows after it are an error.",
)
@click.option(
    "--draws",
    type=click.IntRange(min=100),
    default=2000,
    show_default=True,
    help="Prior draws simulated, and posterior draws resampled.",
)
@seed_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Run folder [default: runs/update-<scenario file name>" + DEFAULT_OUT_HELP + "].",
)
@overwrite_option
@set_option
@click.option("--no-report", is_flag=True, help="Do not write report.html and figures/.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors and warnings.")
def update(scenario, actuals_file, through, draws, seed, out_dir, overwrite, overrides, no_report, quiet) -> None:
    """Condition SCENARIO on contract actuals and re-forecast the rest of the contract.

    Writes a run folder with update.json.
    """
    from sibmodel.engine.run import DEFAULT_CHUNK_SIZE
    from sibmodel.report.tables import update_table
    from sibmodel.results.folders import claim, default_output
    from sibmodel.scenario.load import load_scenario
    from sibmodel.workflows.actuals import read_actuals
    from sibmodel.workflows.update import update as run_update

    s = load_scenario(scenario, overrides)
    act = read_actuals(s, actuals_file, through)
    asked = Path(out_dir) if out_dir else default_output(f"update-{Path(scenario).stem}", overrides)
    with claim(asked, overwrite=overwrite, numbered=out_dir is None) as target:
        upd = run_update(s, act, draws=draws, seed=seed, chunk_size=DEFAULT_CHUNK_SIZE)
        post = upd.posterior
        if overrides:
            post.meta["overrides"] = list(overrides)
        post.meta["command_line"] = command_line()
        post.meta["command"] = "update"
        post.meta["scenario_file"] = scenario
        writers = [_update_writer(upd)]
        if not no_report:
            from sibmodel.report.html import run_folder_writer

            writers.append(run_folder_writer)
        post.to_dir(target, extra_writers=writers, overwrite=overwrite)
    record = upd.record()
    if record["effective_sample_size"] < record["target_effective_sample_size"]:
        click.echo(
            f"warning: effective sample size {record['effective_sample_size']:.0f} is below the target "
            f"{record['target_effective_sample_size']:.0f} at the widest bandwidth; the actuals are unusual for this "
            "scenario and the posterior rests on few prior draws",
            err=True,
        )
    if not quiet:
        click.echo(
            f"Actuals through {record['observed_through']} ({record['n_rows']} rows); {record['prior_draws']} "
            f"prior draws, "
            f"effective sample size {record['effective_sample_size']:.0f}, {record['distinct_prior_draws']} "
            f"distinct draws resampled"
        )
        click.echo(update_table(record))
        click.echo("")
        click.echo(
            f"Wrote {target}/ (summary.json: the posterior, update.json, draws.parquet, "
            f"...{'' if no_report else ', report.html, figures/'})"
        )


COMMANDS = (actuals, update)
