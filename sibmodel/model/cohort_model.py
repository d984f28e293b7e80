"""The exact cohort model: expected weekly state occupancy of one referral.

For fixed parameters (:class:`~sibmodel.model.hazards.PathwayParams`) the care
pathway is a discrete-time Markov chain on the states of
:mod:`sibmodel.model.hazards`, inhomogeneous in weeks since referral.  Its weekly
transition matrix ``P[t]`` (rows: state during week ``t``; columns: state
during week ``t + 1``) is

* ``HOME_NEVER``: stays with ``exp(-entry_hazard[t])``, otherwise enters
  placement ``k`` with ``entry_mix[k]``;
* ``HOME_AFTER``: stays with ``exp(-reentry_hazard[t])``, otherwise re-enters
  placement ``k`` with ``reentry_mix[k]``;
* placement ``k``: stays with ``1 - end_prob[k]``; ends in reunification
  (-> ``HOME_AFTER``) with ``end_prob[k] * (1 - breakdown_share[k])``, or in a
  breakdown to placement ``j`` with ``end_prob[k] * breakdown_share[k] * escalation[k, j]``.

The state distribution in week ``t`` is ``pi[t] = e_0 P[0] P[1] ... P[t-1]``,
computed exactly (to floating point) by the product.  This module is the
oracle the Monte Carlo kernel (:mod:`sibmodel.model.pathways`) is tested against,
and the engine of calibration (:mod:`sibmodel.model.calibrate`).  It is not on the
Monte Carlo hot path; its loop over weeks multiplies ``S x S`` matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sibmodel.model.hazards import FIRST_PLACEMENT, HOME_AFTER, HOME_NEVER, PathwayParams


def transition_matrices(params: PathwayParams, n_weeks: int | None = None) -> np.ndarray:
    """Weekly transition matrices of the care pathway.

    Parameters
    ----------
    params : PathwayParams
        The pathway.
    n_weeks : int, optional
        Number of weeks [weeks]; defaults to the length of the hazard profiles.

    Returns
    -------
    ndarray, shape (n_weeks, S, S)
        ``P[t, i, j]``: probability of being in state ``j`` in week ``t + 1``
        given state ``i`` in week ``t`` [probability]; rows sum to 1.
    """
    n_weeks = params.n_weeks if n_weeks is None else int(n_weeks)
    if n_weeks > params.n_weeks:
        raise ValueError(f"n_weeks={n_weeks} is longer than the hazard profiles ({params.n_weeks} weeks)")
    stay_entry = np.exp(-np.asarray(params.entry_hazard[:n_weeks], dtype=float))
    stay_reentry = np.exp(-np.asarray(params.reentry_hazard[:n_weeks], dtype=float))
    return _matrices(params, stay_entry, stay_reentry)


def _matrices(params: PathwayParams, stay_entry: np.ndarray, stay_reentry: np.ndarray) -> np.ndarray:
    """Transition matrices from the weekly probabilities of staying at home, shape ``(..., n_weeks)``.

    Returns shape ``(..., n_weeks, S, S)``: any leading dimensions of the stay
    probabilities are kept (one chain per leading index); placements do not depend on them.
    """
    k_types = params.n_placements
    s = params.n_states
    q = np.asarray(params.end_prob, dtype=float)
    b = np.asarray(params.breakdown_share, dtype=float)
    esc = np.asarray(params.escalation, dtype=float)
    p = np.zeros(stay_entry.shape + (s, s))
    places = slice(FIRST_PLACEMENT, FIRST_PLACEMENT + k_types)
    p[..., HOME_NEVER, HOME_NEVER] = stay_entry
    p[..., HOME_NEVER, places] = (1.0 - stay_entry)[..., None] * np.asarray(params.entry_mix, dtype=float)
    p[..., HOME_AFTER, HOME_AFTER] = stay_reentry
    p[..., HOME_AFTER, places] = (1.0 - stay_reentry)[..., None] * np.asarray(params.reentry_mix, dtype=float)
    placement_block = np.diag(1.0 - q) + (q * b)[:, None] * esc
    p[..., places, places] = placement_block
    p[..., places, HOME_AFTER] = q * (1.0 - b)
    return p


def home_occupancy_scaled(params: PathwayParams, factors: np.ndarray, n_weeks: int) -> np.ndarray:
    """Probability of being at home in each week, with the entry and re-entry hazards scaled.

    One exact chain per factor, propagated together: the same numbers as
    :func:`expected_occupancy` of the pathway whose ``entry_hazard`` and
    ``reentry_hazard`` are multiplied by the factor, summed over the two home states.

    Parameters
    ----------
    params : PathwayParams
        The pathway at factor 1.
    factors : ndarray, shape (F,)
        Multipliers of both home hazards [ratio], >= 0.
    n_weeks : int
        Number of weeks [weeks], at most the length of the hazard profiles.

    Returns
    -------
    ndarray, shape (F, n_weeks)
        Probability of being at home (never in care or reunified) during week ``t`` since referral [probability].
    """
    if n_weeks > params.n_weeks:
        raise ValueError(f"n_weeks={n_weeks} is longer than the hazard profiles ({params.n_weeks} weeks)")
    f = np.asarray(factors, dtype=float)[:, None]
    stay_entry = np.exp(-f * np.asarray(params.entry_hazard[:n_weeks], dtype=float))
    stay_reentry = np.exp(-f * np.asarray(params.reentry_hazard[:n_weeks], dtype=float))
    mats = _matrices(params, stay_entry, stay_reentry)  # (F, n_weeks, S, S)
    pi = np.zeros((f.shape[0], n_weeks, params.n_states))
    if n_weeks == 0:
        return pi[:, :, 0]
    pi[:, 0, HOME_NEVER] = 1.0
    for t in range(1, n_weeks):
        pi[:, t] = np.einsum("fs,fst->ft", pi[:, t - 1], mats[:, t - 1])
    return pi[:, :, HOME_NEVER] + pi[:, :, HOME_AFTER]


def expected_occupancy(params: PathwayParams, n_weeks: int, initial: np.ndarray | None = None) -> np.ndarray:
    """Expected state occupancy of one referral in each week since referral.

    Parameters
    ----------
    params : PathwayParams
        The pathway.
    n_weeks : int
        Number of weeks [weeks], at most the length of the hazard profiles.
    initial : ndarray, shape (S,), optional
        State distribution in week 0 [probability]; at home, never in care, by default.

    Returns
    -------
    ndarray, shape (n_weeks, S)
        ``pi[t, s]``: probability of being in state ``s`` during week ``t`` [probability].
    """
    return _propagate(transition_matrices(params, n_weeks), initial)


def _propagate(mats: np.ndarray, initial: np.ndarray | None = None) -> np.ndarray:
    """``pi[t] = pi[0] P[0] ... P[t-1]`` for ``t < len(mats)``; ``pi[0]`` at home, never in care, by default."""
    n_weeks, n_states = mats.shape[0], mats.shape[1]
    pi = np.zeros((n_weeks, n_states))
    if n_weeks == 0:
        return pi
    if initial is None:
        pi[0, HOME_NEVER] = 1.0
    else:
        pi[0] = initial
    for t in range(1, n_weeks):
        pi[t] = pi[t - 1] @ mats[t - 1]
    return pi


@dataclass(frozen=True)
class CohortExpectation:
    """Expected per-person outcomes over a tracking window, the quantities the kernel reports.

    Parameters
    ----------
    weeks_home : float
        Expected weeks at home within the window [weeks].
    weeks_in_placement : ndarray, shape (K,)
        Expected weeks in each placement type within the window [weeks].
    entered_care_prob : float
        Probability that a placement starts before the window end [probability].
    placements : float
        Expected placements started before the window end [count].
    breakdowns : float
        Expected breakdowns before the window end [count].
    occupancy : ndarray, shape (window_end, S)
        Expected occupancy by week since referral [probability].
    """

    weeks_home: float
    weeks_in_placement: np.ndarray
    entered_care_prob: float
    placements: float
    breakdowns: float
    occupancy: np.ndarray

    @property
    def time_at_home_share(self) -> float:
        """Expected share of tracked weeks at home [share]."""
        total = self.weeks_home + float(self.weeks_in_placement.sum())
        return self.weeks_home / total if total > 0 else float("nan")


def expected_outcomes(params: PathwayParams, window_start: int, window_end: int) -> CohortExpectation:
    """Expected outcomes of one referral tracked over ``[window_start, window_end)`` weeks.

    Counts follow the kernel's conventions: a placement or breakdown counts when
    the new state starts before ``window_end`` (a move at the end of week ``t``
    starts the new state in week ``t + 1``); weeks are counted inside the window.

    Parameters
    ----------
    params : PathwayParams
        The pathway.
    window_start, window_end : int
        Tracking window [weeks since referral].

    Returns
    -------
    CohortExpectation
    """
    if not 0 <= window_start <= window_end:
        raise ValueError("need 0 <= window_start <= window_end")
    mats = transition_matrices(params, window_end)
    pi = _propagate(mats)
    k_types = params.n_placements
    places = slice(FIRST_PLACEMENT, FIRST_PLACEMENT + k_types)
    inside = pi[window_start:window_end]
    weeks_home = float(inside[:, HOME_NEVER].sum() + inside[:, HOME_AFTER].sum())
    weeks_place = inside[:, places].sum(axis=0)
    # moves at the end of weeks 0 .. window_end - 2 start before the window end
    moves = slice(0, max(window_end - 1, 0))
    flow_home = pi[moves, HOME_NEVER] * mats[moves, HOME_NEVER, places].sum(axis=1) + pi[moves, HOME_AFTER] * mats[
        moves, HOME_AFTER, places
    ].sum(axis=1)
    q = np.asarray(params.end_prob, dtype=float)
    b = np.asarray(params.breakdown_share, dtype=float)
    flow_breakdown = pi[moves, places] @ (q * b)
    placements = float(flow_home.sum() + flow_breakdown.sum())
    entered = 1.0 - float(pi[window_end - 1, HOME_NEVER]) if window_end > 0 else 0.0
    return CohortExpectation(
        weeks_home=weeks_home,
        weeks_in_placement=weeks_place,
        entered_care_prob=entered,
        placements=placements,
        breakdowns=float(flow_breakdown.sum()),
        occupancy=pi,
    )
