"""The users' workflow commands: ``stress``, ``sensitivity``, ``join`` and ``baseline``.

Thin wrappers: each loads the scenario, calls the workflow module
(:mod:`sibmodel.workflows.stress`, :mod:`sibmodel.workflows.sensitivity`, :mod:`sibmodel.workflows.join`,
:mod:`sibmodel.workflows.baseline`), prints a table and writes CSV files and PNG charts
to an output folder.  Errors are :class:`~sibmodel.exceptions.SibmodelError`
and reach the user as exit code 2 without a traceback (``sibmodel --debug``
shows one); the commands are registered on the group in :mod:`sibmodel.cli.commands`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from sibmodel.cli.options import DEFAULT_OUT_HELP, overwrite_option, parse_assignments, set_option
from sibmodel.exceptions import Issue
from sibmodel.outputs import (
    CARE_COSTS_AVOIDED_GBP,
    NET_SAVINGS_GBP,
    OUTCOME_PAYMENTS_GBP,
    STARTS,
)
from sibmodel.report.tables import column_kind, kind_of_unit
from sibmodel.safe_text import write_csv

_draws_option = click.option(
    "--draws",
    type=click.IntRange(min=10),
    default=1000,
    show_default=True,
    help="Monte Carlo draws per scenario variant.",
)
_seed_option = click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Root seed shared by every variant (common random numbers); omitted: fresh entropy, printed.",
)
_out_option = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Output folder [default: runs/<command>-<scenario file name>" + DEFAULT_OUT_HELP + "].",
)
_workers_option = click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Local worker processes per run (results do not change).",
)


def _settings(draws: int, seed: int | None, workers: int = 1):
    import numpy as np

    from sibmodel.workflows.stress import RunSettings

    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**63))
    return RunSettings(draws=draws, seed=seed, workers=workers)


def _progress(message: str) -> None:
    """A line on stderr while a workflow runs, only when stderr is a terminal."""
    import sys

    if sys.stderr.isatty():
        click.echo(f"  ... {message}", err=True)


def _output(
    out_dir: str | None,
    command: str,
    scenario: str,
    overrides,
    overwrite: bool,
    *,
    s,
    seed: int,
    draws: int | None,
    **settings,
):
    """The output folder of a workflow (sibmodel.results.folders.output_folder): write into ``.staging``;
    it is swapped in at ``.target`` when the block ends, with its ``manifest.json`` (scenario ``s``,
    ``seed``, ``draws`` per run and ``settings``), and nothing is left if it fails."""
    from sibmodel.cli.options import command_line
    from sibmodel.results.folders import default_output, output_folder
    from sibmodel.results.manifest import build_manifest, manifest_writer
    from sibmodel.scenario.load import scenario_hash

    target = Path(out_dir) if out_dir else default_output(f"{command}-{Path(scenario).stem}", overrides)
    name = command.split("-")[0]
    manifest = build_manifest(
        name,
        seed=seed,
        seed_entropy=seed,
        draws=draws,
        scenario_hashes={scenario: scenario_hash(s)},
        overrides=overrides,
        command_line=command_line(),
        **settings,
    )
    return output_folder(
        target, command=name, overwrite=overwrite, numbered=out_dir is None, before_marker=manifest_writer(manifest)
    )


def _echo(text: str = "") -> None:
    """Print prose within the line width (report.tables.LINE_WIDTH)."""
    from sibmodel.report.tables import wrap_text

    click.echo(wrap_text(text))


def _print_table(df, columns=None, **how) -> None:
    """Print a table formatted like ``run`` and ``compare``: money, percentages, whole young people, "–"
    for no number, within the line width (see :func:`sibmodel.report.tables.render_table`)."""
    from sibmodel.report.tables import render_table

    click.echo(render_table(df, columns, **how))


def _parse_target(text: str) -> tuple[str, float]:
    from sibmodel.workflows.levers import WorkflowError

    [(key, value)] = parse_assignments(
        [text],
        "--for",
        "FIGURE=VALUE with a finite number, e.g. investor.p_loss=0.10",
        finite=True,
        error=WorkflowError,
    ).items()
    return key, value


# --------------------------------------------------------------------------- stress
@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--suite",
    "suite_dir",
    type=click.Path(),
    default=None,
    help="Folder of stress scenarios (*.yaml) [default: stress/ beside SCENARIO].",
)
@click.option("--no-suite", is_flag=True, help="Skip the stress suite (run only what the other options ask for).")
@click.option(
    "--tornado", "do_tornado", is_flag=True, help="Also: one-way sensitivity, each uncertain input at its p10 and p90."
)
@click.option(
    "--reverse",
    "do_reverse",
    is_flag=True,
    help="Also: reverse stress test (referrals, effect, breakdown, payment lag, delivery cost).",
)
@click.option(
    "--p-loss",
    "p_loss_target",
    type=float,
    default=0.5,
    show_default=True,
    help="P(loss) the reverse stress test solves for.",
)
@click.option(
    "--solve",
    "solve_lever",
    default=None,
    metavar="LEVER",
    help="Goal seek: the term to solve for (tariff, cap, commitment, or any lever).",
)
@click.option(
    "--for",
    "solve_for",
    default=None,
    metavar="FIGURE=VALUE",
    help="Goal seek target, a summary figure: e.g. investor.p_loss=0.10, investor.irr.p50=0.05.",
)
@_draws_option
@_seed_option
@_out_option
@overwrite_option
@set_option
@_workers_option
def stress(
    scenario,
    suite_dir,
    no_suite,
    do_tornado,
    do_reverse,
    p_loss_target,
    solve_lever,
    solve_for,
    draws,
    seed,
    out_dir,
    overwrite,
    overrides,
    workers,
) -> None:
    """Investor stress test of SCENARIO on common random numbers.

    Runs the base and every stress scenario in --suite (IRR p50, P(loss),
    P(commitment exceeded), p95 peak capital, money multiple p5/p50); with
    --tornado, --reverse and --solve/--for, the one-way sensitivity, the reverse
    stress test and a goal seek on a contract term.  Writes CSV files and PNG
    charts to --out.
    """
    from sibmodel.report import workflow_figures as wf
    from sibmodel.scenario.load import load_scenario
    from sibmodel.workflows import stress as st
    from sibmodel.workflows.levers import WorkflowError

    if (solve_lever is None) != (solve_for is None):
        raise WorkflowError([Issue("--solve/--for", "", "give both --solve LEVER and --for FIGURE=VALUE")])
    s = load_scenario(scenario, overrides)
    if solve_lever is not None:  # checked before anything runs
        from sibmodel.workflows.levers import get_lever

        solve_key, solve_value = _parse_target(solve_for)
        get_lever(solve_lever, s)
    settings = _settings(draws, seed, workers)
    with _output(
        out_dir, "stress", scenario, overrides, overwrite, s=s, seed=settings.seed, draws=settings.draws
    ) as out:
        target = out.staging
        _echo(f"{settings.draws} draws per variant, seed {settings.seed}")
        written = []
        if not no_suite:
            suite = suite_dir if suite_dir is not None else Path(scenario).parent / "stress"
            others = st.stresses_not_extending(scenario, suite)
            if others:
                click.echo(
                    f"warning: {', '.join(others)} do not extend {scenario}: "
                    "their rows differ from the base in more than the stress",
                    err=True,
                )
            table = st.stress_suite(s, st.load_stress_suite(suite, overrides), settings, progress=_progress)
            _echo("\nStress suite")
            _print_table(table, ["scenario", *st.STRESS_COLUMNS, "irr_p50_change"])
            write_csv(table, target / "stress.csv")
            wf.save(wf.stress_chart(table), target / "stress.png")
            written += ["stress.csv", "stress.png"]
        if do_tornado:
            written += _stress_tornado(s, settings, target)
        if do_reverse:
            table = st.reverse_stress(s, settings, p_loss_target=p_loss_target, progress=_progress)
            _echo("\nReverse stress: lever values at which the target is reached (95% Monte Carlo interval)")
            _print_table(
                table, ["lever", "unit", "figure", "target", "value", "ci_low", "ci_high", "achieved", "base_figure"]
            )
            for _, row in table.iterrows():
                _echo(f"  {row['lever']} / {row['figure']}: {row['natural'] or row['note']}")
            write_csv(table, target / "reverse_stress.csv")
            wf.save(wf.reverse_stress_chart(table), target / "reverse_stress.png")
            written += ["reverse_stress.csv", "reverse_stress.png"]
        if solve_lever is not None:
            written += _stress_goal_seek(s, solve_lever, solve_key, solve_value, settings, target)
        if not written:
            raise WorkflowError([Issue(None, "", "nothing to do: --no-suite without --tornado, --reverse or --solve")])
    _echo(f"\nWrote {out.target}/ ({', '.join(written)})")


def _stress_tornado(s, settings, target: Path) -> list[str]:
    """``--tornado``: one-way sensitivity of each uncertain input at its p10 and p90; print, write CSV and chart."""
    from sibmodel.report import workflow_figures as wf
    from sibmodel.workflows import stress as st

    table = st.tornado(s, settings, progress=_progress)
    _echo("\nTornado (input at p10 / p90)")
    _print_table(
        table,
        list(st.TORNADO_COLUMNS),
        kinds={"net_savings_p50_low": "gbp", "net_savings_p50_high": "gbp"},
    )
    write_csv(table, target / "tornado.csv")
    wf.save(wf.tornado_chart(table), target / "tornado.png")
    return ["tornado.csv", "tornado.png"]


def _stress_goal_seek(s, lever: str, key: str, value: float, settings, target: Path) -> list[str]:
    """``--solve``/``--for`` goal seek: the lever value at which figure ``key`` is ``value``; print, write CSV."""
    import pandas as pd

    from sibmodel.workflows import stress as st

    root = st.goal_seek(s, lever, key, value, settings)
    _echo(f"\nGoal seek: {key} = {value:g} by moving the {root.label}")
    _echo(
        f"  solved: {root.value:.6g} {root.unit} ({root.natural}); "
        f"re-run gives {key} = {root.achieved:.4g} (base {root.base_figure:.4g})"
    )
    if root.ci_low == root.ci_low:
        _echo(f"  95% Monte Carlo interval: [{root.ci_low:.6g}, {root.ci_high:.6g}] {root.unit}")
    _echo(f"  {root.note}")
    write_csv(pd.DataFrame([root.as_row()]), target / "goal_seek.csv")
    return ["goal_seek.csv"]


# --------------------------------------------------------------------------- sensitivity
@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--method",
    type=click.Choice(["sobol"]),
    default="sobol",
    show_default=True,
    help="Global sensitivity method (SALib).",
)
@click.option(
    "--n-base",
    type=click.IntRange(min=2),
    default=128,
    show_default=True,
    help="SALib base sample N (a power of 2); runs N x (inputs + 2) simulations.",
)
@click.option(
    "--replicates",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Draws per simulation, averaged (same seed for every design point).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Seed of the Sobol' sequence, bootstrap and simulations.",
)
@_out_option
@overwrite_option
@set_option
@_workers_option
def sensitivity(scenario, method, n_base, replicates, seed, out_dir, overwrite, overrides, workers) -> None:
    """First-order and total Sobol indices of the investor IRR and total net savings of SCENARIO.

    Correlated inputs are analysed as groups (see sibmodel/workflows/sensitivity.py).
    """
    from sibmodel.report import workflow_figures as wf
    from sibmodel.scenario.load import load_scenario
    from sibmodel.workflows.levers import uncertain_inputs
    from sibmodel.workflows.sensitivity import input_groups, scenario_sobol

    s = load_scenario(scenario, overrides)
    with _output(
        out_dir,
        "sensitivity",
        scenario,
        overrides,
        overwrite,
        s=s,
        seed=seed,
        draws=replicates,
        method=method,
        n_base=n_base,
    ) as out:
        target = out.staging
        paths = list(uncertain_inputs(s))
        n_groups = len(set(input_groups(s, paths) or paths))
        _progress(f"Sobol design: {n_base * (n_groups + 2):,} simulations of {replicates} draws")
        table = scenario_sobol(s, n_base=n_base, replicates=replicates, seed=seed, workers=workers)
        _echo(f"Sobol indices ({method}, N={n_base}, {replicates} replicate draws per point, seed {seed})")
        _print_table(table)
        write_csv(table, target / "sobol.csv")
        wf.save(wf.sobol_chart(table), target / "sobol.png")
    _echo(f"\nWrote {out.target}/ (sobol.csv, sobol.png)")


# --------------------------------------------------------------------------- join
def _placement_numbers(items: tuple[str, ...], option: str, expected: str) -> dict[str, float]:
    """``PLACEMENT=NUMBER`` items of a repeatable option as a dict; a clear error otherwise."""
    from sibmodel.workflows.levers import WorkflowError

    return parse_assignments(items, option, expected, error=WorkflowError)


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--borough", "name", required=True, help="The candidate borough (new, or one already in SCENARIO).")
@click.option(
    "--starts-per-quarter",
    type=click.FloatRange(min=0),
    default=None,
    help="Its expected starts per full quarter [young people/quarter].",
)
@click.option(
    "--join",
    "join_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help=(
        "Its join date (YYYY-MM-DD), from the scenario's programme_start "
        "to before its referrals_close [default: the template's]."
    ),
)
@click.option("--like", default=None, help="Template borough for everything not given [default: the first borough].")
@click.option(
    "--borough-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML file with its borough block (join_date, starts, intervention_mix, weekly_care_cost_gbp, ...).",
)
@click.option(
    "--care-cost",
    "care_costs",
    multiple=True,
    metavar="PLACEMENT=GBP",
    help="Its own weekly cost of a placement type, e.g. foster=710 [GBP/week]. Repeatable.",
)
@click.option(
    "--entry-odds-ratio",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Multiplies the odds that its referrals enter care [ratio].",
)
@click.option(
    "--placement-mix",
    "placement_mix",
    multiple=True,
    metavar="PLACEMENT=SHARE",
    help=(
        "Its own first placement type on entering care, e.g. foster=0.6 residential=0.4 (shares sum to 1). Repeatable."
    ),
)
@click.option("--no-break-even", is_flag=True, help="Skip the break-even searches (about 20 more runs).")
@_draws_option
@_seed_option
@_out_option
@overwrite_option
@set_option
@_workers_option
def join(
    scenario,
    name,
    starts_per_quarter,
    join_date,
    like,
    borough_file,
    care_costs,
    entry_odds_ratio,
    placement_mix,
    no_break_even,
    draws,
    seed,
    out_dir,
    overwrite,
    overrides,
    workers,
) -> None:
    """What joining SCENARIO means for borough --borough, and for everyone else."""
    from sibmodel.report import workflow_figures as wf
    from sibmodel.scenario.load import load_scenario
    from sibmodel.workflows.join import join_analysis

    s = load_scenario(scenario, overrides)
    settings = _settings(draws, seed, workers)
    with _output(
        out_dir,
        f"join-{name.replace(' ', '_')}",
        scenario,
        overrides,
        overwrite,
        s=s,
        seed=settings.seed,
        draws=settings.draws,
        borough=name,
    ) as out:
        target = out.staging
        jd = join_date.date() if isinstance(join_date, dt.datetime) else join_date
        costs = _placement_numbers(care_costs, "--care-cost", "PLACEMENT=GBP_PER_WEEK, e.g. foster=710")
        mix = _placement_numbers(placement_mix, "--placement-mix", "PLACEMENT=SHARE, e.g. foster=0.6")
        r = join_analysis(
            s,
            name,
            settings,
            like=like,
            starts_per_quarter=starts_per_quarter,
            join_date=jd,
            borough_file=borough_file,
            weekly_care_cost_gbp=costs,
            entry_odds_ratio=entry_odds_ratio,
            placement_mix=mix or None,
            break_even=not no_break_even,
        )
        import pandas as pd

        _echo(f"{name}: what the run assumes, and where it comes from")
        for what, value, where in r.assumptions:
            _echo(f"  {what}: {value}")
            _echo(f"      {where}")
        write_csv(
            pd.DataFrame(r.assumptions, columns=["assumption", "value", "origin"]), target / "join_assumptions.csv"
        )
        c = r.candidate
        cand = pd.DataFrame(
            [
                {"figure": k, **{p: c[k][p] for p in ("p50", "p5", "p95", "mean")}}
                for k in (STARTS, OUTCOME_PAYMENTS_GBP, CARE_COSTS_AVOIDED_GBP, NET_SAVINGS_GBP, "benefit_cost_ratio")
            ]
        )
        _echo(
            f"{settings.draws} draws, seed {settings.seed}\n\n"
            f"{name} (discounted to {s.metadata.price_year} at {s.discounting.real_rate_annual:.1%})"
        )
        _print_table(cand, row_kind=lambda row: column_kind(row["figure"]))
        _echo(f"  P(coming out ahead) {c['p_net_positive']:.1%}")
        _echo("\nInvestor, without and with the borough")
        _print_table(r.investor)
        _echo("\nOther boroughs: median outcome payments [GBP, discounted] and share of all payments")
        _print_table(r.others)
        for note in r.notes:
            _echo(f"  {note}")
        write_csv(
            cand.assign(
                p_net_positive=c["p_net_positive"],
                break_even_care_cost_factor=r.break_even_care_cost_factor,
                break_even_starts_per_quarter=r.break_even_starts_per_quarter,
            ),
            target / "join_candidate.csv",
        )
        write_csv(r.investor, target / "join_investor.csv")
        write_csv(r.others, target / "join_others.csv")
        wf.save(wf.join_chart(r), target / "join.png")
    _echo(
        f"\nWrote {out.target}/ (join_assumptions.csv, "
        "join_candidate.csv, join_investor.csv, join_others.csv, join.png)"
    )


# --------------------------------------------------------------------------- baseline
def _parse_baselines(text: str | None) -> list[float] | None:
    from sibmodel.workflows.levers import WorkflowError

    if text is None:
        return None
    values = []
    for part in text.split(","):
        try:
            v = float(part)
        except ValueError:
            v = float("nan")
        if not 0.0 < v < 1.0:
            raise WorkflowError(
                [
                    Issue(
                        "--baselines",
                        part.strip(),
                        "each baseline is a share of tracked weeks at home, "
                        "strictly between 0 and 1, e.g. 0.35,0.5,0.65",
                        part,
                        has_given=True,
                    )
                ]
            )
        values.append(v)
    return values


@click.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@_draws_option
@_seed_option
@_out_option
@overwrite_option
@set_option
@_workers_option
@click.option(
    "--baselines",
    "baselines_text",
    default=None,
    metavar="B1,B2,...",
    help=(
        "Also hold the time at home without therapy fixed at each of these shares (e.g. 0.35,0.5,0.65,0.8,0.894) "
        "and report what it decides: value to government, net savings, each borough's P(ahead), the investor's "
        "multiple, and each borough's break-even baseline; writes baseline.json."
    ),
)
def baseline(scenario, draws, seed, out_dir, overwrite, overrides, workers, baselines_text) -> None:
    """Policy view of SCENARIO: time at home against the baseline, weeks out of care,
    value to government, and cost per family against fee for service; with --baselines,
    what the baseline (the outcome without therapy) decides."""
    from sibmodel.report import workflow_figures as wf
    from sibmodel.scenario.load import load_scenario
    from sibmodel.workflows.baseline import policy_baseline

    baselines = _parse_baselines(baselines_text)
    s = load_scenario(scenario, overrides)
    settings = _settings(draws, seed, workers)
    with _output(
        out_dir,
        "baseline",
        scenario,
        overrides,
        overwrite,
        s=s,
        seed=settings.seed,
        draws=settings.draws,
        baselines=baselines,
    ) as out:
        target = out.staging
        tables = policy_baseline(settings.run(s))
        _echo(f"{settings.draws} draws, seed {settings.seed}\n")
        _print_table(
            tables["outcomes"],
            ["figure", "unit", "p50", "p5", "p95", "reference"],
            row_kind=lambda row: kind_of_unit(row["unit"]),
        )
        _echo("")
        _print_table(tables["purchase"].drop(columns="who_carries_outcome_risk"))
        for _, row in tables["purchase"].iterrows():
            _echo(f"  {row['purchase']}: {row['who_carries_outcome_risk']}")
        write_csv(tables["outcomes"], target / "baseline_outcomes.csv")
        write_csv(tables["purchase"], target / "baseline_purchase.csv")
        wf.save(wf.baseline_chart(tables), target / "baseline.png")
        written = ["baseline_outcomes.csv", "baseline_purchase.csv", "baseline.png"]
        if baselines is not None:
            written += _baseline_sweep(s, baselines, settings, target)
    _echo(f"\nWrote {out.target}/ ({', '.join(written)})")


def _baseline_sweep(s, baselines, settings, target: Path) -> list[str]:
    """``--baselines``: run the sweep, print its tables, write baseline.json, CSVs and the chart."""
    import json

    from sibmodel.report import workflow_figures as wf
    from sibmodel.workflows.baseline_sweep import sweep

    sw = sweep(s, baselines, settings, progress=_progress)
    _echo(
        "\nWhat the baseline decides (time at home without therapy held fixed; "
        "medians over draws, discounted net savings):"
    )
    _print_table(sw.by_baseline_table())
    _echo(
        "\nBreak-even baseline (net saving zero), per draw; shares of draws beyond the grid "
        f"{sw.grid[0]:g}-{sw.grid[-1]:g} are clamped to its ends:"
    )
    _print_table(sw.break_even_table())
    (target / "baseline.json").write_text(json.dumps(sw.to_json(), indent=2) + "\n")
    write_csv(sw.by_baseline_table(), target / "baseline_by_value.csv")
    write_csv(sw.break_even_table(), target / "baseline_break_even.csv")
    wf.save(wf.baseline_decides_chart(sw), target / "baseline_decides.png")
    return ["baseline.json", "baseline_by_value.csv", "baseline_break_even.csv", "baseline_decides.png"]


COMMANDS = (stress, sensitivity, join, baseline)
