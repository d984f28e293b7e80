"""Parameter sets of the care pathway shared by the kernel and cohort-model tests.

Each exercises one feature of the model; together they cover every transition.
Placement types are (foster, residential, kinship) where more than one is used.
"""

from __future__ import annotations

import numpy as np

from sibmodel.model.hazards import (
    PathwayParams,
    effect_profile,
    hazard_scale,
    horizon_weight,
    shape_profile,
)

N_WEEKS = 130


def _params(entry, reentry, end_prob, breakdown, escalation, entry_mix, reentry_mix) -> PathwayParams:
    return PathwayParams(
        entry_hazard=np.asarray(entry, float),
        reentry_hazard=np.asarray(reentry, float),
        end_prob=np.asarray(end_prob, float),
        breakdown_share=np.asarray(breakdown, float),
        escalation=np.asarray(escalation, float),
        entry_mix=np.asarray(entry_mix, float),
        reentry_mix=np.asarray(reentry_mix, float),
    )


def plain() -> PathwayParams:
    """One placement type, constant entry hazard, no breakdown, no re-entry."""
    h = float(hazard_scale(0.35, 52.0))
    return _params(np.full(N_WEEKS, h), np.zeros(N_WEEKS), [1 / 30], [0.0], [[1.0]], [1.0], [1.0])


ESC = [[0.6, 0.3, 0.1], [0.2, 0.8, 0.0], [0.5, 0.2, 0.3]]


def escalation() -> PathwayParams:
    """Three types, breakdowns escalating by a full matrix (including to the same type), no re-entry."""
    h = float(hazard_scale(0.6, 52.0))
    return _params(
        np.full(N_WEEKS, h),
        np.zeros(N_WEEKS),
        [1 / 20, 1 / 40, 1 / 26],
        [0.4, 0.6, 0.3],
        ESC,
        [0.7, 0.1, 0.2],
        [0.7, 0.1, 0.2],
    )


def reentry() -> PathwayParams:
    """Three types, short placements (so that a week's error shows), breakdowns and re-entry with its own mix."""
    h = float(hazard_scale(0.5, 52.0))
    r = float(hazard_scale(0.3, 52.0))
    return _params(
        np.full(N_WEEKS, h),
        np.full(N_WEEKS, r),
        [1 / 3, 1 / 8, 1 / 5],
        [0.3, 0.4, 0.2],
        ESC,
        [0.6, 0.2, 0.2],
        [0.3, 0.5, 0.2],
    )


SHAPE = [(0, 2.0), (13, 1.0), (52, 0.4)]


def piecewise_shape() -> PathwayParams:
    """Entry hazard piecewise constant in weeks since referral (front-loaded), re-entry on."""
    scale = float(hazard_scale(0.45, horizon_weight(SHAPE, 52)))
    entry = scale * shape_profile(SHAPE, N_WEEKS)
    r = float(hazard_scale(0.25, 52.0))
    return _params(
        entry, np.full(N_WEEKS, r), [1 / 12, 1 / 30, 1 / 16], [0.3, 0.4, 0.2], ESC, [0.6, 0.2, 0.2], [0.3, 0.5, 0.2]
    )


def effect_with_fade(hr: float = 0.4, therapy_weeks: int = 20, fade_weeks: int | None = 26) -> PathwayParams:
    """The piecewise case with therapy: hazard ratio on entry and re-entry, fading linearly after therapy."""
    base = piecewise_shape()
    eff = effect_profile(hr, therapy_weeks, fade_weeks, N_WEEKS)
    return _params(
        base.entry_hazard * eff,
        base.reentry_hazard * eff,
        base.end_prob,
        base.breakdown_share,
        base.escalation,
        base.entry_mix,
        base.reentry_mix,
    )


CASES = {
    "plain": plain,
    "escalation": escalation,
    "reentry": reentry,
    "piecewise_shape": piecewise_shape,
    "effect_with_fade": effect_with_fade,
}
