"""Command-line options shared by the commands in :mod:`sibmodel.cli.commands` and :mod:`sibmodel.cli.workflows`."""

from __future__ import annotations

import click

#: The arguments of the command being run (set by the ``sibmodel`` group; see :func:`command_line`).
_ARGV: list[str] = []


def record_command_line(argv) -> None:
    """Remember the arguments of this command (without the program name) for its manifest."""
    _ARGV[:] = [str(a) for a in argv]


def command_line() -> list[str]:
    """The command as typed, ``["sibmodel", ...]``: recorded in every output's ``manifest.json``."""
    return ["sibmodel", *_ARGV]


#: ``--set PATH=VALUE`` (repeatable): override a scenario field by dotted path.
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a field by dotted path; VALUE is parsed as YAML. Repeatable.",
)

#: ``--overwrite``: replace an earlier sibmodel output (never anything else; see sibmodel/results/folders.py).
seed_option = click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Root seed; omitted: fresh entropy, recorded in the manifest.",
)

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


def parse_assignments(items, option: str, expected: str, *, finite: bool = False, error=None) -> dict[str, float]:
    """``NAME=NUMBER`` items of a command-line option, as ``{name: number}``.

    Parameters
    ----------
    items : iterable of str
        The option's values, e.g. ``("foster=710", "residential=5000")``.
    option : str
        The option's name, for error messages (``"--target"``).
    expected : str
        What is allowed, for error messages (``"NAME=VALUE with a number, e.g. x=0.35"``).
    finite : bool
        Also refuse ``nan`` and ``inf``.
    error : type, optional
        The :class:`~sibmodel.exceptions.ScenarioError` subclass raised [default: ScenarioError].

    Raises
    ------
    ScenarioError
        Listing every malformed item (exit code 2 from the command line).
    """
    import math

    from sibmodel.exceptions import Issue, ScenarioError

    out, issues = {}, []
    for item in items:
        name, eq, value = item.partition("=")
        try:
            number = float(value)
            if not eq or not name.strip() or (finite and not math.isfinite(number)):
                raise ValueError
            out[name.strip()] = number
        except ValueError:
            issues.append(Issue(option, name, f"expected {expected}", item, has_given=True))
    if issues:
        raise (error or ScenarioError)(issues)
    return out


def _figures_callback(ctx, param, value):
    """``--figures`` checked as it is parsed: an unknown name exits with code 2, listing the names allowed."""
    if value is None:
        return None
    from sibmodel.exceptions import ScenarioError
    from sibmodel.report.figures import figure_names

    try:
        return figure_names(value)
    except ScenarioError as exc:
        raise click.BadParameter(str(exc.issues[0]).removeprefix("--figures: "), ctx, param) from None


#: ``--figures NAMES``: the run figures the report draws (``all``, ``none`` or a comma-separated list).
figures_option = click.option(
    "--figures",
    default=None,
    metavar="NAMES|all|none",
    callback=_figures_callback,
    help="Figures of the report, comma-separated (investor_returns, capital_drawn, cumulative_cashflow, "
    "outcome_payments, "
    "borough_net_savings, time_at_home, weeks_out_of_care, baseline_decides, validation); 'none': the report's "
    "tables only "
    "[default: all].",
)

#: ``--svg``: write each figure as SVG too (a second drawing of each; the PNG is always written).
svg_option = click.option(
    "--svg", is_flag=True, help="Also write each figure as SVG into figures/ (slower: every figure is drawn twice)."
)
