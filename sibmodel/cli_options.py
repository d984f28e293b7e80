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

#: ``--overwrite``: replace an earlier sibmodel output (never anything else; see sibmodel/outputs.py).
overwrite_option = click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an earlier sibmodel output at --out (only one sibmodel wrote, holding nothing else). "
    "Without it an existing output is never replaced.",
)

#: How default output folders are named (the end of every --out help text).
DEFAULT_OUT_HELP = (
    "; with --set, -set-<hash of the overrides> is added, and -2, -3, ... when that folder exists, "
    "so a default never replaces an earlier output"
)
