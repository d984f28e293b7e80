"""A peer for the benchmarks: PFP's care-pathway and weekly-tariff model written per case with monaco.

Run by hand (monaco is not a dependency of sibmodel; ``pip install monaco`` into your
virtual environment first, the script says so and stops when it is missing):

    .venv/bin/python benchmarks/peer_monaco.py                       # 100k sibmodel draws, 1,000 peer cases
    .venv/bin/python benchmarks/peer_monaco.py --draws 20000 --cases 500 --workers 1 2

One invocation measures, side by side on the same scenario:

* **sibmodel**: ``sibmodel run SCENARIO --draws N --no-report --quiet`` in a child
  process, timed from start to exit (imports included), warm (a first small run fills
  numba's cache), for each ``--workers`` given;
* **the monaco peer**: the same model written the way a Python user would write it
  with `monaco <https://pypi.org/project/monaco/>`_ (tested with 0.23.0): the
  uncertain inputs are monaco input variables (the scenario's own scipy
  distributions), and each case is a ``preprocess -> run -> postprocess`` of numpy
  code vectorised over the young people of that case, spell by spell (a stay at home
  or in one placement, drawn whole: a handful of rounds, not a step per week),
  single-threaded, timed around ``Sim.runSim``;
* **the RNG floor**: the time numpy's default generator needs on one core for as many
  uniforms as the sibmodel run draws random numbers (``bench_engine.py``).

It then checks that the peer is the same model: the mean outcome payments per start
(``sum(payments) / sum(starts)`` over draws) of sibmodel and of the peer must agree
within Monte Carlo error (|z| < 3, standard errors by the delta method).

What the peer simulates, as PFP's scenario states it (``scenarios/pfp.yaml``):

* starts per borough and quarter: negative binomial (gamma-Poisson of size
  ``dispersion``) around ``per_quarter`` x ``volume_multiplier`` x the share of the
  quarter the borough is active x its ramp-up ``min(1, (i + 1) / (R + 1))``; split by
  the intervention mix (sequential binomials); cut to ``floor(capacity)`` per team and
  quarter, those kept chosen uniformly (multivariate hypergeometric); each start in a
  uniform week of its quarter's active weeks;
* each cohort (borough x intervention x quarter) a normal shift of the entry (and
  re-entry) log-odds (``cohort_spread.entry_logit_sd``, with the borough's
  ``entry_odds_ratio``) and of the breakdown log-odds (``breakdown_logit_sd``);
* in weeks from referral, the arm with therapy: at home, care is entered at the end
  of week ``t`` with probability ``1 - exp(-h)``, ``h = scale x shape[t] x effect[t]``
  (a home spell from week ``t0`` ends at the first week boundary where the hazard
  summed since ``t0`` reaches ``-ln U``, the same weekly process drawn whole),
  ``scale = -ln(1 - p_entry) / sum(shape[:horizon])``; after a return home the hazard is
  ``-ln(1 - p_reentry) / horizon_reentry x effect[t]``; ``effect[t]`` is the hazard
  ratio (fading back to 1 after therapy if ``fade_weeks`` is given); the placement type
  on entry from ``placement_mix``; a placement ends each week with probability
  ``1 / mean_duration_weeks`` (a geometric length), as a breakdown (next type from the escalation row) with
  probability ``breakdown_share`` and otherwise a return home;
* the weekly out-of-care tariff: every week at home inside the tracking window
  (two years from the end of therapy, cut at the contract end) is paid
  ``payment_per_week_gbp`` in its calendar quarter; the total cap is applied in time
  order.

Only the arm with therapy is simulated: payments depend on it alone. sibmodel also
simulates the arm without therapy and prices care, delivery, the investor's waterfall
and the commissioners' savings in each draw, so the comparison flatters the peer.
Scenarios using what the peer does not write out (a ``total`` of starts, borough
placement mixes, completion, other tariffs, per-person or per-borough caps,
correlations) are refused with a message.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

QUARTER_WEEKS = 13
HOME_NEVER, HOME_AFTER, FIRST_PLACEMENT = 0, 1, 2


def _expit(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p):
    return np.log(p) - np.log1p(-p)


def _weeks(date: dt.date, start: dt.date) -> int:
    return (date - start).days // 7


# --------------------------------------------------------------------------- the scenario, read once
def peer_plan(s) -> dict:
    """The fixed numbers of the model (calendar, boroughs, teams, care model), read from a sibmodel Scenario.

    Raises
    ------
    NotImplementedError
        For a feature the peer does not write out.
    """
    tariffs = s.contract.tariffs
    caps = s.contract.caps
    unsupported = [
        ("a tariff other than one weekly_out_of_care", len(tariffs) != 1 or tariffs[0].metric != "weekly_out_of_care"),
        ("a per-person or per-borough cap", caps.per_young_person_gbp is not None or caps.per_borough_gbp is not None),
        ("correlations", bool(s.correlations)),
        ("a starts total", any(b.starts.per_quarter is None for b in s.boroughs.values())),
        ("borough placement mixes", any(b.placement_mix is not None for b in s.boroughs.values())),
        ("therapy completion", any(iv.completion is not None for iv in s.interventions.values())),
    ]
    if bad := [what for what, used in unsupported if used]:
        raise NotImplementedError(f"the monaco peer does not model {', '.join(bad)}")
    start = s.timeline.programme_start
    ref_end = _weeks(s.timeline.referrals_close, start) + 1
    contract_end = _weeks(s.timeline.contract_end, start) + 1
    n_q = -(-ref_end // QUARTER_WEEKS)
    bnames, inames, pnames = list(s.boroughs), list(s.interventions), list(s.care.placements)
    first = np.array([max(0, _weeks(b.join_date, start)) for b in s.boroughs.values()])
    last = np.array(
        [ref_end if b.leave_date is None else min(ref_end, _weeks(b.leave_date, start)) for b in s.boroughs.values()]
    )
    last = np.maximum(first, last)
    q0 = np.arange(n_q) * QUARTER_WEEKS
    share_active = (
        np.clip(np.minimum(q0 + QUARTER_WEEKS, last[:, None]) - np.maximum(q0, first[:, None]), 0, None) / QUARTER_WEEKS
    )
    ramp_r = np.array([b.starts.ramp_up_quarters for b in s.boroughs.values()])
    since = np.arange(n_q)[None, :] - (first // QUARTER_WEEKS)[:, None]
    profile = share_active * np.clip((since + 1) / (ramp_r[:, None] + 1), 0.0, 1.0)  # (B, Q)
    lo = np.maximum(q0[None, :], first[:, None])
    hi = np.maximum(np.minimum(q0[None, :] + QUARTER_WEEKS, last[:, None]), lo + 1)
    teams = []
    for ii, (iname, iv) in enumerate(s.interventions.items()):
        d = iv.delivery
        if d.teams:
            teams += [
                (
                    ii,
                    [bnames.index(b) for b in t.boroughs],
                    t.capacity_families_per_quarter or d.team_capacity_families_per_quarter,
                )
                for t in d.teams.values()
            ]
        else:
            teams += [
                (ii, [bi], d.team_capacity_families_per_quarter)
                for bi, b in enumerate(s.boroughs.values())
                if b.intervention_mix.get(iname, 0) > 0
            ]
    entry = s.care.entry
    horizon = 2 * contract_end + 1
    shape = np.ones(horizon)
    for step in entry.shape or []:
        shape[min(step.from_week, horizon) :] = step.relative_hazard
    reentry_mix = s.care.reentry.placement_mix or entry.placement_mix
    escalation = np.eye(len(pnames))
    for r, k in enumerate(pnames):
        if k in s.care.escalation:
            escalation[r] = [s.care.escalation[k].get(j, 0.0) for j in pnames]
    tracking = s.contract.tracking
    return {
        "boroughs": bnames,
        "interventions": inames,
        "placements": pnames,
        "profile": profile,
        "week_lo": lo,
        "week_hi": hi,
        "n_quarters_pay": -(-contract_end // QUARTER_WEEKS),
        "dispersion": np.array([b.starts.dispersion or np.inf for b in s.boroughs.values()]),
        "intervention_mix": np.array([[b.intervention_mix.get(i, 0.0) for i in inames] for b in s.boroughs.values()]),
        "teams": teams,
        "contract_end_week": contract_end,
        "therapy_weeks": np.array([iv.therapy_weeks for iv in s.interventions.values()]),
        "fade_weeks": [iv.effect.fade_weeks for iv in s.interventions.values()],
        "tracking_from_therapy_end": tracking.starts_at != "referral",
        "tracking_weeks": tracking.length_weeks,
        "shape": shape,
        "entry_weight": float(shape[: entry.horizon_weeks].sum()),
        "reentry_horizon": float(s.care.reentry.horizon_weeks),
        "cum_entry_mix": np.cumsum([entry.placement_mix.get(k, 0.0) for k in pnames]),
        "cum_reentry_mix": np.cumsum([reentry_mix.get(k, 0.0) for k in pnames]),
        "cum_escalation": np.cumsum(escalation, axis=1),
        "entry_logit_sd": s.care.cohort_spread.entry_logit_sd,
        "breakdown_logit_sd": s.care.cohort_spread.breakdown_logit_sd,
        "pay_after_return": tariffs[0].pay_weeks_after_return_from_care,
        "total_cap_gbp": caps.total_gbp,
    }


def input_names(s) -> dict[str, str]:
    """Short name -> the scenario's dotted path of each quantity the peer reads."""
    names = {
        "volume": "referrals.volume_multiplier",
        "entry_prob": "care.entry.prob",
        "reentry_prob": "care.reentry.prob",
        "tariff": "contract.tariffs.0.payment_per_week_gbp",
    }
    for b in s.boroughs:
        names[f"rate:{b}"] = f"boroughs.{b}.starts.per_quarter"
        names[f"odds:{b}"] = f"boroughs.{b}.entry_odds_ratio"
    for i in s.interventions:
        names[f"hr:{i}"] = f"interventions.{i}.effect.hazard_ratio"
    for k in s.care.placements:
        names[f"duration:{k}"] = f"care.placements.{k}.mean_duration_weeks"
        names[f"breakdown:{k}"] = f"care.placements.{k}.breakdown_share"
    return names


def quantities(s) -> dict:
    """The scenario's quantities by dotted path (sibmodel's own reading of the file)."""
    from sibmodel.scenario.schema import iter_quantities

    return dict(iter_quantities(s))


# --------------------------------------------------------------------------- one case
def simulate_case(plan: dict, x: dict, rng: np.random.Generator) -> tuple[float, int, float]:
    """One draw of the model: (outcome payments [GBP], starts [young people], paid weeks at home [weeks])."""
    bn, inames, pn = plan["boroughs"], plan["interventions"], plan["placements"]
    n_b, n_i, n_k = len(bn), len(inames), len(pn)
    # referrals: negative binomial counts per borough and quarter, split by intervention, cut to team capacity
    mu = np.array([x[f"rate:{b}"] for b in bn])[:, None] * x["volume"] * plan["profile"]  # (B, Q)
    k = plan["dispersion"][:, None]
    lam = np.where(
        np.isfinite(k), rng.gamma(np.where(np.isfinite(k), k, 1.0), mu / np.where(np.isfinite(k), k, 1.0)), mu
    )
    left_n = rng.poisson(lam)
    counts = np.zeros((n_b, n_i, mu.shape[1]), dtype=np.int64)
    left_share = np.ones(n_b)
    for ii in range(n_i):
        p = np.clip(
            np.divide(plan["intervention_mix"][:, ii], left_share, out=np.zeros(n_b), where=left_share > 1e-12), 0, 1
        )
        counts[:, ii] = rng.binomial(left_n, p[:, None])
        left_n = left_n - counts[:, ii]
        left_share = left_share - plan["intervention_mix"][:, ii]
    for ii, members, cap in plan["teams"]:
        if cap is None:
            continue
        for q in np.flatnonzero(counts[members, ii].sum(axis=0) > int(cap)):
            counts[members, ii, q] = rng.multivariate_hypergeometric(counts[members, ii, q], int(cap))
    b, i, q = (np.repeat(ix, counts.ravel()) for ix in np.indices(counts.shape).reshape(3, -1))
    n = b.size
    lo = plan["week_lo"][b, q]
    ref = lo + np.floor(rng.random(n) * (plan["week_hi"][b, q] - lo)).astype(np.int64)
    # cohort spread: one normal per cohort for entry and re-entry, one for breakdowns
    z = rng.standard_normal((2, *counts.shape))
    shift = np.log([x[f"odds:{bb}"] for bb in bn])[b] + plan["entry_logit_sd"] * z[0, b, i, q]
    p_entry = _expit(_logit(x["entry_prob"]) + shift)
    p_reentry = _expit(_logit(np.clip(x["reentry_prob"], 1e-12, 1 - 1e-12)) + shift)
    entry_scale = -np.log1p(-p_entry) / plan["entry_weight"]
    reentry_scale = -np.log1p(-np.minimum(p_reentry, 1 - 1e-12)) / plan["reentry_horizon"]
    brk = np.clip([x[f"breakdown:{kk}"] for kk in pn], 1e-12, 1 - 1e-12)
    breakdown = _expit(_logit(brk)[None, :] + (plan["breakdown_logit_sd"] * z[1, b, i, q])[:, None])  # (N, K)
    end_prob = 1.0 / np.array([x[f"duration:{kk}"] for kk in pn])
    # tracking windows [weeks since referral]
    tw = plan["therapy_weeks"][i]
    ws = tw if plan["tracking_from_therapy_end"] else np.zeros(n, dtype=np.int64)
    we = np.maximum(np.minimum(ws + plan["tracking_weeks"], plan["contract_end_week"] - ref), ws)
    horizon = int(we.max(initial=0))
    effect = np.empty((n_i, max(horizon, 1)))
    t_all = np.arange(effect.shape[1])
    for ii, name in enumerate(inames):
        hr = x[f"hr:{name}"]
        fade = plan["fade_weeks"][ii]
        frac = 0.0 if fade is None else np.clip((t_all - plan["therapy_weeks"][ii] + 1) / (fade + 1), 0, 1)
        effect[ii] = hr + (1 - hr) * frac
    # spell by spell, the arm with therapy, over everyone still inside their window (a handful of rounds)
    t_max = max(horizon, 1)
    cum = np.zeros((2, n, t_max + 1))  # cumulative entry and re-entry hazard from referral [1]
    np.cumsum(entry_scale[:, None] * plan["shape"][None, :t_max] * effect[i], axis=1, out=cum[0, :, 1:])
    np.cumsum(reentry_scale[:, None] * effect[i], axis=1, out=cum[1, :, 1:])
    state = np.zeros(n, dtype=np.int64)
    t0 = np.zeros(n, dtype=np.int64)  # first week of the current spell [weeks since referral]
    paid_from, paid_to = [], []  # paid weeks at home [calendar weeks]
    active = np.flatnonzero(t0 < we)
    while active.size:
        st, start_w = state[active], t0[active]
        u_len, u_type, u_break = rng.random((3, active.size))
        end_w = np.empty(active.size, dtype=np.int64)
        new_state = np.full(active.size, HOME_AFTER)
        home = st < FIRST_PLACEMENT
        # a home spell ends at the first week boundary where the hazard since its start reaches -ln U
        hi_ = np.flatnonzero(home)
        c = cum[st[hi_], active[hi_]]  # (m, T + 1)
        target = c[np.arange(hi_.size), start_w[hi_]] - np.log(u_len[hi_])
        end_w[hi_] = (c < target[:, None]).sum(axis=1)  # t_max + 1: not within the table, i.e. home to the end
        for origin, cum_mix in ((HOME_NEVER, plan["cum_entry_mix"]), (HOME_AFTER, plan["cum_reentry_mix"])):
            sel = hi_[st[hi_] == origin]
            new_state[sel] = FIRST_PLACEMENT + np.minimum(np.searchsorted(cum_mix, u_type[sel], side="right"), n_k - 1)
        if plan["pay_after_return"]:
            paid = hi_
        else:
            paid = hi_[st[hi_] == HOME_NEVER]
        a_ = np.maximum(start_w[paid], ws[active[paid]])
        b_ = np.minimum(end_w[paid], we[active[paid]])
        keep = b_ > a_
        paid_from.append(ref[active[paid]][keep] + a_[keep])
        paid_to.append(ref[active[paid]][keep] + b_[keep])
        # a placement lasts a geometric number of weeks, then breaks down (next type by escalation) or ends at home
        ci = np.flatnonzero(~home)
        kk = st[ci] - FIRST_PLACEMENT
        end_w[ci] = start_w[ci] + np.floor(np.log(u_len[ci]) / np.log1p(-end_prob[kk])).astype(np.int64) + 1
        broke = u_break[ci] < breakdown[active[ci], kk]
        next_type = np.minimum((u_type[ci][:, None] >= plan["cum_escalation"][kk]).sum(axis=1), n_k - 1)
        new_state[ci] = np.where(broke, FIRST_PLACEMENT + next_type, HOME_AFTER)
        state[active], t0[active] = new_state, end_w
        active = active[end_w < we[active]]
    # paid weeks by calendar week (a difference array), then by quarter
    n_weeks = plan["n_quarters_pay"] * QUARTER_WEEKS
    diff = np.bincount(np.concatenate(paid_from), minlength=n_weeks + 1) - np.bincount(
        np.concatenate(paid_to), minlength=n_weeks + 1
    )
    paid_by_quarter = np.cumsum(diff)[:n_weeks].reshape(-1, QUARTER_WEEKS).sum(axis=1).astype(float)
    paid_gbp = paid_by_quarter * x["tariff"]
    cap = plan["total_cap_gbp"]
    if cap is not None:  # in time order: what is achieved after the cap is reached is not paid
        paid_gbp = np.diff(np.minimum(np.cumsum(paid_gbp), cap), prepend=0.0)
    return float(paid_gbp.sum()), n, float(paid_by_quarter.sum())


# --------------------------------------------------------------------------- monaco
def build_sim(s, cases: int, seed: int):
    """A monaco ``Sim`` of the scenario: input variables from its distributions, the case functions above."""
    import monaco as mc

    plan = peer_plan(s)
    specs = quantities(s)
    names = input_names(s)

    def preprocess(case):
        x = {short: (case.invals[short].val if short in case.invals else case.constvals[short]) for short in names}
        return (x, np.random.default_rng(case.seed))

    def run(x, rng):
        return simulate_case(plan, x, rng)

    def postprocess(case, payments_gbp, starts, paid_weeks):
        case.addOutVal("outcome_payments_gbp", payments_gbp)
        case.addOutVal("starts", starts)
        case.addOutVal("paid_weeks", paid_weeks)

    sim = mc.Sim(
        name="pfp_peer",
        ndraws=cases,
        fcns={"preprocess": preprocess, "run": run, "postprocess": postprocess},
        seed=seed,
        singlethreaded=True,
        verbose=False,
        debug=True,
        savecasedata=False,
        savesimdata=False,
    )
    for short, path in names.items():
        spec = specs[path]
        if spec.is_fixed:
            sim.addConstVal(short, float(spec.mean()))
            continue
        dist, shapes, loc, scale = spec.scipy_form()
        kw = dict(zip([p.strip() for p in (dist.shapes or "").split(",") if p.strip()], shapes))
        sim.addInVar(short, dist=dist, distkwargs={**kw, "loc": loc, "scale": scale})
    return sim


def run_peer(s, cases: int, seed: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Run the peer: payments [GBP] and starts per case, and the wall and CPU seconds ``runSim`` took [s]."""
    sim = build_sim(s, cases, seed)
    t0, c0 = time.perf_counter(), time.process_time()
    sim.runSim()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    pay = np.asarray(sim.outvars["outcome_payments_gbp"].vals, dtype=float)
    starts = np.asarray(sim.outvars["starts"].vals, dtype=float)
    return pay, starts, seconds, cpu


def per_start(payments: np.ndarray, starts: np.ndarray) -> tuple[float, float]:
    """``sum(payments) / sum(starts)`` [GBP per start] and its standard error (delta method) [GBP]."""
    ratio = payments.sum() / starts.sum()
    resid = payments - ratio * starts
    se = resid.std(ddof=1) / np.sqrt(len(payments)) / starts.mean()
    return float(ratio), float(se)


# --------------------------------------------------------------------------- side by side
def _children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's finished children and theirs [s]."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def time_sibmodel(scenario: str, draws: int, seed: int, workers: int, out: Path) -> tuple[float, float]:
    """Wall time of ``sibmodel run --no-report`` in a child process, and the CPU time of it and its workers [s]."""
    from bench_engine import run_command

    cmd = run_command(scenario, draws, seed, workers, out) + ["--overwrite"]
    t0, c0 = time.perf_counter(), _children_cpu_s()
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.perf_counter() - t0, _children_cpu_s() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="scenarios/pfp.yaml")
    ap.add_argument("--draws", type=int, default=100_000, help="sibmodel draws")
    ap.add_argument("--cases", type=int, default=1_000, help="monaco peer cases")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="sibmodel --workers (one row each)")
    ap.add_argument("--seed", type=int, default=12345)
    a = ap.parse_args()
    try:
        import monaco
    except ImportError:
        print(
            "benchmarks/peer_monaco.py: monaco is not installed, so there is no peer to measure; "
            "`.venv/bin/pip install monaco` (not a dependency of sibmodel) and run this again."
        )
        sys.exit(0)
    from bench_engine import count_random_numbers, rng_floor_s

    from sibmodel import load_scenario
    from sibmodel.version import __version__

    s = load_scenario(ROOT / a.scenario)
    print(
        f"scenario {a.scenario}   sibmodel {__version__}   monaco {getattr(monaco, '__version__', '?')}   "
        f"cores {os.cpu_count()}   load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        time_sibmodel(a.scenario, 200, a.seed, 1, Path(tmp) / "warm")  # numba's cache filled: timings are warm
        for w in a.workers:
            wall, cpu = time_sibmodel(a.scenario, a.draws, a.seed, w, Path(tmp) / "run")
            rows.append((f"sibmodel run --no-report --workers {w}", a.draws, wall, cpu))
        import pandas as pd

        d = pd.read_parquet(Path(tmp) / "run" / "draws.parquet", columns=["outcome_payments_gbp", "starts"])
    n_random = count_random_numbers(s, a.draws, a.seed)
    c0 = time.process_time()
    floor = rng_floor_s(n_random)
    floor_cpu = time.process_time() - c0
    pay, starts, peer_s, peer_cpu = run_peer(s, a.cases, a.seed)
    rows.append(("monaco peer, one process", a.cases, peer_s, peer_cpu))
    rows.append(("RNG floor (numpy, one core, as many uniforms as the sibmodel run draws)", a.draws, floor, floor_cpu))
    peer_wall_rate, peer_cpu_rate = a.cases / peer_s, a.cases / peer_cpu
    print(f"\nrandom numbers one sibmodel draw consumes: {n_random / a.draws:,.0f}")
    print(
        "\n| measure | draws or cases | wall [s] | CPU [s] | per wall second | per CPU second | "
        "against the peer, wall | against the peer, CPU | CPU / RNG floor's CPU, per draw |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, n, wall, cpu in rows:
        print(
            f"| {label} | {n:,} | {wall:.2f} | {cpu:.2f} | {n / wall:,.0f} | {n / cpu:,.0f} | "
            f"{n / wall / peer_wall_rate:.1f}x | {n / cpu / peer_cpu_rate:.1f}x | "
            f"{(cpu / n) / (floor_cpu / a.draws):.1f}x |"
        )
    ms, ms_se = per_start(d["outcome_payments_gbp"].to_numpy(float), d["starts"].to_numpy(float))
    mp, mp_se = per_start(pay, starts)
    z = (ms - mp) / np.hypot(ms_se, mp_se)
    verdict = "the same model within Monte Carlo error" if abs(z) < 3 else "DIFFERENT: not the same model"
    print(
        f"\nmean outcome payments per start: sibmodel GBP {ms:,.0f} +- {ms_se:,.0f}, peer GBP {mp:,.0f} +- "
        f"{mp_se:,.0f} "
        f"(z = {z:+.2f}): {verdict}"
    )
    print(f"mean starts per draw: sibmodel {d['starts'].mean():.1f}, peer {starts.mean():.1f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(json.dumps({"sibmodel_per_start_gbp": ms, "peer_per_start_gbp": mp, "z": z}))


if __name__ == "__main__":
    main()
