"""Both arms, one young person at a time, with the chunk's care tallies counted on the way (issue 16, item 2).

:func:`simulate_arms_tallied` gives the same outcomes and spells as
:func:`sibmodel.model.pathways.simulate_arms` with Philox counters, bit for bit, and
with them two tallies that :mod:`sibmodel.engine.chunk` used to make from the spells
afterwards (:mod:`sibmodel.model.tally`):

* care weeks by (key, placement type) and calendar quarter (the spells in a placement,
  up to the window end, as ``spell_quarter_weeks(arm, CARE, key, offset, ..., by_type=K)``);
* weekly occupancy by group and state, by difference arrays (as ``occupancy_by_week``).

The event-driven kernel (:func:`sibmodel.model.pathways._advance`) takes every person
one spell further per pass; here one compiled pass takes each person from referral to
the window end, both arms side by side.  A person's ``k``-th spell uses the Philox
counter (draw, quarter, index, ``k``) under its borough's key, the second key once the
first arm has reached its window end: the same numbers in the same arithmetic, so the
same weeks.  The counts are integers, so they do not depend on the order of the spells.
The spells come person by person (the event-driven kernel gives them spell number by spell
number: the same spells, in another order).  Nothing that reads them depends on their
order: the tallies count whole weeks, and the one float sum in spell order
(:func:`sibmodel.contract.metrics.pay_milestone`) adds the same per-draw amount into each
draw's cells, whose sum is the same in any order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sibmodel.model.hazards import FIRST_PLACEMENT, HOME_AFTER, HOME_NEVER
from sibmodel.model.pathways import (
    _BIG_WEEK,
    ArmOutcomes,
    HazardTables,
    SpellCounters,
    Spells,
    _bisect_first_at_least,
    _bucket_guess,
    _category,
    _KernelInputs,
)
from sibmodel.model.philox import double_of, philox4x32, single_of
from sibmodel.model.tally import _add_interval

#: Spells per person per arm the buffers start with (PFP: ~1.4 with therapy, ~2.4 without); when a chunk
#: needs more, the kernel runs again with buffers sized from the spells per person it had reached [count].
_SPELLS_PER_PERSON = 3


@dataclass(frozen=True)
class CareTallies:
    """What :func:`simulate_arms_tallied` counts besides the spells, per arm.

    Parameters
    ----------
    care_weeks : ndarray of float, shape (A, n_keys * K, n_quarters)
        Weeks in each placement type by key and calendar quarter [weeks] (whole numbers).
    occupancy : ndarray of int64, shape (A, n_groups, n_weeks, n_states)
        People in each state in each calendar week, by group [count].
    """

    care_weeks: np.ndarray
    occupancy: np.ndarray


# fmt: off
@njit(cache=True, error_model="numpy", nogil=True)
def _people(
    rows, tables, last, bucket_start_week, buckets_per_hazard, div, zero, log_stay, breakdown_share,
    cum_escalation, cum_mix, window_start, window_end, keys, c_borough, c_draw, c_quarter, c_index,
    stay_row, care_key, offset, group, n_quarters, n_weeks,
    weeks_home, weeks_place, n_place, n_break, sp_person, sp_state, sp_start, sp_end, care_weeks, occ_diff,
):  # pragma: no cover - compiled; covered through simulate_arms_tallied
    """Every person from referral to window end in every arm (``pathways._advance``'s spell); returns the spells
    written per arm and then the people finished: fewer than N when the spell buffers are too short."""
    n_arms, n = rows.shape
    n_k = log_stay.shape[1]
    mix_per_person = cum_mix.shape[1] > 1
    cap = sp_person.shape[1]
    n_sp = np.zeros(n_arms + 1, dtype=np.int64)
    state = np.empty(n_arms, dtype=np.int64)
    t = np.empty(n_arms, dtype=np.int64)
    for p in range(n):
        we = window_end[p]
        ws = window_start[p]
        off = offset[p]
        ck = care_key[p] * n_k
        bb = c_borough[p]
        state[:] = HOME_NEVER
        t[:] = 0
        spell = 0
        while True:
            hk = 0
            if not t[0] < we:  # the first arm is done: the other arms' own key, if any of them is not
                hk = 1
                going = False
                for a in range(1, n_arms):
                    going |= t[a] < we
                if not going:
                    break
            w0, w1, w2, w3 = philox4x32(keys[bb, hk, 0], keys[bb, hk, 1], c_draw[p], c_quarter[p], c_index[p], spell)
            e_dur = -np.log(double_of(w0, w1))
            u_type = single_of(w2)
            u_break = single_of(w3)
            for a in range(n_arms):
                t0 = t[a]
                if t0 >= we:
                    continue
                s_now = state[a]
                broke = False
                if s_now < FIRST_PLACEMENT:
                    h = s_now
                    row = rows[a, p]
                    step = np.inf if zero[h, p] else e_dur / div[h, p]
                    target = tables[h, row, t0] + step
                    if target > last[h, row]:
                        end = _BIG_WEEK
                    else:
                        end, certain = _bucket_guess(tables, h, row, target, bucket_start_week, buckets_per_hazard)
                        if not certain:
                            end = _bisect_first_at_least(tables, h, row, target)
                    nxt = FIRST_PLACEMENT + _category(u_type, cum_mix, h, p if mix_per_person else 0)
                else:
                    kt = s_now - FIRST_PLACEMENT
                    dur = np.floor(-e_dur / log_stay[stay_row[p], kt])
                    if not np.isfinite(dur):
                        dur = 0.0
                    end = t0 + np.int64(min(dur + 1.0, 1e12))
                    broke = u_break < breakdown_share[p, kt]
                    if broke:
                        nxt = FIRST_PLACEMENT + _category(u_type, cum_escalation, 0, kt)
                    else:
                        nxt = HOME_AFTER
                clipped_end = min(end, we)
                overlap = max(0, clipped_end - max(t0, ws))
                if s_now < FIRST_PLACEMENT:
                    weeks_home[a, p] += overlap
                else:
                    weeks_place[a, p, s_now - FIRST_PLACEMENT] += overlap
                    _add_interval(care_weeks[a], ck + s_now - FIRST_PLACEMENT, t0 + off, clipped_end + off, n_quarters)
                lo = min(max(t0 + off, 0), n_weeks)
                hi = min(max(clipped_end + off, 0), n_weeks)
                if hi > lo:
                    occ_diff[a, group[p], lo, s_now] += 1
                    occ_diff[a, group[p], hi, s_now] -= 1
                ns = n_sp[a]
                if ns >= cap:
                    n_sp[n_arms] = p
                    return n_sp
                sp_person[a, ns] = p
                sp_state[a, ns] = s_now
                sp_start[a, ns] = t0
                sp_end[a, ns] = clipped_end
                n_sp[a] = ns + 1
                if end < we:
                    if nxt >= FIRST_PLACEMENT:
                        n_place[a, p] += 1
                    if broke:
                        n_break[a, p] += 1
                    state[a] = nxt
                    t[a] = end
                else:
                    t[a] = we
            spell += 1
    n_sp[n_arms] = n
    return n_sp
# fmt: on


def simulate_arms_tallied(
    tables: HazardTables,
    *,
    rows: list[np.ndarray],
    pathway: dict,
    window_start: np.ndarray,
    window_end: np.ndarray,
    counters: SpellCounters,
    care_key: np.ndarray,
    offset: np.ndarray,
    group: np.ndarray,
    n_keys: int,
    n_groups: int,
    n_quarters: int,
    n_weeks: int,
) -> tuple[list[ArmOutcomes], CareTallies]:
    """:func:`sibmodel.model.pathways.simulate_arms` with ``counters``, and the arms' care tallies.

    Parameters
    ----------
    tables, rows, window_start, window_end, counters
        As for :func:`~sibmodel.model.pathways.simulate_arms`.
    pathway : dict
        The per-person inputs of :func:`~sibmodel.model.pathways.simulate_arms`: ``entry_scale``,
        ``reentry_scale``, ``end_prob``, ``breakdown_share``, ``escalation``, ``entry_mix``, ``reentry_mix``;
        and optionally ``end_prob_row`` (N,): then ``end_prob`` has a row per draw (or any group), and
        person ``i`` ends placements by row ``end_prob_row[i]`` (one logarithm per row, not per person).
    care_key : ndarray of int, shape (N,)
        Each person's row of the care weeks (e.g. draw x borough); the row of type ``k`` is
        ``care_key * K + k``.
    offset : ndarray of int, shape (N,)
        Each person's referral week: spells plus it are calendar weeks [weeks].
    group : ndarray of int, shape (N,)
        Each person's group in the occupancy (e.g. borough).
    n_keys, n_groups : int
        Care-week keys (before the types) and occupancy groups.
    n_quarters, n_weeks : int
        Calendar quarters of the care weeks, and weeks of the occupancy.

    Returns
    -------
    list of ArmOutcomes, CareTallies
    """
    if tables.cum_entry.shape[1] - 1 < int(window_end.max(initial=0)):
        raise ValueError("hazard tables are shorter than the longest tracking window")
    pw = pathway
    k = _KernelInputs.of(tables, rows, pw["entry_scale"], pw["reentry_scale"], pw["end_prob"],
                         pw["breakdown_share"], pw["escalation"], pw["entry_mix"], pw["reentry_mix"],
                         window_start, window_end)  # fmt: skip
    n_arms, n = k.rows.shape
    n_k = int(k.log_stay.shape[1])
    stay_row = pw.get("end_prob_row", np.arange(n))  # row of k.log_stay of each person
    care_key, offset, group, stay_row = (
        np.ascontiguousarray(x, dtype=np.int64) for x in (care_key, offset, group, stay_row)
    )
    cap = max(16, _SPELLS_PER_PERSON * n)
    while True:
        weeks_home = np.zeros((n_arms, n), dtype=np.int32)
        weeks_place = np.zeros((n_arms, n, n_k), dtype=np.int32)
        n_place = np.zeros((n_arms, n), dtype=np.int32)
        n_break = np.zeros((n_arms, n), dtype=np.int32)
        sp = tuple(np.empty((n_arms, cap), dt) for dt in (np.int32, np.int8, np.int32, np.int32))
        care_weeks = np.zeros((n_arms, n_keys * n_k, n_quarters))
        occ_diff = np.zeros((n_arms, n_groups, n_weeks + 1, FIRST_PLACEMENT + n_k), dtype=np.int64)
        n_spells = _people(
            k.rows, k.cum_hazard, k.last, k.bucket_start_week, k.buckets_per_hazard, k.div, k.zero, k.log_stay,
            k.breakdown_share, k.cum_escalation, k.cum_mix, k.window_start, k.window_end, *counters.arrays(),
            stay_row, care_key, offset, group, int(n_quarters), int(n_weeks),
            weeks_home, weeks_place, n_place, n_break, *sp, care_weeks, occ_diff,
        )  # fmt: skip
        if n_spells[-1] == n:
            break
        cap = max(2 * cap, int(1.25 * n * n_spells[:-1].max() / max(1, n_spells[-1])))
    outcomes = []
    for a in range(n_arms):
        m = int(n_spells[a])
        person, state, start, end = (x[a, :m] for x in sp)  # views of the buffers (no copies)
        outcomes.append(
            ArmOutcomes(
                weeks_home=weeks_home[a],
                weeks_in_placement=weeks_place[a],
                entered_care=n_place[a] > 0,
                n_placements=n_place[a],
                n_breakdowns=n_break[a],
                spells=Spells(person, state, start, end),
            )
        )
    occupancy = np.cumsum(occ_diff[:, :, :n_weeks], axis=2)
    return outcomes, CareTallies(care_weeks, occupancy)
