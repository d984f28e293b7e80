"""The exact cohort model against closed forms and hand-worked cases.

Sources of the expected values are named in each test: geometric sums, the
survival function of a piecewise-constant hazard, matrix powers of a
homogeneous chain, and the stationary distribution by linear algebra.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pathway_cases import (
    CASES,
    N_WEEKS,
    SHAPE,
    effect_with_fade,
    escalation,
    piecewise_shape,
    plain,
    reentry,
)

from sibmodel.model.cohort_model import expected_occupancy, expected_outcomes, transition_matrices
from sibmodel.model.hazards import FIRST_PLACEMENT, HOME_AFTER, HOME_NEVER, PathwayParams


@pytest.mark.parametrize("name", list(CASES))
def test_rows_are_distributions(name):
    p = transition_matrices(CASES[name]())
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=2), 1.0, atol=1e-12)
    occ = expected_occupancy(CASES[name](), N_WEEKS)
    np.testing.assert_allclose(occ.sum(axis=1), 1.0, atol=1e-12)


def test_plain_survival_and_placement_closed_form():
    """Constant hazard h, placement ending q, no re-entry: home = a^t with a = e^-h;
    in care = (1 - a)(r^t - a^t)/(r - a) with r = 1 - q (geometric convolution);
    reunified = the rest."""
    par = plain()
    h, q = par.entry_hazard[0], par.end_prob[0]
    a, r = math.exp(-h), 1 - q
    t = np.arange(N_WEEKS)
    occ = expected_occupancy(par, N_WEEKS)
    np.testing.assert_allclose(occ[:, HOME_NEVER], a**t, rtol=1e-12)
    np.testing.assert_allclose(occ[:, FIRST_PLACEMENT], (1 - a) * (r**t - a**t) / (r - a), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(occ[:, HOME_AFTER], 1 - a**t - (1 - a) * (r**t - a**t) / (r - a), atol=1e-12)


def test_stated_entry_probability_is_met_over_horizon():
    """The hazard scale is defined so that P(entered care within 52 weeks) equals the stated probability."""
    for par, prob in ((plain(), 0.35), (escalation(), 0.6), (piecewise_shape(), 0.45)):
        occ = expected_occupancy(par, 53)
        assert 1 - occ[52, HOME_NEVER] == pytest.approx(prob, rel=1e-12)


def test_piecewise_survival_closed_form():
    """Survival at home under a piecewise-constant hazard is exp(-cumulative hazard)."""
    par = piecewise_shape()
    occ = expected_occupancy(par, N_WEEKS)
    cum = np.concatenate([[0.0], np.cumsum(par.entry_hazard)])[:N_WEEKS]
    np.testing.assert_allclose(occ[:, HOME_NEVER], np.exp(-cum), rtol=1e-12)
    assert SHAPE[0][1] > SHAPE[-1][1]  # front-loaded, as the case says


def test_homogeneous_chain_equals_matrix_power():
    """With constant hazards, pi[t] = e0 @ P^t (numpy matrix_power)."""
    par = reentry()
    p = transition_matrices(par)[0]
    occ = expected_occupancy(par, N_WEEKS)
    e0 = np.eye(par.n_states)[HOME_NEVER]
    for t in (1, 7, 52, 129):
        np.testing.assert_allclose(occ[t], e0 @ np.linalg.matrix_power(p, t), atol=1e-13)


def test_long_run_tends_to_stationary_distribution():
    """An irreducible chain (re-entry on) converges to the solution of pi P = pi, sum pi = 1."""
    par = reentry()
    long = PathwayParams(
        np.full(3000, par.entry_hazard[0]),
        np.full(3000, par.reentry_hazard[0]),
        par.end_prob,
        par.breakdown_share,
        par.escalation,
        par.entry_mix,
        par.reentry_mix,
    )
    p = transition_matrices(long)[0]
    s = par.n_states
    a = np.vstack([(p.T - np.eye(s)), np.ones(s)])
    rhs = np.zeros(s + 1)
    rhs[-1] = 1
    stat = np.linalg.lstsq(a, rhs, rcond=None)[0]
    occ = expected_occupancy(long, 3000)
    np.testing.assert_allclose(occ[-1], stat, atol=1e-9)
    assert stat[HOME_NEVER] == pytest.approx(0.0, abs=1e-12)


def test_counts_hand_worked_one_week_placements():
    """Hand-worked: every placement lasts one week and breaks down into the same type.

    Entering at the end of week s (s <= W-2) gives placements starting in weeks
    s+1 .. W-1, i.e. W-1-s placements and W-2-s breakdowns, so
    E[placements] = sum_s a^s (1-a) (W-1-s) with a = e^-h.
    """
    w = 20
    h = 0.1
    par = PathwayParams(np.full(w, h), np.zeros(w), np.array([1.0]), np.array([1.0]), np.eye(1), np.ones(1), np.ones(1))
    out = expected_outcomes(par, 0, w)
    a = math.exp(-h)
    s = np.arange(w - 1)
    pl = float(np.sum(a**s * (1 - a) * (w - 1 - s)))
    br = float(np.sum(a**s * (1 - a) * (w - 2 - s)))
    assert out.placements == pytest.approx(pl, rel=1e-12)
    assert out.breakdowns == pytest.approx(br, rel=1e-12)
    assert out.entered_care_prob == pytest.approx(1 - a ** (w - 1), rel=1e-12)
    # weeks in care: entering at the end of week s gives W-1-s weeks in care
    assert out.weeks_in_placement[0] == pytest.approx(pl, rel=1e-12)
    assert out.weeks_home == pytest.approx(w - pl, rel=1e-12)


def test_window_weeks_add_up():
    par = effect_with_fade()
    out = expected_outcomes(par, 20, 124)
    assert out.weeks_home + out.weeks_in_placement.sum() == pytest.approx(104, rel=1e-12)
    assert 0 < out.time_at_home_share < 1


def test_therapy_effect_raises_time_at_home_and_hr_one_is_neutral():
    base = expected_outcomes(piecewise_shape(), 0, 104)
    treated = expected_outcomes(effect_with_fade(0.4), 0, 104)
    neutral = expected_outcomes(effect_with_fade(1.0), 0, 104)
    assert treated.weeks_home > base.weeks_home
    assert neutral.weeks_home == pytest.approx(base.weeks_home, rel=1e-14)
    # a lasting effect (no fade) does more than a fading one
    lasting = expected_outcomes(effect_with_fade(0.4, fade_weeks=None), 0, 104)
    assert lasting.weeks_home > treated.weeks_home


def test_too_long_window_is_refused():
    with pytest.raises(ValueError, match="longer than the hazard"):
        expected_occupancy(plain(), N_WEEKS + 1)
