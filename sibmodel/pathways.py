"""The care-pathway kernel: event-driven, vectorised over draws x young people.

Arrays in, arrays out, numpy only.  The model (states, weekly transitions) is
defined in :mod:`sibmodel.hazards`; this module samples it.

Instead of stepping week by week, each *spell* (a stay at home or in one
placement) is sampled whole by inverse CDF from one uniform:

* a home spell starting at week ``t0`` ends at the first week boundary ``j``
  where the cumulative hazard since ``t0`` reaches ``E = -ln U``; with hazards
  ``scale * profile[t]`` that is the first ``j`` with
  ``C[j] >= C[t0] + E / scale`` where ``C`` is the cumulative profile, found by
  a batched ``searchsorted`` across rows (draw x intervention);
* a placement lasts ``D = floor(ln U / ln(1 - q)) + 1`` weeks (geometric).

The loop is over *event number* (a handful of iterations until every window is
finished), never over people or weeks.

Both arms (with therapy and without) are simulated side by side on the same
uniforms: the ``k``-th spell of a person uses the same three uniforms in both
arms.  Placement durations, breakdowns and placement types therefore match
spell by spell, and only home spells differ, so that a hazard ratio below 1
can only add weeks at home (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hazards import FIRST_PLACEMENT, HOME_AFTER, HOME_NEVER, PathwayParams

#: Uniforms consumed per person per spell: duration, placement type, breakdown.
UNIFORMS_PER_SPELL = 3


@dataclass(frozen=True)
class Spells:
    """Spells of one arm, clipped to ``[0, window_end)`` weeks since referral.

    Parameters
    ----------
    person : ndarray of int
        Index of the young person.
    state : ndarray of int8
        State during the spell (see :mod:`sibmodel.hazards`).
    start, end : ndarray of int32
        First week and one past the last week of the spell [weeks since referral].
    """

    person: np.ndarray
    state: np.ndarray
    start: np.ndarray
    end: np.ndarray


@dataclass(frozen=True)
class ArmOutcomes:
    """Per-person outcomes of one arm.

    Parameters
    ----------
    weeks_home : ndarray of int32, shape (N,)
        Weeks at home within the tracking window [weeks].
    weeks_in_placement : ndarray of int32, shape (N, K)
        Weeks in each placement type within the tracking window [weeks].
    entered_care : ndarray of bool, shape (N,)
        Whether a placement started before the window end.
    n_placements : ndarray of int32, shape (N,)
        Placements started before the window end [count].
    n_breakdowns : ndarray of int32, shape (N,)
        Placement breakdowns before the window end [count].
    spells : Spells
        Every spell from referral to the window end.
    """

    weeks_home: np.ndarray
    weeks_in_placement: np.ndarray
    entered_care: np.ndarray
    n_placements: np.ndarray
    n_breakdowns: np.ndarray
    spells: Spells


@dataclass(frozen=True)
class HazardTables:
    """Cumulative hazard profiles, one row per (draw, intervention) or arm.

    Parameters
    ----------
    cum_entry : ndarray, shape (R, T + 1)
        ``C[r, t] = sum(profile[r, :t])`` of the entry hazard profile (shape x effect) [weeks].
    cum_reentry : ndarray, shape (R, T + 1)
        The same for the re-entry profile (effect only) [weeks].
    """

    cum_entry: np.ndarray
    cum_reentry: np.ndarray

    @classmethod
    def from_profiles(cls, entry_profile: np.ndarray, reentry_profile: np.ndarray) -> HazardTables:
        """Build from per-week profiles of shape (R, T) [ratio]."""
        return cls(_cumulate(entry_profile), _cumulate(reentry_profile))


def _cumulate(profile: np.ndarray) -> np.ndarray:
    profile = np.atleast_2d(np.asarray(profile, dtype=float))
    out = np.zeros((profile.shape[0], profile.shape[1] + 1))
    np.cumsum(profile, axis=1, out=out[:, 1:])
    return out


class _RowSearch:
    """Batched ``searchsorted`` over the rows of a non-decreasing table.

    Rows are laid end to end with an offset larger than any row's range, so one
    ``np.searchsorted`` on the flat array answers a query per row.
    """

    def __init__(self, table: np.ndarray):
        self.table = table
        self.width = table.shape[1]
        self.last = table[:, -1]
        self.offset = float(self.last.max()) + 2.0
        self.flat = (table + self.offset * np.arange(table.shape[0])[:, None]).ravel()

    def at(self, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        """``table[row, col]`` by one flat take."""
        return self.table.ravel().take(row * self.width + col)

    def first_reaching(self, row: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Smallest ``j`` with ``table[row, j] >= target``; ``width`` when none."""
        clipped = np.minimum(target, self.last[row] + 1.0)
        pos = np.searchsorted(self.flat, clipped + self.offset * row, side="left")
        return pos - row * self.width


def simulate_arms(
    tables: HazardTables,
    rows: list[np.ndarray],
    entry_scale: np.ndarray,
    reentry_scale: np.ndarray,
    end_prob: np.ndarray,
    breakdown_share: np.ndarray,
    escalation: np.ndarray,
    entry_mix: np.ndarray,
    reentry_mix: np.ndarray,
    window_start: np.ndarray,
    window_end: np.ndarray,
    rng: np.random.Generator,
) -> list[ArmOutcomes]:
    """Simulate every young person in several arms on common random numbers.

    Parameters
    ----------
    tables : HazardTables
        Cumulative hazard profiles, ``R`` rows of ``T + 1`` weeks; ``T`` must be
        at least ``window_end.max()``.
    rows : list of ndarray of int, each shape (N,)
        For each arm, the table row each person uses.
    entry_scale, reentry_scale : ndarray, shape (N,)
        Per-person hazard scales [1/week]; the hazard in week ``t`` is
        ``scale * profile[row, t]``.
    end_prob : ndarray, shape (N, K)
        Weekly probability that a placement ends, per person and type [1/week].
    breakdown_share : ndarray, shape (N, K)
        Share of endings that are breakdowns [share].
    escalation : ndarray, shape (K, K)
        Next placement after a breakdown [share].
    entry_mix, reentry_mix : ndarray, shape (K,) or (N, K)
        Placement type on entry and re-entry [share]: one mix for everybody, or one per person.
    window_start, window_end : ndarray of int, shape (N,)
        Tracking window [weeks since referral]; simulation stops at ``window_end``.
    rng : numpy.random.Generator
        Source of the uniforms (three per person per spell, shared by the arms).

    Returns
    -------
    list of ArmOutcomes
        One per arm, in the order of ``rows``.
    """
    n_arms = len(rows)
    n = int(entry_scale.shape[0])
    k_types = int(end_prob.shape[1])
    if tables.cum_entry.shape[1] - 1 < int(window_end.max(initial=0)):
        raise ValueError("hazard tables are shorter than the longest tracking window")
    window_start = window_start.astype(np.int64)
    window_end = window_end.astype(np.int64)
    search_entry = _RowSearch(tables.cum_entry)
    search_reentry = _RowSearch(tables.cum_reentry)
    cum_entry_mix = np.cumsum(entry_mix, axis=-1)
    cum_reentry_mix = np.cumsum(reentry_mix, axis=-1)
    cum_escalation = np.cumsum(escalation, axis=1)
    log_stay = np.log1p(-np.minimum(end_prob, 1.0))  # ln(1 - q) per person and type, -inf when q == 1
    # per person, once: the divisor of the exponential target and where the hazard is zero
    home_scales = []
    for scale in (entry_scale, reentry_scale):
        zero = scale <= 0
        home_scales.append((np.where(zero, 1.0, scale), zero if zero.any() else None))

    state = np.full((n_arms, n), HOME_NEVER, dtype=np.int8)
    t = np.zeros((n_arms, n), dtype=np.int64)
    weeks_home = np.zeros((n_arms, n), dtype=np.int64)
    weeks_place = np.zeros((n_arms, n * k_types), dtype=np.int64)
    n_place = np.zeros((n_arms, n), dtype=np.int32)
    n_break = np.zeros((n_arms, n), dtype=np.int32)
    spells: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(n_arms)]

    active = np.arange(n)
    while active.size:
        u = rng.random((UNIFORMS_PER_SPELL, active.size))
        # -ln U once per spell, shared by the arms (home spells: the exponential
        # target; placements: ln U = -(-ln U) exactly)
        neg_log_u = -np.log(u[0])
        still = np.zeros(active.size, dtype=bool)
        we_active = window_end[active]
        for a in range(n_arms):
            alive = t[a, active] < we_active
            if not alive.any():
                continue
            sub = np.flatnonzero(alive)
            who = active[sub]
            e_dur, u_type = neg_log_u[sub], u[1, sub]
            s_now = state[a, who]
            t0 = t[a, who]
            end = np.empty(who.size, dtype=np.int64)
            nxt = np.empty(who.size, dtype=np.int8)
            broke = np.zeros(who.size, dtype=bool)
            in_place = s_now >= FIRST_PLACEMENT

            # home spells: inverse CDF of the cumulative hazard
            for home_state, search, (divisor, zero), cum_mix in (
                (HOME_NEVER, search_entry, home_scales[0], cum_entry_mix),
                (HOME_AFTER, search_reentry, home_scales[1], cum_reentry_mix),
            ):
                m = np.flatnonzero(s_now == home_state)
                if not m.size:
                    continue
                p = who[m]
                row = rows[a][p]
                step = e_dur[m] / divisor[p]
                if zero is not None:
                    step[zero[p]] = np.inf
                target = search.at(row, t0[m]) + step
                j = search.first_reaching(row, target)
                j[j >= search.width] = np.iinfo(np.int64).max // 4
                end[m] = j
                if cum_mix.ndim == 1:  # one mix for everybody
                    first = np.searchsorted(cum_mix, u_type[m], side="right")
                else:  # a mix per person: count the cumulative shares at or below the uniform
                    first = (u_type[m][:, None] >= cum_mix[p]).sum(axis=1)
                nxt[m] = FIRST_PLACEMENT + np.minimum(first, k_types - 1)

            # placement spells: geometric duration, then reunification or breakdown
            m = np.flatnonzero(in_place)
            if m.size:
                p = who[m]
                kt = s_now[m].astype(np.int64) - FIRST_PLACEMENT
                ls = log_stay[p, kt]
                with np.errstate(divide="ignore", invalid="ignore"):
                    d = np.floor(-e_dur[m] / ls)
                d = np.where(np.isfinite(d), d, 0.0) + 1.0
                end[m] = t0[m] + np.minimum(d, 1e12).astype(np.int64)
                b = u[2, sub[m]] < breakdown_share[p, kt]
                broke[m] = b
                u_next = u_type[m]
                nxt_type = np.zeros(m.size, dtype=np.int64)
                for col in cum_escalation.T:  # K columns: count the cumulative shares u has passed
                    nxt_type += u_next >= col[kt]
                nxt_type = np.minimum(nxt_type, k_types - 1)
                nxt[m] = np.where(b, FIRST_PLACEMENT + nxt_type, HOME_AFTER)

            we = window_end[who]
            clipped_end = np.minimum(end, we)
            overlap = np.maximum(0, clipped_end - np.maximum(t0, window_start[who]))
            # each person has one spell per event number: plain indexed adds, no bincount over everyone
            home = ~in_place
            weeks_home[a][who[home]] += overlap[home]
            if m.size:
                weeks_place[a][who[m] * k_types + kt] += overlap[m]
            spells[a].append((who, s_now, t0, clipped_end))

            moved = end < we
            into_placement = moved & (nxt >= FIRST_PLACEMENT)
            n_place[a, who[into_placement]] += 1
            n_break[a, who[moved & broke]] += 1
            state[a, who] = np.where(moved, nxt, s_now)
            t[a, who] = np.where(moved, end, we)
            still[sub] |= moved
        active = active[still]

    out = []
    for a in range(n_arms):
        parts = spells[a]
        sp = Spells(
            person=np.concatenate([x[0] for x in parts]) if parts else np.zeros(0, np.int64),
            state=np.concatenate([x[1] for x in parts]) if parts else np.zeros(0, np.int8),
            start=np.concatenate([x[2] for x in parts]).astype(np.int32) if parts else np.zeros(0, np.int32),
            end=np.concatenate([x[3] for x in parts]).astype(np.int32) if parts else np.zeros(0, np.int32),
        )
        out.append(
            ArmOutcomes(
                weeks_home=weeks_home[a].astype(np.int32),
                weeks_in_placement=weeks_place[a].reshape(n, k_types).astype(np.int32),
                entered_care=n_place[a] > 0,
                n_placements=n_place[a],
                n_breakdowns=n_break[a],
                spells=sp,
            )
        )
    return out


def simulate_from_params(
    params_treated: PathwayParams,
    params_counterfactual: PathwayParams | None,
    n_people: int,
    window_start: int,
    window_end: int,
    seed,
) -> tuple[ArmOutcomes, ArmOutcomes | None]:
    """Simulate ``n_people`` identical young people from fixed parameters.

    A convenience wrapper around :func:`simulate_arms` for tests and
    calibration checks: every person shares one :class:`PathwayParams` per arm.
    The arms must share placement parameters (the therapy acts on entry and
    re-entry only).

    Parameters
    ----------
    params_treated, params_counterfactual : PathwayParams
        The two arms (counterfactual may be ``None``).
    n_people : int
        Number of young people.
    window_start, window_end : int
        Tracking window [weeks since referral].
    seed : int or numpy.random.SeedSequence
        Seed of the uniforms.
    """
    arms = [params_treated] + ([params_counterfactual] if params_counterfactual is not None else [])
    entry = np.stack([p.entry_hazard for p in arms])
    reentry = np.stack([p.reentry_hazard for p in arms])
    tables = HazardTables.from_profiles(entry, reentry)
    ones = np.ones(n_people)
    rows = [np.full(n_people, i, dtype=np.int64) for i in range(len(arms))]
    p = params_treated
    out = simulate_arms(
        tables,
        rows,
        ones,
        ones,
        np.broadcast_to(p.end_prob, (n_people, p.n_placements)),
        np.broadcast_to(p.breakdown_share, (n_people, p.n_placements)),
        p.escalation,
        p.entry_mix,
        p.reentry_mix,
        np.full(n_people, window_start, dtype=np.int64),
        np.full(n_people, window_end, dtype=np.int64),
        np.random.default_rng(seed),
    )
    return out[0], (out[1] if len(out) > 1 else None)


def occupancy_by_week(arm: ArmOutcomes, n_weeks: int, n_states: int, offset: np.ndarray | None = None, group: np.ndarray | None = None, n_groups: int = 1) -> np.ndarray:
    """Count people in each state in each week, by difference arrays.

    Parameters
    ----------
    arm : ArmOutcomes
        Simulated spells.
    n_weeks : int
        Weeks to count [weeks].
    n_states : int
        Number of states.
    offset : ndarray of int, shape (N,), optional
        Week added to each person's spells (e.g. the referral week, to count in calendar weeks).
    group : ndarray of int, shape (N,), optional
        Group of each person (e.g. draw x borough); counts are per group.
    n_groups : int
        Number of groups.

    Returns
    -------
    ndarray of int64, shape (n_groups, n_weeks, n_states), or (n_weeks, n_states) when ``group`` is None
    """
    sp = arm.spells
    start = sp.start.astype(np.int64)
    end = sp.end.astype(np.int64)
    if offset is not None:
        start = start + offset[sp.person]
        end = end + offset[sp.person]
    start = np.clip(start, 0, n_weeks)
    end = np.clip(end, 0, n_weeks)
    g = group[sp.person].astype(np.int64) if group is not None else np.zeros(sp.person.size, np.int64)
    width = n_weeks + 1
    base = (g * n_states + sp.state.astype(np.int64)) * width
    size = n_groups * n_states * width
    diff = np.bincount(base + start, minlength=size) - np.bincount(base + end, minlength=size)
    occ = np.cumsum(diff.reshape(n_groups, n_states, width), axis=2)[:, :, :n_weeks]
    occ = occ.transpose(0, 2, 1)
    return occ if group is not None else occ[0]
