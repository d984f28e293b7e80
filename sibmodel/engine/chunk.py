"""One chunk of draws, end to end, as named stages: the model's unit of work.

``run_draws(s, entropy, draw_ids, n_total)`` simulates the given draws of a run of
``n_total`` draws; every random number is a pure function of (root entropy, purpose,
draw index, borough, person, spell) (:mod:`sibmodel.model.philox`), so a draw's output
does not depend on the chunk it is in, the process that runs it, nor the other draws:
``run_draws(s, entropy, [i], n_total)`` gives draw ``i`` of the full run, bit for bit.
``run_chunk`` runs the draws of one chunk.  No file I/O.  What depends only on the scenario
and the seed comes compiled in a :class:`~sibmodel.engine.plan.Plan`, built once per run.
The stages, each a function passing small frozen dataclasses to the next:

``inputs`` (the uncertain inputs drawn) -> ``people`` (who starts when,
:func:`sibmodel.model.referrals.draw_starts`) -> ``pathway`` (each person's hazards and
placement numbers) -> ``arms`` (both arms simulated on common random numbers, with their
care weeks by quarter and weekly occupancy counted in the same compiled pass,
:mod:`sibmodel.model.fused`) -> ``outcomes`` (per-draw counts and shares) -> ``care_costs``
(care weeks priced, by borough and quarter) -> ``payments``
(:func:`sibmodel.contract.payments.compute_payments`) -> ``delivery_costs`` (teams, families,
fees) -> ``investor`` (:func:`sibmodel.model.finance.investor_waterfall`) ->
``commissioners`` (discounted, per borough) -> the per-draw columns.

:mod:`sibmodel.engine.run` runs the chunks (here, on local processes or on Dask, through
:mod:`sibmodel.engine.execution`) and reduces them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from sibmodel.contract.payments import Payments, compute_payments
from sibmodel.engine.plan import Plan, year_offset  # noqa: F401  (year_offset: re-exported)
from sibmodel.model import finance
from sibmodel.model.counterfactual import baseline_map
from sibmodel.model.fused import CareTallies, simulate_arms_tallied
from sibmodel.model.hazards import (
    completion_params,
    effect_profile,
    hazard_scale,
    shape_profile,
    shift_logit,
)
from sibmodel.model.pathways import ArmOutcomes, HazardTables, SpellCounters
from sibmodel.model.philox import uniform_pairs
from sibmodel.model.referrals import (
    QUARTER_WEEKS,
    Calendar,
    People,
    borough_active_weeks,
    draw_starts,
    person_tracking,
    team_groups,
)
from sibmodel.model.sampling import sample_inputs
from sibmodel.model.tally import sum_by_key
from sibmodel.outputs import (
    BASELINE_CLAMPED,
    BASELINE_GAP_PAYMENTS_GBP,
    BASELINE_TIME_AT_HOME_SHARE,
    BOROUGH_PAID_GBP,
    BREAKDOWNS,
    CAPITAL_OUTSTANDING_GBP,
    CARE_COST_COUNTERFACTUAL_GBP,
    CARE_COST_TREATED_GBP,
    CARE_COSTS_AVOIDED_GBP,
    CARE_COSTS_COUNTERFACTUAL_GBP,
    CARE_COSTS_TREATED_GBP,
    COMMISSIONER_CARE_COSTS_AVOIDED_GBP,
    COMMISSIONER_CARE_COSTS_COUNTERFACTUAL_GBP,
    COMMISSIONER_CARE_COSTS_TREATED_GBP,
    COMMISSIONER_NET_SAVINGS_GBP,
    COMMISSIONER_OUTCOME_PAYMENTS_GBP,
    COMPLETION_SHARE,
    COST_PER_FAMILY_GBP,
    COUNTERFACTUAL_RISK_FACTOR,
    DELIVERY_COSTS_GBP,
    ENTERED_CARE_SHARE,
    GOVERNMENT_VALUE_DISCOUNTED_GBP,
    GOVERNMENT_VALUE_GBP,
    GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP,
    IMPLIED_HAZARD_RATIO_PREFIX,
    INPUT_PREFIX,
    INVESTOR_NET_CASHFLOW_GBP,
    INVESTOR_PREFIX,
    NET_SAVINGS_GBP,
    OUTCOME_PAYMENTS_GBP,
    PLACEMENTS,
    STARTS,
    TIME_AT_HOME_SHARE,
    TOPUP_PAID_GBP,
    TRACKED_WEEKS,
    TRACKED_WEEKS_PER_START,
    UNCAPPED_PAYMENTS_GBP,
    WEEKS_HOME,
    WEEKS_OUT_OF_CARE,
    WEEKS_OUT_OF_CARE_PER_START,
    borough_prefix,
)
from sibmodel.scenario.schema import Scenario, iter_quantities

DEFAULT_CHUNK_SIZE = 500

#: Peak memory of a process that runs chunks, apart from the young people: imports,
#: tables, per-draw outputs, and numba compiling the hot loops on a machine's first run
#: [bytes] (measured: ~165 MB after imports, ~235 MB after a small chunk, ~95 MB more
#: while compiling).
PROCESS_BASE_BYTES = 350 * 1024**2

#: Peak memory per young person in a chunk [bytes] (measured 0.6-0.9 kB: PFP and ten times
#: its starts, chunks of 100 and 500 draws; rounded up).
BYTES_PER_PERSON = 1024


@dataclass(frozen=True)
class ChunkResult:
    """Per-draw outputs of one chunk.

    Parameters
    ----------
    index : int
        Chunk index.
    occupancy_sum : dict of arm -> ndarray (B, W, S)
        Weekly occupancy by borough, calendar week and state, summed over the
        chunk's draws (per draw x borough x week counts come from difference arrays
        and are reduced here, so memory does not grow with draws).
    columns : dict of str -> ndarray (D,)
        One value per draw per column (see :mod:`sibmodel.results.run`).
    series : dict of str -> ndarray (D, Qc)
        Quarterly series per draw (cash quarters).
    """

    index: int
    columns: dict
    series: dict
    occupancy_sum: dict


def _draw_inputs(s: Scenario, draw_ids: np.ndarray, n_total: int, entropy) -> tuple[dict, dict]:
    """The scenario's quantities by path, and their values in the given draws of a run of ``n_total``."""
    specs = dict(iter_quantities(s))
    corr = [(c.inputs[0], c.inputs[1], c.rank_corr) for c in s.correlations]
    return specs, sample_inputs(specs, corr, draw_ids, n_total, entropy, s.sampling.method)


@dataclass(frozen=True)
class Inputs:
    """The uncertain inputs of a chunk: ``specs`` (path -> quantity), ``params`` (path -> ndarray (D,)) and
    ``draw_ids`` (D,), the draws' indices within the run."""

    specs: dict
    params: dict
    n_draws: int
    draw_ids: np.ndarray


@dataclass(frozen=True)
class Pathway:
    """Each young person's care pathway numbers (see :func:`sibmodel.model.pathways.simulate_arms`), but
    ``end_prob``, which is per draw, shape (D, K) [1/week]."""

    entry_scale: np.ndarray
    reentry_scale: np.ndarray
    end_prob: np.ndarray
    breakdown: np.ndarray
    escalation: np.ndarray
    entry_mix: np.ndarray
    reentry_mix: np.ndarray
    mix_by_borough: np.ndarray


@dataclass(frozen=True)
class Arms:
    """Both arms of every young person, and what shaped the treated and the untreated hazards.

    ``window_start``/``window_end`` are the tracking windows [weeks since referral];
    ``completed`` who completed therapy (None: everyone); ``hazard_ratio`` (D, I);
    ``cf_factor`` the counterfactual risk factor (shape (1,) without a baseline block,
    else (D,)) and ``cf_clamped`` the draws whose baseline was clamped (None without one); ``tallies``
    the arms' care weeks by draw x borough x type and quarter and their weekly occupancy by borough
    (:class:`sibmodel.model.fused.CareTallies`, arms in the order treated, counterfactual).
    """

    treated: ArmOutcomes
    counterfactual: ArmOutcomes
    window_start: np.ndarray
    window_end: np.ndarray
    completed: np.ndarray | None
    hazard_ratio: np.ndarray
    cf_factor: np.ndarray
    cf_clamped: np.ndarray | None
    tallies: CareTallies


@dataclass(frozen=True)
class CareCosts:
    """Care priced by draw, borough and calendar quarter, per arm [GBP]; weekly costs (D, B, K) [GBP/week];
    weekly occupancy summed over the chunk's draws, per arm (B, W, S)."""

    by_arm: dict
    weekly_cost: np.ndarray
    occupancy_sum: dict


def stage_inputs(plan: Plan, draw_ids: np.ndarray, n_total: int) -> Inputs:
    """Draw the uncertain inputs of the given draws of a run of ``n_total`` draws."""
    draw_ids = np.asarray(draw_ids, dtype=np.int64)
    method = plan.scenario.sampling.method
    params = sample_inputs(plan.specs, plan.correlations, draw_ids, n_total, plan.entropy, method, keys=plan.input_keys)
    return Inputs(plan.specs, params, int(draw_ids.size), draw_ids)


def stage_people(plan: Plan, inp: Inputs) -> People:
    """Who starts when (:func:`sibmodel.model.referrals.draw_starts`: counters per draw and borough)."""
    return draw_starts(plan.scenario, inp.params, inp.draw_ids, plan.entropy, keys=plan.starts_keys)


def stage_pathway(plan: Plan, inp: Inputs, people: People) -> Pathway:
    """Each person's hazard scales, placement endings, breakdowns, escalation and mixes.

    The cohort spread is one normal per draw x cohort for entry/re-entry and one for breakdowns,
    from counters (draw, cohort within the borough) under a key per borough (cohorts are
    numbered borough-major), so that adding or removing a borough leaves the other boroughs'
    cohorts unchanged.
    """
    s, cal = plan.scenario, plan.calendar
    params, n_draws = inp.params, inp.n_draws
    bnames, pnames = list(s.boroughs), list(s.care.placements)
    n_i = len(s.interventions)
    n_cohorts = len(bnames) * n_i * cal.n_referral_quarters
    d, b = people.draw, people.borough
    per_borough = n_i * cal.n_referral_quarters
    cells = (inp.draw_ids[:, None], np.arange(per_borough)[None, :])
    z = np.concatenate(
        [special.ndtri(uniform_pairs(key, *cells)) for key in plan.borough_keys["cohort_spread"]],
        axis=2,
    ).reshape(2, n_draws, n_cohorts)
    spread = s.care.cohort_spread
    odds = np.stack([params[f"boroughs.{n}.entry_odds_ratio"] for n in bnames], axis=1)  # (D, B)
    # logits per draw, then gathered per person (the same numbers as logit of the gathered values)
    shift = np.log(odds)[d, b] + spread.entry_logit_sd * z[0, d, people.cohort]
    p_entry = shift_logit(params["care.entry.prob"], shift, rows=d)
    p_reentry = shift_logit(np.clip(params["care.reentry.prob"], 1e-12, 1 - 1e-12), shift, rows=d)
    entry_scale = hazard_scale(p_entry, plan.entry_horizon_weight)
    reentry_scale = hazard_scale(np.minimum(p_reentry, 1 - 1e-12), float(s.care.reentry.horizon_weeks))

    mean_dur = np.stack([params[f"care.placements.{k}.mean_duration_weeks"] for k in pnames], axis=1)  # (D, K)
    end_prob = 1.0 / mean_dur  # per draw (the kernel reads each person's draw's row)
    brk = np.stack([params[f"care.placements.{k}.breakdown_share"] for k in pnames], axis=1)
    brk = np.clip(brk, 1e-12, 1 - 1e-12)
    breakdown = shift_logit(brk, (spread.breakdown_logit_sd * z[1, d, people.cohort])[:, None], rows=d)
    for at_bound, value in ((brk <= 1e-12, 0.0), (brk >= 1 - 1e-12, 1.0)):  # shares of 0 or 1 stay exact
        if at_bound.any():
            breakdown[at_bound[d]] = value

    escalation = plan.escalation
    mix_by_borough, remix_by_borough = plan.mix_by_borough, plan.remix_by_borough  # (B, K) each
    if plan.mix_per_borough:
        entry_mix, reentry_mix = mix_by_borough[b], remix_by_borough[b]  # a mix per person
    else:
        entry_mix, reentry_mix = mix_by_borough[0], remix_by_borough[0]  # one mix: the faster path
    return Pathway(entry_scale, reentry_scale, end_prob, breakdown, escalation, entry_mix, reentry_mix, mix_by_borough)


def stage_arms(plan: Plan, inp: Inputs, people: People, pw: Pathway) -> Arms:
    """Both arms on common random numbers: effect profiles per (draw, intervention[, completer]), the arm
    without therapy scaled to the baseline (:mod:`sibmodel.model.counterfactual`) when the scenario has one."""
    s, cal = plan.scenario, plan.calendar
    params, n_draws = inp.params, inp.n_draws
    inames = list(s.interventions)
    n_i = len(inames)
    d, i_ = people.draw, people.intervention
    therapy_weeks = plan.therapy_weeks
    ws, we = person_tracking(s, people, therapy_weeks, cal.contract_end_week)
    horizon = int(max(1, we.max(initial=1)))
    shape = shape_profile(plan.shape_steps, horizon)
    hr = np.stack([params[f"interventions.{n}.effect.hazard_ratio"] for n in inames], axis=1)  # (D, I)
    completed = None
    if any(iv.completion is not None for iv in s.interventions.values()):
        # rows per (draw, intervention, completer / non-completer); completion by the person's own uniform
        comp_share, nc_share = completion_params(s, params, n_draws)  # (D, I) each
        completed = people.completion_u < comp_share[d, i_]  # the person's own uniform (referrals.draw_starts)
        hr_rows = np.stack([hr, hr**nc_share], axis=2)  # (D, I, 2): completers, non-completers
    else:
        hr_rows = hr[:, :, None]  # (D, I, 1): everyone completes
    n_kinds = hr_rows.shape[2]
    eff = np.empty((n_draws, n_i, n_kinds, horizon))
    for ii, iv in enumerate(s.interventions.values()):
        eff[:, ii] = effect_profile(hr_rows[:, ii], iv.therapy_weeks, iv.effect.fade_weeks, horizon)
    eff = eff.reshape(n_draws * n_i * n_kinds, horizon)
    cf_clamped = None
    if s.baseline is None:  # the care model itself is the arm without therapy: one row
        cf_factor = np.ones(1)
    elif people.n == 0:  # nobody to simulate (and no expected starts to tabulate the map on)
        cf_factor, cf_clamped = np.ones(n_draws), np.zeros(n_draws, dtype=bool)
    else:  # the arm without therapy is the care model with its home hazards scaled per draw (counterfactual.py)
        cf_factor, cf_clamped = baseline_map(s).factor(params["baseline.time_at_home_share"])
    entry_prof = np.vstack([eff * shape, cf_factor[:, None] * shape[None, :]])
    reentry_prof = np.vstack([eff, np.repeat(cf_factor[:, None], horizon, axis=1)])
    tables = HazardTables.from_profiles(entry_prof, reentry_prof)
    rows_t = d * n_i + i_ if completed is None else (d * n_i + i_) * 2 + (~completed)
    rows_c = eff.shape[0] + (d if s.baseline is not None else np.zeros(people.n, dtype=d.dtype))
    # the treated arm draws its own uniforms, so that the arm without therapy cannot move it; the care
    # weeks by quarter and the weekly occupancy are counted in the same compiled pass (model/fused.py)
    n_b = len(s.boroughs)
    (treated, cf), tallies = simulate_arms_tallied(
        tables,
        rows=[rows_t, rows_c],
        pathway={
            "entry_scale": pw.entry_scale,
            "reentry_scale": pw.reentry_scale,
            "end_prob": pw.end_prob,
            "end_prob_row": d,
            "breakdown_share": pw.breakdown,
            "escalation": pw.escalation,
            "entry_mix": pw.entry_mix,
            "reentry_mix": pw.reentry_mix,
        },
        window_start=ws,
        window_end=we,
        counters=spell_counters(plan, people),
        care_key=d * n_b + people.borough,
        offset=people.referral_week,
        group=people.borough,
        n_keys=n_draws * n_b,
        n_groups=n_b,
        n_quarters=cal.n_quarters,
        n_weeks=cal.n_weeks,
    )
    return Arms(treated, cf, ws, we, completed, hr, cf_factor, cf_clamped, tallies)


def stage_outcomes(people: People, arms: Arms, n_draws: int) -> dict[str, np.ndarray]:
    """Per-draw counts and shares of both arms (one pass over people: a row per figure)."""
    d = people.draw
    tracked = (arms.window_end - arms.window_start).astype(float)
    col: dict[str, np.ndarray] = {}
    pairs = (("treated", arms.treated), ("counterfactual", arms.counterfactual))
    per_person = [np.ones(people.n), tracked]
    for _arm, out in pairs:
        per_person += [out.weeks_home, out.entered_care, out.n_placements, out.n_breakdowns]
    sums = iter(sum_by_key(d, np.stack(per_person, dtype=float), n_draws))
    col[STARTS] = next(sums)
    col[TRACKED_WEEKS] = next(sums)
    for arm, _out in pairs:
        col[WEEKS_HOME[arm]] = next(sums)
        col[TIME_AT_HOME_SHARE[arm]] = np.divide(
            col[WEEKS_HOME[arm]], col[TRACKED_WEEKS], out=np.full(n_draws, np.nan), where=col[TRACKED_WEEKS] > 0
        )
        col[ENTERED_CARE_SHARE[arm]] = np.divide(
            next(sums), col[STARTS], out=np.full(n_draws, np.nan), where=col[STARTS] > 0
        )
        col[PLACEMENTS[arm]] = next(sums)
        col[BREAKDOWNS[arm]] = next(sums)
    col[WEEKS_OUT_OF_CARE] = col[WEEKS_HOME["treated"]]
    for name, total in (
        (TRACKED_WEEKS_PER_START, col[TRACKED_WEEKS]),
        (WEEKS_OUT_OF_CARE_PER_START, col[WEEKS_OUT_OF_CARE]),
    ):
        col[name] = np.divide(total, col[STARTS], out=np.full(n_draws, np.nan), where=col[STARTS] > 0)
    if arms.completed is not None:
        col[COMPLETION_SHARE] = np.divide(
            np.bincount(d, weights=arms.completed, minlength=n_draws),
            col[STARTS],
            out=np.full(n_draws, np.nan),
            where=col[STARTS] > 0,
        )
    return col


def stage_care_costs(s: Scenario, inp: Inputs, people: People, arms: Arms) -> CareCosts:
    """Exact care weeks per draw x borough x placement type x quarter, priced; weekly occupancy by borough
    and state (difference arrays), summed over the chunk's draws (no draw x borough array)."""
    cal = Calendar.of(s)
    params, n_draws = inp.params, inp.n_draws
    bnames, pnames = list(s.boroughs), list(s.care.placements)
    n_b, n_k, n_q = len(bnames), len(pnames), cal.n_quarters
    weekly_cost = np.empty((n_draws, n_b, n_k))
    for bi, bn in enumerate(bnames):
        for ki, kn in enumerate(pnames):
            key = f"boroughs.{bn}.weekly_care_cost_gbp.{kn}"
            weekly_cost[:, bi, ki] = params[key] if key in params else params[f"care.placements.{kn}.weekly_cost_gbp"]
    by_arm, occupancy_sum = {}, {}
    for a, arm in enumerate(("treated", "counterfactual")):  # counted by the kernel (stage_arms)
        weeks = arms.tallies.care_weeks[a]
        by_arm[arm] = np.einsum("dbkq,dbk->dbq", weeks.reshape(n_draws, n_b, n_k, n_q), weekly_cost)
        occupancy_sum[arm] = arms.tallies.occupancy[a]
    return CareCosts(by_arm, weekly_cost, occupancy_sum)


def stage_payments(s: Scenario, inp: Inputs, people: People, arms: Arms, pw: Pathway, care: CareCosts) -> Payments:
    """Outcome payments (:func:`sibmodel.contract.payments.compute_payments`); care-days-saved tariffs price a week at
    each borough's entry-mix cost."""
    ref_cost = (care.weekly_cost * pw.mix_by_borough[None, :, :]).sum(axis=2)  # (D, B)
    return compute_payments(
        s,
        people,
        arms.treated,
        arms.window_start,
        arms.window_end,
        inp.params,
        ref_cost,
        inp.n_draws,
        Calendar.of(s).n_quarters,
        counterfactual=arms.counterfactual,
    )


def stage_delivery_costs(s: Scenario, inp: Inputs, people: People, n_cash_quarters: int) -> np.ndarray:
    """Delivery costs and the SPV's fees by cash quarter, shape (D, Qc) [GBP]: each team while its boroughs
    refer (plus a course of therapy), a variable cost per family, management fee, set-up and evaluation."""
    params, n_draws = inp.params, inp.n_draws
    inames = list(s.interventions)
    n_q, n_qc = Calendar.of(s).n_quarters, n_cash_quarters
    costs = np.zeros((n_draws, n_qc))
    active = borough_active_weeks(s)
    for ii, members, _cap, tname in team_groups(s):
        iv = s.interventions[inames[ii]]
        path = f"interventions.{inames[ii]}.delivery.teams.{tname}.cost_per_quarter_gbp"
        cost_q = (
            params[path] if path in params else params[f"interventions.{inames[ii]}.delivery.team_cost_per_quarter_gbp"]
        )
        first = int(active[members, 0].min()) // QUARTER_WEEKS
        last = min(n_q - 1, (int(active[members, 1].max()) + iv.therapy_weeks - 1) // QUARTER_WEEKS)
        costs[:, first : last + 1] += cost_q[:, None]
    var_cost = np.stack(
        [params[f"interventions.{n}.delivery.variable_cost_per_family_gbp"] for n in inames], axis=1
    )  # (D, I)
    costs += np.bincount(
        people.draw * n_qc + people.quarter,
        weights=var_cost[people.draw, people.intervention],
        minlength=n_draws * n_qc,
    ).reshape(n_draws, n_qc)
    finance.add_fees(costs, n_q, params.__getitem__)
    return costs


def stage_investor(s: Scenario, inp: Inputs, pay: Payments, costs: np.ndarray):
    """The investor's waterfall (:func:`sibmodel.model.finance.investor_waterfall`) on payments received and costs."""
    dist = s.investment.distribution
    return finance.investor_waterfall(
        pay.paid.sum(axis=1),
        costs,
        inp.params["investment.commitment_gbp"],
        dist.policy,
        dist.return_cap_multiple,
        dist.surplus_share_to_investor,
    )


def stage_money_columns(
    plan: Plan, people: People, arms: Arms, care: CareCosts, pay: Payments, costs: np.ndarray, n_draws: int
) -> dict[str, np.ndarray]:
    """Per-draw money: payments, costs, value to government, and the commissioners' figures discounted to the
    price year, in total and per borough."""
    bnames = list(plan.scenario.boroughs)
    n_b = len(bnames)
    n_q = plan.calendar.n_quarters
    df = plan.discount_factors  # (Qc,), one per cash quarter of pay.paid
    df_q = df[:n_q]
    care_cost = care.by_arm
    key_db = people.draw * n_b + people.borough
    col: dict[str, np.ndarray] = {}
    col[OUTCOME_PAYMENTS_GBP] = pay.paid.sum(axis=(1, 2))
    col[UNCAPPED_PAYMENTS_GBP] = pay.uncapped_total
    col[BASELINE_GAP_PAYMENTS_GBP] = pay.baseline_gap
    col[TOPUP_PAID_GBP] = pay.topup_paid.sum(axis=(1, 2))
    col[BOROUGH_PAID_GBP] = pay.borough_paid.sum(axis=(1, 2))
    col[DELIVERY_COSTS_GBP] = costs.sum(axis=1)
    col[CARE_COST_TREATED_GBP] = care_cost["treated"].sum(axis=(1, 2))
    col[CARE_COST_COUNTERFACTUAL_GBP] = care_cost["counterfactual"].sum(axis=(1, 2))
    col[GOVERNMENT_VALUE_GBP] = col[CARE_COST_COUNTERFACTUAL_GBP] - col[CARE_COST_TREATED_GBP]
    # value to government as the published figure appears to be made (a reconstruction, not a published
    # method): weeks out of care with therapy, tracked, priced at the cheapest placement's weekly cost
    # (PFP: foster care, PSSRU 2017 GBP 646; 30,533 x 646 = GBP 19.72m against the published GBP 19.7m)
    weeks_home_db = np.bincount(key_db, weights=arms.treated.weeks_home, minlength=n_draws * n_b).reshape(n_draws, n_b)
    col[GOVERNMENT_VALUE_PUBLISHED_METHOD_GBP] = (weeks_home_db * care.weekly_cost.min(axis=2)).sum(axis=1)
    paid_disc = (pay.borough_paid * df).sum(axis=2)  # (D, B)
    care_disc = {arm: (care_cost[arm] * df_q).sum(axis=2) for arm in care_cost}  # (D, B), discounted
    avoided_disc = care_disc["counterfactual"] - care_disc["treated"]
    starts_db = np.bincount(key_db, minlength=n_draws * n_b).reshape(n_draws, n_b).astype(float)
    for bi, bn in enumerate(bnames):
        pre = borough_prefix(bn)
        col[pre + STARTS] = starts_db[:, bi]
        col[pre + OUTCOME_PAYMENTS_GBP] = paid_disc[:, bi]
        col[pre + CARE_COSTS_TREATED_GBP] = care_disc["treated"][:, bi]
        col[pre + CARE_COSTS_COUNTERFACTUAL_GBP] = care_disc["counterfactual"][:, bi]
        col[pre + CARE_COSTS_AVOIDED_GBP] = avoided_disc[:, bi]
        col[pre + NET_SAVINGS_GBP] = avoided_disc[:, bi] - paid_disc[:, bi]
    col[COMMISSIONER_OUTCOME_PAYMENTS_GBP] = paid_disc.sum(axis=1)
    col[COMMISSIONER_CARE_COSTS_TREATED_GBP] = care_disc["treated"].sum(axis=1)
    col[COMMISSIONER_CARE_COSTS_COUNTERFACTUAL_GBP] = care_disc["counterfactual"].sum(axis=1)
    col[COMMISSIONER_CARE_COSTS_AVOIDED_GBP] = avoided_disc.sum(axis=1)
    col[COMMISSIONER_NET_SAVINGS_GBP] = (
        col[COMMISSIONER_CARE_COSTS_AVOIDED_GBP] - col[COMMISSIONER_OUTCOME_PAYMENTS_GBP]
    )
    col[GOVERNMENT_VALUE_DISCOUNTED_GBP] = avoided_disc.sum(axis=1)
    return col


def stage_baseline_columns(s: Scenario, inp: Inputs, arms: Arms) -> dict[str, np.ndarray]:
    """The baseline drawn, the counterfactual risk factor and the implied hazard ratios (scenarios with
    ``baseline:``)."""
    if s.baseline is None:
        return {}
    col = {
        BASELINE_TIME_AT_HOME_SHARE: np.asarray(inp.params["baseline.time_at_home_share"], dtype=float),
        BASELINE_CLAMPED: arms.cf_clamped.astype(float),
        COUNTERFACTUAL_RISK_FACTOR: arms.cf_factor,
    }
    for ii, iname in enumerate(s.interventions):
        col[IMPLIED_HAZARD_RATIO_PREFIX + iname] = arms.hazard_ratio[:, ii] / arms.cf_factor
    return col


def spell_counters(plan: Plan, people: People) -> SpellCounters:
    """Each person's spell counters: keys ``pathways`` (spells both arms share) and ``pathways:counterfactual``
    (spells the arm without therapy needs after the treated arm's window) per borough."""
    keys = np.stack([plan.borough_keys["pathways"], plan.borough_keys["pathways:counterfactual"]], axis=1)
    return SpellCounters(np.ascontiguousarray(keys), people.borough, people.draw_id, people.quarter, people.index)


def run_chunk(
    s: Scenario, entropy, chunk_index: int, first_draw: int, n_draws: int, n_total: int, plan: Plan | None = None
) -> ChunkResult:
    """Simulate chunk ``chunk_index``: draws ``first_draw .. first_draw + n_draws - 1`` of a run of ``n_total``
    (``plan``: the run's :class:`~sibmodel.engine.plan.Plan` of ``s`` and ``entropy``, when already built)."""
    draw_ids = np.arange(first_draw, first_draw + n_draws)
    return run_draws(s, entropy, draw_ids, n_total, chunk_index, plan=plan)


def run_draws(
    s: Scenario, entropy, draw_ids, n_total: int, chunk_index: int = 0, on_payments=None, plan: Plan | None = None
) -> ChunkResult:
    """Simulate the given draws of a run of ``n_total`` draws end to end, stage by stage (see the module docstring).

    Each draw's figures are a pure function of (``entropy``, its index, ``n_total``): the same as in the
    full run, bit for bit, whatever other draws are asked for with it.

    Parameters
    ----------
    s : Scenario
    entropy : int or tuple of int
        The run's root entropy (``numpy.random.SeedSequence(seed).entropy``).
    draw_ids : sequence of int
        Draw indices within the run, each in ``[0, n_total)``.
    n_total : int
        Draws in the run (the Latin hypercube's strata; ignored by plain random sampling).
    chunk_index : int
        Recorded in the result (:attr:`ChunkResult.index`).
    on_payments : callable, optional
        Called as ``on_payments(people, arms, payments)`` once the payments are known (the hook
        :mod:`sibmodel.engine.history` reads per-draw histories from).
    plan : Plan, optional
        ``Plan.of(s, entropy)`` (:mod:`sibmodel.engine.plan`), built once per run and shared by its chunks;
        omitted, built here.  The results are the same either way.
    """
    if plan is None:
        plan = Plan.of(s, entropy)
    inp = stage_inputs(plan, draw_ids, n_total)
    n_draws = inp.n_draws
    people = stage_people(plan, inp)
    pw = stage_pathway(plan, inp, people)
    arms = stage_arms(plan, inp, people, pw)
    col = stage_outcomes(people, arms, n_draws)
    care = stage_care_costs(s, inp, people, arms)
    pay = stage_payments(s, inp, people, arms, pw, care)
    if on_payments is not None:
        on_payments(people, arms, pay)
    costs = stage_delivery_costs(s, inp, people, pay.paid.shape[2])
    inv = stage_investor(s, inp, pay, costs)
    col.update(stage_money_columns(plan, people, arms, care, pay, costs, n_draws))
    col[COST_PER_FAMILY_GBP] = np.divide(
        col[OUTCOME_PAYMENTS_GBP], col[STARTS], out=np.full(n_draws, np.nan), where=col[STARTS] > 0
    )
    for name, value in inv.columns().items():
        col[INVESTOR_PREFIX + name] = value
    col.update(stage_baseline_columns(s, inp, arms))
    for path, values in inp.params.items():
        if not inp.specs[path].is_fixed:
            col[INPUT_PREFIX + path] = values
    series = {
        OUTCOME_PAYMENTS_GBP: pay.paid.sum(axis=1),
        DELIVERY_COSTS_GBP: costs,
        INVESTOR_NET_CASHFLOW_GBP: inv.net_cashflow,
        CAPITAL_OUTSTANDING_GBP: inv.capital_outstanding,
    }
    return ChunkResult(chunk_index, col, series, care.occupancy_sum)


def chunk_memory_bytes(s: Scenario, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """A generous estimate of the peak memory of one process running chunks of ``s`` [bytes].

    :data:`PROCESS_BASE_BYTES` plus :data:`BYTES_PER_PERSON` for each young person a
    chunk holds: ``chunk_size`` times the expected starts per draw before any team
    capacity or cap (the largest over 64 draws of the inputs), so it errs high.  Used to
    choose how many worker processes fit in memory (:func:`sibmodel.engine.execution.default_workers`).

    Parameters
    ----------
    s : Scenario
    chunk_size : int
        Draws per chunk [draws].

    Returns
    -------
    int
        Peak resident memory [bytes].
    """
    from sibmodel.model.referrals import expected_starts

    _, params = _draw_inputs(s, np.arange(64), 64, 0)
    starts_per_draw = float(expected_starts(s, params).sum(axis=(1, 2)).max(initial=0.0))
    return int(PROCESS_BASE_BYTES + BYTES_PER_PERSON * chunk_size * starts_per_draw)


def values_per_draw(s: Scenario) -> int:
    """Numbers a run stores per draw, at least [count]: the per-draw columns of
    :func:`run_chunk` (40 whole-programme figures, 6 per borough, one per uncertain input)
    and its 4 quarterly series over the contract's quarters and the payment lag."""
    from sibmodel.model.referrals import Calendar

    n_uncertain = sum(1 for _, spec in iter_quantities(s) if not spec.is_fixed)
    n_cash_quarters = Calendar.of(s).n_quarters + s.contract.payment_lag_quarters
    return 40 + 6 * len(s.boroughs) + n_uncertain + 4 * n_cash_quarters
