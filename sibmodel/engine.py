"""``simulate(scenario, draws, seed)``: the wiring from inputs to per-draw results.

No file I/O here.  Draws are processed in fixed-size chunks; chunk ``k`` draws
every random number from streams keyed by ``(k, purpose)`` under the run's root
entropy (:func:`sibmodel.distributions.stream`), so the output does not depend
on how many workers run the chunks or in what order.  Each chunk is reduced to
per-draw figures before the next, so memory stays bounded as draws grow.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np

from . import finance
from .contract import compute_payments, person_tracking
from .counterfactual import baseline_map
from .distributions import sample_inputs, stream
from .hazards import (
    FIRST_PLACEMENT,
    completion_params,
    effect_profile,
    escalation_matrix,
    hazard_scale,
    horizon_weight,
    placement_mixes,
    shape_profile,
    shift_logit,
)
from .pathways import HazardTables, simulate_arms
from .referrals import QUARTER_WEEKS, Calendar, borough_active_weeks, draw_starts, team_groups
from .schema import Scenario, iter_quantities
from .tally import CARE, occupancy_by_week, spell_quarter_weeks, sum_by_key

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
        One value per draw per column (see :mod:`sibmodel.results`).
    series : dict of str -> ndarray (D, Qc)
        Quarterly series per draw (cash quarters).
    """

    index: int
    columns: dict
    series: dict
    occupancy_sum: dict


def _shape_steps(s: Scenario):
    shape = s.care.entry.shape
    return None if shape is None else [(st.from_week, st.relative_hazard) for st in shape]


def year_offset(s: Scenario) -> float:
    """Years from the start of the price year to the programme start [years]."""
    start = s.timeline.programme_start
    return (start - dt.date(s.metadata.price_year, 1, 1)).days / 365.25


def _draw_inputs(s: Scenario, n_draws: int, entropy, chunk_index: int) -> tuple[dict, dict]:
    """The scenario's quantities by path, and ``n_draws`` draws of each (chunk ``chunk_index``'s streams)."""
    specs = dict(iter_quantities(s))
    corr = [(c.inputs[0], c.inputs[1], c.rank_corr) for c in s.correlations]
    return specs, sample_inputs(specs, corr, n_draws, entropy, chunk_index, s.sampling.method)


def run_chunk(s: Scenario, entropy, chunk_index: int, n_draws: int) -> ChunkResult:
    """Simulate one chunk of draws end to end (inputs, people, pathways, money)."""
    cal = Calendar.of(s)
    specs, params = _draw_inputs(s, n_draws, entropy, chunk_index)

    people = draw_starts(s, params, stream(entropy, chunk_index, "referrals"), stream(entropy, chunk_index, "start_weeks"))
    bnames, inames, pnames = list(s.boroughs), list(s.interventions), list(s.care.placements)
    n_b, n_i, n_k = len(bnames), len(inames), len(pnames)
    n_cohorts = n_b * n_i * cal.n_referral_quarters
    d, b, i_ = people.draw, people.borough, people.intervention

    # cohort spread: one normal per draw x cohort for entry/re-entry, one for breakdowns, from a
    # stream per borough (cohorts are numbered borough-major), so that adding or removing a
    # borough leaves the other boroughs' cohorts unchanged
    per_borough = n_i * cal.n_referral_quarters
    z = np.concatenate(
        [stream(entropy, chunk_index, f"cohort_spread:{bn}").standard_normal((2, n_draws, per_borough)) for bn in bnames],
        axis=2,
    ).reshape(2, n_draws, n_cohorts)
    spread = s.care.cohort_spread
    odds = np.stack([params[f"boroughs.{n}.entry_odds_ratio"] for n in bnames], axis=1)  # (D, B)
    # logits per draw, then gathered per person (the same numbers as logit of the gathered values)
    shift = np.log(odds)[d, b] + spread.entry_logit_sd * z[0, d, people.cohort]
    p_entry = shift_logit(params["care.entry.prob"], shift, rows=d)
    p_reentry = shift_logit(np.clip(params["care.reentry.prob"], 1e-12, 1 - 1e-12), shift, rows=d)
    entry_scale = hazard_scale(p_entry, horizon_weight(_shape_steps(s), s.care.entry.horizon_weeks))
    reentry_scale = hazard_scale(np.minimum(p_reentry, 1 - 1e-12), float(s.care.reentry.horizon_weeks))

    mean_dur = np.stack([params[f"care.placements.{k}.mean_duration_weeks"] for k in pnames], axis=1)  # (D, K)
    end_prob = (1.0 / mean_dur)[d]
    brk = np.stack([params[f"care.placements.{k}.breakdown_share"] for k in pnames], axis=1)
    brk = np.clip(brk, 1e-12, 1 - 1e-12)
    breakdown = shift_logit(brk, (spread.breakdown_logit_sd * z[1, d, people.cohort])[:, None], rows=d)
    for at_bound, value in ((brk <= 1e-12, 0.0), (brk >= 1 - 1e-12, 1.0)):  # shares of 0 or 1 stay exact
        if at_bound.any():
            breakdown[at_bound[d]] = value

    escalation = escalation_matrix(s)
    mix_by_borough, remix_by_borough = placement_mixes(s)  # (B, K) each
    if any(bo.placement_mix is not None for bo in s.boroughs.values()):
        entry_mix, reentry_mix = mix_by_borough[b], remix_by_borough[b]  # a mix per person
    else:
        entry_mix, reentry_mix = mix_by_borough[0], remix_by_borough[0]  # one mix: the faster path

    therapy_weeks = np.array([iv.therapy_weeks for iv in s.interventions.values()])
    ws, we = person_tracking(s, people, therapy_weeks, cal.contract_end_week)
    horizon = int(max(1, we.max(initial=1)))
    shape = shape_profile(_shape_steps(s), horizon)
    hr = np.stack([params[f"interventions.{n}.effect.hazard_ratio"] for n in inames], axis=1)  # (D, I)
    completed = None
    if any(iv.completion is not None for iv in s.interventions.values()):
        # rows per (draw, intervention, completer / non-completer); completion from its own stream
        comp_share, nc_share = completion_params(s, params, n_draws)  # (D, I) each
        completed = stream(entropy, chunk_index, "completion").random(people.n) < comp_share[d, i_]
        hr_rows = np.stack([hr, hr**nc_share], axis=2)  # (D, I, 2): completers, non-completers
    else:
        hr_rows = hr[:, :, None]  # (D, I, 1): everyone completes
    n_kinds = hr_rows.shape[2]
    eff = np.empty((n_draws, n_i, n_kinds, horizon))
    for ii, iv in enumerate(s.interventions.values()):
        eff[:, ii] = effect_profile(hr_rows[:, ii], iv.therapy_weeks, iv.effect.fade_weeks, horizon)
    eff = eff.reshape(n_draws * n_i * n_kinds, horizon)
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
    # the treated arm draws its own uniforms, so that the arm without therapy cannot move it
    treated, cf = simulate_arms(
        tables, rows=[rows_t, rows_c], entry_scale=entry_scale, reentry_scale=reentry_scale, end_prob=end_prob,
        breakdown_share=breakdown, escalation=escalation, entry_mix=entry_mix, reentry_mix=reentry_mix,
        window_start=ws, window_end=we, rng=stream(entropy, chunk_index, "pathways"),
        rng_other=stream(entropy, chunk_index, "pathways:counterfactual"),
    )

    # ---- outcomes per draw
    tracked = (we - ws).astype(float)
    col: dict[str, np.ndarray] = {}

    arms = (("treated", treated), ("counterfactual", cf))
    per_person = [np.ones(people.n), tracked]
    for _arm, out in arms:
        per_person += [out.weeks_home, out.entered_care, out.n_placements, out.n_breakdowns]
    sums = iter(sum_by_key(d, np.stack(per_person, dtype=float), n_draws))  # one pass: a row per figure
    col["starts"] = next(sums)
    col["tracked_weeks"] = next(sums)
    for arm, _out in arms:
        col[f"weeks_home_{arm}"] = next(sums)
        col[f"time_at_home_share_{arm}"] = np.divide(col[f"weeks_home_{arm}"], col["tracked_weeks"], out=np.full(n_draws, np.nan), where=col["tracked_weeks"] > 0)
        col[f"entered_care_share_{arm}"] = np.divide(next(sums), col["starts"], out=np.full(n_draws, np.nan), where=col["starts"] > 0)
        col[f"placements_{arm}"] = next(sums)
        col[f"breakdowns_{arm}"] = next(sums)
    col["weeks_out_of_care"] = col["weeks_home_treated"]
    for name, total in (("tracked_weeks_per_start", col["tracked_weeks"]), ("weeks_out_of_care_per_start", col["weeks_out_of_care"])):
        col[name] = np.divide(total, col["starts"], out=np.full(n_draws, np.nan), where=col["starts"] > 0)
    if completed is not None:
        col["completion_share"] = np.divide(
            np.bincount(d, weights=completed, minlength=n_draws), col["starts"], out=np.full(n_draws, np.nan), where=col["starts"] > 0
        )

    # ---- care costs per draw x borough x quarter, both arms (calendar quarters)
    n_q = cal.n_quarters
    weekly_cost = np.empty((n_draws, n_b, n_k))
    for bi, bn in enumerate(bnames):
        for ki, kn in enumerate(pnames):
            key = f"boroughs.{bn}.weekly_care_cost_gbp.{kn}"
            weekly_cost[:, bi, ki] = params[key] if key in params else params[f"care.placements.{kn}.weekly_cost_gbp"]
    ref = people.referral_week.astype(np.int64)
    key_db = d * n_b + b
    care_cost = {}
    for arm, out in (("treated", treated), ("counterfactual", cf)):
        # exact care weeks per draw x borough x placement type x quarter, then priced
        weeks = spell_quarter_weeks(out, CARE, key_db, ref, n_draws * n_b * n_k, n_q, by_type=n_k)
        care_cost[arm] = np.einsum("dbkq,dbk->dbq", weeks.reshape(n_draws, n_b, n_k, n_q), weekly_cost)

    # ---- weekly occupancy by borough and state (difference arrays), reduced over draws
    n_states = FIRST_PLACEMENT + n_k
    # grouped by borough only: the sum over the chunk's draws, without a (draw x borough) array
    occupancy_sum = {
        arm: occupancy_by_week(out, cal.n_weeks, n_states, offset=ref, group=b, n_groups=n_b)
        for arm, out in (("treated", treated), ("counterfactual", cf))
    }

    # ---- outcome payments
    ref_cost = (weekly_cost * mix_by_borough[None, :, :]).sum(axis=2)  # (D, B): each borough's entry-mix cost
    pay = compute_payments(s, people, treated, ws, we, params, ref_cost, n_draws, n_q, counterfactual=cf)
    n_qc = pay.paid.shape[2]

    # ---- delivery costs and fees (cash quarters)
    costs = np.zeros((n_draws, n_qc))
    active = borough_active_weeks(s)
    for ii, members, _cap, tname in team_groups(s):
        iv = s.interventions[inames[ii]]
        path = f"interventions.{inames[ii]}.delivery.teams.{tname}.cost_per_quarter_gbp"
        cost_q = params[path] if path in params else params[f"interventions.{inames[ii]}.delivery.team_cost_per_quarter_gbp"]
        first = int(active[members, 0].min()) // QUARTER_WEEKS
        last = min(n_q - 1, (int(active[members, 1].max()) + iv.therapy_weeks - 1) // QUARTER_WEEKS)
        costs[:, first : last + 1] += cost_q[:, None]
    var_cost = np.stack([params[f"interventions.{n}.delivery.variable_cost_per_family_gbp"] for n in inames], axis=1)  # (D, I)
    costs += np.bincount(d * n_qc + people.quarter, weights=var_cost[d, i_], minlength=n_draws * n_qc).reshape(n_draws, n_qc)
    finance.add_fees(costs, n_q, params.__getitem__)

    # ---- investor
    income = pay.paid.sum(axis=1)
    commitment = params["investment.commitment_gbp"]
    dist = s.investment.distribution
    inv = finance.investor_waterfall(
        income, costs, commitment, dist.policy, dist.return_cap_multiple, dist.surplus_share_to_investor
    )

    # ---- discounting and commissioners
    disc_rate = s.discounting
    schedule = None if disc_rate.declining_schedule is None else [(st.from_year, st.real_rate_annual) for st in disc_rate.declining_schedule]
    df = finance.discount_factors(n_qc, disc_rate.real_rate_annual, schedule, year_offset(s))
    df_q = df[:n_q]
    borough_paid = pay.borough_paid
    col["outcome_payments_gbp"] = pay.paid.sum(axis=(1, 2))
    col["uncapped_payments_gbp"] = pay.uncapped_total
    col["baseline_gap_payments_gbp"] = pay.baseline_gap
    col["topup_paid_gbp"] = pay.topup_paid.sum(axis=(1, 2))
    col["borough_paid_gbp"] = borough_paid.sum(axis=(1, 2))
    col["delivery_costs_gbp"] = costs.sum(axis=1)
    col["care_cost_treated_gbp"] = care_cost["treated"].sum(axis=(1, 2))
    col["care_cost_counterfactual_gbp"] = care_cost["counterfactual"].sum(axis=(1, 2))
    col["government_value_gbp"] = col["care_cost_counterfactual_gbp"] - col["care_cost_treated_gbp"]
    # value to government as the published figure appears to be made (a reconstruction, not a published
    # method): weeks out of care with therapy, tracked, priced at the cheapest placement's weekly cost
    # (PFP: foster care, PSSRU 2017 GBP 646; 30,533 x 646 = GBP 19.72m against the published GBP 19.7m)
    weeks_home_db = np.bincount(key_db, weights=treated.weeks_home, minlength=n_draws * n_b).reshape(n_draws, n_b)
    col["government_value_published_method_gbp"] = (weeks_home_db * weekly_cost.min(axis=2)).sum(axis=1)
    paid_disc = (borough_paid * df).sum(axis=2)  # (D, B)
    care_disc = {arm: (care_cost[arm] * df_q).sum(axis=2) for arm in care_cost}  # (D, B), discounted
    avoided_disc = care_disc["counterfactual"] - care_disc["treated"]
    starts_db = np.bincount(key_db, minlength=n_draws * n_b).reshape(n_draws, n_b).astype(float)
    for bi, bn in enumerate(bnames):
        pre = f"borough.{bn}."
        col[pre + "starts"] = starts_db[:, bi]
        col[pre + "outcome_payments_gbp"] = paid_disc[:, bi]
        col[pre + "care_costs_treated_gbp"] = care_disc["treated"][:, bi]
        col[pre + "care_costs_counterfactual_gbp"] = care_disc["counterfactual"][:, bi]
        col[pre + "care_costs_avoided_gbp"] = avoided_disc[:, bi]
        col[pre + "net_savings_gbp"] = avoided_disc[:, bi] - paid_disc[:, bi]
    col["commissioner_outcome_payments_gbp"] = paid_disc.sum(axis=1)
    col["commissioner_care_costs_treated_gbp"] = care_disc["treated"].sum(axis=1)
    col["commissioner_care_costs_counterfactual_gbp"] = care_disc["counterfactual"].sum(axis=1)
    col["commissioner_care_costs_avoided_gbp"] = avoided_disc.sum(axis=1)
    col["commissioner_net_savings_gbp"] = col["commissioner_care_costs_avoided_gbp"] - col["commissioner_outcome_payments_gbp"]
    col["government_value_discounted_gbp"] = avoided_disc.sum(axis=1)
    col["cost_per_family_gbp"] = np.divide(col["outcome_payments_gbp"], col["starts"], out=np.full(n_draws, np.nan), where=col["starts"] > 0)
    for name, value in inv.columns().items():
        col["investor_" + name] = value
    if s.baseline is not None:
        col["baseline_time_at_home_share"] = np.asarray(params["baseline.time_at_home_share"], dtype=float)
        col["baseline_clamped"] = cf_clamped.astype(float)
        col["counterfactual_risk_factor"] = cf_factor
        for ii, iname in enumerate(inames):
            col[f"implied_hazard_ratio:{iname}"] = hr[:, ii] / cf_factor
    for path, values in params.items():
        if not specs[path].is_fixed:
            col["input:" + path] = values
    series = {
        "outcome_payments_gbp": income,
        "delivery_costs_gbp": costs,
        "investor_net_cashflow_gbp": inv.net_cashflow,
        "capital_outstanding_gbp": inv.capital_outstanding,
    }
    return ChunkResult(chunk_index, col, series, occupancy_sum)


def chunk_memory_bytes(s: Scenario, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    """A generous estimate of the peak memory of one process running chunks of ``s`` [bytes].

    :data:`PROCESS_BASE_BYTES` plus :data:`BYTES_PER_PERSON` for each young person a
    chunk holds: ``chunk_size`` times the expected starts per draw before any team
    capacity or cap (the largest over 64 draws of the inputs), so it errs high.  Used to
    choose how many worker processes fit in memory (:func:`sibmodel.parallel.default_workers`).

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
    from .referrals import expected_starts

    _, params = _draw_inputs(s, 64, 0, 0)
    starts_per_draw = float(expected_starts(s, params).sum(axis=(1, 2)).max(initial=0.0))
    return int(PROCESS_BASE_BYTES + BYTES_PER_PERSON * chunk_size * starts_per_draw)


def values_per_draw(s: Scenario) -> int:
    """Numbers a run stores per draw, at least [count]: the per-draw columns of
    :func:`run_chunk` (40 whole-programme figures, 6 per borough, one per uncertain input)
    and its 4 quarterly series over the contract's quarters and the payment lag."""
    from .referrals import Calendar

    n_uncertain = sum(1 for _, spec in iter_quantities(s) if not spec.is_fixed)
    n_cash_quarters = Calendar.of(s).n_quarters + s.contract.payment_lag_quarters
    return 40 + 6 * len(s.boroughs) + n_uncertain + 4 * n_cash_quarters


def chunk_sizes(draws: int, chunk_size: int) -> list[int]:
    """Sizes of the fixed chunks draws are split into (the last may be smaller)."""
    if draws < 1:
        raise ValueError("draws must be at least 1")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    full, rest = divmod(draws, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def simulate(
    s: Scenario,
    draws: int = 2000,
    seed: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int = 1,
    progress=None,
    scheduler: str | None = None,
    spool_dir=None,
):
    """Simulate a scenario.

    Chunks are reduced as they arrive (in chunk order): per-draw figures are
    appended to a Parquet spool row group by row group and occupancy is summed,
    so memory does not grow with ``draws``.

    Parameters
    ----------
    s : Scenario
        A validated scenario (never a path: I/O happens at the edges).
    draws : int
        Monte Carlo draws.
    seed : int, optional
        Root seed; ``None`` draws fresh entropy, recorded in the results.
    chunk_size : int
        Draws per chunk.  Results depend on it (it fixes which stream each draw
        uses) but not on ``workers`` or ``scheduler``.
    workers : int
        Local processes (or, with ``scheduler="local"``, Dask worker processes);
        output is identical for any number.
    progress : callable, optional
        Called with the number of draws finished after each chunk.
    scheduler : str, optional
        Run the chunks on Dask: ``"local"`` starts a ``LocalCluster`` for the run;
        an address such as ``"tcp://host:8786"`` uses a running cluster (whose
        workers must have sibmodel installed).  Needs ``pip install 'sibmodel[dask]'``.
    spool_dir : path, optional
        Where the per-draw spool folder is made (hidden, removed with the
        Results); the CLI puts it next to the run folder so the final
        ``draws.parquet`` is a hard link, not a copy.

    Returns
    -------
    Results

    Raises
    ------
    SchedulerError
        ``scheduler`` cannot be reached, or Dask is not installed.
    """
    from .limits import cap_workers, check_run_size
    from .parallel import iter_chunks, processes_used
    from .results import DrawStore, OccupancySum, Results, run_meta

    if draws < 1 or chunk_size < 1:
        chunk_sizes(draws, chunk_size)  # raises ValueError with what is wrong
    chunk_bytes = chunk_memory_bytes(s, min(chunk_size, draws))
    check_run_size(draws, min(chunk_size, draws), chunk_bytes, values_per_draw(s), spool_dir)
    root = np.random.SeedSequence(seed)
    entropy = root.entropy
    sizes = chunk_sizes(draws, chunk_size)
    if scheduler is None or scheduler == "local":  # the same output for any number of workers
        workers = cap_workers(workers, len(sizes), chunk_bytes)
    t0 = time.perf_counter()
    store = DrawStore.create(spool_dir)
    occ = OccupancySum()
    done = 0
    try:
        for chunk in iter_chunks(s, entropy, sizes, workers, scheduler):
            store.add(chunk.columns, chunk.series)
            occ.add(chunk.occupancy_sum)
            done += sizes[chunk.index]
            if progress:
                progress(done)
        store.close()
    except BaseException:
        store.discard()
        raise
    elapsed = time.perf_counter() - t0
    meta = run_meta(s, store.n_draws, entropy=entropy, seed=seed, chunk_size=chunk_size, elapsed_s=elapsed,
                    workers=processes_used(workers, len(sizes), scheduler), scheduler=scheduler)
    return Results(s, meta=meta, occupancy_mean=occ.mean(store.n_draws), store=store)
