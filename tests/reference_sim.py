"""A deliberately naive reference simulation of the care pathway, for tests only.

It steps week by week, written straight from the verbal model in
:mod:`sibmodel.model.hazards` and sharing no code with the kernel
(:mod:`sibmodel.model.pathways`) or the cohort model: each week every young person
draws fresh uniforms and moves, or not, by the stated weekly probabilities.
Slow, obviously right, and independent: the Monte Carlo kernel's
distributions are compared against it (two-sample tests), and its means
against the exact cohort model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HOME_NEVER, HOME_AFTER, FIRST = 0, 1, 2


@dataclass
class ReferenceOutcomes:
    weeks_home: np.ndarray
    weeks_in_placement: np.ndarray
    entered_care: np.ndarray
    n_placements: np.ndarray
    n_breakdowns: np.ndarray
    occupancy: np.ndarray  # (window_end, S) counts


def _pick(cum_mix: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index drawn from a categorical with cumulative shares ``cum_mix`` (one row, or a row per uniform)."""
    return np.minimum((u[:, None] >= cum_mix).sum(axis=1), cum_mix.shape[-1] - 1)


def reference_simulate(params, n_people: int, window_start: int, window_end: int, seed: int) -> ReferenceOutcomes:
    """Simulate ``n_people`` young people week by week (see the module docstring)."""
    rng = np.random.default_rng(seed)
    k_types = len(params.end_prob)
    state = np.zeros(n_people, dtype=np.int64)
    weeks_home = np.zeros(n_people, dtype=np.int64)
    weeks_place = np.zeros((n_people, k_types), dtype=np.int64)
    n_place = np.zeros(n_people, dtype=np.int64)
    n_break = np.zeros(n_people, dtype=np.int64)
    occupancy = np.zeros((window_end, FIRST + k_types), dtype=np.int64)
    cum_entry = np.cumsum(params.entry_mix)
    cum_reentry = np.cumsum(params.reentry_mix)
    cum_esc = np.cumsum(params.escalation, axis=1)
    everyone = np.arange(n_people)
    for t in range(window_end):
        occupancy[t] = np.bincount(state, minlength=FIRST + k_types)
        if t >= window_start:
            home = state < FIRST
            weeks_home += home
            weeks_place[everyone[~home], state[~home] - FIRST] += 1
        if t == window_end - 1:
            break  # moves at the end of the last week start after the window
        u_move, u_type, u_break = rng.random((3, n_people))
        new = state.copy()
        # at home, never in care
        m = state == HOME_NEVER
        go = m & (u_move < 1.0 - np.exp(-params.entry_hazard[t]))
        new[go] = FIRST + _pick(cum_entry, u_type[go])
        # at home after reunification
        m = state == HOME_AFTER
        go2 = m & (u_move < 1.0 - np.exp(-params.reentry_hazard[t]))
        new[go2] = FIRST + _pick(cum_reentry, u_type[go2])
        # in a placement
        m = state >= FIRST
        k = np.where(m, state - FIRST, 0)
        ends = m & (u_move < params.end_prob[k])
        brk = ends & (u_break < params.breakdown_share[k])
        new[ends & ~brk] = HOME_AFTER
        new[brk] = FIRST + _pick(cum_esc[k[brk]], u_type[brk])
        n_place += go | go2 | brk
        n_break += brk
        state = new
    return ReferenceOutcomes(weeks_home, weeks_place, n_place > 0, n_place, n_break, occupancy)
