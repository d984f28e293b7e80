"""Who starts when: starts per borough per quarter, the intervention, team capacity.

Time is in model weeks from the programme start; a model quarter is 13 weeks.
A *cohort* is one borough x intervention x start quarter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numba import njit

from sibmodel.scenario.schema import Scenario, Tracking

QUARTER_WEEKS = 13


def week_of(date: dt.date, start: dt.date) -> int:
    """Whole weeks from ``start`` to ``date`` [weeks] (negative before the start)."""
    return (date - start).days // 7


@dataclass(frozen=True)
class Calendar:
    """Week and quarter grid of a scenario.

    Parameters
    ----------
    referral_end_week : int
        One past the last week a start can happen [weeks].
    contract_end_week : int
        One past the last week of the contract [weeks].
    n_referral_quarters : int
        Quarters with possible starts.
    n_weeks : int
        Weeks from programme start to contract end [weeks].
    n_quarters : int
        Quarters covering the contract [quarters].
    """

    referral_end_week: int
    contract_end_week: int
    n_referral_quarters: int
    n_weeks: int
    n_quarters: int

    @classmethod
    def of(cls, s: Scenario) -> Calendar:
        start = s.timeline.programme_start
        ref_end = week_of(s.timeline.referrals_close, start) + 1
        end = week_of(s.timeline.contract_end, start) + 1
        return cls(
            referral_end_week=ref_end,
            contract_end_week=end,
            n_referral_quarters=-(-ref_end // QUARTER_WEEKS),
            n_weeks=end,
            n_quarters=-(-end // QUARTER_WEEKS),
        )


def borough_active_weeks(s: Scenario) -> np.ndarray:
    """First and one-past-last referral week of each borough, shape (B, 2) [weeks]."""
    cal = Calendar.of(s)
    start = s.timeline.programme_start
    out = np.zeros((len(s.boroughs), 2), dtype=np.int64)
    for i, b in enumerate(s.boroughs.values()):
        first = max(0, week_of(b.join_date, start))
        last = cal.referral_end_week if b.leave_date is None else min(cal.referral_end_week, week_of(b.leave_date, start))
        out[i] = first, max(first, last)
    return out


def expected_starts_profile(s: Scenario) -> np.ndarray:
    """Share of a full quarter's rate each borough has in each quarter, with ramp-up, shape (B, Q) [ratio].

    A quarter's weight is the fraction of its weeks the borough is active, times
    the ramp-up factor ``min(1, (i + 1) / (R + 1))`` in the ``i``-th quarter after joining.
    """
    cal = Calendar.of(s)
    active = borough_active_weeks(s)
    q0 = np.arange(cal.n_referral_quarters) * QUARTER_WEEKS
    q1 = q0 + QUARTER_WEEKS
    prof = np.zeros((len(s.boroughs), cal.n_referral_quarters))
    for i, b in enumerate(s.boroughs.values()):
        first, last = active[i]
        frac = np.clip(np.minimum(q1, last) - np.maximum(q0, first), 0, None) / QUARTER_WEEKS
        since = np.arange(cal.n_referral_quarters) - first // QUARTER_WEEKS
        ramp = np.clip((since + 1) / (b.starts.ramp_up_quarters + 1), 0.0, 1.0)
        prof[i] = frac * ramp
    return prof


def expected_starts(s: Scenario, params: dict[str, np.ndarray]) -> np.ndarray:
    """Expected starts per draw, borough and quarter, shape (D, B, Q) [young people].

    ``per_quarter`` is the full-quarter rate; ``total`` is spread over the
    borough's weighted quarters so that the expected total equals it.  Both are
    multiplied by ``referrals.volume_multiplier``.
    """
    prof = expected_starts_profile(s)
    mult = params["referrals.volume_multiplier"]
    rates = []
    for i, (name, b) in enumerate(s.boroughs.items()):
        if b.starts.per_quarter is not None:
            rates.append(params[f"boroughs.{name}.starts.per_quarter"])
        else:
            weight = prof[i].sum()
            total = params[f"boroughs.{name}.starts.total"]
            rates.append(total / weight if weight > 0 else total * 0.0)
    rate = np.stack(rates, axis=1)  # (D, B)
    return (rate * mult[:, None])[:, :, None] * prof[None, :, :]


def team_groups(s: Scenario) -> list[tuple[int, list[int], float | None, str]]:
    """Teams as (intervention index, borough indices, capacity per quarter, team name).

    An intervention without teams gets one implied team per borough that uses it,
    with the intervention's default capacity.
    """
    bnames = list(s.boroughs)
    groups = []
    for ii, (iname, iv) in enumerate(s.interventions.items()):
        d = iv.delivery
        if d.teams:
            for tname, team in d.teams.items():
                cap = team.capacity_families_per_quarter or d.team_capacity_families_per_quarter
                groups.append((ii, [bnames.index(b) for b in team.boroughs], cap, tname))
        else:
            for bi, (bname, b) in enumerate(s.boroughs.items()):
                if b.intervention_mix.get(iname, 0.0) > 0:
                    groups.append((ii, [bi], d.team_capacity_families_per_quarter, f"{iname} {bname}"))
    return groups


@dataclass(frozen=True)
class People:
    """Every young person who starts, in one chunk of draws (flat arrays, length N).

    Parameters
    ----------
    draw : ndarray of int
        Draw index within the chunk.
    borough, intervention, quarter : ndarray of int
        Indices of the cohort's parts; ``quarter`` is the start quarter.
    cohort : ndarray of int
        ``(borough * I + intervention) * Q + quarter``.
    referral_week : ndarray of int
        Week of the start [weeks from programme start].
    counts : ndarray of int, shape (D, B, I, Q)
        Starts per draw and cohort.
    """

    draw: np.ndarray
    borough: np.ndarray
    intervention: np.ndarray
    quarter: np.ndarray
    cohort: np.ndarray
    referral_week: np.ndarray
    counts: np.ndarray

    @property
    def n(self) -> int:
        return int(self.draw.size)


def draw_starts(s: Scenario, params: dict[str, np.ndarray], rng_counts: np.random.Generator, rng_weeks: np.random.Generator) -> People:
    """Draw starts per borough per quarter, split them by intervention, cap by team capacity.

    Counts are Poisson around :func:`expected_starts`, or negative binomial
    (gamma-Poisson, size ``dispersion``) where a dispersion is given.  Starts are
    split by the borough's intervention mix (sequential binomials).  Where a
    team's starts in a quarter exceed its capacity, ``floor(capacity)`` of them
    are kept, chosen uniformly at random across its boroughs (multivariate
    hypergeometric).  Each start gets a week uniformly within the borough's
    active weeks of its quarter.
    """
    mu = expected_starts(s, params)  # (D, B, Q)
    n_d, n_b, n_q = mu.shape
    disp = np.array([b.starts.dispersion if b.starts.dispersion is not None else np.inf for b in s.boroughs.values()])
    lam = mu.copy()
    nb = np.isfinite(disp)
    if nb.any():
        k = disp[nb][None, :, None]
        # standard_gamma: numpy's gamma(k, 1.0) is 1.0 * standard_gamma(k), the same draws and bits
        lam[:, nb, :] = rng_counts.standard_gamma(k, size=mu[:, nb, :].shape) * mu[:, nb, :] / k
    total = rng_counts.poisson(lam)
    inames = list(s.interventions)
    n_i = len(inames)
    mix = np.array([[b.intervention_mix.get(i, 0.0) for i in inames] for b in s.boroughs.values()])  # (B, I)
    counts = np.zeros((n_d, n_b, n_i, n_q), dtype=np.int64)
    remaining = total.copy()
    left = np.ones(n_b)
    for ii in range(n_i):
        p = np.divide(mix[:, ii], left, out=np.zeros(n_b), where=left > 1e-12)
        p = np.clip(p, 0.0, 1.0)
        x = _binomial(rng_counts, remaining, p)
        counts[:, :, ii, :] = x
        remaining = remaining - x
        left = left - mix[:, ii]
    for ii, members, cap, _ in team_groups(s):
        if cap is None:
            continue
        sub = counts[:, members, ii, :]  # (D, m, Q)
        cap_i = int(np.floor(cap))
        tot = sub.sum(axis=1)
        over = tot > cap_i
        if not over.any():
            continue
        # a draw x quarter within capacity keeps every start and draws no random number (its
        # hypergeometric samples everything left); only those over capacity are drawn, in the same order
        good = sub.transpose(1, 0, 2)[:, over]  # (m, cells over capacity)
        kept = np.empty_like(good)
        pool = tot[over]
        want = np.full(pool.shape, cap_i, dtype=pool.dtype)
        for j in range(len(members)):
            take = rng_counts.hypergeometric(good[j], pool - good[j], want)
            kept[j] = take
            pool = pool - good[j]
            want = want - take
        sub.transpose(1, 0, 2)[:, over] = kept
        counts[:, members, ii, :] = sub

    active = borough_active_weeks(s)
    q0 = np.arange(n_q) * QUARTER_WEEKS
    lo_bq = np.maximum(q0[None, :], active[:, :1])  # (B, Q) first week a start can have
    hi_bq = np.maximum(np.minimum(q0[None, :] + QUARTER_WEEKS, active[:, 1:]), lo_bq + 1)
    # one block for the six per-start arrays and the uniforms: numpy asks for huge pages for 4 MB and
    # more, which spares the page faults of seven separate arrays (a few ms per chunk)
    block = np.empty((7, int(counts.sum())), dtype=np.int64)
    u = rng_weeks.random(out=block[6].view(np.float64))
    d, b, i, q, cohort, week = block[:6]
    _expand(counts, lo_bq, hi_bq, u, d, b, i, q, cohort, week)
    return People(d, b, i, q, cohort, week, counts)


def _binomial(rng: np.random.Generator, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``rng.binomial(n, p[None, :, None])`` for counts ``n`` (D, B, Q) and probabilities ``p`` (B,).

    Where every probability is 0 or 1 (the last intervention of each borough's
    mix, in the usual case), the draw is known: numpy returns 0 without drawing
    where ``n == 0`` or ``p == 0``, and returns ``n`` after drawing exactly one
    double where ``p == 1`` (an inversion with success probability
    ``1 - p = 0``).  A PCG64 stream is then advanced by that many doubles
    instead, leaving the same values and the same stream state.
    """
    p_cell = np.broadcast_to(p[None, :, None], n.shape)
    if np.all((p == 0) | (p == 1)) and type(rng.bit_generator) is np.random.PCG64 and np.all(n >= 0):
        draws = (n != 0) & (p_cell != 0)
        _skip_doubles(rng, int(np.count_nonzero(draws)))
        return np.where(draws, n, 0)
    return rng.binomial(n, p[None, :, None])


def _skip_doubles(rng: np.random.Generator, n: int) -> None:
    """Move a PCG64 generator on as ``n`` draws of a double would.

    A double is one 64-bit step of PCG64 and leaves its buffered 32-bit half
    alone; ``advance`` makes the steps but clears that buffer, so it is restored.
    """
    bg = rng.bit_generator
    before = bg.state
    bg.advance(n)
    after = bg.state
    after["has_uint32"], after["uinteger"] = before["has_uint32"], before["uinteger"]
    bg.state = after


@njit(cache=True, nogil=True)
def _expand(counts, lo_bq, hi_bq, u, d, b, i, q, cohort, week):  # pragma: no cover - compiled; covered through draw_starts
    """One entry per start, cohort by cohort in the order of ``counts`` (D, B, I, Q).

    Writes draw, borough, intervention and quarter indices, the cohort number
    ``(b * I + i) * Q + q`` and the week of the start,
    ``lo + floor(u * (hi - lo))`` with ``lo, hi = lo_bq[b, q], hi_bq[b, q]`` and
    the start's uniform ``u`` (as numpy computes it: the int64 width times the
    double, floored, truncated to int64).
    """
    n_d, n_b, n_i, n_q = counts.shape
    k = 0
    for dd in range(n_d):
        for bb in range(n_b):
            for ii in range(n_i):
                for qq in range(n_q):
                    c = counts[dd, bb, ii, qq]
                    lo_c = lo_bq[bb, qq]
                    span_c = hi_bq[bb, qq] - lo_c
                    coh = (bb * n_i + ii) * n_q + qq
                    for _ in range(c):
                        d[k] = dd
                        b[k] = bb
                        i[k] = ii
                        q[k] = qq
                        cohort[k] = coh
                        week[k] = lo_c + np.int64(np.floor(u[k] * span_c))
                        k += 1


def tracking_window(tracking: Tracking, therapy_weeks, weeks_to_contract_end=None) -> tuple[np.ndarray, np.ndarray]:
    """Tracking window in weeks since referral: (start, end).

    The window starts at referral or at the end of therapy, lasts the contract's
    tracking length and is cut at the contract end (never shorter than zero).

    Parameters
    ----------
    tracking : Tracking
        The contract's tracking terms.
    therapy_weeks : int or ndarray of int
        Therapy length of each young person [weeks].
    weeks_to_contract_end : int or ndarray of int, optional
        Weeks from each referral to the contract end [weeks]; omitted: no cut
        (the longest a window can be).

    Returns
    -------
    start, end : ndarray of int64 (0-d for scalar input)
        [weeks since referral].
    """
    therapy_weeks = np.asarray(therapy_weeks, dtype=np.int64)
    start = np.zeros_like(therapy_weeks) if tracking.starts_at == "referral" else therapy_weeks
    end = start + tracking.length_weeks
    if weeks_to_contract_end is not None:
        end = np.maximum(np.minimum(end, weeks_to_contract_end), start)
    return start, end


def person_tracking(s: Scenario, people: People, therapy_weeks: np.ndarray, contract_end_week: int) -> tuple[np.ndarray, np.ndarray]:
    """Tracking window of each person in weeks since referral: (start, end); see :func:`tracking_window`.

    Parameters
    ----------
    therapy_weeks : ndarray of int, shape (I,)
        Therapy length of each intervention [weeks].
    contract_end_week : int
        Week of the contract end [weeks from programme start].
    """
    return tracking_window(s.contract.tracking, therapy_weeks[people.intervention], contract_end_week - people.referral_week)
