"""The ``sibmodel`` command line: thin wrappers around the library.

Bad input exits with code 2 and a message naming the file, the dotted path,
what was given and what is allowed; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import json
import sys

import click

from . import __version__
from .exceptions import SibmodelError

EXIT_BAD_INPUT = 2


class _Group(click.Group):
    """Click group that turns sibmodel errors into exit code 2 without a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SibmodelError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_BAD_INPUT)


set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a field by dotted path; VALUE is parsed as YAML. Repeatable.",
)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sibmodel")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Monte Carlo financial model of a social impact bond."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@set_option
@click.option("--json", "as_json", is_flag=True, help="Print the resolved scenario as JSON instead.")
def validate(scenario: str, overrides: tuple[str, ...], as_json: bool) -> None:
    """Check SCENARIO and print a summary and the assumption log."""
    from .assumptions import assumption_log, resolved_summary
    from .scenario import load_scenario, scenario_hash, scenario_to_data

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
def schema() -> None:
    """Print the JSON schema of a scenario file."""
    from .schema import Scenario

    click.echo(json.dumps(Scenario.model_json_schema(by_alias=True), indent=2))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
