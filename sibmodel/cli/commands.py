"""The ``sibmodel`` command line: thin wrappers around the library.

Bad input exits with code 2 and a message naming the file, the dotted path,
what was given and what is allowed; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import json
import signal
import sys

import click

from sibmodel.cli.options import (
    DEFAULT_OUT_HELP,
    command_line,
    figures_option,
    overwrite_option,
    parse_assignments,
    record_command_line,
    seed_option,
    set_option,
    svg_option,
)
from sibmodel.exceptions import SibmodelError
from sibmodel.version import __version__

EXIT_BAD_INPUT = 2


def _os_error_text(exc: OSError) -> str:
    """One line for an error of the file system: where, and the system's reason (e.g. no space left on device)."""
    import os

    reason = os.strerror(exc.errno) if exc.errno else (exc.strerror or str(exc))
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{reason}"


class _Group(click.Group):
    """Click group that turns sibmodel errors into exit code 2 without a traceback, and
    Ctrl-C, SIGTERM and SIGHUP into a one-line message and exit code 128 + the signal's number
    (130, 143, 129); the outputs' clean-up (sibmodel/results/folders.py) runs as for any exception.
    Text it prints has control characters (terminal escape codes from a scenario) removed."""

    def main(self, args=None, *rest, **kwargs):
        from sibmodel.safe_text import filtered_output

        record_command_line(sys.argv[1:] if args is None else args)  # for the outputs' manifest.json
        with filtered_output():
            return super().main(args, *rest, **kwargs)

    def invoke(self, ctx: click.Context):
        from sibmodel.results import folders as outputs

        outputs.written.clear()
        try:
            with outputs.stop_on_signals():
                return super().invoke(ctx)
        except SibmodelError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except OSError as exc:  # the machine, not the model: a full or read-only disk, a file gone
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {_os_error_text(exc)}; nothing was written", err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt as exc:
            signum = getattr(exc, "signum", signal.SIGINT)
            what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
            done = f"only {', '.join(outputs.written)} was written" if outputs.written else "nothing was written"
            click.echo(f"{what}: stopped, {done}" if signum == signal.SIGINT else f"{what}: {done}", err=True)
            ctx.exit(128 + int(signum))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sibmodel")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Monte Carlo financial model of a social impact bond."""
    from sibmodel.engine.allocator import keep_freed_memory

    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    keep_freed_memory()  # the command's own process: freed memory kept for the next chunk (allocator.py)


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print the resolved scenario as JSON instead.")
def validate(scenario: str, overrides: tuple[str, ...], as_json: bool) -> None:
    """Check SCENARIO and print a summary and the assumption log."""
    from sibmodel.scenario.assumptions import assumption_log, resolved_summary
    from sibmodel.scenario.load import load_scenario, scenario_hash, scenario_to_data

    s = load_scenario(scenario, overrides)
    if as_json:
        click.echo(json.dumps(scenario_to_data(s), indent=2))
        return
    for line in resolved_summary(s):
        click.echo(line)
    click.echo(f"  hash: {scenario_hash(s)[:16]}")
    click.echo("")
    click.echo("Assumption log (uncertain inputs are drawn per Monte Carlo draw):")
    for a in assumption_log(s):
        mark = "~" if a.uncertain else "="
        click.echo(f"  {mark} {a.path}: {a.distribution}")
        click.echo(f"      source: {a.source}")
    click.echo("")
    click.echo("OK: the scenario is valid.")


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--draws",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Monte Carlo draws (2,000 gives stable 5th/95th percentiles).",
)
@seed_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Run folder [default: runs/<scenario file name>" + DEFAULT_OUT_HELP + "].",
)
@overwrite_option
@set_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes, local or (with --scheduler local) Dask; not used with a cluster address [default: "
    "on Linux one per core, as many as fit in memory; elsewhere 1]. Output is identical for any number.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS|local",
    help="Run the chunks on Dask: 'local' starts a LocalCluster for the run; an address (tcp://host:8786) uses "
    "a running cluster. Needs sibmodel[dask].",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=None,
    help="Draws per chunk (memory only: the results do not depend on it; default 500).",
)
@click.option("--json", "as_json", is_flag=True, help="Print summary.json to stdout instead of the table.")
@click.option("--no-report", is_flag=True, help="Do not write report.html and figures/ (faster for batch runs).")
@figures_option
@svg_option
@click.option("--quiet", is_flag=True, help="Print nothing but errors (no progress bar).")
def run(
    scenario,
    draws,
    seed,
    out_dir,
    overwrite,
    overrides,
    workers,
    scheduler,
    chunk_size,
    as_json,
    no_report,
    figures,
    svg,
    quiet,
) -> None:
    """Simulate SCENARIO and write the run folder (summary, draws, cashflows, manifest, report.html)."""
    from pathlib import Path

    from sibmodel.cli.progress import progress_bar
    from sibmodel.engine.execution import workers_for
    from sibmodel.engine.run import DEFAULT_CHUNK_SIZE, simulate
    from sibmodel.report.tables import headline_table
    from sibmodel.results.folders import claim, default_output
    from sibmodel.results.run import jsonable
    from sibmodel.scenario.load import load_scenario

    if no_report and (figures is not None or svg):
        raise click.UsageError(
            "--no-report writes no report, so --figures and --svg have nothing to choose; give one or the other "
            "(--figures none: the report without figures)"
        )
    s = load_scenario(scenario, overrides)
    asked = Path(out_dir) if out_dir else default_output(Path(scenario).stem, overrides)
    if workers is None:
        workers = workers_for(s, chunk_size)
    # the folder is locked and checked now (a second run to it, or a folder sibmodel did not write, stops here)
    with claim(asked, overwrite=overwrite, numbered=out_dir is None) as target:
        with progress_bar(draws, enabled=not quiet) as bar:
            res = simulate(
                s,
                draws=draws,
                seed=seed,
                chunk_size=chunk_size or DEFAULT_CHUNK_SIZE,
                workers=workers,
                scheduler=scheduler,
                spool_dir=target.parent,
                progress=bar,
            )
        try:
            if overrides:
                res.meta["overrides"] = list(overrides)
            res.meta["command_line"] = command_line()
            res.meta["scenario_file"] = scenario
            if no_report:
                writers = ()
            else:  # matplotlib is imported only when a report is written
                from sibmodel.report.html import report_writer

                writers = (report_writer(figures, svg),)
            res.to_dir(target, extra_writers=writers, overwrite=overwrite)
            summary = jsonable(res.summary())  # this run's own figures, as written (never re-read)
        finally:
            res.discard()  # the spool: draws.parquet is now in the run folder
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    elif not quiet:
        click.echo(headline_table(summary))
        click.echo("")
        click.echo(
            f"Wrote {target}/ (summary.json, draws.parquet, cashflows.parquet, occupancy.parquet, "
            f"manifest.json{'' if no_report else ', report.html, figures/'})"
        )
        if target != asked:
            click.echo(f"({asked}/ holds an earlier output and was kept; --overwrite replaces it)")


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--target",
    "targets",
    multiple=True,
    required=True,
    metavar="NAME=VALUE",
    help="A figure to meet: time_at_home.treated, time_at_home.counterfactual, care_share.treated, "
    "care_share.counterfactual.",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="PATH",
    help="Input to solve for (dotted path; '*' matches several, moved by one factor). Default: care.entry.prob "
    "and/or interventions.*.effect.hazard_ratio.",
)
@click.option(
    "--write",
    "write_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the calibrated scenario here (a new file, or with --overwrite one calibrate wrote).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an earlier file written by sibmodel calibrate at --write (never any other file).",
)
@set_option
def calibrate(scenario, targets, params, write_path, overwrite, overrides) -> None:
    """Solve inputs of SCENARIO on the exact cohort model so that published targets are met."""
    from sibmodel.model.calibrate import calibrate as run_calibration
    from sibmodel.model.calibrate import calibrated_yaml, default_params
    from sibmodel.results.folders import check_target, write_file
    from sibmodel.scenario.load import load_scenario

    s = load_scenario(scenario, overrides)
    if write_path:  # checked before solving (and again, under a lock, when written)
        check_target(write_path, overwrite=overwrite, folder=False)
    parsed = parse_assignments(targets, "--target", "NAME=VALUE with a number, e.g. time_at_home.counterfactual=0.35")
    res = run_calibration(s, parsed, list(params) or default_params(parsed))
    from sibmodel.report.tables import wrap_text

    lines = ["Targets (exact cohort model at central inputs; shares as percentages, gap in share):"]
    for n, (tgt, got) in res.achieved.items():
        lines.append(f"  {n:<32} target {tgt:.2%}   achieved {got:.2%}   gap {got - tgt:+.1e}")
    lines.append("Parameters moved (central value):")
    for p, old, new in res.moved:
        lines.append(f"  {p:<48} {old:,.4g} -> {new:,.4g}")
    lines.append(("Converged" if res.success else "Did NOT meet the targets") + f": {res.message}")
    click.echo(wrap_text("\n".join(lines)))
    if write_path:
        write_file(write_path, calibrated_yaml(res, scenario, write_path, overrides), overwrite=overwrite)
        click.echo(f"Wrote {write_path}")
    if not res.success:
        raise SystemExit(1)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--markdown", is_flag=True, help="A Markdown table (as in the README) instead of the terminal table.")
def validation(run_dir, markdown) -> None:
    """Print the validation table of a saved run: published figures against the model's range."""
    from pathlib import Path

    from sibmodel.exceptions import Issue, ScenarioError
    from sibmodel.report.tables import validation_table
    from sibmodel.results.rundir import read_summary

    path = Path(run_dir) / "summary.json"
    rows = read_summary(run_dir).get("validation") or []
    if not rows:
        raise ScenarioError(
            [
                Issue(
                    str(path),
                    "validation",
                    "the run's scenario has no observed: block, so there is nothing to validate",
                )
            ]
        )
    click.echo(validation_table(rows, markdown=markdown))


@main.command()
@click.argument("run_dir", type=click.Path())
@figures_option
@svg_option
def report(run_dir: str, figures, svg) -> None:
    """Regenerate report.html and figures/ of the saved run RUN_DIR (a folder written by `sibmodel run`)."""
    from sibmodel.report.html import regenerate

    click.echo(f"Wrote {regenerate(run_dir, command_line=command_line(), figures=figures, svg=svg)}")


@main.command()
@click.argument("scenarios", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--draws", type=click.IntRange(min=2), default=1000, show_default=True, help="Monte Carlo draws per scenario."
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="The root seed every scenario is run with; omitted: fresh entropy, shared by all and recorded.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Comparison folder [default: runs/compare-<A>-vs-<B>...; -2, -3, ... is added when that folder exists, "
    "so a default never replaces an earlier output].",
)
@overwrite_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Local worker processes per scenario [default: on Linux one per core, as many as fit in memory; "
    "elsewhere 1]; results do not change.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=None,
    help="Draws per chunk (memory only: the results do not depend on it; default 500).",
)
@svg_option
def compare(scenarios, draws, seed, out_dir, overwrite, workers, chunk_size, svg) -> None:
    """Run SCENARIOS (two or more) on common random numbers and compare their headline figures."""
    from pathlib import Path

    import numpy as np

    from sibmodel.engine.execution import workers_for
    from sibmodel.engine.run import DEFAULT_CHUNK_SIZE
    from sibmodel.results.folders import claim, default_output, safe_name
    from sibmodel.scenario.load import load_scenario
    from sibmodel.workflows.compare import format_table, run_comparison, write_comparison

    if len(scenarios) < 2:
        raise click.UsageError("compare needs two or more scenario files (give one twice to compare it with itself)")
    loaded = [load_scenario(p) for p in scenarios]
    if seed is None:
        seed = int(np.random.SeedSequence().entropy)
    asked = (
        Path(out_dir)
        if out_dir
        else default_output("compare-" + "-vs-".join(safe_name(Path(p).stem) for p in scenarios))
    )
    with claim(asked, overwrite=overwrite, numbered=out_dir is None) as target:  # locked and checked before running
        comp = run_comparison(
            loaded,
            list(scenarios),
            draws=draws,
            seed=seed,
            chunk_size=chunk_size or DEFAULT_CHUNK_SIZE,
            workers=workers or min(workers_for(x, chunk_size) for x in loaded),
        )
        write_comparison(comp, target, overwrite=overwrite, command_line=command_line(), svg=svg)
    click.echo(f"{draws} draws per scenario, seed {seed}")
    click.echo(format_table(comp.table))
    click.echo("")
    click.echo(f"Wrote {target}/ (compare.html, compare.json, compare.csv, figures/)")


@main.command()
def schema() -> None:
    """Print the JSON schema of a scenario file."""
    from sibmodel.scenario.schema import Scenario

    click.echo(json.dumps(Scenario.model_json_schema(by_alias=True), indent=2))


# the users' workflow commands (stress, sensitivity, join, baseline) live in cli_workflows.py
from sibmodel.cli.workflows import COMMANDS as _WORKFLOW_COMMANDS  # noqa: E402

for _command in _WORKFLOW_COMMANDS:
    main.add_command(_command)

# monitoring a live contract (actuals, update) lives in cli/reforecast.py
from sibmodel.cli.reforecast import COMMANDS as _REFORECAST_COMMANDS  # noqa: E402

for _command in _REFORECAST_COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
