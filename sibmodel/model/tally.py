"""Tallies of spells into calendar quarters and weeks, compiled.

The kernel (:mod:`sibmodel.model.pathways`) returns spells: a person, a state and the
weeks ``[start, end)`` since referral.  Costs, payments and occupancy need them
counted by calendar quarter or week and by some key (draw x borough, draw x
borough x placement type, ...).  Each tally here is one compiled pass over the
spells (numba), with integer counts, so the results are exact and do not
depend on the order of the spells.

Quarters are 13-week model quarters from the programme start
(:data:`sibmodel.model.referrals.QUARTER_WEEKS`); weeks at or after the last quarter
are dropped.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sibmodel.model.hazards import FIRST_PLACEMENT, HOME_AFTER
from sibmodel.model.pathways import ArmOutcomes
from sibmodel.model.referrals import QUARTER_WEEKS

#: Which spells a tally counts: those at home (never in care or reunified), those at home
#: before any entry to care (not after a return from care), or those in any placement.
HOME, HOME_BEFORE_CARE, CARE = "home", "home_before_care", "care"
#: The states each kind counts: ``lo <= state < hi``.
_STATES = {
    HOME: (0, FIRST_PLACEMENT),
    HOME_BEFORE_CARE: (0, HOME_AFTER),
    CARE: (FIRST_PLACEMENT, 1 << 30),
}  # any placement


@njit(cache=True, nogil=True)
def _add_interval(out, key, lo, hi, n_quarters):  # pragma: no cover - compiled
    hi = min(hi, n_quarters * QUARTER_WEEKS)
    q = lo // QUARTER_WEEKS
    while lo < hi:
        top = min(hi, (q + 1) * QUARTER_WEEKS)
        out[key, q] += top - lo
        lo = top
        q += 1


@njit(cache=True, nogil=True)
def _intervals(key, start, end, n_keys, n_quarters):  # pragma: no cover - compiled
    out = np.zeros((n_keys, n_quarters), dtype=np.float64)
    for i in range(key.size):
        _add_interval(out, key[i], start[i], end[i], n_quarters)
    return out


@njit(cache=True, nogil=True)
def _spells(
    person, state, start, end, state_lo, state_hi, key_of, k_types, offset, window_start, window_end, n_keys, n_quarters
):  # pragma: no cover - compiled
    out = np.zeros((n_keys, n_quarters), dtype=np.float64)
    clip = window_start.size > 0
    for i in range(person.size):
        s = state[i]
        if s < state_lo or s >= state_hi:
            continue
        p = person[i]
        lo, hi = np.int64(start[i]), np.int64(end[i])
        if clip:
            lo = max(lo, window_start[p])
            hi = min(hi, window_end[p])
        key = key_of[p] if k_types == 0 else key_of[p] * k_types + (s - FIRST_PLACEMENT)
        _add_interval(out, key, lo + offset[p], hi + offset[p], n_quarters)
    return out


def quarter_weeks(key: np.ndarray, start: np.ndarray, end: np.ndarray, n_keys: int, n_quarters: int) -> np.ndarray:
    """Count the weeks of intervals ``[start, end)`` (calendar weeks) in each quarter.

    Parameters
    ----------
    key : ndarray of int
        Row each interval belongs to.
    start, end : ndarray of int
        Interval bounds [calendar weeks], ``start >= 0``; empty intervals count nothing.
    n_keys, n_quarters : int
        Output shape.

    Returns
    -------
    ndarray of float, shape (n_keys, n_quarters)
        Weeks in each quarter [weeks] (whole numbers); weeks at or after ``n_quarters * 13`` are dropped.
    """
    key, start, end = (np.ascontiguousarray(x, dtype=np.int64) for x in np.broadcast_arrays(key, start, end))
    return _intervals(key, start, end, int(n_keys), int(n_quarters))


def spell_quarter_weeks(
    arm: ArmOutcomes,
    which: str,
    key_of_person: np.ndarray,
    offset: np.ndarray,
    n_keys: int,
    n_quarters: int,
    by_type: int = 0,
    window: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Weeks of an arm's home or care spells in each calendar quarter, by key.

    Parameters
    ----------
    arm : ArmOutcomes
        Spells in weeks since referral.
    which : {"home", "home_before_care", "care"}
        Count the spells at home, the spells at home before any entry to care
        (not those after a return from care), or the spells in any placement.
    key_of_person : ndarray of int, shape (N,)
        Row of each person (e.g. draw x borough).
    offset : ndarray of int, shape (N,)
        Added to each person's weeks to make calendar weeks (the referral week) [weeks].
    n_keys, n_quarters : int
        Output shape (``n_keys`` counts the placement types too when ``by_type``).
    by_type : int
        ``0``, or the number of placement types ``K``: then the row is
        ``key_of_person * K + k`` for placement type ``k``.
    window : (ndarray, ndarray), optional
        Each person's tracking window (start, end) [weeks since referral]; weeks
        outside it are not counted.

    Returns
    -------
    ndarray of float, shape (n_keys, n_quarters)
        Weeks [weeks] (whole numbers).
    """
    if which not in _STATES:
        raise ValueError(f"which must be one of {sorted(_STATES)}, not {which!r}")
    sp = arm.spells
    empty = np.zeros(0, dtype=np.int64)
    ws, we = (empty, empty) if window is None else (np.ascontiguousarray(w, dtype=np.int64) for w in window)
    return _spells(
        sp.person,
        sp.state,
        sp.start,
        sp.end,
        *_STATES[which],
        np.ascontiguousarray(key_of_person, dtype=np.int64),
        int(by_type),
        np.ascontiguousarray(offset, dtype=np.int64),
        ws,
        we,
        int(n_keys),
        int(n_quarters),
    )


@njit(cache=True, nogil=True)
def _occupancy(person, state, start, end, offset, group, n_groups, n_weeks, n_states):  # pragma: no cover - compiled
    diff = np.zeros((n_groups, n_weeks + 1, n_states), dtype=np.int64)
    for i in range(person.size):
        p = person[i]
        lo = min(max(np.int64(start[i]) + offset[p], 0), n_weeks)
        hi = min(max(np.int64(end[i]) + offset[p], 0), n_weeks)
        if hi > lo:
            diff[group[p], lo, state[i]] += 1
            diff[group[p], hi, state[i]] -= 1
    out = np.empty((n_groups, n_weeks, n_states), dtype=np.int64)
    for g in range(n_groups):
        for s in range(n_states):
            run = 0
            for w in range(n_weeks):
                run += diff[g, w, s]
                out[g, w, s] = run
    return out


def occupancy_by_week(
    arm: ArmOutcomes,
    n_weeks: int,
    n_states: int,
    offset: np.ndarray | None = None,
    group: np.ndarray | None = None,
    n_groups: int = 1,
) -> np.ndarray:
    """Count people in each state in each week.

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
        Group of each person (e.g. borough); counts are per group.
    n_groups : int
        Number of groups.

    Returns
    -------
    ndarray of int64, shape (n_groups, n_weeks, n_states), or (n_weeks, n_states) when ``group`` is None
    """
    sp = arm.spells
    n = arm.weeks_home.shape[0]
    off = np.zeros(n, np.int64) if offset is None else np.ascontiguousarray(offset, dtype=np.int64)
    grp = np.zeros(n, np.int64) if group is None else np.ascontiguousarray(group, dtype=np.int64)
    occ = _occupancy(sp.person, sp.state, sp.start, sp.end, off, grp, int(n_groups), int(n_weeks), int(n_states))
    return occ if group is not None else occ[0]


@njit(cache=True, nogil=True)
def _sum_by_key(key, values, n_keys):  # pragma: no cover - compiled
    out = np.zeros((values.shape[0], n_keys), dtype=np.float64)
    for i in range(key.size):
        k = key[i]
        for c in range(values.shape[0]):
            out[c, k] += values[c, i]
    return out


def sum_by_key(key: np.ndarray, values: np.ndarray, n_keys: int) -> np.ndarray:
    """Sum each row of ``values`` by key: ``np.bincount(key, weights=row, minlength=n_keys)`` for every row at once.

    The sums are made in element order, as ``np.bincount`` makes them, so the
    result is the same to the bit.

    Parameters
    ----------
    key : ndarray of int, shape (N,)
        Key of each element (e.g. the draw of each person).
    values : ndarray, shape (M, N)
        Values to sum (any numeric type; summed as float64).
    n_keys : int
        Number of keys.

    Returns
    -------
    ndarray of float, shape (M, n_keys)
    """
    return _sum_by_key(
        np.ascontiguousarray(key, dtype=np.int64), np.ascontiguousarray(values, dtype=np.float64), int(n_keys)
    )
