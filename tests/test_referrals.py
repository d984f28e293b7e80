"""Referrals: expected starts, join/leave dates, ramp-up, team capacity, cohorts."""

from __future__ import annotations

import numpy as np
import pytest

from sibmodel.distributions import sample_inputs, stream
from sibmodel.referrals import (
    QUARTER_WEEKS,
    Calendar,
    draw_starts,
    expected_starts,
    expected_starts_profile,
)
from sibmodel.scenario import apply_overrides, resolve, validate_data
from sibmodel.schema import iter_quantities

PFP = "scenarios/pfp.yaml"


def _load(*sets):
    return validate_data(apply_overrides(resolve(PFP), list(sets)), PFP)


def _people(s, n=2000, seed=1):
    p = sample_inputs(dict(iter_quantities(s)), [], n, seed, 0)
    return p, draw_starts(s, p, stream(seed, 0, "referrals"), stream(seed, 0, "weeks"))


def test_total_mode_hits_expected_total():
    """starts.total is spread over the active quarters so that its expectation is the total."""
    s = _load("referrals.volume_multiplier=1", "boroughs.Bexley.starts={total: 80, ramp_up_quarters: 3}")
    p, _ = _people(s, 10)
    assert expected_starts(s, p)[0, 0].sum() == pytest.approx(80.0, rel=1e-12)


def test_poisson_mean_and_variance():
    """Without dispersion, starts per borough-quarter are Poisson: mean = variance (within 5 SE)."""
    s = _load("referrals.volume_multiplier=1", "boroughs.Bexley.starts={per_quarter: 3.0}",
              "interventions.MST.delivery.team_capacity_families_per_quarter=null")
    p, ppl = _people(s, 20000)
    x = ppl.counts[:, 0].sum(axis=1)[:, 10]  # Bexley, quarter 10: a full active quarter
    assert abs(x.mean() - 3.0) < 5 * np.sqrt(3.0 / x.size)
    assert abs(x.var() - 3.0) < 5 * 3.0 * np.sqrt(2 / x.size) + 0.05


def test_negative_binomial_variance():
    """Gamma-Poisson with size k: variance = mu + mu^2 / k."""
    s = _load("referrals.volume_multiplier=1", "boroughs.Bexley.starts={per_quarter: 3.0, dispersion: 2}",
              "interventions.MST.delivery.team_capacity_families_per_quarter=null")
    _, ppl = _people(s, 40000)
    x = ppl.counts[:, 0].sum(axis=1)[:, 10]
    assert abs(x.var() - (3 + 9 / 2)) < 0.35


def test_join_leave_and_ramp():
    s = _load("boroughs.Newham.leave_date=2019-02-01")
    prof = expected_starts_profile(s)
    names = list(s.boroughs)
    cal = Calendar.of(s)
    newham = prof[names.index("Newham")]
    leave_week = (s.boroughs["Newham"].leave_date - s.timeline.programme_start).days // 7
    assert newham[leave_week // QUARTER_WEEKS + 1 :].sum() == 0
    hay = prof[names.index("Haringey")]
    join_q = ((s.boroughs["Haringey"].join_date - s.timeline.programme_start).days // 7) // QUARTER_WEEKS
    assert hay[:join_q].sum() == 0
    assert hay[join_q + 3 :].max() == 1.0 and hay[join_q + 1] < 1.0  # two-quarter ramp-up
    assert prof.shape == (10, cal.n_referral_quarters)


def test_people_respect_dates_and_capacity():
    s = _load("interventions.MST.delivery.teams.Family Action MST.capacity_families_per_quarter=2")
    _, ppl = _people(s, 500)
    names = list(s.boroughs)
    fa = [names.index(b) for b in ("Newham", "Tower Hamlets", "Bexley")]
    mst = list(s.interventions).index("MST")
    assert ppl.counts[:, fa, mst, :].sum(axis=1).max() <= 2
    for bi, b in enumerate(s.boroughs.values()):
        w = ppl.referral_week[ppl.borough == bi]
        assert (w >= (b.join_date - s.timeline.programme_start).days // 7).all()
    assert (ppl.referral_week < Calendar.of(s).referral_end_week).all()
    assert (ppl.referral_week // QUARTER_WEEKS == ppl.quarter).all()
    # intervention mix: the later boroughs are FFT only
    late = names.index("Haringey")
    assert ppl.counts[:, late, mst].sum() == 0
