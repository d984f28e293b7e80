"""Hazard definitions: hand-worked values of the profiles in sibmodel.model.hazards."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sibmodel.model.hazards import (
    effect_profile,
    hazard_scale,
    horizon_weight,
    shape_profile,
    shift_logit,
)


def test_effect_profile_linear_fade_hand_worked():
    """hr during therapy (weeks 0..L-1), then hr + (1-hr)(t-L+1)/(F+1), reaching 1 at t = L+F."""
    e = effect_profile(0.4, 20, 26, 60)
    assert e.shape == (60,)
    np.testing.assert_allclose(e[:20], 0.4)
    assert e[20] == pytest.approx(0.4 + 0.6 / 27)
    assert e[33] == pytest.approx(0.4 + 0.6 * 14 / 27)
    np.testing.assert_allclose(e[46:], 1.0)
    assert np.all(np.diff(e) >= 0)


def test_effect_profile_without_fade_keeps_ratio_and_vectorises():
    e = effect_profile(np.array([0.5, 0.8]), 10, None, 30)
    assert e.shape == (2, 30)
    np.testing.assert_allclose(e[0], 0.5)
    np.testing.assert_allclose(e[1], 0.8)


def test_hazard_scale_meets_probability_over_horizon():
    """1 - exp(-scale * sum(shape[:H])) = p, for a piecewise shape (2 for 13 weeks, then 1)."""
    steps = [(0, 2.0), (13, 1.0)]
    w = horizon_weight(steps, 52)
    assert w == 13 * 2 + 39
    s = float(hazard_scale(0.35, w))
    assert 1 - math.exp(-s * shape_profile(steps, 52).sum()) == pytest.approx(0.35)


def test_shift_logit_is_an_odds_ratio():
    p = 0.3
    q = float(shift_logit(p, math.log(2.0)))
    assert (q / (1 - q)) / (p / (1 - p)) == pytest.approx(2.0)
