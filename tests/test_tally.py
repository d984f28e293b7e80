"""Spell tallies against a brute-force count, week by week.

Reference: for every spell, every week of it inside the person's window and
before the horizon is added one at a time to its key and quarter (plain
Python, small case).  ``quarter_weeks`` is checked the same way in
test_contract.py and ``occupancy_by_week`` in test_pathways.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from pathway_cases import reentry

from sibmodel.model.hazards import FIRST_PLACEMENT, HOME_AFTER
from sibmodel.model.pathways import simulate_from_params
from sibmodel.model.tally import CARE, HOME, HOME_BEFORE_CARE, spell_quarter_weeks, sum_by_key


@pytest.mark.parametrize("which", [HOME, HOME_BEFORE_CARE, CARE])
@pytest.mark.parametrize("by_type", [False, True])
@pytest.mark.parametrize("windowed", [False, True])
def test_spell_quarter_weeks_matches_week_by_week_count(which, by_type, windowed):
    par = reentry()
    n, n_quarters = 400, 9
    arm, _ = simulate_from_params(par, None, n, 0, 90, seed=5)
    g = np.random.default_rng(2)
    key_of = g.integers(0, 4, n)
    offset = g.integers(0, 40, n)  # some spells run past the horizon of 9 quarters
    ws, we = g.integers(0, 30, n), g.integers(20, 90, n)  # some windows empty (start after end)
    k_types = par.n_placements
    n_keys = 4 * k_types if by_type else 4
    out = spell_quarter_weeks(
        arm,
        which,
        key_of,
        offset,
        n_keys,
        n_quarters,
        by_type=k_types if by_type else 0,
        window=(ws, we) if windowed else None,
    )
    brute = np.zeros((n_keys, n_quarters))
    sp = arm.spells
    for i in range(sp.person.size):
        p, s = sp.person[i], sp.state[i]
        if (s >= FIRST_PLACEMENT) != (which == CARE) or (which == HOME_BEFORE_CARE and s == HOME_AFTER):
            continue
        key = key_of[p] * k_types + (s - FIRST_PLACEMENT) if by_type else key_of[p]
        for w in range(sp.start[i], sp.end[i]):
            if windowed and not ws[p] <= w < we[p]:
                continue
            if w + offset[p] < n_quarters * 13:
                brute[key, (w + offset[p]) // 13] += 1
    np.testing.assert_array_equal(out, brute)
    assert out.sum() > 0


def test_spell_quarter_weeks_rejects_an_unknown_kind():
    arm, _ = simulate_from_params(reentry(), None, 5, 0, 10, seed=1)
    with pytest.raises(ValueError, match="which must be"):
        spell_quarter_weeks(arm, "foster", np.zeros(5, int), np.zeros(5, int), 1, 4)


def test_sum_by_key_equals_bincount_to_the_bit():
    """Reference: numpy's bincount with weights, row by row (float sums in element order)."""
    g = np.random.default_rng(8)
    key = g.integers(0, 50, 20_000)
    values = np.stack([g.normal(0, 1e6, 20_000), g.random(20_000), g.integers(0, 9, 20_000)])
    out = sum_by_key(key, values, 53)  # three keys never drawn: zero
    for row, v in zip(out, values):
        np.testing.assert_array_equal(row, np.bincount(key, weights=v, minlength=53))
