"""Command-line options shared by the commands in :mod:`sibmodel.cli` and :mod:`sibmodel.cli_workflows`."""

from __future__ import annotations

import click

#: ``--set PATH=VALUE`` (repeatable): override a scenario field by dotted path.
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a field by dotted path; VALUE is parsed as YAML. Repeatable.",
)
