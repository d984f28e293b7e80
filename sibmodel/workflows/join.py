"""A borough deciding whether to join: its own money, and the effect on everyone else.

``join_analysis`` runs the contract twice on the same seed -- without the
candidate borough and with it -- and reports, for the candidate, its outcome
payments, its care costs avoided, its net savings and its probability of
coming out ahead (all discounted to the price year at the Green Book rate,
as in :mod:`sibmodel.results.run`), its break-even care cost, and the investor's
break-even referrals from it (the borough pays only per outcome and bears no
fixed cost, so its own net saving is roughly proportional to its referrals, with no
break-even volume); and, for everyone else, the investor's IRR and
P(loss) and the other boroughs' payments and shares of the total cap, with
and without the candidate.

**Paired runs.** Both runs share the seed, and every random number is a pure
function of (seed, draw, borough, person, purpose) (:mod:`sibmodel.model.philox`):
every uncertain input has the same draws in both, and each other borough the same
referrals, cohort spread and care pathways.  A candidate joining changes another
borough's figures only through what they share: team capacity (a shared team over
capacity takes a random subset of all its boroughs' starts), the total cap and the
top-up limit, and the baseline of the arm without therapy, which is set for the
whole programme.  Where none of these binds, the other boroughs' figures are the
same, bit for bit; ``others`` reports, per borough, the share of draws where they are.

**Teams.** A candidate that is not yet in the scenario is added to the team of
each intervention that serves its template borough (``like``; by default the
first borough), or to that intervention's first team; where an intervention
has no named teams the candidate gets its own implied team, with its own fixed
cost (see :func:`sibmodel.model.referrals.team_groups`).
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize

from sibmodel.exceptions import Issue, ScenarioError
from sibmodel.outputs import (
    COMMISSIONER_OUTCOME_PAYMENTS_GBP,
)
from sibmodel.scenario.load import as_scenario, load_yaml, scenario_to_data, validate_data
from sibmodel.scenario.schema import Borough, Scenario
from sibmodel.workflows.levers import WorkflowError
from sibmodel.workflows.stress import RunSettings


def _borough_issue(name: str, message: str, given=None) -> WorkflowError:
    if given is None:
        return WorkflowError([Issue(None, f"boroughs.{name}", message)])
    return WorkflowError([Issue(None, f"boroughs.{name}", message, given, has_given=True)])


def candidate_block(s: Scenario, name: str, **options) -> dict:
    """The candidate borough's scenario block (as data): :func:`candidate_block_origins` without the origins."""
    return candidate_block_origins(s, name, **options)[0]


# fmt: off
def candidate_block_origins(
    s: Scenario,
    name: str,
    *,
    like: str | None = None,
    starts_per_quarter: float | None = None,
    join_date: dt.date | None = None,
    borough_file: str | Path | None = None,
    weekly_care_cost_gbp: dict[str, float] | None = None,
    entry_odds_ratio: float | None = None,
    placement_mix: dict[str, float] | None = None,
) -> tuple[dict, dict[str, str]]:
    """The candidate borough's scenario block (as data), and where each of its fields came from.

    Parameters
    ----------
    s : Scenario
        The contract it would join.
    name : str
        The candidate's name.  If the scenario already has a borough of that
        name, its block is the starting point; otherwise ``like``'s block.
    like : str, optional
        Template borough for fields not given (default: the first borough).
    starts_per_quarter : float, optional
        Expected starts per full quarter [young people/quarter]; replaces the
        template's ``starts.per_quarter`` (and ``total``).
    join_date : datetime.date, optional
        First day it can refer [date].
    borough_file : path, optional
        YAML file with a borough block (``join_date``, ``starts``,
        ``intervention_mix``, ``weekly_care_cost_gbp``, ``entry_odds_ratio``, ...);
        its keys replace the template's, and the flags replace both.
    weekly_care_cost_gbp : dict of str -> float, optional
        Its own weekly cost per placement type [GBP/week]; types not given keep
        the template's or the scenario's default.
    entry_odds_ratio : float, optional
        Multiplies the odds of entering care of its referrals [ratio].
    placement_mix : dict of str -> float, optional
        Its own first placement type on entering care [share], summing to 1.

    Returns
    -------
    block : dict
        A borough block; validated when the scenario is rebuilt.
    origins : dict of str -> str
        For each field of the block (``starts.per_quarter`` apart from the rest of ``starts``),
        where it came from: the scenario's own block, the template borough, the
        ``--borough-file`` or a command-line flag.  A field missing from the block takes the
        scenario's default (see :func:`candidate_assumptions`).
    """
    data = scenario_to_data(s)
    if name in data["boroughs"]:
        block = copy.deepcopy(data["boroughs"][name])
        origin = f"{name}'s own, in the scenario"
        teams_origin = f"{name}'s own teams, in the scenario"
    else:
        template = like or next(iter(data["boroughs"]))
        if template not in data["boroughs"]:
            allowed = f"unknown borough; allowed: {', '.join(data['boroughs'])}"
            raise WorkflowError([Issue(None, "--like", allowed, template, has_given=True)])
        block = copy.deepcopy(data["boroughs"][template])
        block.pop("leave_date", None)
        block["source"] = f"Candidate borough; fields not given are copied from {template}."
        origin = f"copied from {template}" + ("" if like else " (the first borough; --like chooses another)")
        teams_origin = f"the team serving {template} (else the intervention's first team)"
    origins = {k: origin for k in block if k != "source"} | {"teams": teams_origin}
    if "starts" in block:
        origins["starts.per_quarter"] = origin
    if borough_file is not None:
        _apply_borough_file(block, origins, borough_file)
    if starts_per_quarter is not None:
        origins["starts.per_quarter"] = "given (--starts-per-quarter)"
        starts = dict(block.get("starts", {}))
        starts.pop("total", None)
        if starts_per_quarter == 0:
            # a negative binomial with mean 0 is the Poisson with mean 0 (no starts); dropping
            # the dispersion only spares the gamma draws, so the other boroughs' counts are unchanged
            starts.pop("dispersion", None)
        starts["per_quarter"] = {"value": float(starts_per_quarter),
                                 "source": "Candidate's own estimate (sibmodel join --starts-per-quarter)."}
        block["starts"] = starts
    if join_date is not None:
        block["join_date"] = join_date.isoformat()
        origins["join_date"] = "given (--join)"
    if weekly_care_cost_gbp:
        costs = dict(block.get("weekly_care_cost_gbp", {}))
        for kind, cost in weekly_care_cost_gbp.items():
            costs[kind] = {"value": float(cost), "source": "Candidate's own cost (sibmodel join --care-cost)."}
            origins[f"weekly_care_cost_gbp.{kind}"] = "given (--care-cost)"
        block["weekly_care_cost_gbp"] = costs
    if entry_odds_ratio is not None:
        block["entry_odds_ratio"] = {"value": float(entry_odds_ratio),
                                     "source": "Candidate's own estimate (sibmodel join --entry-odds-ratio)."}
        origins["entry_odds_ratio"] = "given (--entry-odds-ratio)"
    if placement_mix:
        block["placement_mix"] = {k: float(v) for k, v in placement_mix.items()}
        origins["placement_mix"] = "given (--placement-mix)"
    return block, origins
# fmt: on


def _apply_borough_file(block: dict, origins: dict[str, str], borough_file: str | Path) -> None:
    """Replace the keys of ``block`` that the ``--borough-file`` gives, noting them in ``origins`` (both in place)."""
    extra = load_yaml(borough_file)
    unknown = sorted(set(extra) - {f.alias or n for n, f in Borough.model_fields.items()} - set(Borough.model_fields))
    if unknown:
        raise ScenarioError(
            [Issue(str(borough_file), k, f"unknown key; allowed: {', '.join(Borough.model_fields)}") for k in unknown]
        )
    block.update(extra)
    origins.update({k: f"from {borough_file}" for k in extra if k != "source"})
    if "starts" in extra:
        origins["starts.per_quarter"] = f"from {borough_file}"


def _shares(mix: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0%}" for k, v in mix.items())


def candidate_assumptions(joined: Scenario, name: str, origins: dict[str, str]) -> list[tuple[str, str, str]]:
    """What the candidate borough is assumed to be in ``joined``, and where each part came from.

    Parameters
    ----------
    joined : Scenario
        The scenario with the candidate in it (:func:`with_borough`), validated.
    name : str
        The candidate.
    origins : dict of str -> str
        From :func:`candidate_block_origins`.

    Returns
    -------
    list of (what, value, origin)
        Its join date (with the window the scenario allows), starts, intervention mix, placement
        mix, weekly care costs [GBP/week], entry odds ratio and the teams that serve it.
    """
    b, t = joined.boroughs[name], joined.timeline
    default = "the scenario's default"

    def origin(key: str, fallback: str = default) -> str:
        return origins.get(key, fallback)

    window = f"; the scenario allows {t.programme_start} to before {t.referrals_close}"
    rows = [("join date", str(b.join_date), origin("join_date") + window)]
    if b.leave_date is not None:
        rows.append(("leave date", str(b.leave_date), origin("leave_date")))
    st = b.starts
    volume = f"{st.per_quarter.describe()} a quarter" if st.per_quarter is not None else f"{st.total.describe()} in all"
    rows.append(("expected starts", volume, origin("starts.per_quarter")))
    spread = "Poisson" if st.dispersion is None else f"negative binomial, size {st.dispersion:g}"
    rows.append(("starts: ramp-up, spread", f"{st.ramp_up_quarters} quarters, {spread}", origin("starts")))
    rows.append(("intervention mix", _shares(b.intervention_mix), origin("intervention_mix")))
    mix = b.placement_mix or joined.care.entry.placement_mix
    rows.append(
        (
            "placement mix on entering care",
            _shares(mix),
            origin(
                "placement_mix", "the scenario's care.entry.placement_mix (the mix of every borough without its own)"
            ),
        )
    )
    for kind, placement in joined.care.placements.items():
        own = b.weekly_care_cost_gbp.get(kind)
        where = origins.get(f"weekly_care_cost_gbp.{kind}") or (
            origin("weekly_care_cost_gbp")
            if own is not None
            else f"the scenario's care.placements.{kind}.weekly_cost_gbp"
        )
        rows.append((f"weekly cost, {kind} [GBP]", (own or placement.weekly_cost_gbp).describe(), where))
    rows.append(
        (
            "entry odds ratio",
            b.entry_odds_ratio.describe(),
            origin("entry_odds_ratio", f"{default} (1: the same risk as the others)"),
        )
    )
    for iname, share in b.intervention_mix.items():
        if share <= 0:
            continue
        teams = [tname for tname, team in joined.interventions[iname].delivery.teams.items() if name in team.boroughs]
        team = (
            ", ".join(teams)
            if teams
            else "a team of its own (the intervention has no named teams), at the intervention's team cost"
        )
        rows.append((f"{iname} team", team, origin("teams") if teams else default))
    return rows


def with_borough(
    s: Scenario, name: str, block: dict, like: str | None = None, *, origin: str | None = None
) -> Scenario:
    """The scenario with borough ``name`` set to ``block`` and served by teams.

    A new borough is appended (after every existing one) and added to the team
    that serves ``like`` (default: the first borough) for each intervention in its
    mix, or to the intervention's first team.  ``origin`` (e.g. the
    ``--borough-file``) is named in validation errors.
    """
    data = scenario_to_data(s)
    is_new = name not in data["boroughs"]
    data["boroughs"][name] = block
    if is_new:
        template = like or next(iter(s.boroughs))
        for iname, share in block.get("intervention_mix", {}).items():
            iv = data["interventions"].get(iname)
            if iv is None or share <= 0:
                continue  # an unknown intervention is reported by validation
            teams = iv.get("delivery", {}).get("teams") or {}
            if not teams:
                continue  # implied per-borough teams
            chosen = next((t for t, team in teams.items() if template in team["boroughs"]), next(iter(teams)))
            teams[chosen]["boroughs"] = [*teams[chosen]["boroughs"], name]
    return validate_data(data, f"<scenario with {name}{f', from {origin}' if origin else ''}>")


def without_borough(s: Scenario, name: str) -> Scenario:
    """The scenario with borough ``name`` and its team memberships removed."""
    if name not in s.boroughs:
        raise _borough_issue(name, f"not in the scenario; boroughs: {', '.join(s.boroughs)}")
    if len(s.boroughs) == 1:
        raise _borough_issue(name, "is the only borough: there is no contract without it to compare with")
    data = scenario_to_data(s)
    del data["boroughs"][name]
    for iv in data["interventions"].values():
        teams = iv.get("delivery", {}).get("teams") or {}
        for tname in list(teams):
            teams[tname]["boroughs"] = [b for b in teams[tname]["boroughs"] if b != name]
            if not teams[tname]["boroughs"]:
                del teams[tname]
    data["correlations"] = [
        c for c in data.get("correlations", []) if not any(p.startswith(f"boroughs.{name}.") for p in c["inputs"])
    ]
    return validate_data(data, f"<scenario without {name}>")


def _scale_care_costs(joined: Scenario, name: str, factor: float) -> Scenario:
    """The scenario with the candidate (already in ``joined``) paying ``factor`` times its weekly care costs.

    The candidate's block is read back from ``joined``, validated, so each cost is in one form
    (a plain number in a ``--borough-file`` is ``{dist: fixed, value: ...}`` there).
    """
    from sibmodel.workflows.levers import scale_spec

    data = scenario_to_data(joined)
    b = data["boroughs"][name]
    costs = dict(b.get("weekly_care_cost_gbp", {}))
    for kind, placement in data["care"]["placements"].items():
        costs[kind] = scale_spec(costs.get(kind, placement["weekly_cost_gbp"]), factor)
    b["weekly_care_cost_gbp"] = costs
    return with_borough(joined, name, b)


def _with_starts(block: dict, per_quarter: float) -> dict:
    b = copy.deepcopy(block)
    starts = dict(b["starts"])
    starts.pop("total", None)
    starts["per_quarter"] = {"value": float(per_quarter), "source": "break-even search"}
    b["starts"] = starts
    return b


@dataclass(frozen=True)
class JoinResult:
    """What joining means for the candidate and for everyone else.

    Parameters
    ----------
    borough : str
    candidate : dict
        The candidate's figures (``summary()['commissioner']['boroughs'][name]``):
        outcome payments, care costs avoided, net savings [GBP, discounted],
        benefit-cost ratio, ``p_net_positive``, starts.
    net_savings_draws_gbp : ndarray
        The candidate's net savings in every draw [GBP, discounted].
    investor : pandas.DataFrame
        Investor figures without and with the candidate (rows) [see stress table].
    others : pandas.DataFrame
        Per other borough: median outcome payments without and with [GBP,
        discounted] and share of all outcome payments [share]; ``draws_identical_share``, the share of draws in
        which all its per-borough figures are the same, bit for bit, without and with the candidate [share].
    p_total_cap_binding : tuple of float
        P(total cap binds) without and with [probability].
    break_even_care_cost_factor : float
        Factor on the candidate's weekly care costs at which its median net
        saving is zero [ratio]; NaN if not reached in the search range.
    break_even_weekly_care_cost_gbp : dict
        The candidate's weekly cost per placement type at that factor [GBP/week].
    break_even_starts_per_quarter : float
        Candidate starts per quarter at which the investor's median IRR with it
        equals the median IRR without it [young people/quarter] (0 when any
        referrals help; NaN if not reached in the search range).
    notes : list of str
    assumptions : list of (str, str, str)
        What the candidate was assumed to be, and where each part came from.
    """

    borough: str
    candidate: dict
    net_savings_draws_gbp: np.ndarray
    investor: pd.DataFrame
    others: pd.DataFrame
    p_total_cap_binding: tuple
    break_even_care_cost_factor: float
    break_even_weekly_care_cost_gbp: dict
    break_even_starts_per_quarter: float
    notes: list
    #: (what, value, origin) of every assumption about the candidate (:func:`candidate_assumptions`).
    assumptions: list = field(default_factory=list)


def _investor_cases(r0, r1, name: str) -> pd.DataFrame:
    """The investor's figures without (``r0``) and with (``r1``) the candidate, one row each."""
    from sibmodel.workflows.stress import investor_metrics

    return pd.DataFrame(
        [{"case": "without", **investor_metrics(r0.draws)}, {"case": f"with {name}", **investor_metrics(r1.draws)}]
    )


# fmt: off
def join_analysis(
    s: Scenario,
    name: str,
    settings: RunSettings,
    *,
    like: str | None = None,
    starts_per_quarter: float | None = None,
    join_date: dt.date | None = None,
    borough_file: str | Path | None = None,
    weekly_care_cost_gbp: dict[str, float] | None = None,
    entry_odds_ratio: float | None = None,
    placement_mix: dict[str, float] | None = None,
    break_even: bool = True,
) -> JoinResult:
    """Compare the contract without and with a candidate borough on common random numbers.

    Parameters
    ----------
    s : Scenario or path-like
        The contract (with or without the candidate already in it).
    name : str
        The candidate borough.
    settings : RunSettings
    like, starts_per_quarter, join_date, borough_file, weekly_care_cost_gbp, entry_odds_ratio, placement_mix
        See :func:`candidate_block`.
    break_even : bool
        Whether to search for the break-even care cost and referrals (about 20 more runs).

    Returns
    -------
    JoinResult
    """
    from sibmodel.workflows.stress import investor_metrics
    s = as_scenario(s)
    block, origins = candidate_block_origins(
        s, name, like=like, starts_per_quarter=starts_per_quarter, join_date=join_date, borough_file=borough_file,
        weekly_care_cost_gbp=weekly_care_cost_gbp, entry_odds_ratio=entry_odds_ratio, placement_mix=placement_mix,
    )
    base = without_borough(s, name) if name in s.boroughs else s
    # a borough already in the scenario keeps its own teams; a new one joins those of `like`
    joined = with_borough(s, name, block, like, origin=None if borough_file is None else str(borough_file))
    block = scenario_to_data(joined)["boroughs"][name]  # validated: one form for every value
    r0, r1 = settings.run(base), settings.run(joined)
    sm0, sm1 = r0.summary(), r1.summary()
    cand = sm1["commissioner"]["boroughs"][name]
    investor = _investor_cases(r0, r1, name)

    def shares(res) -> dict:
        total = res.draws[COMMISSIONER_OUTCOME_PAYMENTS_GBP].to_numpy(float)
        out = {}
        for b in base.boroughs:
            paid = res.draws[f"borough.{b}.outcome_payments_gbp"].to_numpy(float)
            share = np.divide(paid, total, out=np.zeros_like(paid), where=total > 0)
            out[b] = (float(np.median(paid)), float(np.median(share)))
        return out

    sh0, sh1 = shares(r0), shares(r1)
    same = identical_draw_share(r0.draws, r1.draws, list(base.boroughs))
    others = pd.DataFrame(
        [
            {
                "borough": b,
                "outcome_payments_p50_without_gbp": sh0[b][0],
                "outcome_payments_p50_with_gbp": sh1[b][0],
                "share_of_payments_p50_without": sh0[b][1],
                "share_of_payments_p50_with": sh1[b][1],
                "draws_identical_share": same[b],
            }
            for b in base.boroughs
        ]
    )
    notes = [pairing_note(name, same)]
    caps = s.contract.caps
    if caps.per_borough_gbp is not None:
        notes.append(f"Each borough's payments are capped at £{caps.per_borough_gbp:,.0f}.")
    if caps.total_gbp is not None:
        notes.append(
            f"The total cap of £{caps.total_gbp:,.0f} binds in {sm0['contract']['p_total_cap_binding']:.0%} of "
            f"draws without {name} and {sm1['contract']['p_total_cap_binding']:.0%} with it; payments stop in "
            "time order once it is reached."
        )
    factor, costs, starts_be = float("nan"), {}, float("nan")
    if break_even:
        factor, costs, note = _break_even_care_cost(joined, name, settings)
        notes.append(note)
        starts_be, note = _break_even_starts(joined, name, block, settings, investor_metrics(r0.draws)["irr_p50"])
        notes.append(note)
    return JoinResult(
        borough=name,
        candidate=cand,
        net_savings_draws_gbp=r1.draws[f"borough.{name}.net_savings_gbp"].to_numpy(float),
        investor=investor,
        others=others,
        p_total_cap_binding=(sm0["contract"]["p_total_cap_binding"], sm1["contract"]["p_total_cap_binding"]),
        break_even_care_cost_factor=factor,
        break_even_weekly_care_cost_gbp=costs,
        break_even_starts_per_quarter=starts_be,
        notes=notes,
        assumptions=candidate_assumptions(joined, name, origins),
    )
# fmt: on


def identical_draw_share(draws_a: pd.DataFrame, draws_b: pd.DataFrame, boroughs: list[str]) -> dict[str, float]:
    """Per borough, the share of draws in which all its per-borough columns are the same, bit for bit, in two runs
    of one seed [share]."""
    out = {}
    for b in boroughs:
        cols = [c for c in draws_a.columns if c.startswith(f"borough.{b}.") and c in draws_b.columns]
        same = np.ones(len(draws_a), dtype=bool)
        for c in cols:
            x, y = draws_a[c].to_numpy(float), draws_b[c].to_numpy(float)
            same &= x.view(np.int64) == y.view(np.int64)
        out[b] = float(same.mean()) if cols else float("nan")
    return out


def pairing_note(name: str, same: dict[str, float]) -> str:
    """The printed statement of what pairs the two runs, and where the other boroughs moved."""
    whole = sum(1 for v in same.values() if v == 1.0)
    moved = {b: v for b, v in same.items() if v < 1.0}
    text = (
        f"Paired runs: each borough's referrals and care pathways come from its own random numbers, so {name} "
        "changes the "
        "other boroughs' figures only through shared team capacity, the total cap and top-up limit, and the "
        f"programme-wide baseline of the arm without therapy. {whole} of {len(same)} other boroughs are "
        "identical in every draw"
    )
    if moved:
        worst = min(moved, key=moved.get)
        text += f"; the others differ in up to {1 - moved[worst]:.0%} of draws ({worst})"
    return text + "."


def _median_net(res, name: str) -> float:
    return float(np.median(res.draws[f"borough.{name}.net_savings_gbp"].to_numpy(float)))


def _break_even_care_cost(joined, name, settings, bracket=(0.01, 20.0)):
    """Factor on the candidate's care costs at which its median net saving is zero (brentq, CRN)."""

    def g(f: float) -> float:
        return _median_net(settings.run(_scale_care_costs(joined, name, f)), name)

    lo, hi = bracket
    g_lo, g_hi = g(lo), g(hi)
    if np.sign(g_lo) == np.sign(g_hi):
        return (
            float("nan"),
            {},
            (
                f"Break-even care cost not found: {name}'s median net saving is £{g_lo:,.0f} at {lo:g}x and "
                f"£{g_hi:,.0f} at {hi:g}x its care costs."
            ),
        )
    f = optimize.brentq(g, lo, hi, xtol=1e-3, rtol=1e-6)
    s_be = _scale_care_costs(joined, name, f)
    from sibmodel.model.sampling import ppf

    costs = {}
    for kind in s_be.care.placements:
        spec = s_be.boroughs[name].weekly_care_cost_gbp[kind]
        costs[kind] = float(ppf(spec, np.array([0.5]))[0])
    text = ", ".join(f"{k} £{v:,.0f}" for k, v in costs.items())
    return (
        f,
        costs,
        f"Break-even care cost: {name} comes out ahead in the median draw if its weekly care costs exceed "
        f"{f:.2f}x the assumed ones ({text} per week).",
    )


def _break_even_starts(joined, name, block, settings, irr_without: float, bracket=(0.0, 40.0)):
    """Candidate starts per quarter at which the investor's median IRR equals that without it."""
    from sibmodel.workflows.stress import investor_metrics

    def g(x: float) -> float:
        return (
            investor_metrics(settings.run(with_borough(joined, name, _with_starts(block, x))).draws)["irr_p50"]
            - irr_without
        )

    lo, hi = bracket
    g_small = g(0.05)
    if g_small >= 0:
        return (
            0.0,
            f"Break-even referrals: any referrals from {name} leave the investor's median IRR no lower (the "
            "teams it joins are paid for already).",
        )
    g_hi = g(hi)
    if g_hi < 0:
        return (
            float("nan"),
            f"Break-even referrals not found: the investor's median IRR stays below its value without {name} up "
            f"to {hi:g} starts a quarter.",
        )
    x = optimize.brentq(g, 0.05, hi, xtol=1e-2, rtol=1e-6)
    return x, (
        f"Break-even referrals: {name} must start at least {x:.1f} young people a quarter for the investor's "
        "median IRR not to fall "
        "(the search is paired: other boroughs keep their referrals and pathways, and move only through shared "
        "capacity and caps)."
    )
