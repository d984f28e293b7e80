"""The previous, pure-numpy care-pathway kernel, kept as an oracle for the compiled one.

This is the vectorised implementation sibmodel used before the kernel was
compiled with numba (``sibmodel.model.pathways._advance``): the loop is over event
number, every step a numpy pass over the people still inside their window.
It draws the same uniforms in the same order, so the compiled kernel must
reproduce it bit for bit (tests/test_kernel_compiled.py).

One difference in arithmetic is kept on purpose: this version finds the end of a
home spell by one ``searchsorted`` over all rows laid end to end with an offset,
the compiled one by a search within the row (a bucket index, else a binary
search); the two agree except when a target ties a table value to within the
rounding of the offset (never seen).
"""

from __future__ import annotations

import numpy as np

from sibmodel.model.hazards import FIRST_PLACEMENT, HOME_AFTER, HOME_NEVER
from sibmodel.model.pathways import UNIFORMS_PER_SPELL, ArmOutcomes, HazardTables, Spells


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


def simulate_arms_vectorised(
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
    """The same contract as :func:`sibmodel.model.pathways.simulate_arms` (parameters, returns)."""
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
    with np.errstate(divide="ignore"):
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
