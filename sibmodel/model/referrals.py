"""Who starts when: starts per borough per quarter, the intervention, team capacity.

Time is in model weeks from the programme start; a model quarter is 13 weeks.
A *cohort* is one borough x intervention x start quarter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numba import njit

from sibmodel.model import philox
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
        last = (
            cal.referral_end_week if b.leave_date is None else min(cal.referral_end_week, week_of(b.leave_date, start))
        )
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

    People are ordered by draw, borough, start quarter and index within the quarter.

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
    draw_id : ndarray of int, optional
        Draw index within the whole run (the counter of every random number of the person).
    index : ndarray of int, optional
        Index of the person among the borough's referrals of its draw and quarter (before any
        team capacity drops some), the person's identity in the random numbers.
    completion_u : ndarray of float, optional
        The person's uniform for completing therapy.
    """

    draw: np.ndarray
    borough: np.ndarray
    intervention: np.ndarray
    quarter: np.ndarray
    cohort: np.ndarray
    referral_week: np.ndarray
    counts: np.ndarray
    draw_id: np.ndarray | None = None
    index: np.ndarray | None = None
    completion_u: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.draw.size)


#: Counter word 2 of a negative binomial's gamma draws (word 2 of the Poisson draw is 0).
_GAMMA_WORD = 1


def starts_keys(entropy, boroughs) -> tuple[np.ndarray, np.ndarray]:
    """The Philox keys of :func:`draw_starts`, per borough: purposes ``referrals`` (the counts) and ``starts``
    (each start's numbers), each shape (B, 2) uint64 (:func:`sibmodel.model.philox.keys_of`)."""
    return tuple(philox.keys_of(entropy, purpose, boroughs) for purpose in ("referrals", "starts"))


def draw_starts(
    s: Scenario, params: dict[str, np.ndarray], draw_ids: np.ndarray, entropy, keys: tuple | None = None
) -> People:
    """Draw starts per borough per quarter, assign the intervention, cap by team capacity.

    Every number comes from counters (:mod:`sibmodel.model.philox`) keyed by the seed, the
    purpose and the borough's name, with the draw index within the run first in the counter,
    so a borough's referrals depend on nothing but its own inputs and the draw: not the
    chunk, nor the other boroughs (except through a team capacity that binds).

    Counts are Poisson around :func:`expected_starts`, or negative binomial (gamma-Poisson,
    size ``dispersion``) where a dispersion is given (key ``referrals``, counter (draw,
    quarter, 0 or 1, attempt)).  Each start ``j`` of a borough's quarter then takes four
    words from key ``starts``, counter (draw, quarter, j, 0): its intervention (by the
    borough's mix; starts beyond a mix summing below 1 are dropped), its week (uniform within
    the borough's active weeks of the quarter), a priority and a completion uniform.  Where a
    team's starts in a quarter exceed its capacity, the ``floor(capacity)`` with the lowest
    priority are kept: a uniformly random subset across its boroughs (the multivariate
    hypergeometric draw), and nobody else's numbers move.  ``keys``, when given, are the keys of
    ``referrals`` and ``starts`` (:func:`starts_keys`), when computed once per run.
    """
    draw_ids = np.ascontiguousarray(draw_ids, dtype=np.int64)
    mu = expected_starts(s, params)  # (D, B, Q)
    bnames, inames = list(s.boroughs), list(s.interventions)
    n_d, n_b, n_q = mu.shape
    n_i = len(inames)
    disp = np.array([b.starts.dispersion if b.starts.dispersion is not None else np.inf for b in s.boroughs.values()])
    mix = np.array([[b.intervention_mix.get(i, 0.0) for i in inames] for b in s.boroughs.values()]).reshape(n_b, n_i)
    active = borough_active_weeks(s)
    q0 = np.arange(n_q) * QUARTER_WEEKS
    lo_bq = np.maximum(q0[None, :], active[:, :1])  # (B, Q) first week a start can have
    hi_bq = np.maximum(np.minimum(q0[None, :] + QUARTER_WEEKS, active[:, 1:]), lo_bq + 1)
    keys_ref, keys_start = starts_keys(entropy, bnames) if keys is None else keys
    totals = _referral_counts(keys_ref, draw_ids, np.ascontiguousarray(mu), disp)
    block = np.empty((6, int(totals.sum())), dtype=np.int64)
    d, b, i, q, j, week = block
    prio, comp = np.empty((2, d.size))
    _expand(totals, keys_start, draw_ids, np.cumsum(mix, axis=1), lo_bq, hi_bq, d, b, i, q, j, week, prio, comp)
    keep = i >= 0
    for ii, members, cap, _ in team_groups(s):
        if cap is not None:
            member = np.zeros(n_b, dtype=np.bool_)
            member[members] = True
            _drop_over_capacity(keep, d, b, i, q, prio, ii, member, int(np.floor(cap)), n_d, n_q)
    if not keep.all():  # one compiled pass moves the kept starts to the front (7 boolean masks cost ~4x more)
        n_kept = _compact(keep, block, comp)
        d, b, i, q, j, week = block[:, :n_kept]
        comp = comp[:n_kept]
    counts = np.bincount(((d * n_b + b) * n_i + i) * n_q + q, minlength=n_d * n_b * n_i * n_q).reshape(
        n_d, n_b, n_i, n_q
    )
    return People(d, b, i, q, (b * n_i + i) * n_q + q, week, counts, draw_ids[d], j, comp)


@njit(cache=True, nogil=True)
def _drop_over_capacity(keep, d, b, i, q, prio, ii, member, cap, n_d, n_q):  # pragma: no cover - compiled
    """Clear ``keep`` for the starts a team of capacity ``cap`` (intervention ``ii``, boroughs where ``member``)
    cannot take: in each draw and quarter over capacity, all but the ``cap`` lowest priorities (ties: the
    earlier start)."""
    count = np.zeros(n_d * n_q, dtype=np.int64)
    for k in range(d.size):
        if i[k] == ii and member[b[k]]:
            count[d[k] * n_q + q[k]] += 1
    first = np.zeros(n_d * n_q + 1, dtype=np.int64)
    for c in range(n_d * n_q):
        first[c + 1] = first[c] + (count[c] if count[c] > cap else 0)
    if first[-1] == 0:
        return
    at = first[:-1].copy()
    members = np.empty(first[-1], dtype=np.int64)
    for k in range(d.size):
        if i[k] == ii and member[b[k]]:
            c = d[k] * n_q + q[k]
            if count[c] > cap:
                members[at[c]] = k
                at[c] += 1
    for c in range(n_d * n_q):
        if count[c] > cap:
            cell = members[first[c] : first[c + 1]]
            order = np.argsort(prio[cell], kind="mergesort")
            for r in range(cap, cell.size):
                keep[cell[order[r]]] = False


@njit(cache=True, nogil=True)
def _compact(keep, rows, values):  # pragma: no cover - compiled; covered through draw_starts
    """Move the columns of ``rows`` (R, N) and entries of ``values`` (N,) where ``keep`` to the front, in order;
    returns how many were kept."""
    m = 0
    for k in range(keep.size):
        if keep[k]:
            for r in range(rows.shape[0]):
                rows[r, m] = rows[r, k]
            values[m] = values[k]
            m += 1
    return m


@njit(cache=True, nogil=True)
def _referral_counts(keys, draw_ids, mu, disp):  # pragma: no cover - compiled; covered through draw_starts
    """Starts per draw, borough and quarter: Poisson, or gamma-Poisson of size ``disp[b]`` (finite)."""
    n_d, n_b, n_q = mu.shape
    out = np.zeros((n_d, n_b, n_q), dtype=np.int64)
    for dd in range(n_d):
        g = draw_ids[dd]
        for bb in range(n_b):
            k0, k1 = keys[bb, 0], keys[bb, 1]
            for qq in range(n_q):
                lam = mu[dd, bb, qq]
                if not lam > 0.0:
                    continue
                if np.isfinite(disp[bb]):
                    lam = philox.gamma_variate(k0, k1, g, qq, _GAMMA_WORD, disp[bb]) * lam / disp[bb]
                out[dd, bb, qq] = philox.poisson_variate(k0, k1, g, qq, 0, lam)
    return out


@njit(cache=True, nogil=True)
def _expand(
    totals, keys, draw_ids, cum_mix, lo_bq, hi_bq, d, b, i, q, j, week, prio, comp
):  # pragma: no cover - compiled
    """One entry per start, in the order of ``totals`` (D, B, Q) and then index within the quarter.

    Start ``jj`` of borough ``bb`` in quarter ``qq`` of draw ``g`` takes the words of counter
    ``(g, qq, jj, 0)`` under the borough's key: its intervention (first ``c`` with
    ``u < cum_mix[bb, c]``; -1 beyond the mix), week ``lo + floor(u * (hi - lo))``, priority and
    completion uniform.
    """
    n_d, n_b, n_q = totals.shape
    n_i = cum_mix.shape[1]
    k = 0
    for dd in range(n_d):
        g = draw_ids[dd]
        for bb in range(n_b):
            k0, k1 = keys[bb, 0], keys[bb, 1]
            for qq in range(n_q):
                lo_c = lo_bq[bb, qq]
                span_c = hi_bq[bb, qq] - lo_c
                for jj in range(totals[dd, bb, qq]):
                    w0, w1, w2, w3 = philox.philox4x32(k0, k1, g, qq, jj, 0)
                    u_mix = philox.single_of(w0)
                    choice = -1
                    for c in range(n_i):
                        if u_mix < cum_mix[bb, c]:
                            choice = c
                            break
                    d[k] = dd
                    b[k] = bb
                    i[k] = choice
                    q[k] = qq
                    j[k] = jj
                    week[k] = lo_c + np.int64(np.floor(philox.single_of(w1) * span_c))
                    prio[k] = philox.single_of(w2)
                    comp[k] = philox.single_of(w3)
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


def person_tracking(
    s: Scenario, people: People, therapy_weeks: np.ndarray, contract_end_week: int
) -> tuple[np.ndarray, np.ndarray]:
    """Tracking window of each person in weeks since referral: (start, end); see :func:`tracking_window`.

    Parameters
    ----------
    therapy_weeks : ndarray of int, shape (I,)
        Therapy length of each intervention [weeks].
    contract_end_week : int
        Week of the contract end [weeks from programme start].
    """
    return tracking_window(
        s.contract.tracking, therapy_weeks[people.intervention], contract_end_week - people.referral_week
    )
