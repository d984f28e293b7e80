"""From stated probabilities to weekly hazards: the one definition of the care model in numbers.

The model runs in whole weeks since referral, ``t = 0, 1, ...``.  A young person
is in one state during week ``t`` and may move at the end of it.  States, in
this order everywhere (kernel, cohort model, tests):

``0``  ``HOME_NEVER``   at home, not yet in care (entry hazard applies)
``1``  ``HOME_AFTER``   at home after reunification (re-entry hazard applies)
``2 + k``               in placement type ``k`` (``k = 0 .. K-1``, scenario order)

Transitions at the end of week ``t``:

* home (never in care) -> care with probability ``1 - exp(-entry_hazard[t])``;
  the placement type is drawn from ``entry_mix``;
* home (after care) -> care with probability ``1 - exp(-reentry_hazard[t])``;
  placement type from ``reentry_mix``;
* placement ``k`` ends with probability ``end_prob[k]`` (geometric duration, mean
  ``1 / end_prob[k]`` weeks); an ending is a breakdown with probability
  ``breakdown_share[k]`` (next placement from row ``k`` of ``escalation``, which
  may be the same type) and otherwise a reunification (-> ``HOME_AFTER``).

Hazards [1/week] are piecewise constant per week.  The entry hazard is
``scale * shape[t] * effect[t]`` with ``scale`` chosen so that, without
therapy, the probability of entering care within ``horizon_weeks`` equals the
stated probability: ``scale = -ln(1 - p) / sum(shape[:horizon_weeks])``.  The
re-entry hazard is constant, ``-ln(1 - p_r) / horizon_r``, times ``effect[t]``.
The effect profile is the hazard ratio during therapy (``t < therapy_weeks``)
and, with a fade, returns linearly to 1 over ``fade_weeks`` weeks after
therapy: ``effect[t] = hr + (1 - hr) * min(1, (t - therapy_weeks + 1) / (fade_weeks + 1))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

HOME_NEVER = 0
HOME_AFTER = 1
FIRST_PLACEMENT = 2


def shape_profile(steps: list[tuple[int, float]] | None, n_weeks: int) -> np.ndarray:
    """Relative entry hazard per week since referral.

    Parameters
    ----------
    steps : list of (from_week, relative_hazard) or None
        Piecewise-constant steps, first at week 0; ``None`` for a constant hazard.
    n_weeks : int
        Number of weeks to return [weeks].

    Returns
    -------
    ndarray, shape (n_weeks,)
        Relative hazard [ratio].
    """
    out = np.ones(n_weeks)
    if steps:
        for from_week, rel in steps:
            out[min(from_week, n_weeks) :] = rel
    return out


def horizon_weight(steps: list[tuple[int, float]] | None, horizon_weeks: int) -> float:
    """``sum(shape[:horizon_weeks])``: the cumulative relative hazard over the horizon [weeks]."""
    return float(shape_profile(steps, horizon_weeks).sum())


def hazard_scale(prob: np.ndarray | float, weight: float) -> np.ndarray:
    """Weekly hazard scale such that ``1 - exp(-scale * weight) = prob``.

    Parameters
    ----------
    prob : array_like
        Probability of the event within the horizon [probability], in [0, 1).
    weight : float
        Cumulative relative hazard over the horizon [weeks].

    Returns
    -------
    ndarray
        Scale [1/week].
    """
    prob = np.asarray(prob, dtype=float)
    return -np.log1p(-prob) / weight


def effect_profile(
    hazard_ratio: np.ndarray | float, therapy_weeks: int, fade_weeks: int | None, n_weeks: int
) -> np.ndarray:
    """Multiplier of the entry and re-entry hazards by week since referral.

    Parameters
    ----------
    hazard_ratio : array_like, shape (...)
        Hazard ratio during therapy [ratio].
    therapy_weeks : int
        Length of therapy [weeks].
    fade_weeks : int or None
        Weeks over which the ratio returns linearly to 1 after therapy; ``None`` keeps it.
    n_weeks : int
        Number of weeks [weeks].

    Returns
    -------
    ndarray, shape (..., n_weeks)
    """
    hr = np.asarray(hazard_ratio, dtype=float)[..., None]
    t = np.arange(n_weeks)
    if fade_weeks is None:
        frac = np.zeros(n_weeks)
    else:
        frac = np.clip((t - therapy_weeks + 1) / (fade_weeks + 1), 0.0, 1.0)
    return hr + (1.0 - hr) * frac


def completion_params(s, values: dict, n_draws: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Completion share and non-completers' share of the log hazard ratio, per intervention.

    Parameters
    ----------
    s : Scenario
        The scenario (its interventions).
    values : dict of path -> ndarray (D,) or float
        Drawn (or central) values of the scenario's quantities.
    n_draws : int, optional
        Number of draws; ``None`` for central values (then the result has no draw axis).

    Returns
    -------
    share, noncompleter_effect_share : ndarray, shape (D, I) or (I,)
        An intervention without a ``completion`` block has share 1 (everyone completes) [share].
    """
    shape = () if n_draws is None else (n_draws,)
    share, nc = [], []
    for name, iv in s.interventions.items():
        base = f"interventions.{name}.completion"
        share.append(np.broadcast_to(values[f"{base}.share"], shape) if iv.completion else np.ones(shape))
        nc.append(
            np.broadcast_to(values[f"{base}.noncompleter_effect_share"], shape) if iv.completion else np.ones(shape)
        )
    return np.stack(share, axis=-1).astype(float), np.stack(nc, axis=-1).astype(float)


def placement_mixes(s) -> tuple[np.ndarray, np.ndarray]:
    """First placement type on entry and on re-entry, per borough.

    Parameters
    ----------
    s : Scenario

    Returns
    -------
    entry_mix, reentry_mix : ndarray, shape (B, K)
        Shares per borough (scenario order) and placement type (scenario order) [share].
        A borough's own ``placement_mix`` replaces ``care.entry.placement_mix``; re-entry
        uses ``care.reentry.placement_mix`` when given, else the borough's entry mix.
    """
    pnames = list(s.care.placements)
    entry = np.array(
        [[(b.placement_mix or s.care.entry.placement_mix).get(k, 0.0) for k in pnames] for b in s.boroughs.values()]
    )
    if s.care.reentry.placement_mix is not None:
        reentry = np.tile([s.care.reentry.placement_mix.get(k, 0.0) for k in pnames], (len(s.boroughs), 1))
    else:
        reentry = entry.copy()
    return entry.reshape(len(s.boroughs), len(pnames)), reentry.reshape(len(s.boroughs), len(pnames))


def shift_logit(prob: np.ndarray, shift: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """``expit(logit(prob) + shift)``: a probability moved on the logit scale (odds ratio ``exp(shift)``).

    With ``rows``, ``expit(logit(prob)[rows] + shift)``: the logits are taken once (e.g. per draw)
    and then gathered (e.g. per person), the same numbers as ``shift_logit(prob[rows], shift)``.
    """
    lg = logit(np.asarray(prob, dtype=float))
    return expit((lg if rows is None else lg[rows]) + shift)


def escalation_matrix(s) -> np.ndarray:
    """Next placement type after a breakdown, shape (K, K) [share]: row ``k`` is
    ``care.escalation[k]`` in placement order; a type without a row stays in its own type."""
    pnames = list(s.care.placements)
    out = np.eye(len(pnames))
    for r, k in enumerate(pnames):
        if k in s.care.escalation:
            out[r] = [s.care.escalation[k].get(j, 0.0) for j in pnames]
    return out


@dataclass(frozen=True)
class PathwayParams:
    """Numbers that fully define one young person's care pathway (one cohort, one arm).

    Parameters
    ----------
    entry_hazard : ndarray, shape (n_weeks,)
        Hazard of entering care from home (never in care), per week since referral [1/week].
    reentry_hazard : ndarray, shape (n_weeks,)
        Hazard of re-entering care after reunification [1/week].
    end_prob : ndarray, shape (K,)
        Weekly probability that a placement of each type ends [1/week].
    breakdown_share : ndarray, shape (K,)
        Share of endings that are breakdowns [share].
    escalation : ndarray, shape (K, K)
        Next placement type after a breakdown [share]; rows sum to 1.
    entry_mix, reentry_mix : ndarray, shape (K,)
        Placement type on entry and on re-entry [share].
    """

    entry_hazard: np.ndarray
    reentry_hazard: np.ndarray
    end_prob: np.ndarray
    breakdown_share: np.ndarray
    escalation: np.ndarray
    entry_mix: np.ndarray
    reentry_mix: np.ndarray

    @property
    def n_placements(self) -> int:
        return int(self.end_prob.shape[0])

    @property
    def n_states(self) -> int:
        return FIRST_PLACEMENT + self.n_placements

    @property
    def n_weeks(self) -> int:
        return int(self.entry_hazard.shape[0])
