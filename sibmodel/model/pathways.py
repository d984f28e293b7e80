"""The care-pathway kernel: event-driven, over draws x young people.

Arrays in, arrays out.  The model (states, weekly transitions) is defined in
:mod:`sibmodel.model.hazards`; this module samples it.

Instead of stepping week by week, each *spell* (a stay at home or in one
placement) is sampled whole by inverse CDF from one uniform:

* a home spell starting at week ``t0`` ends at the first week boundary ``j``
  where the cumulative hazard since ``t0`` reaches ``E = -ln U``; with hazards
  ``scale * profile[t]`` that is the first ``j`` with
  ``C[j] >= C[t0] + E / scale`` where ``C`` is the cumulative profile of the
  person's row (draw x intervention).  It is found in O(1) steps: an index of
  each row, built once per call, gives the first week of the target's bucket of
  ``C`` values, and four entries from there are compared at once; when that
  cannot settle it (not seen in the shipped scenarios), a binary search does.
  The week is the same as from the binary search alone, for every target:
  ``np.searchsorted(C, target, side="left")``, ``C`` being non-decreasing;
* a placement lasts ``D = floor(ln U / ln(1 - q)) + 1`` weeks (geometric).

The outer loop is over *event number* (a handful of iterations until every
window is finished): each iteration draws three uniforms per person still
inside a window (numpy) and hands them to one compiled pass over those people
(:func:`_advance`, numba), never a Python loop over people or weeks.  The
compiled pass is checked bit for bit against the earlier pure-numpy kernel
(tests/vectorised_kernel.py), and both against the exact cohort model.

Both arms (with therapy and without) are simulated side by side on the same
uniforms: the ``k``-th spell of a person uses the same three uniforms in both
arms.  Placement durations, breakdowns and placement types therefore match
spell by spell, and only home spells differ, so that a hazard ratio below 1
can only add weeks at home (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sibmodel.model.hazards import FIRST_PLACEMENT, HOME_AFTER, HOME_NEVER, PathwayParams
from sibmodel.model.philox import double_of, keys_of, philox4x32, single_of

#: Uniforms consumed per person per spell: duration, placement type, breakdown.
UNIFORMS_PER_SPELL = 3

#: Buckets of the search index per week boundary of the hazard tables (see :func:`_bucket_index`);
#: 2 was not faster on the PFP scenario.
_BUCKETS_PER_WEEK = 1

#: Consecutive week boundaries a bucket guess checks (see :func:`_bucket_guess`).
_GUESS_WEEKS = 4


@dataclass(frozen=True)
class Spells:
    """Spells of one arm, clipped to ``[0, window_end)`` weeks since referral.

    Parameters
    ----------
    person : ndarray of int
        Index of the young person.
    state : ndarray of int8
        State during the spell (see :mod:`sibmodel.model.hazards`).
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


_BIG_WEEK = np.iinfo(np.int64).max // 4  # "never": a home spell whose hazard runs out before the table ends


@njit(cache=True, nogil=True)
def _bucket_of(value, lo, buckets_per_hazard, last_bucket):  # pragma: no cover - compiled
    """The bucket of a cumulative hazard ``value`` [weeks] in a row starting at ``lo`` [weeks]:
    ``floor((value - lo) * buckets_per_hazard)`` within ``[0, last_bucket]``, 0 for NaN.

    Non-decreasing in ``value`` (each operation rounds monotonically), which is
    what makes the index of :func:`_bucket_index` a lower bound of the answer.
    """
    x = (value - lo) * buckets_per_hazard
    if x >= last_bucket:
        return last_bucket
    if x > 0.0:
        return int(x)
    return 0


@njit(cache=True, nogil=True)
def _bucket_index(tables, n_buckets):  # pragma: no cover - compiled; covered through simulate_arms and its test
    """A search index of each table row: the first week boundary in each bucket of cumulative hazard values.

    The values ``[C[0], C[-1]]`` of each row ``C = tables[h, r, :]`` are cut
    into ``n_buckets`` equal buckets (:func:`_bucket_of`); for bucket ``g`` the
    index holds how many entries fall in buckets below ``g``.  As the bucket is
    non-decreasing in the value, those entries are all below any target in
    bucket ``g``, and the entries of later buckets all above it: the answer for
    a target in bucket ``g`` lies between the starts of buckets ``g`` and
    ``g + 1``.  Built by one histogram and one running sum per row (no search).
    :func:`_bucket_guess` checks its answer anyway, so the index is only ever a
    hint.

    Parameters
    ----------
    tables : ndarray, shape (H, R, W)
        Cumulative hazard per table set, row and week boundary [weeks].
    n_buckets : int
        Buckets per row [count].

    Returns
    -------
    bucket_start_week : ndarray of int32, shape (H, R, n_buckets)
        Entries of each row in the buckets below each bucket: the first week
        boundary at or above the bucket [weeks].
    buckets_per_hazard : ndarray, shape (H, R)
        Buckets per unit of cumulative hazard of each row [1/weeks]: 0 when the
        row is flat or its range has no finite size (every guess starts at week
        0); -1 when the row is not non-decreasing (NaN included) or shorter than
        the guess window, whose searches all go to :func:`_bisect_first_at_least`.
    """
    n_sets, n_rows, width = tables.shape
    bucket_start_week = np.zeros((n_sets, n_rows, n_buckets), dtype=np.int32)
    buckets_per_hazard = np.zeros((n_sets, n_rows))
    for h in range(n_sets):
        for r in range(n_rows):
            usable = width >= _GUESS_WEEKS
            for j in range(width - 1):
                if not tables[h, r, j + 1] >= tables[h, r, j]:
                    usable = False
                    break
            if not usable:
                buckets_per_hazard[h, r] = -1.0
                continue
            lo = tables[h, r, 0]
            spread = tables[h, r, width - 1] - lo
            if not (spread > 0.0 and spread < np.inf):
                continue  # flat, or a range without a finite size: bucket 0 only, which starts at week 0
            per_hazard = n_buckets / spread
            buckets_per_hazard[h, r] = per_hazard
            start = bucket_start_week[h, r]
            for j in range(width):  # histogram, shifted by one bucket ...
                g = _bucket_of(tables[h, r, j], lo, per_hazard, n_buckets - 1) + 1
                if g < n_buckets:
                    start[g] += 1
            for g in range(1, n_buckets):  # ... summed: entries in the buckets below g
                start[g] += start[g - 1]
    return bucket_start_week, buckets_per_hazard


@njit(cache=True, nogil=True)
def _bucket_guess(tables, h, r, target, bucket_start_week, buckets_per_hazard):  # pragma: no cover - compiled
    """The smallest week boundary ``j`` with ``tables[h, r, j] >= target``, if it is near the bucket's start.

    Looks up the start week ``s`` of the target's bucket (:func:`_bucket_index`)
    and counts the entries below ``target`` among the ``_GUESS_WEEKS`` entries
    from ``s`` on (independent loads, no branches).  The count plus ``s`` is
    the answer when the row is non-decreasing, the entry before ``s`` is below
    ``target`` (or ``s`` is 0) and the last counted entry is not: then
    ``C[j - 1] < target <= C[j]`` with every earlier entry below ``target``.
    Otherwise (the target's bucket holds more than ``_GUESS_WEEKS - 1``
    entries, as in a flat stretch) the guess is not certain and the caller asks
    :func:`_bisect_first_at_least`; so do rows that are not sorted or are
    shorter than the window.  The two are separate functions because one that
    calls the other costs the compiled caller two atomic reference counts per
    search (measured: twice the time of the split).

    Parameters
    ----------
    tables : ndarray, shape (H, R, W)
        Cumulative hazard per table set, row and week boundary [weeks].
    h, r : int
        Table set and row.
    target : float
        Cumulative hazard to reach [weeks]; at most ``tables[h, r, -1]``, or NaN
        (answer 0, as from the binary search).
    bucket_start_week, buckets_per_hazard : ndarray
        The index of :func:`_bucket_index` for ``tables``.

    Returns
    -------
    week : int
        The week boundary [weeks since referral], when ``certain``.
    certain : bool
        Whether ``week`` is the answer.
    """
    per_hazard = buckets_per_hazard[h, r]
    width = tables.shape[2]
    g = _bucket_of(target, tables[h, r, 0], per_hazard, bucket_start_week.shape[2] - 1)
    start = max(min(np.int64(bucket_start_week[h, r, g]), width - _GUESS_WEEKS), 0)
    n_below = 0
    for k in range(_GUESS_WEEKS):  # min(): stays inside rows shorter than the window (never certain)
        n_below += tables[h, r, min(start + k, width - 1)] < target
    certain = (
        (per_hazard >= 0.0) & (n_below < _GUESS_WEEKS) & ((start == 0) | (tables[h, r, max(start - 1, 0)] < target))
    )
    return start + n_below, certain


@njit(cache=True, nogil=True)
def _bisect_first_at_least(tables, h, r, target):  # pragma: no cover - compiled
    """Branch-free binary search over the whole row ``tables[h, r, :]`` [weeks].

    Counts the entries below ``target`` with ``log2(W)`` dependent steps, at
    most ``W - 1``; for a non-decreasing row and ``target <= tables[h, r, -1]``
    (or NaN: 0) that is the smallest ``j`` with ``tables[h, r, j] >= target``.
    """
    first, length = 0, tables.shape[2]
    while length > 1:
        half = length >> 1
        first += half * (tables[h, r, first + half - 1] < target)
        length -= half
    return first


@njit(cache=True, nogil=True)
def _category(u, cum_shares, i, j):  # pragma: no cover - compiled
    """The category a uniform falls in: how many of the cumulative shares ``cum_shares[i, j, :]``
    are at or below it (at most K - 1)."""
    n_k = cum_shares.shape[2]
    k = 0
    for c in range(n_k):
        if u >= cum_shares[i, j, c]:
            k += 1
    return min(k, n_k - 1)


# fmt: off
@njit(cache=True, error_model="numpy", nogil=True)
def _advance(
    active, u, neg_log_u, rows, tables, last, bucket_start_week, buckets_per_hazard, div, zero, log_stay,
    breakdown_share, cum_escalation, cum_mix, window_start, window_end,
    state, t, weeks_home, weeks_place, n_place, n_break,
    sp_person, sp_state, sp_start, sp_end, n_spells,
    keys, c_borough, c_draw, c_quarter, c_index, spell,
):  # pragma: no cover - compiled; covered through simulate_arms
    """One spell for every active person in every arm whose window is not finished.

    The uniforms are ``u`` and ``neg_log_u`` (one column per active person), or, when
    ``keys`` has rows, each person's Philox counter (draw, quarter, index, ``spell``)
    under its borough's key (:class:`SpellCounters`), computed here (one pass fewer
    than drawing them first: measured ~25% of this loop's time on PFP).
    Writes the spells to ``sp_*[a, :n_spells[a]]`` in the order of ``active``
    and returns the people for whom some arm moved before its window end.
    """
    n_arms = rows.shape[0]
    mix_per_person = cum_mix.shape[1] > 1
    use_counters = keys.shape[0] > 0
    still = np.zeros(active.size, dtype=np.bool_)
    n_spells[:] = 0
    for i in range(active.size):
        p = active[i]
        we = window_end[p]
        if use_counters:
            hk = 0 if t[0, p] < we else 1  # the first arm still inside its window: the shared key
            bb = c_borough[p]
            w0, w1, w2, w3 = philox4x32(keys[bb, hk, 0], keys[bb, hk, 1], c_draw[p], c_quarter[p], c_index[p], spell)
            e_dur = -np.log(double_of(w0, w1))
            u_type = single_of(w2)
            u_break = single_of(w3)
        else:
            e_dur = neg_log_u[i]
            u_type = u[1, i]
            u_break = u[2, i]
        for a in range(n_arms):
            t0 = t[a, p]
            if t0 >= we:
                continue
            s_now = state[a, p]
            broke = False
            if s_now < FIRST_PLACEMENT:
                # home: the first week boundary where the cumulative hazard reaches -ln U
                h = s_now  # HOME_NEVER (0): entry tables; HOME_AFTER (1): re-entry tables
                row = rows[a, p]
                step = np.inf if zero[h, p] else e_dur / div[h, p]
                target = tables[h, row, t0] + step
                if target > last[h, row]:
                    end = _BIG_WEEK  # the hazard runs out before the table ends
                else:
                    # smallest j with tables[h, row, j] >= target: the bucket guess, else the binary search
                    end, certain = _bucket_guess(tables, h, row, target, bucket_start_week, buckets_per_hazard)
                    if not certain:
                        end = _bisect_first_at_least(tables, h, row, target)
                nxt = FIRST_PLACEMENT + _category(u_type, cum_mix, h, p if mix_per_person else 0)
            else:
                # placement: geometric duration, then reunification or breakdown
                kt = s_now - FIRST_PLACEMENT
                dur = np.floor(-e_dur / log_stay[p, kt])
                if not np.isfinite(dur):
                    dur = 0.0
                end = t0 + np.int64(min(dur + 1.0, 1e12))
                broke = u_break < breakdown_share[p, kt]
                if broke:
                    nxt = FIRST_PLACEMENT + _category(u_type, cum_escalation, 0, kt)
                else:
                    nxt = HOME_AFTER
            clipped_end = min(end, we)
            overlap = max(0, clipped_end - max(t0, window_start[p]))
            if s_now < FIRST_PLACEMENT:
                weeks_home[a, p] += overlap
            else:
                weeks_place[a, p, s_now - FIRST_PLACEMENT] += overlap
            ns = n_spells[a]
            sp_person[a, ns] = p
            sp_state[a, ns] = s_now
            sp_start[a, ns] = t0
            sp_end[a, ns] = clipped_end
            n_spells[a] = ns + 1
            if end < we:
                if nxt >= FIRST_PLACEMENT:
                    n_place[a, p] += 1
                if broke:
                    n_break[a, p] += 1
                state[a, p] = nxt
                t[a, p] = end
                still[i] = True
            else:
                t[a, p] = we
    return active[still]
# fmt: on


# fmt: off
def simulate_arms(
    tables: HazardTables,
    *,
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
    rng: np.random.Generator | None = None,
    rng_other: np.random.Generator | None = None,
    counters: SpellCounters | None = None,
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
    rng_other : numpy.random.Generator, optional
        Given, the first arm draws alone from ``rng``: a person whose first arm
        has reached its window end takes the uniforms of its other arms' spells
        from ``rng_other``.  The first arm's uniforms, and so its outcomes, then
        do not depend on the other arms (a baseline that moves only the arm
        without therapy leaves the treated arm the same, bit for bit); spells
        that both arms reach still share their uniforms.  Omitted, every person
        still inside some arm's window draws from ``rng``.
    counters : SpellCounters, optional
        Instead of ``rng`` and ``rng_other``: each person's ``k``-th spell takes its
        uniforms from its own Philox counter (draw, quarter, index, ``k``) under its
        borough's key, the second key once the first arm has reached its window end
        (the same rule as ``rng_other``); a person's numbers then depend on nobody else.

    Returns
    -------
    list of ArmOutcomes
        One per arm, in the order of ``rows``.
    """
    if tables.cum_entry.shape[1] - 1 < int(window_end.max(initial=0)):
        raise ValueError("hazard tables are shorter than the longest tracking window")
    k = _KernelInputs.of(tables, rows, entry_scale, reentry_scale, end_prob, breakdown_share, escalation,
                         entry_mix, reentry_mix, window_start, window_end)
    n_arms, n = k.rows.shape
    st = _ArmState.empty(n_arms, n, int(end_prob.shape[1]))
    spells: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(n_arms)]
    active = np.arange(n, dtype=np.int64)
    n_spells = np.zeros(n_arms, dtype=np.int64)
    spell = 0
    ctr = _NO_COUNTERS if counters is None else counters.arrays()
    while active.size:
        if counters is not None:
            u, neg_log_u = _NO_UNIFORMS  # drawn inside the compiled loop
        else:
            u = _spell_uniforms(rng, rng_other, st.t[0], k.window_end, active)
            # -ln U once per spell, shared by the arms (home spells: the exponential
            # target; placements: ln U = -(-ln U) exactly); numpy's log, outside the compiled loop
            neg_log_u = -np.log(u[0])
        spell += 1
        buf = (
            np.empty((n_arms, active.size), np.int64),
            np.empty((n_arms, active.size), np.int8),
            np.empty((n_arms, active.size), np.int64),
            np.empty((n_arms, active.size), np.int64),
        )
        nxt_active = _advance(
            active, u, neg_log_u, k.rows, k.cum_hazard, k.last, k.bucket_start_week, k.buckets_per_hazard, k.div,
            k.zero, k.log_stay, k.breakdown_share, k.cum_escalation, k.cum_mix, k.window_start, k.window_end,
            st.state, st.t, st.weeks_home, st.weeks_place, st.n_place, st.n_break, *buf, n_spells, *ctr, spell - 1,
        )
        for a in range(n_arms):
            if n_spells[a]:
                spells[a].append(tuple(x[a, : n_spells[a]] for x in buf))
        active = nxt_active
    return [st.outcomes(a, spells[a]) for a in range(n_arms)]
# fmt: on


@dataclass(frozen=True)
class _KernelInputs:
    """The inputs of :func:`simulate_arms` as the compiled loop reads them (contiguous, by state)."""

    rows: np.ndarray  # (A, N) table row per arm and person
    cum_hazard: np.ndarray  # (2, R, T + 1): entry (HOME_NEVER) and re-entry (HOME_AFTER) stacked
    last: np.ndarray  # (2, R) the tables' last values
    bucket_start_week: np.ndarray
    buckets_per_hazard: np.ndarray
    div: np.ndarray  # (2, N) divisor of the exponential target
    zero: np.ndarray  # (2, N) no hazard at all: never leaves home
    log_stay: np.ndarray  # (N, K) ln(1 - q), -inf when q == 1
    breakdown_share: np.ndarray
    cum_escalation: np.ndarray  # (1, K, K), like cum_mix
    cum_mix: np.ndarray  # (2, 1 or N, K)
    window_start: np.ndarray
    window_end: np.ndarray

    @classmethod
    def of(
        cls,
        tables,
        rows,
        entry_scale,
        reentry_scale,
        end_prob,
        breakdown_share,
        escalation,
        entry_mix,
        reentry_mix,
        window_start,
        window_end,
    ) -> _KernelInputs:
        # entry (index HOME_NEVER) and re-entry (index HOME_AFTER) stacked, so the compiled loop indexes by state
        cum_hazard = np.ascontiguousarray(np.stack([tables.cum_entry, tables.cum_reentry]), dtype=float)
        cum_mix = np.ascontiguousarray(
            np.stack([np.atleast_2d(np.cumsum(m, axis=-1)) for m in np.broadcast_arrays(entry_mix, reentry_mix)]),
            dtype=float,
        )
        with np.errstate(divide="ignore"):
            log_stay = np.log1p(-np.minimum(end_prob, 1.0))  # ln(1 - q) per person and type, -inf when q == 1
        scales = np.stack([entry_scale, reentry_scale]).astype(float)
        zero = scales <= 0
        bucket_start_week, buckets_per_hazard = _bucket_index(cum_hazard, _BUCKETS_PER_WEEK * cum_hazard.shape[2])
        return cls(
            rows=np.ascontiguousarray(np.stack([np.asarray(r, dtype=np.int64) for r in rows])),
            cum_hazard=cum_hazard,
            last=np.ascontiguousarray(cum_hazard[:, :, -1]),
            bucket_start_week=bucket_start_week,
            buckets_per_hazard=buckets_per_hazard,
            div=np.where(zero, 1.0, scales),
            zero=zero,
            log_stay=log_stay,
            breakdown_share=np.ascontiguousarray(breakdown_share, dtype=float),
            cum_escalation=np.ascontiguousarray(np.cumsum(escalation, axis=1)[None], dtype=float),
            cum_mix=cum_mix,
            window_start=np.ascontiguousarray(window_start, dtype=np.int64),
            window_end=np.ascontiguousarray(window_end, dtype=np.int64),
        )


@dataclass(frozen=True)
class _ArmState:
    """Where every person of every arm is, and what it has done so far (changed in place by :func:`_advance`)."""

    state: np.ndarray  # (A, N) int8
    t: np.ndarray  # (A, N) week the current spell started
    weeks_home: np.ndarray  # (A, N)
    weeks_place: np.ndarray  # (A, N, K)
    n_place: np.ndarray  # (A, N)
    n_break: np.ndarray  # (A, N)

    @classmethod
    def empty(cls, n_arms: int, n: int, k_types: int) -> _ArmState:
        return cls(
            state=np.full((n_arms, n), HOME_NEVER, dtype=np.int8),
            t=np.zeros((n_arms, n), dtype=np.int64),
            weeks_home=np.zeros((n_arms, n), dtype=np.int64),
            weeks_place=np.zeros((n_arms, n, k_types), dtype=np.int64),
            n_place=np.zeros((n_arms, n), dtype=np.int32),
            n_break=np.zeros((n_arms, n), dtype=np.int32),
        )

    def outcomes(self, a: int, parts: list[tuple[np.ndarray, ...]]) -> ArmOutcomes:
        """Arm ``a``'s outcomes, with its spells from the ``(person, state, start, end)`` parts."""
        sp = Spells(
            person=np.concatenate([x[0] for x in parts]) if parts else np.zeros(0, np.int64),
            state=np.concatenate([x[1] for x in parts]) if parts else np.zeros(0, np.int8),
            start=np.concatenate([x[2] for x in parts]).astype(np.int32) if parts else np.zeros(0, np.int32),
            end=np.concatenate([x[3] for x in parts]).astype(np.int32) if parts else np.zeros(0, np.int32),
        )
        return ArmOutcomes(
            weeks_home=self.weeks_home[a].astype(np.int32),
            weeks_in_placement=self.weeks_place[a].astype(np.int32),
            entered_care=self.n_place[a] > 0,
            n_placements=self.n_place[a],
            n_breakdowns=self.n_break[a],
            spells=sp,
        )


@dataclass(frozen=True)
class SpellCounters:
    """Where each person's spell uniforms come from: Philox keys and the person's counter words.

    Parameters
    ----------
    keys : ndarray of uint64, shape (B, 2, 2)
        Per borough: the key of the shared spells and the key of the other arms' own
        spells (:func:`sibmodel.model.philox.keys_of`).
    borough, draw_id, quarter, index : ndarray of int, shape (N,)
        Each person's borough, draw within the run, start quarter and index within the
        borough's quarter (:class:`sibmodel.model.referrals.People`).
    """

    keys: np.ndarray
    borough: np.ndarray
    draw_id: np.ndarray
    quarter: np.ndarray
    index: np.ndarray

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The arrays as the compiled loop reads them: keys (B, 2, 2) uint64, borough, draw, quarter, index (int64)."""
        return (
            np.ascontiguousarray(self.keys, dtype=np.uint64),
            *(np.ascontiguousarray(x, dtype=np.int64) for x in (self.borough, self.draw_id, self.quarter, self.index)),
        )


_NO_COUNTERS = (np.zeros((0, 2, 2), dtype=np.uint64), *(np.zeros(0, dtype=np.int64) for _ in range(4)))
_NO_UNIFORMS = (np.zeros((UNIFORMS_PER_SPELL, 0)), np.zeros(0))


def _spell_uniforms(rng, rng_other, t_first: np.ndarray, window_end: np.ndarray, active: np.ndarray) -> np.ndarray:
    """The uniforms of the next spell of the ``active`` people, shape (UNIFORMS_PER_SPELL, len(active)):
    from ``rng``, or, with ``rng_other``, from ``rng`` only where the first arm (start weeks ``t_first``)
    is still inside its window."""
    if rng_other is None:
        return rng.random((UNIFORMS_PER_SPELL, active.size))
    first = t_first[active] < window_end[active]  # the first arm still inside its window
    n_first = int(first.sum())
    u = np.empty((UNIFORMS_PER_SPELL, active.size))
    u[:, first] = rng.random((UNIFORMS_PER_SPELL, n_first))
    u[:, ~first] = rng_other.random((UNIFORMS_PER_SPELL, active.size - n_first))
    return u


def simulate_from_params(
    params_treated: PathwayParams,
    params_counterfactual: PathwayParams | None,
    n_people: int,
    window_start: int,
    window_end: int,
    seed,
    counter_based: bool = False,
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
    counter_based : bool
        Take the uniforms from Philox counters as the engine does (:class:`SpellCounters`,
        one borough, person ``i`` at counter (0, 0, ``i``, spell)) instead of numpy's generator
        (``seed`` then an int).
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
        rows=rows,
        entry_scale=ones,
        reentry_scale=ones,
        end_prob=np.broadcast_to(p.end_prob, (n_people, p.n_placements)),
        breakdown_share=np.broadcast_to(p.breakdown_share, (n_people, p.n_placements)),
        escalation=p.escalation,
        entry_mix=p.entry_mix,
        reentry_mix=p.reentry_mix,
        window_start=np.full(n_people, window_start, dtype=np.int64),
        window_end=np.full(n_people, window_end, dtype=np.int64),
        rng=None if counter_based else np.random.default_rng(seed),
        counters=_single_borough_counters(seed, n_people) if counter_based else None,
    )
    return out[0], (out[1] if len(out) > 1 else None)


def _single_borough_counters(seed: int, n_people: int) -> SpellCounters:
    """Spell counters for ``n_people`` people of one borough, draw 0 and quarter 0 (see
    :func:`simulate_from_params`)."""
    keys = np.stack([keys_of(seed, purpose, [""]) for purpose in ("pathways", "pathways:counterfactual")], axis=1)
    zeros = np.zeros(n_people, dtype=np.int64)
    return SpellCounters(keys, zeros, zeros, zeros, np.arange(n_people, dtype=np.int64))
